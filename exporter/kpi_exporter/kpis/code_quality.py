"""Code quality KPIs: test coverage and incidents per component (side by side, same labels),
test runs with failed and flaky tests, and SonarQube's static analysis gauges."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Coverage, Gauge, Incident, TestRun
from .observation import Dated, Observation
from .settings import KpiSettings

# Gauge event names (see sources/sonarqube.py) -> family.
SONARQUBE_FAMILIES: dict[str, str] = {
    "sonarqube_debt_ratio": "kpi_sonarqube_debt_ratio",
    "sonarqube_coverage_ratio": "kpi_sonarqube_coverage_ratio",
    "sonarqube_bugs": "kpi_sonarqube_bugs",
    "sonarqube_code_smells": "kpi_sonarqube_code_smells",
    "sonarqube_vulnerabilities": "kpi_sonarqube_vulnerabilities",
}


def observe_coverage(coverage: Coverage, settings: KpiSettings) -> Iterator[Observation]:
    """The latest lines covered and valid of one component. A source stores one Coverage event
    per app and component (updated in place), so the running sum is the latest value."""
    labels = (coverage.app, coverage.team, coverage.component)
    yield Observation("kpi_coverage_lines_covered", labels, coverage.lines_covered)
    yield Observation("kpi_coverage_lines_valid", labels, coverage.lines_valid)


def observe_test_run(run: TestRun, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """A test run (a suite for a commit) counts once; its tests, failed and flaky tests add.
    In the windows, by the time the run finished."""
    labels = (run.app, run.team)
    yield Observation("kpi_test_runs_total", labels, 1)
    yield Dated("kpi_window_test_runs", labels, run.finished_at)
    if run.failures:
        yield Observation("kpi_test_runs_failed_total", labels, 1)
        yield Dated("kpi_window_test_runs_failed", labels, run.finished_at)
    yield Observation("kpi_tests_total", labels, run.tests)
    yield Dated("kpi_window_tests", labels, run.finished_at, run.tests)
    yield Observation("kpi_tests_failed_total", labels, run.failures)
    yield Observation("kpi_tests_flaky_total", labels, run.flaky)
    yield Dated("kpi_window_tests_flaky", labels, run.finished_at, run.flaky)


def observe_sonarqube(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """A SonarQube measure of the app's project (one project per app); other gauges are not
    this module's."""
    family = SONARQUBE_FAMILIES.get(gauge.name)
    if family is not None:
        yield Observation(family, (gauge.app, gauge.team), gauge.value)


def observe_incident_component(
    incident: Incident, settings: KpiSettings
) -> Iterator[Observation | Dated]:
    """Incidents of a known component, to read next to that component's coverage; in the
    windows, production incidents only, by their start."""
    if incident.component:
        labels = (incident.app, incident.team, incident.component)
        yield Observation("kpi_incidents_by_component_total", labels, 1)
        if settings.is_production_incident(incident.environment, incident.severity):
            yield Dated("kpi_window_incidents_by_component", labels, incident.started_at)
