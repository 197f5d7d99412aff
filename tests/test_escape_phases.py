"""Defect escapes by the phase that should have caught them: read from a Jira field (through
the local Jira fake) or given by the event format, counted per app with bounded label values.
Every expected value is computed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_exporter.config import parse_config
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.model import Defect, Event
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.sources.event_format import EventFormatError, parse_event
from kpi_exporter.store import SourceState, Store
from tests.support import DAY, samples, ts
from tests.test_jira import CLOUD, FakeJira, issue, jira, mocked  # noqa: F401  (a fixture)

NOW = ts("2026-03-10T00:00:00Z")
SETTINGS = KpiSettings(windows=(("7d", 7 * DAY), ("30d", 30 * DAY)), quantiles=(0.5,))
FIELD = "customfield_10090"  # the phase field, a select


def test_jira_maps_its_phase_field_and_escapes_count_by_phase(mocked, tmp_path: Path) -> None:  # noqa: F811
    fake = FakeJira(CLOUD, "cloud")
    production = "production"
    fake.bugs = [
        # Escaped (found in production); the phase field as a select, its value mapped
        # case-insensitively: "Unit Test" -> unit, "Integration" -> integration.
        issue(
            "SHOP-1",
            "2026-03-02T09:00",
            environment=production,
            customfield_10090={"value": "Unit Test"},
        ),
        issue(
            "SHOP-2",
            "2026-03-03T09:00",
            environment=production,
            customfield_10090={"value": "unit"},
        ),
        issue(
            "SHOP-3",
            "2026-03-04T09:00",
            environment=production,
            customfield_10090={"value": "Integration"},
        ),
        # A value nobody mapped, and no value: unknown.
        issue(
            "SHOP-4", "2026-03-05T09:00", environment=production, customfield_10090={"value": "QA"}
        ),
        issue("SHOP-5", "2026-03-06T09:00", environment=production),
        # Caught before production: not an escape, whatever its phase says.
        issue(
            "SHOP-6", "2026-03-07T09:00", environment="staging", customfield_10090={"value": "unit"}
        ),
    ]
    poll = jira(
        CLOUD,
        "cloud",
        incident_jql="",
        escape_phase_field=FIELD,
        escape_phases={"unit test": "unit", "Unit": "unit", "integration": "integration"},
    ).poll(SourceState())
    phases = {e.key: e.escape_phase for e in poll.events if isinstance(e, Defect)}
    assert phases == {
        "jira/SHOP-1": "unit",
        "jira/SHOP-2": "unit",
        "jira/SHOP-3": "integration",
        "jira/SHOP-4": "",
        "jira/SHOP-5": "",
        "jira/SHOP-6": "unit",
    }
    assert FIELD in fake.searches[0]["fields"]  # the field is asked for

    pipeline = Pipeline(Store(tmp_path / "kpi.db"), SETTINGS, clock=lambda: NOW)
    pipeline.record("jira", poll)
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    shop = {"app": "shop", "team": "payments"}

    def value(name: str, **labels: str) -> float | None:
        return samples(text).get((name, frozenset({**shop, **labels}.items())))

    # Escaped: SHOP-1..5 (5 of 6); by phase unit 2, integration 1, unknown 2 (QA and none).
    assert value("kpi_defects_escaped_by_phase_total", phase="unit") == 2
    assert value("kpi_defects_escaped_by_phase_total", phase="integration") == 1
    assert value("kpi_defects_escaped_by_phase_total", phase="unknown") == 2
    assert value("kpi_defects_escaped_by_phase_total", phase="staging") is None
    # Windows at 03-10 00:00: 7d holds (03-03, 03-10]: SHOP-2 unit (03-03 09:00), SHOP-3,
    # SHOP-4 and SHOP-5; SHOP-1 (03-02) only in 30d.
    window = "kpi_window_defects_escaped_by_phase"
    assert value(window, phase="unit", window="7d") == 1
    assert value(window, phase="unit", window="30d") == 2
    assert value(window, phase="unknown", window="7d") == 2
    # The escaped total is the sum over the phases: 2 + 1 + 2 = 5.
    assert (
        samples(text)[
            ("kpi_defects_escaped_total", frozenset({**shop, "severity": "medium"}.items()))
        ]
        == 5
    )


def test_the_event_format_takes_only_the_known_phases() -> None:
    ownership = Ownership(parse_config("apps: {shop: {team: a}}"))
    line = {"type": "defect", "id": "b1", "app": "shop", "created_at": "2026-03-02T09:00:00Z"}
    (defect,) = parse_event({**line, "escape_phase": "staging"}, "ci", ownership)
    assert isinstance(defect, Defect) and defect.escape_phase == "staging"
    (defect,) = parse_event(line, "ci", ownership)
    assert isinstance(defect, Defect) and defect.escape_phase == ""
    with pytest.raises(EventFormatError, match="escape_phase"):
        parse_event({**line, "escape_phase": "qa"}, "ci", ownership)


def test_a_phase_outside_the_list_counts_as_unknown(tmp_path: Path) -> None:
    """Label values stay bounded whatever a source stores."""
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), SETTINGS, clock=lambda: NOW)
    events: list[Event] = [
        Defect("test", f"b{i}", "shop", "a", NOW - DAY, escape_phase=phase)
        for i, phase in enumerate(["unit", "sha-1234", "UNIT", "requirements"])
    ]
    pipeline.record("test", Poll(events=events, cursor=None))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    by_phase = {
        dict(labels)["phase"]: v
        for (name, labels), v in samples(text).items()
        if name == "kpi_defects_escaped_by_phase_total"
    }
    assert by_phase == {"unit": 1, "requirements": 1, "unknown": 2}
