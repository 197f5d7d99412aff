"""The Opsgenie source against a fake Opsgenie (``responses``) whose payloads follow the Alert
API v2 reference: ``GET /v2/alerts`` (query, sort, order, offset, limit; ``paging.next``), alerts
with ``report.ackTime`` and ``report.closeTime`` in milliseconds after ``createdAt``.
Expectations are computed by hand in each test (restore and acknowledge buckets: 1m, 5m, 15m,
30m, 1h, 2h, 4h, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import responses

from kpi_exporter.model import Deployment, DeploymentOutcome, Identity, Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.sources.opsgenie import Opsgenie
from kpi_exporter.store import SourceState, Store
from tests.support import HOUR, built_source, poll_into, served, ts, value

API = "https://api.eu.opsgenie.com"
KEY = "eb243592-faa2-4ba2-a551-s3cret"
NOW = ts("2026-03-10T00:00:00Z")
FLOOR_MS = int((NOW - 365 * 86400) * 1000)
QUERY = f"createdAt >= {FLOOR_MS} AND (priority: (P1 OR P2))"
MINUTE = 60.0
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, services: [checkout]}
  api: {team: platform}
"""
SHOP = {"app": "shop", "team": "payments", "environment": "production"}
API_APP = {"app": "api", "team": "platform", "environment": "production"}


def alert(
    id_: str, created: str, updated: str | None = None, status: str = "open", **fields: Any
) -> dict[str, Any]:
    """A ``GET /v2/alerts`` item."""
    item: dict[str, Any] = {
        "id": id_,
        "tinyId": id_[-2:],
        "alias": f"alias-{id_}",
        "message": f"Alert {id_}",
        "status": status,
        "acknowledged": False,
        "isSeen": True,
        "tags": [],
        "snoozed": False,
        "count": 1,
        "lastOccurredAt": created,
        "createdAt": created,
        "updatedAt": updated or created,
        "source": "prometheus",
        "owner": "alice@example.test",
        "priority": "P1",
        "responders": [{"type": "team", "id": "8418d193-2dab-4490-b331-8c02cdd196b7"}],
        "integration": {"id": "4513b7ea", "name": "Prometheus", "type": "Prometheus"},
        "report": {},
    }
    item.update(fields)
    return item


class FakeOpsgenie:
    """``/v2/alerts`` for the one query the source sends: sorted by updatedAt, newest first,
    ``limit`` per page with ``paging.next`` (as Opsgenie writes it). No validators: Opsgenie
    documents none. Queued replies come first."""

    def __init__(self) -> None:
        self.alerts: dict[str, dict[str, Any]] = {}
        self.queued: list[tuple[int, dict[str, str], Any]] = []
        responses.add_callback(responses.GET, f"{API}/v2/alerts", self.reply)

    def add(self, *items: dict[str, Any]) -> None:
        self.alerts.update((item["id"], item) for item in items)

    def reply(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if self.queued:
            status, headers, reply = self.queued.pop(0)
            return status, headers, (reply if isinstance(reply, str) else json.dumps(reply))
        params = dict(parse_qsl(urlsplit(request.url or "").query))
        assert (params["query"], params["sort"], params["order"]) == (QUERY, "updatedAt", "desc")
        offset, limit = int(params["offset"]), int(params["limit"])
        items = sorted(self.alerts.values(), key=lambda a: a["updatedAt"], reverse=True)
        body: dict[str, Any] = {"data": items[offset : offset + limit], "took": 0.1}
        body["requestId"] = "37daec35"
        if offset + limit < len(items):
            following = {**params, "offset": str(offset + limit)}
            body["paging"] = {"next": f"{API}/v2/alerts?{urlencode(following)}"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpsgenie]:
    monkeypatch.setenv("OPSGENIE_KEY", KEY)
    with responses.mock:
        yield FakeOpsgenie()


def opsgenie(slept: list[float] | None = None, **config: Any) -> Opsgenie:
    settings: dict[str, Any] = {"type": "opsgenie", "name": "og", "token_env": "OPSGENIE_KEY"}
    settings.update(api_url=API, **config)
    source: Opsgenie = built_source(settings, CONFIG, clock=lambda: NOW, slept=slept)
    return source


def offsets() -> list[int]:
    return [
        int(dict(parse_qsl(urlsplit(str(c.request.url)).query))["offset"]) for c in responses.calls
    ]


# A1: P1 on tag "checkout" (a service of shop), 03-05 12:00, acknowledged after 300 s, closed
#     after 5400 s (1.5 h). A2: P2 tagged app:api, 03-09 20:00, still open, unacknowledged.
A1 = alert(
    "a1",
    "2026-03-05T12:00:00.000Z",
    "2026-03-05T13:30:00.000Z",
    status="closed",
    acknowledged=True,
    tags=["checkout", "prod"],
    message="Checkout errors after deployment #4711",
    report={"ackTime": 300000, "closeTime": 5400000, "acknowledgedBy": "x", "closedBy": "x"},
)
A2 = alert("a2", "2026-03-09T20:00:00.000Z", priority="P2", tags=["App:api"])


def test_first_sync_gives_hand_computed_incidents(fake, tmp_path):
    fake.add(A1, A2)
    pipeline = Pipeline(Store(tmp_path / "s.db"))

    poll = poll_into(pipeline, opsgenie())

    assert sorted(poll.events, key=lambda e: e.key) == [
        Incident(
            **Identity(source="og", key="opsgenie/a1", app="shop", team="payments"),
            severity="p1",
            started_at=ts("2026-03-05T12:00:00Z"),
            detected_at=ts("2026-03-05T12:00:00Z"),
            acknowledged_at=ts("2026-03-05T12:05:00Z"),
            resolved_at=ts("2026-03-05T13:30:00Z"),
            deployment_ref="4711",
        ),
        Incident(
            **Identity(source="og", key="opsgenie/a2", app="api", team="platform"),
            severity="p2",
            started_at=ts("2026-03-09T20:00:00Z"),
            detected_at=ts("2026-03-09T20:00:00Z"),
        ),
    ]
    assert len(responses.calls) == 1
    assert responses.calls[0].request.headers["Authorization"] == f"GenieKey {KEY}"
    text = served(pipeline)
    # a1: restored in 1.5 h (2h bucket), acknowledged in 5 min (5m bucket, bounds inclusive).
    restore, ack = "kpi_incident_restore_seconds", "kpi_incident_acknowledge_seconds"
    assert value(text, f"{restore}_bucket", **SHOP, le=str(HOUR)) == 0
    assert value(text, f"{restore}_bucket", **SHOP, le=str(2 * HOUR)) == 1
    assert value(text, f"{ack}_bucket", **SHOP, le=str(MINUTE)) == 0
    assert value(text, f"{ack}_bucket", **SHOP, le=str(5 * MINUTE)) == 1
    assert value(text, "kpi_incidents_open", **API_APP) == 1


def test_steady_state_costs_one_request_and_an_alert_closed_later_updates_the_same_key(
    fake, tmp_path
):
    fake.add(A1, A2)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    source = opsgenie()
    poll_into(pipeline, source)
    before = served(pipeline)
    responses.calls.reset()

    unchanged = poll_into(pipeline, source)
    assert unchanged.events == [] and len(responses.calls) == 1

    # a2 acknowledged after 10 min and closed after 3 h.
    fake.add(
        {
            **A2,
            "status": "closed",
            "acknowledged": True,
            "updatedAt": "2026-03-09T23:00:00.000Z",
            "report": {"ackTime": 600000, "closeTime": 10800000},
        }
    )
    responses.calls.reset()
    closed = poll_into(pipeline, source)

    assert [e.key for e in closed.events] == ["opsgenie/a2"]
    assert len(responses.calls) == 1  # a1 on the same page is older than the cursor
    after = served(pipeline)
    restore = "kpi_incident_restore_seconds"
    assert value(after, "kpi_incidents_total", **API_APP) == 1
    assert value(before, "kpi_incidents_open", **API_APP) == 1
    assert value(after, "kpi_incidents_open", **API_APP) == 0
    assert value(before, f"{restore}_count", **API_APP) == 0
    assert value(after, f"{restore}_count", **API_APP) == 1
    assert value(after, f"{restore}_bucket", **API_APP, le=str(2 * HOUR)) == 0
    assert value(after, f"{restore}_bucket", **API_APP, le=str(4 * HOUR)) == 1
    ack = "kpi_incident_acknowledge_seconds"
    assert value(after, f"{ack}_bucket", **API_APP, le=str(15 * MINUTE)) == 1


def test_pages_are_followed_through_paging_next_only_while_new(fake):
    fake.add(
        *(alert(f"b{n:03d}", f"2026-03-08T{n // 60:02d}:{n % 60:02d}:00.000Z") for n in range(150))
    )
    source = opsgenie()

    first = source.poll(SourceState())
    assert len(first.events) == 150 and offsets() == [0, 100]

    fake.add(alert("new", "2026-03-09T10:00:00.000Z"))
    responses.calls.reset()
    second = source.poll(SourceState(first.cursor, first.validators))
    assert [e.key for e in second.events] == ["opsgenie/new"] and offsets() == [0]


def test_a_429_waits_for_retry_after_through_the_injected_sleep(fake):
    fake.add(A1)
    fake.queued.append((429, {"Retry-After": "3"}, {"message": "Too many requests"}))
    slept: list[float] = []
    source = opsgenie(slept)

    poll = source.poll(SourceState())

    assert slept == [3.0] and [e.key for e in poll.events] == ["opsgenie/a1"]
    assert source.health.api_requests[("og", "429")] == 1


def test_a_5xx_is_retried_then_succeeds(fake):
    fake.add(A1)
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
