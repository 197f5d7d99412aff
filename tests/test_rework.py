"""Deployment rework by DORA's definition (a deployment that follows a production incident of
its app within a window), beside the declared hotfixes and rollbacks: hand-computed scenarios
through the pipeline, with corrections and windows by event time."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.explain import explain
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings, assess
from kpi_exporter.model import Deployment, Event, Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import HOUR, deployment, incident, ts, value
from tests.test_linking import histories, shuffled_polls

SHOP = {"app": "shop", "team": "team-a", "environment": "production"}

# Production deployments of "shop" (UTC, November 2026).
D1 = deployment("d1", "2026-11-01T10:00:00Z", version="1.0.0")
# 2 h after I1 started: rework by DORA's definition (a follow-up of the incident)
D2 = deployment("d2", "2026-11-02T10:00:00Z", version="1.0.1")
# 3 days after I1 started: outside the 48 h window, planned
D3 = deployment("d3", "2026-11-05T08:00:00Z", version="1.1.0")
# a declared hotfix, 26 h after d3: rework by the declared definition
D4 = deployment("d4", "2026-11-06T10:00:00Z", version="1.1.1", change_type="hotfix")
# 1 h after an incident in staging: no production incident, never rework
D5 = deployment("d5", "2026-11-07T01:00:00Z", version="1.2.0")
DEPLOYMENTS: list[Event] = [D1, D2, D3, D4, D5]
# A production incident of shop, 22 h after d1 (linked to it: d1 failed).
I1 = incident("I1", "2026-11-02T08:00:00Z", resolved_at="2026-11-02T09:30:00Z")
STAGING = incident("I2", "2026-11-07T00:00:00Z", environment="staging")
INCIDENTS: list[Event] = [I1, STAGING]


def rework_of(events: list[Event], definition: str, **settings: Any) -> set[str]:
    deployments = [e for e in events if isinstance(e, Deployment)]
    incidents = [e for e in events if isinstance(e, Incident)]
    link = LinkSettings(rework=definition, **settings)
    return {o.key for o in assess(deployments, incidents, KpiSettings(), link) if o.rework}


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ("declared", {"d4"}),  # the hotfix; d2 goes to a newer version, no rollback
        ("incident_follow_up", {"d2"}),  # 2 h after I1; d3 (3 days) and d5 (staging) not
        ("both", {"d2", "d4"}),
    ],
)
def test_each_rework_definition_on_a_hand_built_scenario(
    definition: str, expected: set[str]
) -> None:
    assert rework_of([*DEPLOYMENTS, *INCIDENTS], definition) == expected


def test_the_window_bounds_are_after_the_start_and_at_most_the_window() -> None:
    at_start = deployment("d0", "2026-11-02T08:00:00Z")  # finished as I1 started: before it
    at_end = deployment("d9", "2026-11-04T08:00:00Z")  # exactly 48 h after: counts
    after_end = deployment("d8", "2026-11-04T08:00:01Z")  # 48 h 1 s after: does not
    events: list[Event] = [at_start, at_end, after_end, I1]
    assert rework_of(events, "incident_follow_up") == {"d9"}
    # A window of 3 days reaches d3 too (72 h after I1, 3 days = 72 h: the bound counts).
    three_days = rework_of([*DEPLOYMENTS, I1], "incident_follow_up", rework_window=72 * HOUR)
    assert three_days == {"d2", "d3"}


def test_the_incident_must_be_in_the_deployments_environment_unless_any() -> None:
    eu = incident("I3", "2026-11-02T08:00:00Z", environment="prod-eu")
    assert rework_of([D1, D2, eu], "incident_follow_up") == set()
    assert rework_of([D1, D2, eu], "incident_follow_up", environments="any") == {"d2"}


class Clock:
    def __init__(self, at: str) -> None:
        self.now = ts(at)

    def __call__(self) -> float:
        return self.now


def scrape(pipeline: Pipeline) -> str:
    pipeline.refresh()
    return pipeline.cache.current.text.decode()


def window(text: str, name: str, span: str) -> float:
    return value(text, name, app="shop", team="team-a", window=span)


def rework(text: str) -> tuple[float, float, float, float]:
    """shop's rework deployments: (made ever, retracted, in the 7d window, in the 30d one)."""
    return (
        value(text, "kpi_deployments_rework_total", **SHOP),
        value(text, "kpi_deployments_rework_retracted_total", **SHOP),
        window(text, "kpi_window_deployments_rework", "7d"),
        window(text, "kpi_window_deployments_rework", "30d"),
    )


def test_incident_follow_ups_count_through_the_pipeline_by_event_time(tmp_path: Path) -> None:
    clock = Clock("2026-11-08T00:00:00Z")
    link = LinkSettings(rework="incident_follow_up")
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), linking=link, clock=clock)
    # The deployments first; the incident arrives in a later poll and makes d2 rework.
    pipeline.record("test", Poll(events=DEPLOYMENTS, cursor=None))
    text = scrape(pipeline)
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 0
    pipeline.record("test", Poll(events=INCIDENTS, cursor=None))
    text = scrape(pipeline)
    # d2 only: 1 rework deployment of 5; the 7d window (Nov 1 00:00, Nov 8 00:00] holds d2.
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 1
    assert window(text, "kpi_window_deployments_rework", "7d") == 1
    assert window(text, "kpi_window_deployments", "7d") == 5
    assert window(text, "kpi_window_deployments_rework", "30d") == 1
    # d1 failed by I1, whatever the rework definition; the declared hotfix d4 also failed d3.
    assert value(text, "kpi_deployments_failed_total", **SHOP) == 2

    # Two days later the 7d window is (Nov 3 00:00, Nov 10 00:00]: d2 (Nov 2) has left it.
    clock.now = ts("2026-11-10T00:00:00Z")
    text = scrape(pipeline)
    assert window(text, "kpi_window_deployments_rework", "7d") == 0
    assert window(text, "kpi_window_deployments", "7d") == 3  # d3, d4, d5
    assert window(text, "kpi_window_deployments_rework", "30d") == 1

    # A correction moves I1's start to Nov 4 09:00: d3 (23 h later) is its follow-up, d2
    # (before it) no longer. The counter never goes down: 1 + 1 = 2, one retracted.
    moved = incident("I1", "2026-11-04T09:00:00Z", resolved_at="2026-11-04T10:00:00Z")
    pipeline.record("test", Poll(events=[moved], cursor=None))
    text = scrape(pipeline)
    assert rework(text) == (2, 1, 1, 1)  # the 7d window holds d3, Nov 5

    # A second correction says I1 was in staging: no production incident, no rework at all.
    staging = incident(
        "I1", "2026-11-04T09:00:00Z", resolved_at="2026-11-04T10:00:00Z", environment="staging"
    )
    pipeline.record("test", Poll(events=[staging], cursor=None))
    text = scrape(pipeline)
    assert rework(text) == (2, 2, 0, 0)
    pipeline.store.close()


def test_a_deployment_arriving_later_reads_the_incidents_before_its_reach(tmp_path: Path) -> None:
    """A deployment polled alone is re-assessed with the incidents up to the window before
    the start of what it can change (here 7 days before it), not only those after."""
    clock = Clock("2026-11-20T00:00:00Z")
    link = LinkSettings(rework="both", rework_window=10 * 24 * HOUR)
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), linking=link, clock=clock)
    pipeline.record("test", Poll(events=[I1], cursor=None))
    # 8 days and 2 h after I1: beyond the 7-day reach of a deployment, within the 10 days.
    late = deployment("d6", "2026-11-10T10:00:00Z", version="2.0.0")
    pipeline.record("test", Poll(events=[late], cursor=None))
    text = scrape(pipeline)
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 1
    assert window(text, "kpi_window_deployments_rework", "30d") == 1
    pipeline.store.close()


def test_the_rework_definition_is_chosen_and_validated_in_the_config() -> None:
    config = parse_config(
        "linking:\n  rework: incident_follow_up\n  rework_window: 6h\n", "kpi.yaml"
    )
    link = config.link_settings()
    assert (link.rework, link.rework_window) == ("incident_follow_up", 6 * HOUR)
    assert parse_config("{}", "kpi.yaml").link_settings().rework == "declared"
    with pytest.raises(ConfigError) as raised:
        parse_config("linking:\n  rework: after_incidents\n  rework_window: 0h\n", "kpi.yaml")
    problems = raised.value.problems
    assert problems[0].startswith("kpi.yaml:2: linking.rework: ")
    assert "'incident_follow_up'" in problems[0]
    assert problems[1].startswith("kpi.yaml:3: linking.rework_window: expected a duration")


@settings(max_examples=60, deadline=None)
@given(events=histories(), seed=st.integers(0, 2**32 - 1), polls=st.integers(1, 4))
def test_follow_up_rework_does_not_depend_on_arrival_order_or_poll_windows(
    events: list[Event], seed: int, polls: int
) -> None:
    """The same events give the same outcomes (rework included) however they are shuffled
    and split into polls, with both definitions and a window longer than a deployment's
    reach (10 days against 7)."""
    link = LinkSettings(rework="both", rework_window=10 * 24 * HOUR)
    with tempfile.TemporaryDirectory() as directory:
        pipeline = Pipeline(Store(Path(directory) / "kpi.db"), linking=link)
        for batch in shuffled_polls(events, seed, polls):
            pipeline.record("test", Poll(events=batch, cursor=None))
        stored = {(e.source, e.key): e for e in pipeline.store.iter_events(["outcome"])}
        pipeline.store.close()
    expected = {}
    for app in ("shop", "cart"):
        deployments = [e for e in events if isinstance(e, Deployment) and e.app == app]
        incidents = [e for e in events if isinstance(e, Incident) and e.app == app]
        outcomes = assess(deployments, incidents, KpiSettings(), link)
        expected.update({(o.source, o.key): o for o in outcomes})
    assert stored == expected


def test_explain_names_the_incident_a_rework_deployment_follows(tmp_path: Path) -> None:
    link = LinkSettings(rework="incident_follow_up")
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, linking=link, clock=Clock("2026-11-08T00:00:00Z"))
    pipeline.record("test", Poll(events=[D1, D2, I1], cursor=None))
    text = explain(store.iter_events(), KpiSettings(), link, deployment="d2")
    store.close()
    assert text == [
        "test/d2 to production at 2026-11-02 10:00Z (version 1.0.1): ok; rework",
        "  next deployment: none yet",
        "  rework: follows incident test/I1, started 2h before it (within the 48h rework window)",
    ]


def test_a_changed_definition_assesses_the_stored_history_again(tmp_path: Path) -> None:
    """A restart with another rework definition re-assesses the stored outcomes: the counter
    keeps every contribution ever made, the retraction takes out the one no longer true."""
    clock = Clock("2026-11-08T00:00:00Z")
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), clock=clock)  # declared
    pipeline.record("test", Poll(events=[*DEPLOYMENTS, *INCIDENTS], cursor=None))
    text = scrape(pipeline)
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 1  # d4, the hotfix
    pipeline.store.close()

    link = LinkSettings(rework="incident_follow_up")
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), linking=link, clock=clock)
    text = scrape(pipeline)
    # d2 is rework now, d4 no longer: 1 + 1 = 2 made, 1 retracted, 1 in the windows (d2).
    assert rework(text) == (2, 1, 1, 1)
    pipeline.store.close()

    # The same settings again: nothing is assessed again, the numbers stay.
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), linking=link, clock=clock)
    again = scrape(pipeline)
    assert value(again, "kpi_deployments_rework_total", **SHOP) == 2
    assert value(again, "kpi_deployments_rework_retracted_total", **SHOP) == 1
    pipeline.store.close()
