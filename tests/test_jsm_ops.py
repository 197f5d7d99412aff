"""The Jira Service Management operations source against a fake ops REST API (``responses``)
following Atlassian's reference of "List alerts": ``GET /jsm/ops/api/{cloudId}/v1/alerts``
with ``query``, ``sort``, ``order``, ``offset`` and ``size``; the answer's ``values``,
``count`` and ``links.next`` (a path under ``/jsm/ops/api/{cloudId}``, as the reference's
example writes it); at most 20,000 alerts (offset + size below 20,000); basic auth with an
Atlassian account's email and API token. The alerts keep Opsgenie's fields (``report.ackTime``
and ``report.closeTime`` in milliseconds after ``createdAt``), which Atlassian states the ops
API keeps; one alert carries the top-level ``ackTime``/``closeTime`` times seen in answers
of the field. Expectations are computed by hand in each test (restore and acknowledge
buckets: 1m, 5m, 15m, 30m, 1h, 2h, 4h, ...).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import responses

from kpi_exporter.model import Identity, Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources.jsm_ops import JsmOps
from kpi_exporter.store import SourceState, Store
from tests.support import HOUR, built_source, poll_into, served, ts, value

API = "https://atlassian.test"
CLOUD = "5c2b4f3e-8d1a-4e6b-9f70-1a2b3c4d5e6f"
ROOT = f"{API}/jsm/ops/api/{CLOUD}"
EMAIL = "kpi-reader@example.test"
TOKEN = "ATATT3xFfGF0-jsm-s3cret"
NOW = ts("2026-03-10T00:00:00Z")
FLOOR_MS = int((NOW - 365 * 86400) * 1000)
QUERY = f"createdAt >= {FLOOR_MS} AND (priority: (P1 OR P2 OR P3))"
MINUTE = 60.0
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, services: [checkout]}
  api: {team: platform}
"""
SHOP = {"app": "shop", "team": "payments", "environment": "production"}
API_APP = {"app": "api", "team": "platform", "environment": "production"}
UNKNOWN = {"app": "unknown", "team": "unassigned", "environment": "production"}


def alert(
    id_: str, created: str, updated: str | None = None, status: str = "open", **fields: Any
) -> dict[str, Any]:
    """A ``GET /v1/alerts`` item (``values[]``)."""
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
        "owner": "",
        "priority": "P1",
        "responders": [{"type": "team", "id": "8418d193-2dab-4490-b331-8c02cdd196b7"}],
        "integration": {"id": "4513b7ea", "name": "Prometheus", "type": "Prometheus"},
        "report": {},
    }
    item.update(fields)
    return item


class FakeJsmOps:
    """``/v1/alerts`` of one site for the one query the source sends: sorted by updatedAt,
    newest first, ``size`` per page with ``links.next`` as a path. No validators: the
    reference documents none. Queued replies come first."""

    def __init__(self) -> None:
        self.alerts: dict[str, dict[str, Any]] = {}
        self.queued: list[tuple[int, dict[str, str], Any]] = []
        self.query = QUERY
        responses.add_callback(responses.GET, f"{ROOT}/v1/alerts", self.reply)

    def add(self, *items: dict[str, Any]) -> None:
        self.alerts.update((item["id"], item) for item in items)

    def reply(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if self.queued:
            status, headers, reply = self.queued.pop(0)
            return status, headers, (reply if isinstance(reply, str) else json.dumps(reply))
        params = dict(parse_qsl(urlsplit(request.url or "").query))
        assert (params["query"], params["sort"], params["order"]) == (
            self.query,
            "updatedAt",
            "desc",
        )
        offset, size = int(params["offset"]), int(params["size"])
        assert offset + size < 20_000  # the reference: "Sum of offset and size should be lower"
        items = sorted(self.alerts.values(), key=lambda a: a["updatedAt"], reverse=True)
        body: dict[str, Any] = {"values": items[offset : offset + size], "count": len(items)}
        if offset + size < len(items):
            following = {**params, "offset": str(offset + size)}
            body["links"] = {"next": f"/v1/alerts?{urlencode(following)}"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJsmOps]:
    monkeypatch.setenv("JSM_TOKEN", TOKEN)
    with responses.mock:
        yield FakeJsmOps()


def jsm(slept: list[float] | None = None, **config: Any) -> JsmOps:
    settings: dict[str, Any] = {
        "type": "jsm_ops",
        "name": "jsm",
        "token_env": "JSM_TOKEN",
        "email": EMAIL,
        "cloud_id": CLOUD,
        "query": "priority: (P1 OR P2 OR P3)",
    }
    settings.update(api_url=API, **config)
    source: JsmOps = built_source(settings, CONFIG, clock=lambda: NOW, slept=slept)
    return source


def offsets() -> list[int]:
    return [
        int(dict(parse_qsl(urlsplit(str(c.request.url)).query))["offset"]) for c in responses.calls
    ]


# J1: P1 on tag "checkout" (a service of shop), 03-05 12:00, acknowledged after 120 s (2 min),
#     closed after 2,700 s (45 min). J2: P2 tagged app:api, 03-09 20:00, open, unacknowledged.
# J3: P3 tagged "billing-db", a service nobody mapped: the defaults, unknown/unassigned.
J1 = alert(
    "j1",
    "2026-03-05T12:00:00.000Z",
    "2026-03-05T12:45:00.000Z",
    status="closed",
    acknowledged=True,
    tags=["checkout", "prod"],
    message="Checkout errors after deployment #4711",
    report={"ackTime": 120000, "closeTime": 2700000, "acknowledgedBy": "x", "closedBy": "x"},
)
J2 = alert("j2", "2026-03-09T20:00:00.000Z", priority="P2", tags=["App:api"])
J3 = alert(
    "j3",
    "2026-03-08T06:00:00.000Z",
    "2026-03-08T08:30:00.000Z",
    status="closed",
    priority="P3",
    tags=["billing-db"],
)


def test_first_sync_gives_hand_computed_incidents(fake, tmp_path):
    fake.add(J1, J2, J3)
    pipeline = Pipeline(Store(tmp_path / "s.db"))

    poll = poll_into(pipeline, jsm())

    assert sorted(poll.events, key=lambda e: e.key) == [
        Incident(
            **Identity(source="jsm", key="jsm_ops/j1", app="shop", team="payments"),
            severity="p1",
            started_at=ts("2026-03-05T12:00:00Z"),
            detected_at=ts("2026-03-05T12:00:00Z"),
            acknowledged_at=ts("2026-03-05T12:02:00Z"),  # + 120,000 ms
            resolved_at=ts("2026-03-05T12:45:00Z"),  # + 2,700,000 ms
            deployment_ref="4711",
        ),
        Incident(
            **Identity(source="jsm", key="jsm_ops/j2", app="api", team="platform"),
            severity="p2",
            started_at=ts("2026-03-09T20:00:00Z"),
            detected_at=ts("2026-03-09T20:00:00Z"),
        ),
        Incident(  # closed without report.closeTime: resolved at updatedAt
            **Identity(source="jsm", key="jsm_ops/j3", app="unknown", team="unassigned"),
            severity="p3",
            started_at=ts("2026-03-08T06:00:00Z"),
            detected_at=ts("2026-03-08T06:00:00Z"),
            resolved_at=ts("2026-03-08T08:30:00Z"),
        ),
    ]
    assert len(responses.calls) == 1
    expected = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert responses.calls[0].request.headers["Authorization"] == f"Basic {expected}"
    text = served(pipeline)
    restore, ack = "kpi_incident_restore_seconds", "kpi_incident_acknowledge_seconds"
    # j1: restored in 45 min (1h bucket, not 30m), acknowledged in 2 min (5m bucket, not 1m).
    assert value(text, f"{restore}_bucket", **SHOP, le=str(30 * MINUTE)) == 0
    assert value(text, f"{restore}_bucket", **SHOP, le=str(HOUR)) == 1
    assert value(text, f"{ack}_bucket", **SHOP, le=str(MINUTE)) == 0
    assert value(text, f"{ack}_bucket", **SHOP, le=str(5 * MINUTE)) == 1
    # j3: 06:00 -> 08:30 is 2.5 h (4h bucket, not 2h), counted for the defaults.
    assert value(text, f"{restore}_bucket", **UNKNOWN, le=str(2 * HOUR)) == 0
    assert value(text, f"{restore}_bucket", **UNKNOWN, le=str(4 * HOUR)) == 1
    assert value(text, "kpi_incidents_total", **UNKNOWN, severity="p3") == 1
    assert value(text, "kpi_incidents_open", **API_APP, severity="p2") == 1


def test_priorities_map_to_lowercased_severities_and_a_missing_one_to_unknown(fake):
    fake.add(
        *(alert(f"p{n}", f"2026-03-0{n}T00:00:00.000Z", priority=f"P{n}") for n in range(1, 6)),
        alert("none", "2026-03-06T00:00:00.000Z", priority=None),
    )
    fake.query = f"createdAt >= {FLOOR_MS}"  # an empty query: the floor alone

    poll = jsm(query="").poll(SourceState())

    severities = {e.key: e.severity for e in poll.events if isinstance(e, Incident)}
    assert severities == {
        "jsm_ops/p1": "p1",
        "jsm_ops/p2": "p2",
        "jsm_ops/p3": "p3",
        "jsm_ops/p4": "p4",
        "jsm_ops/p5": "p5",
        "jsm_ops/none": "unknown",
    }


def test_acknowledged_then_closed_updates_the_same_key_and_steady_state_costs_one_request(
    fake, tmp_path
):
    fake.add(J1, J2)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    source = jsm()
    poll_into(pipeline, source)
    before = served(pipeline)
    responses.calls.reset()

    unchanged = poll_into(pipeline, source)
    assert unchanged.events == [] and len(responses.calls) == 1

    # j2 acknowledged (20:10, +600,000 ms), then closed (23:00, +10,800,000 ms = 3 h), in the
    # top-level ISO spelling seen in answers of the field.
    fake.add(
        {
            **J2,
            "status": "closed",
            "acknowledged": True,
            "updatedAt": "2026-03-09T23:00:00.000Z",
            "ackTime": "2026-03-09T20:10:00.000Z",
            "closeTime": "2026-03-09T23:00:00.000Z",
        }
    )
    responses.calls.reset()
    closed = poll_into(pipeline, source)

    assert [e.key for e in closed.events] == ["jsm_ops/j2"]
    assert len(responses.calls) == 1  # j1 on the same page is older than the cursor
    after = served(pipeline)
    restore, ack = "kpi_incident_restore_seconds", "kpi_incident_acknowledge_seconds"
    assert value(after, "kpi_incidents_total", **API_APP) == 1  # the same incident, once
    assert value(before, "kpi_incidents_open", **API_APP) == 1
    assert value(after, "kpi_incidents_open", **API_APP) == 0
    assert value(before, f"{restore}_count", **API_APP) == 0
    assert value(after, f"{restore}_count", **API_APP) == 1
    assert value(after, f"{restore}_bucket", **API_APP, le=str(2 * HOUR)) == 0
    assert value(after, f"{restore}_bucket", **API_APP, le=str(4 * HOUR)) == 1
    assert value(after, f"{ack}_bucket", **API_APP, le=str(5 * MINUTE)) == 0
    assert value(after, f"{ack}_bucket", **API_APP, le=str(15 * MINUTE)) == 1


def test_a_reopened_alert_is_open_again_and_its_restore_time_is_retracted(fake, tmp_path):
    fake.add(J1)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    source = jsm()
    poll_into(pipeline, source)
    closed = served(pipeline)

    # j1 reopened at 03-06 09:00: open again, no close time; still acknowledged at 12:02.
    fake.add(
        {
            **J1,
            "status": "open",
            "updatedAt": "2026-03-06T09:00:00.000Z",
            "report": {"ackTime": 120000, "acknowledgedBy": "x"},
        }
    )
    reopened_poll = poll_into(pipeline, source)
    reopened = served(pipeline)

    (incident,) = reopened_poll.events
    assert isinstance(incident, Incident)
    assert incident.resolved_at is None
    assert incident.acknowledged_at == ts("2026-03-05T12:02:00Z")
    restore = "kpi_incident_restore_seconds"
    assert value(closed, "kpi_incidents_open", **SHOP) == 0
    assert value(reopened, "kpi_incidents_open", **SHOP) == 1
    assert value(reopened, "kpi_incidents_total", **SHOP) == 1  # still one incident
    # The counter never goes down: 1 restore observed, and 1 taken back as a retraction.
    assert value(reopened, f"{restore}_count", **SHOP) == 1
    assert value(reopened, "kpi_incident_restore_retracted_seconds_count", **SHOP) == 1


def test_pages_follow_links_next_only_while_new(fake):
    fake.add(
        *(alert(f"b{n:03d}", f"2026-03-08T{n // 60:02d}:{n % 60:02d}:00.000Z") for n in range(150))
    )
    source = jsm()

    first = source.poll(SourceState())
    assert len(first.events) == 150 and offsets() == [0, 100]  # ceil(150 / 100) = 2 requests

    fake.add(alert("new", "2026-03-09T10:00:00.000Z"))
    responses.calls.reset()
    second = source.poll(SourceState(first.cursor, first.validators))
    assert [e.key for e in second.events] == ["jsm_ops/new"] and offsets() == [0]


def test_the_first_sync_stops_at_the_apis_20000_alert_window_with_a_warning(fake, caplog):
    # A page whose next link would need offset 19,900 + size 100 = 20,000: not below 20,000.
    page = {
        "values": [J1],
        "count": 25_000,
        "links": {"next": "/v1/alerts?offset=19900&size=100"},
    }
    fake.queued.append((200, {"Content-Type": "application/json"}, page))
    caplog.set_level(logging.WARNING)

    poll = jsm().poll(SourceState())

    assert [e.key for e in poll.events] == ["jsm_ops/j1"] and len(responses.calls) == 1
    assert "at most 20000 alerts" in caplog.text


def test_an_answer_without_values_fails_the_poll_naming_the_request(fake):
    fake.queued.append((200, {"Content-Type": "application/json"}, {"data": []}))

    with pytest.raises(Exception, match=r"GET .*/v1/alerts: expected a JSON object with 'values'"):
        jsm().poll(SourceState())


def test_a_429_waits_for_retry_after_through_the_injected_sleep(fake):
    fake.add(J1)
    fake.queued.append((429, {"Retry-After": "3"}, {"message": "Too many requests"}))
    slept: list[float] = []
    source = jsm(slept)

    poll = source.poll(SourceState())

    assert slept == [3.0] and [e.key for e in poll.events] == ["jsm_ops/j1"]
    assert source.health.api_requests[("jsm", "429")] == 1


def test_a_changed_cloud_id_starts_over_with_a_first_sync(fake):
    fake.add(J1)
    first = jsm().poll(SourceState())
    other = "0000aaaa-1111-2222-3333-444455556666"
    responses.add_callback(
        responses.GET,
        f"{API}/jsm/ops/api/{other}/v1/alerts",
        lambda request: (200, {}, json.dumps({"values": [J1], "count": 1})),
    )

    moved = jsm(cloud_id=other).poll(SourceState(first.cursor, first.validators))

    assert [e.key for e in moved.events] == ["jsm_ops/j1"]  # read again, not skipped


def test_migrating_from_opsgenie_keeps_every_fact_of_an_alert():
    """The same alert through the ``opsgenie`` source and through this one: the same incident
    but for its key and source name (the migration note's claim)."""
    opsgenie = built_source(
        {"type": "opsgenie", "name": "jsm", "token_env": "PATH"}, CONFIG, clock=lambda: NOW
    )
    successor = built_source(
        {"type": "jsm_ops", "name": "jsm", "token_env": "PATH", "email": EMAIL, "cloud_id": CLOUD},
        CONFIG,
        clock=lambda: NOW,
    )
    for item in (J1, J2, J3):
        before, after = opsgenie.incident(item), successor.incident(item)
        assert before.key == f"opsgenie/{item['id']}" and after.key == f"jsm_ops/{item['id']}"
        assert replace(before, key="") == replace(after, key="")
