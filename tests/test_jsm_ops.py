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

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from kpi_exporter.model import Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.jsm_ops import JsmOps
from kpi_exporter.store import SourceState, Store
from tests.alerts_fake import (
    API_OPEN,
    CHECKOUT,
    CONFIG,
    FLOOR_MS,
    NOW,
    SHOP,
    UNMAPPED,
    FakeAlertList,
    alert,
    alert_source,
    serving,
)
from tests.support import built_source, poll_into, served, ts, value

API = "https://atlassian.test"
CLOUD = "5c2b4f3e-8d1a-4e6b-9f70-1a2b3c4d5e6f"
ROOT = f"{API}/jsm/ops/api/{CLOUD}"
EMAIL = "kpi-reader@example.test"
TOKEN = "ATATT3xFfGF0-jsm-s3cret"
QUERY = f"createdAt >= {FLOOR_MS} AND (priority: (P1 OR P2 OR P3))"


class FakeJsmOps(FakeAlertList):
    """``/v1/alerts`` of one site as the reference's example answers: ``values``, ``count``
    and ``links.next`` (a path under ``/jsm/ops/api/{cloudId}``); pages by ``size``."""

    size = "size"
    values = "values"
    next_field = "links"
    next_base = "/v1/alerts"

    def __init__(self) -> None:
        super().__init__(f"{ROOT}/v1/alerts", QUERY)

    def reply(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        params = dict(parse_qsl(urlsplit(request.url or "").query))
        if "offset" in params:  # the reference: "Sum of offset and size should be lower than 20K"
            assert int(params["offset"]) + int(params["size"]) < 20_000
        return super().reply(request)

    def envelope(self, total: int) -> dict[str, Any]:
        return {"count": total}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJsmOps]:
    yield from serving(monkeypatch, "JSM_TOKEN", TOKEN, FakeJsmOps)


def jsm(slept: list[float] | None = None, **config: Any) -> JsmOps:
    settings: dict[str, Any] = {
        "type": "jsm_ops",
        "name": "jsm",
        "token_env": "JSM_TOKEN",
        "email": EMAIL,
        "cloud_id": CLOUD,
        "query": "priority: (P1 OR P2 OR P3)",
    }
    source: JsmOps = alert_source(settings, API, slept, **config)
    return source


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


def test_a_reopened_alert_is_open_again_and_its_restore_time_is_retracted(fake, tmp_path):
    fake.add(CHECKOUT)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    source = jsm()
    poll_into(pipeline, source)
    closed = served(pipeline)

    # j1 reopened at 03-06 09:00: open again, no close time; still acknowledged at 12:02.
    fake.add(
        {
            **CHECKOUT,
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


def test_the_first_sync_stops_at_the_apis_20000_alert_window_with_a_warning(fake, caplog):
    # A page whose next link would need offset 19,900 + size 100 = 20,000: not below 20,000.
    page = {
        "values": [CHECKOUT],
        "count": 25_000,
        "links": {"next": "/v1/alerts?offset=19900&size=100"},
    }
    fake.queued.append((200, {"Content-Type": "application/json"}, page))
    caplog.set_level(logging.WARNING)

    poll = jsm().poll(SourceState())

    assert [e.key for e in poll.events] == ["jsm_ops/j1"] and len(responses.calls) == 1
    assert "at most 20000 alerts" in caplog.text


@pytest.mark.parametrize(
    "link",
    [
        "/v1/alerts?offset=100&size=100",  # under the cloud id, as the reference's example
        f"/jsm/ops/api/{CLOUD}/v1/alerts?offset=100&size=100",  # from the host
        f"{ROOT}/v1/alerts?offset=100&size=100",  # a whole URL
    ],
)
def test_every_spelling_of_links_next_names_the_same_page(link, fake):
    source = jsm()
    assert source.following({"links": {"next": link}}) == f"{ROOT}/v1/alerts?offset=100&size=100"
    assert source.following({"links": {}}) is None and source.following({}) is None


def test_an_answer_without_values_fails_the_poll_naming_the_request(fake):
    fake.queued.append((200, {"Content-Type": "application/json"}, {"data": []}))

    with pytest.raises(
        SourceError, match=r"GET .*/v1/alerts: expected a JSON object with 'values'"
    ):
        jsm().poll(SourceState())


def test_a_changed_cloud_id_starts_over_with_a_first_sync(fake):
    fake.add(CHECKOUT)
    first = jsm().poll(SourceState())
    other = "0000aaaa-1111-2222-3333-444455556666"
    responses.add_callback(
        responses.GET,
        f"{API}/jsm/ops/api/{other}/v1/alerts",
        lambda request: (200, {}, json.dumps({"values": [CHECKOUT], "count": 1})),
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
    for item in (CHECKOUT, API_OPEN, UNMAPPED):
        before, after = opsgenie.incident(item), successor.incident(item)
        assert before.key == f"opsgenie/{item['id']}" and after.key == f"jsm_ops/{item['id']}"
        assert replace(before, key="") == replace(after, key="")
