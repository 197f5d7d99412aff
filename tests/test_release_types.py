"""Release failure rate by release type: major, minor or patch from the semantic version step
between consecutive production deployments to the same environment, unknown otherwise.
Every expected value is computed by hand (days after T0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import release_type
from kpi_exporter.model import Deployment, DeploymentOutcome, Event
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import DAY, samples, ts

T0 = ts("2026-09-01T00:00:00Z")
NOW = T0 + 61 * DAY
SETTINGS = KpiSettings(windows=(("7d", 7 * DAY), ("90d", 90 * DAY)), quantiles=(0.5,))


@pytest.mark.parametrize(
    ("previous", "version", "expected"),
    [
        ("1.0.0", "2.0.0", "major"),
        ("v1.4.2", "v1.5.0", "minor"),
        ("1.4.2", "1.4.10", "patch"),  # numbers, not text: 10 > 2
        ("2.0.0", "1.1.2", "major"),  # a step down (a rollback) is typed like a step up
        ("1.0.0-rc.1", "1.0.0", "patch"),  # only the pre-release differs
        ("1.0.0", "1.0.0+build.7", "patch"),
        ("1.0", "1.1.0", "unknown"),  # not semver: two numbers
        ("1.0.0", "build-77", "unknown"),
        ("01.0.0", "1.1.0", "unknown"),  # semver has no leading zero
        (None, "1.0.0", "unknown"),  # nothing before
    ],
)
def test_the_release_type_is_the_version_step(
    previous: str | None, version: str, expected: str
) -> None:
    assert release_type(previous, version) == expected


def deploy(key: str, days: float, version: str, **fields: str) -> Deployment:
    return Deployment(
        source="ci",
        key=key,
        app="shop",
        team="a",
        environment=fields.get("environment", "production"),
        finished_at=T0 + days * DAY,
        status=fields.get("status", "success"),
        version=version,
        change_type=fields.get("change_type", "normal"),
    )


# Production, in order: D1 1.0.0 (first: unknown), D2 1.1.0 (minor), D3 1.1.1 (patch), D4
# 1.1.2 a hotfix 2 h later (patch; D3's release failed), D5 2.0.0 (major), D6 back to 1.1.2 an
# hour later (major, a rollback: D5's release failed). D7 "build-77" goes to production-eu
# (unknown: no semver, and nothing before there). Not counted: a staging deployment and a
# deployment that failed.
FIRST: list[Event] = [
    deploy("D1", 1, "1.0.0"),
    deploy("D2", 2, "1.1.0"),
    deploy("D3", 3, "1.1.1"),
    deploy("D4", 3 + 2 / 24, "1.1.2", change_type="hotfix"),
    deploy("D5", 5, "2.0.0"),
    deploy("D6", 5 + 1 / 24, "1.1.2"),
    deploy("D7", 6, "build-77", environment="production-eu"),
    deploy("S1", 4, "2.0.0-rc.1", environment="staging"),
    deploy("F1", 4, "1.9.0", status="failure"),
]
# 55 days later, alone in its poll: D9 1.2.0 steps from D6 (1.1.2): minor, however long ago
# the previous release was.
LATER: list[Event] = [deploy("D9", 60, "1.2.0")]


def value(text: str, name: str, **labels: str) -> float | None:
    wanted = frozenset(labels.items())
    found = [v for (sample, got), v in samples(text).items() if sample == name and got == wanted]
    return found[0] if found else None


def test_release_failure_rate_by_release_type(tmp_path: Path) -> None:
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, SETTINGS, clock=lambda: NOW)
    for events in (FIRST, LATER):
        pipeline.record("ci", Poll(events=events, cursor=None))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    outcomes = {e.key: e for e in store.iter_events() if isinstance(e, DeploymentOutcome)}
    assert {key: o.release_type for key, o in outcomes.items()} == {
        "D1": "unknown",
        "D2": "minor",
        "D3": "patch",
        "D4": "patch",
        "D5": "major",
        "D6": "major",
        "D7": "unknown",
        "D9": "minor",
        "S1": "",
        "F1": "",
    }
    prod = {"app": "shop", "team": "a", "environment": "production"}
    deployed = "kpi_deployments_by_release_type_total"
    failed = "kpi_deployments_release_failed_by_release_type_total"
    # production: unknown D1; minor D2, D9; patch D3, D4; major D5, D6. production-eu: D7.
    assert value(text, deployed, **prod, release_type="unknown") == 1
    assert value(text, deployed, **prod, release_type="minor") == 2
    assert value(text, deployed, **prod, release_type="patch") == 2
    assert value(text, deployed, **prod, release_type="major") == 2
    eu = {**prod, "environment": "production-eu"}
    assert value(text, deployed, **eu, release_type="unknown") == 1
    # Release failures: D3 (hotfixed, patch) and D5 (rolled back, major).
    assert value(text, failed, **prod, release_type="patch") == 1
    assert value(text, failed, **prod, release_type="major") == 1
    assert value(text, failed, **prod, release_type="minor") is None
    # Windows at T0 + 61 d. 90d holds all: per app, environments together, unknown 1 + 1 = 2.
    # Rates: patch 1 / 2, major 1 / 2, minor 0 / 2. 7d (54 d, 61 d] holds D9 only.
    window = "kpi_window_deployments_by_release_type"
    window_failed = "kpi_window_deployments_release_failed_by_release_type"
    owner = {"app": "shop", "team": "a"}
    assert value(text, window, **owner, release_type="unknown", window="90d") == 2
    assert value(text, window, **owner, release_type="patch", window="90d") == 2
    assert value(text, window_failed, **owner, release_type="patch", window="90d") == 1
    assert value(text, window_failed, **owner, release_type="major", window="90d") == 1
    assert value(text, window, **owner, release_type="minor", window="7d") == 1
    assert value(text, window, **owner, release_type="major", window="7d") == 0
    # The release failure rate of every type together is unchanged: 2 of 8 deployments.
    assert value(text, "kpi_window_deployments_release_failed", **owner, window="90d") == 2
    assert value(text, "kpi_window_deployments", **owner, window="90d") == 8
    store.close()
