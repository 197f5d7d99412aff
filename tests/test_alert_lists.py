"""What both alert lists of Opsgenie's lineage do alike (``sources/alert_lists.py``): the
``opsgenie`` source against its fake Opsgenie and the ``jsm_ops`` source against its fake
Jira Service Management operations API (``tests/test_opsgenie.py``,
``tests/test_jsm_ops.py``), on one scenario (``tests/alerts_fake.py``). Expectations are
computed by hand (restore and acknowledge buckets: 1m, 5m, 15m, 30m, 1h, 2h, 4h, ...)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import responses

from kpi_exporter.model import Identity, Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.store import SourceState, Store
from tests import test_jsm_ops as jsm
from tests import test_opsgenie as og
from tests.alerts_fake import (
    API_APP,
    API_OPEN,
    CHECKOUT,
    MINUTE,
    SHOP,
    UNKNOWN,
    UNMAPPED,
    FakeAlertList,
    alert,
    offsets,
)
from tests.support import HOUR, poll_into, served, ts, value

KINDS = ["opsgenie", "jsm_ops"]
# How each authenticates: Opsgenie's API key, or basic auth with an Atlassian API token.
AUTHORIZATION = {
    "opsgenie": f"GenieKey {og.KEY}",
    "jsm_ops": "Basic " + base64.b64encode(f"{jsm.EMAIL}:{jsm.TOKEN}".encode()).decode(),
}
# The same acknowledgement (20:10, 600,000 ms after 20:00) and close (23:00, 10,800,000 ms =
# 3 h), in Opsgenie's report, and in the top-level ISO spelling seen in JSM answers.
CLOSED_LATER: dict[str, dict[str, Any]] = {
    "opsgenie": {"report": {"ackTime": 600000, "closeTime": 10800000}},
    "jsm_ops": {"ackTime": "2026-03-09T20:10:00.000Z", "closeTime": "2026-03-09T23:00:00.000Z"},
}


@contextmanager
def lineage(kind: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeAlertList, Any]]:
    """The fake and the source of either list."""
    monkeypatch.setenv("OPSGENIE_KEY", og.KEY)
    monkeypatch.setenv("JSM_TOKEN", jsm.TOKEN)
    with responses.mock:
        if kind == "opsgenie":
            yield og.FakeOpsgenie(), og.opsgenie()
        else:
            yield jsm.FakeJsmOps(), jsm.jsm()


@pytest.mark.parametrize("kind", KINDS)
def test_first_sync_gives_hand_computed_incidents(kind, monkeypatch, tmp_path):
    with lineage(kind, monkeypatch) as (fake, source):
        fake.add(CHECKOUT, API_OPEN, UNMAPPED)
        pipeline = Pipeline(Store(tmp_path / "s.db"))

        poll = poll_into(pipeline, source)

        assert len(responses.calls) == 1
        assert responses.calls[0].request.headers["Authorization"] == AUTHORIZATION[kind]
    name = source.name
    assert sorted(poll.events, key=lambda e: e.key) == [
        Incident(
            **Identity(source=name, key=f"{kind}/j1", app="shop", team="payments"),
            severity="p1",
            started_at=ts("2026-03-05T12:00:00Z"),
            detected_at=ts("2026-03-05T12:00:00Z"),
            acknowledged_at=ts("2026-03-05T12:02:00Z"),  # + 120,000 ms
            resolved_at=ts("2026-03-05T12:45:00Z"),  # + 2,700,000 ms
            deployment_ref="4711",
        ),
        Incident(
            **Identity(source=name, key=f"{kind}/j2", app="api", team="platform"),
            severity="p2",
            started_at=ts("2026-03-09T20:00:00Z"),
            detected_at=ts("2026-03-09T20:00:00Z"),
        ),
        Incident(  # closed without report.closeTime: resolved at updatedAt
            **Identity(source=name, key=f"{kind}/j3", app="unknown", team="unassigned"),
            severity="p2",
            started_at=ts("2026-03-08T06:00:00Z"),
            detected_at=ts("2026-03-08T06:00:00Z"),
            resolved_at=ts("2026-03-08T08:30:00Z"),
        ),
    ]
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
    assert value(text, "kpi_incidents_total", **UNKNOWN, severity="p2") == 1
    assert value(text, "kpi_incidents_open", **API_APP, severity="p2") == 1


@pytest.mark.parametrize("kind", KINDS)
def test_steady_state_costs_one_request_and_an_alert_closed_later_updates_the_same_key(
    kind, monkeypatch, tmp_path
):
    with lineage(kind, monkeypatch) as (fake, source):
        fake.add(CHECKOUT, API_OPEN)
        pipeline = Pipeline(Store(tmp_path / "s.db"))
        poll_into(pipeline, source)
        before = served(pipeline)
        responses.calls.reset()

        unchanged = poll_into(pipeline, source)
        assert unchanged.events == [] and len(responses.calls) == 1

        closed_later = {"status": "closed", "acknowledged": True, **CLOSED_LATER[kind]}
        fake.add({**API_OPEN, "updatedAt": "2026-03-09T23:00:00.000Z", **closed_later})
        responses.calls.reset()
        closed = poll_into(pipeline, source)
        assert len(responses.calls) == 1  # j1 on the same page is older than the cursor

    assert [e.key for e in closed.events] == [f"{kind}/j2"]
    after = served(pipeline)
    restore, ack = "kpi_incident_restore_seconds", "kpi_incident_acknowledge_seconds"
    assert value(after, "kpi_incidents_total", **API_APP) == 1  # the same incident, once
    assert value(before, "kpi_incidents_open", **API_APP) == 1
    assert value(after, "kpi_incidents_open", **API_APP) == 0
    assert value(before, f"{restore}_count", **API_APP) == 0
    assert value(after, f"{restore}_count", **API_APP) == 1
    assert value(after, f"{restore}_bucket", **API_APP, le=str(2 * HOUR)) == 0  # 3 h
    assert value(after, f"{restore}_bucket", **API_APP, le=str(4 * HOUR)) == 1
    assert value(after, f"{ack}_bucket", **API_APP, le=str(5 * MINUTE)) == 0  # 10 min
    assert value(after, f"{ack}_bucket", **API_APP, le=str(15 * MINUTE)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_pages_are_followed_only_while_new(kind, monkeypatch):
    """150 alerts are 2 pages of 100 (offsets 0 and 100), through Opsgenie's
    ``paging.next`` (a URL) or JSM's ``links.next`` (a path); one alert updated since costs
    the first page only."""
    with lineage(kind, monkeypatch) as (fake, source):
        times = (f"2026-03-08T{n // 60:02d}:{n % 60:02d}:00.000Z" for n in range(150))
        fake.add(*(alert(f"b{n:03d}", at) for n, at in enumerate(times)))

        first = source.poll(SourceState())
        assert len(first.events) == 150 and offsets() == [0, 100]

        fake.add(alert("new", "2026-03-09T10:00:00.000Z"))
        responses.calls.reset()
        second = source.poll(SourceState(first.cursor, first.validators))
        assert [e.key for e in second.events] == [f"{kind}/new"] and offsets() == [0]
