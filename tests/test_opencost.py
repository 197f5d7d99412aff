"""The OpenCost source: daily allocations into Kubernetes spend per app and team, the same
days polled again updated rather than added, and a failing API leaving the stored days."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses

from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.model import CostLine
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.opencost import OpenCost, OpenCostSource
from kpi_exporter.store import SourceState, Store
from tests.support import ts, value

API = "http://opencost.test:9003"
URL = f"{API}/allocation/compute"
CONFIG = """
apps:
  shop: {team: payments, services: [shop-prod]}
  finder: {team: search}
"""
NOW = ts("2026-11-03T12:00:00Z")


def allocation(name: str, day: str, cost: Any) -> dict[str, Any]:
    start = f"{day}T00:00:00Z"
    return {"name": name, "totalCost": cost, "window": {"start": start, "end": start}}


def answer(*days: dict[str, Any] | None) -> dict[str, Any]:
    return {"code": 200, "data": list(days)}


def opencost() -> OpenCost:
    config = OpenCostSource(type="opencost", name="k8s", api_url=API, window="3d")
    return OpenCost(config, Ownership(parse_config(CONFIG)), Health(), sleep=lambda _: None)


@responses.activate
def test_daily_allocations_become_spend_per_app_and_team() -> None:
    responses.get(
        URL,
        json=answer(
            {
                # shop-prod maps to shop via services; finder is an app's name.
                "shop-prod": allocation("shop-prod", "2026-11-01", 10.5),
                "finder": allocation("finder", "2026-11-01", 2.0),
                "__idle__": allocation("__idle__", "2026-11-01", 1.25),
            },
            None,  # a step without data
            {
                "shop-prod": allocation("shop-prod", "2026-11-02", 11.0),
                "broken": allocation("broken", "2026-11-02", "n/a"),
            },
        ),
    )
    poll = opencost().poll(SourceState())
    query = responses.calls[0].request.url or ""
    for part in ("window=3d", "aggregate=namespace", "step=1d", "accumulate=false"):
        assert part in query
    assert poll.problems == ["allocation broken: totalCost is not a number: 'n/a'"]
    lines = {(e.app, e.team, e.day): e.amount for e in poll.events if isinstance(e, CostLine)}
    assert lines == {
        ("shop", "payments", ts("2026-11-01T00:00:00Z")): 10.5,
        ("finder", "search", ts("2026-11-01T00:00:00Z")): 2.0,
        ("unknown", "unassigned", ts("2026-11-01T00:00:00Z")): 1.25,
        ("shop", "payments", ts("2026-11-02T00:00:00Z")): 11.0,
    }
    assert {e.provider for e in poll.events if isinstance(e, CostLine)} == {"kubernetes"}


@responses.activate
def test_the_same_days_polled_again_are_updated_and_a_failure_keeps_them(
    tmp_path: Path,
) -> None:
    source = opencost()
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: NOW)
    responses.get(URL, json=answer({"shop-prod": allocation("shop-prod", "2026-11-03", 3.0)}))
    pipeline.record("k8s", source.poll(SourceState()))
    # Later the same day: today's amount grew to 5; the day is replaced, not added to.
    responses.replace(
        responses.GET, URL, json=answer({"shop-prod": allocation("shop-prod", "2026-11-03", 5.0)})
    )
    pipeline.record("k8s", source.poll(SourceState()))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    assert value(text, "kpi_cost_month_to_date", app="shop", provider="kubernetes") == 5
    # The API fails: the poll fails as a whole and the stored day stays.
    responses.replace(responses.GET, URL, status=404)
    with pytest.raises(SourceError):
        source.poll(SourceState())
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    assert value(text, "kpi_cost_month_to_date", app="shop", provider="kubernetes") == 5


@responses.activate
def test_an_answer_without_allocation_sets_fails_the_poll() -> None:
    responses.get(URL, json={"code": 500, "message": "boom"})
    with pytest.raises(SourceError, match="no allocation sets"):
        opencost().poll(SourceState())
