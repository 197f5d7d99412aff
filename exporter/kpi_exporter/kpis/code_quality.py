"""Code quality KPIs: test coverage and incidents per component (side by side, same labels),
test runs with failed and flaky tests, and SonarQube's static analysis gauges."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Coverage, Gauge, Incident, TestRun
from .families import (
    COVERAGE_LINES_COVERED,
    COVERAGE_LINES_VALID,
    INCIDENTS_BY_COMPONENT,
    SONARQUBE_BUGS,
    SONARQUBE_CODE_SMELLS,
    SONARQUBE_COVERAGE_RATIO,
    SONARQUBE_DEBT_RATIO,
    SONARQUBE_VULNERABILITIES,
    TEST_RUNS,
    TEST_RUNS_FAILED,
    TESTS,
    TESTS_FAILED,
    TESTS_FLAKY,
    WINDOW_INCIDENTS_BY_COMPONENT,
    WINDOW_TEST_RUNS,
    WINDOW_TEST_RUNS_FAILED,
    WINDOW_TESTS,
    WINDOW_TESTS_FLAKY,
    KpiFamily,
)
from .observation import Dated, Observation
from .settings import KpiSettings

# Gauge event names (see sources/sonarqube.py) -> family.
SONARQUBE_FAMILIES: dict[str, KpiFamily] = {
    "sonarqube_debt_ratio": SONARQUBE_DEBT_RATIO,
    "sonarqube_coverage_ratio": SONARQUBE_COVERAGE_RATIO,
    "sonarqube_bugs": SONARQUBE_BUGS,
    "sonarqube_code_smells": SONARQUBE_CODE_SMELLS,
    "sonarqube_vulnerabilities": SONARQUBE_VULNERABILITIES,
}


def observe_coverage(coverage: Coverage, settings: KpiSettings) -> Iterator[Observation]:
    """The latest lines covered and valid of one component. A source stores one Coverage event
    per app and component (updated in place), so the running sum is the latest value."""
    labels = (coverage.app, coverage.team, coverage.component)
    yield COVERAGE_LINES_COVERED.observe(labels, coverage.lines_covered)
    yield COVERAGE_LINES_VALID.observe(labels, coverage.lines_valid)


def observe_test_run(run: TestRun, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """A test run (a suite for a commit) counts once; its tests, failed and flaky tests add.
    In the windows, by the time the run finished."""
    labels = (run.app, run.team)
    yield TEST_RUNS.observe(labels, 1)
    yield WINDOW_TEST_RUNS.at(labels, run.finished_at)
    if run.failures:
        yield TEST_RUNS_FAILED.observe(labels, 1)
        yield WINDOW_TEST_RUNS_FAILED.at(labels, run.finished_at)
    yield TESTS.observe(labels, run.tests)
    yield WINDOW_TESTS.at(labels, run.finished_at, run.tests)
    yield TESTS_FAILED.observe(labels, run.failures)
    yield TESTS_FLAKY.observe(labels, run.flaky)
    yield WINDOW_TESTS_FLAKY.at(labels, run.finished_at, run.flaky)


def observe_sonarqube(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """A SonarQube measure of the app's project (one project per app); other gauges are not
    this module's."""
    family = SONARQUBE_FAMILIES.get(gauge.name)
    if family is not None:
        yield family.observe((gauge.app, gauge.team), gauge.value)


def observe_incident_component(
    incident: Incident, settings: KpiSettings
) -> Iterator[Observation | Dated]:
    """Incidents of a known component, to read next to that component's coverage; in the
    windows, production incidents only, by their start."""
    if incident.component:
        labels = (incident.app, incident.team, incident.component)
        yield INCIDENTS_BY_COMPONENT.observe(labels, 1)
        if settings.is_production_incident(incident.environment, incident.severity):
            yield WINDOW_INCIDENTS_BY_COMPONENT.at(labels, incident.started_at)
