"""How benchmarks/dashboards.py loads a dashboard: as Grafana opens it (collapsed rows left
closed), then each collapsed row as it opens on a click."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.dashboards import collapsed, grafana_step, prepare

from tests.prometheus_fixture import ROOT, panels

EXECUTIVE = ROOT / "dashboards" / "rendered" / "executive" / "executive.json"


def titles(model: dict[str, Any]) -> list[str]:
    return [panel["title"] for panel in panels(model["panels"]) if panel["type"] != "row"]


def test_collapsed_rows_are_loaded_apart_when_opened() -> None:
    model = json.loads(EXECUTIVE.read_text())
    rows = [panel for panel in model["panels"] if collapsed(panel)]
    assert rows, "the executive dashboard keeps details in collapsed rows"

    opened, *clicked = prepare(EXECUTIVE)

    assert opened.row == ""
    assert [p["panels"] for p in opened.model["panels"] if collapsed(p)] == [[]] * len(rows)
    inside = {panel["title"] for row in rows for panel in row["panels"]}
    assert not inside & set(titles(opened.model))
    assert len(titles(opened.model)) == len(titles(model)) - len(inside)
    assert [dashboard.row for dashboard in clicked] == [row["title"] for row in rows]
    for dashboard, row in zip(clicked, rows, strict=True):
        assert titles(dashboard.model) == [panel["title"] for panel in row["panels"]]
        assert dashboard.model["templating"] == model["templating"]
        assert len(dashboard.selections) == 2  # All teams, and one team picked


def test_grafana_step_rounds_as_grafana_and_keeps_the_min_interval() -> None:
    day = 86400.0
    assert grafana_step(30 * day) == 1800.0  # 2,592 s per pixel rounds to 30m
    assert grafana_step(day) == 60.0  # 86.4 s rounds to 1m, the scrape interval
    assert grafana_step(30 * day, 3600.0) == 3600.0
