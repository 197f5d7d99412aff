"""The Opsgenie source against a fake Opsgenie (``responses``) whose payloads follow the Alert
API v2 reference: ``GET /v2/alerts`` (query, sort, order, offset, limit; ``paging.next``), alerts
with ``report.ackTime`` and ``report.closeTime`` in milliseconds after ``createdAt``.
Expectations are computed by hand in each test (restore and acknowledge buckets: 1m, 5m, 15m,
30m, 1h, 2h, 4h, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kpi_exporter.model import Deployment, DeploymentOutcome
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.sources.opsgenie import Opsgenie
from kpi_exporter.store import SourceState, Store
from tests.alerts_fake import (
    CHECKOUT,
    FLOOR_MS,
    SHOP,
    FakeAlertList,
    alert,
    alert_source,
    serving,
)
from tests.support import poll_into, served, ts, value

API = "https://api.eu.opsgenie.com"
KEY = "eb243592-faa2-4ba2-a551-s3cret"
QUERY = f"createdAt >= {FLOOR_MS} AND (priority: (P1 OR P2))"


class FakeOpsgenie(FakeAlertList):
    """``/v2/alerts`` as Opsgenie answers: ``data``, ``took``, ``requestId`` and
    ``paging.next`` (a full URL)."""

    next_base = f"{API}/v2/alerts"

    def __init__(self) -> None:
        super().__init__(f"{API}/v2/alerts", QUERY)

    def envelope(self, total: int) -> dict[str, Any]:
        return {"took": 0.1, "requestId": "37daec35"}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpsgenie]:
    yield from serving(monkeypatch, "OPSGENIE_KEY", KEY, FakeOpsgenie)


def opsgenie(slept: list[float] | None = None, **config: Any) -> Opsgenie:
    settings: dict[str, Any] = {"type": "opsgenie", "name": "og", "token_env": "OPSGENIE_KEY"}
    source: Opsgenie = alert_source(settings, API, slept, **config)
    return source


def test_a_429_waits_for_retry_after_through_the_injected_sleep(fake):
    fake.add(CHECKOUT)
    fake.queued.append((429, {"Retry-After": "3"}, {"message": "Too many requests"}))
    slept: list[float] = []
    source = opsgenie(slept)

    poll = source.poll(SourceState())

    assert slept == [3.0] and [e.key for e in poll.events] == ["opsgenie/j1"]
    assert source.health.api_requests[("og", "429")] == 1


def test_a_5xx_is_retried_then_succeeds(fake):
    fake.add(CHECKOUT)
    fake.queued.extend([(503, {}, "unavailable"), (500, {}, "oops")])
    slept: list[float] = []

    poll = opsgenie(slept).poll(SourceState())

    assert len(poll.events) == 1 and len(slept) == 2


def test_an_alert_naming_a_sha_links_to_that_deployment(fake, tmp_path):
    fake.add(
        alert("c1", "2026-03-05T12:00:00.000Z", message="5xx since 3f2a9c1", tags=["checkout"])
    )
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    pipeline.record(
        "ci",
        Poll(
            [
                Deployment(
                    "ci",
                    "d1",
                    "shop",
                    "payments",
                    "production",
                    ts("2026-03-04T10:00:00Z"),
                    commit="3f2a9c1e5b7d",
                ),
                Deployment(
                    "ci",
                    "d2",
                    "shop",
                    "payments",
                    "production",
                    ts("2026-03-05T09:00:00Z"),
                    commit="77aa0b1c2d3e",
                ),
            ],
            None,
        ),
    )

    poll_into(pipeline, opsgenie())

    failed = [
        e.key
        for e in pipeline.store.iter_events(["outcome"])
        if isinstance(e, DeploymentOutcome) and e.failed
    ]
    assert failed == ["d1"]
    assert value(served(pipeline), "kpi_deployments_failed_total", **SHOP) == 1
