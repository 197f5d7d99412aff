"""The PagerDuty source against a fake PagerDuty (``responses``) whose payloads follow the REST
API v2 reference: ``GET /incidents`` (since/until or date_range=all, statuses[], offset
pagination with ``more``), ``GET /incidents/{id}`` and ``GET /incidents/{id}/log_entries``.
Expectations are computed by hand in each test (restore and acknowledge buckets: 1m, 5m,
15m, 30m, 1h, 2h, 4h, 8h, 1d, ...).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.model import Deployment, DeploymentOutcome, Identity, Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll, SourceError
from kpi_exporter.sources.pagerduty import PagerDuty
from kpi_exporter.sources.times import iso
from kpi_exporter.store import SourceState, Store
from tests.support import HOUR, built_source, poll_into, served, ts, value

API = "https://pd.example.test"
MINUTE = 60.0
TOKEN = "u+pd-s3cret-token-value"
MAX_OFFSET = 10_000
NOW = ts("2026-03-10T00:00:00Z")
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, services: [Checkout API]}
  api: {team: platform, services: [PSVC2]}
"""
SHOP = {"app": "shop", "team": "payments", "environment": "production"}
API_APP = {"app": "api", "team": "platform", "environment": "production"}


def incident(
    id_: str,
    created: str,
    status: str = "triggered",
    *,
    service: tuple[str, str] = ("PSVC1", "Checkout API"),
    **fields: Any,
) -> dict[str, Any]:
    """A ``GET /incidents`` item, with only fields of PagerDuty's API description (no
    ``description``; no ``priority`` unless given)."""
    item: dict[str, Any] = {
        "id": id_,
        "type": "incident",
        "incident_number": int(re.sub(r"\D", "", id_) or 0),
        "title": f"Incident {id_}",
        "status": status,
        "urgency": "high",
        "created_at": created,
        "updated_at": created,
        "last_status_change_at": created,
        "service": {"id": service[0], "type": "service_reference", "summary": service[1]},
        "acknowledgements": [],
        "assignments": [],
        "first_trigger_log_entry": {"id": f"L{id_}", "type": "trigger_log_entry_reference"},
        "html_url": f"https://acme.pagerduty.com/incidents/{id_}",
    }
    item.update(fields)
    return item


def acknowledgement(at: str) -> dict[str, Any]:
    return {"at": at, "acknowledger": {"id": "PUSER1", "type": "user_reference"}}


def log_entry(type_: str, at: str) -> dict[str, Any]:
    return {"id": f"R{at}", "type": type_, "created_at": at, "agent": {"id": "PUSER1"}}


# --- a fake PagerDuty -------------------------------------------------------------------------


Reply = tuple[int, dict[str, str], Any]


class FakePagerDuty:
    """Serves ``incidents`` as PagerDuty would: filtered by creation time or status, sorted,
    paged by offset and limit (``400`` when offset + limit is above 10,000, as classic pagination
    answers). Queued replies (errors, rate limits) come first, per path."""

    def __init__(self) -> None:
        self.incidents: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.queued: dict[str, list[Reply]] = {}
        self.statuses: list[int] = []  # of every GET /incidents answered from the data
        responses.add_callback(responses.GET, re.compile(re.escape(API) + r"/.*"), self.reply)

    def add(self, *items: dict[str, Any]) -> None:
        self.incidents.update((item["id"], item) for item in items)

    def queue(self, path: str, status: int, headers: dict[str, str], body: Any) -> None:
        self.queued.setdefault(path, []).append((status, headers, body))

    def reply(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url or "")
        query = parse_qsl(parts.query)
        waiting = self.queued.get(parts.path)
        if waiting:
            status, headers, body = waiting.pop(0)
            return status, headers, body if isinstance(body, str) else json.dumps(body)
        if parts.path == "/incidents":
            answer = self._list(query)
            self.statuses.append(answer[0])
            return answer
        match = re.fullmatch(r"/incidents/(\w+)(/log_entries)?", parts.path)
        if match and match.group(1) in self.incidents:
            id_ = match.group(1)
            if match.group(2):
                return self._page(self.logs.get(id_, []), dict(query), "log_entries")
            return 200, {}, json.dumps({"incident": self.incidents[id_]})
        return 404, {}, json.dumps({"error": {"message": "Not Found", "code": 2100}})

    def _list(self, query: list[tuple[str, str]]) -> tuple[int, dict[str, str], str]:
        params = dict(query)
        assert params["total"] == "false" and params["time_zone"] == "UTC"
        items = sorted(self.incidents.values(), key=lambda i: i["created_at"])
        if params.get("date_range") != "all":
            since, until = ts(params["since"]), ts(params["until"])
            assert until - since <= 180 * 86400, "PagerDuty refuses more than 6 months"
            items = [i for i in items if since <= ts(i["created_at"]) < until]
        statuses = [v for k, v in query if k == "statuses[]"]
        if statuses:
            items = [i for i in items if i["status"] in statuses]
        services = [v for k, v in query if k == "service_ids[]"]
        if services:
            items = [i for i in items if i["service"]["id"] in services]
        return self._page(items, params, "incidents")

    @staticmethod
    def _page(
        items: list[dict[str, Any]], params: dict[str, str], field: str
    ) -> tuple[int, dict[str, str], str]:
        offset, limit = int(params["offset"]), int(params["limit"])
        if offset + limit > MAX_OFFSET:  # classic pagination ends there
            error = {"message": "Invalid Input Provided", "code": 2001}
            error["errors"] = [f"Offset+limit must be at most {MAX_OFFSET}."]
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": error})
        page = items[offset : offset + limit]
        body = {field: page, "limit": limit, "offset": offset, "more": offset + limit < len(items)}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePagerDuty]:
    monkeypatch.setenv("PD_TOKEN", TOKEN)
    with responses.mock:  # any request without a route fails: nothing leaves the test
        yield FakePagerDuty()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def pagerduty(
    slept: list[float] | None = None, clock: Clock | None = None, **config: Any
) -> PagerDuty:
    settings: dict[str, Any] = {"type": "pagerduty", "name": "pd", "token_env": "PD_TOKEN"}
    settings.update(api_url=API, **config)
    source: PagerDuty = built_source(settings, CONFIG, clock=clock or Clock(NOW), slept=slept)
    return source


def requested() -> list[str]:
    """Path of every request so far, with the query of the list requests that tell them apart."""
    paths = []
    for call in responses.calls:
        parts = urlsplit(str(call.request.url))
        params = dict(parse_qsl(parts.query))
        if parts.path == "/incidents":
            which = "open" if params.get("date_range") == "all" else params["since"][:10]
            paths.append(f"/incidents[{which}@{params['offset']}]")
        else:
            paths.append(parts.path)
    return paths


# PABC1: P1 on Checkout API, 03-05 12:00, acknowledged 12:04, resolved 14:00 (ack time only in
#        the log: PagerDuty empties acknowledgements on resolve).
# PDEF2: high urgency, no priority, on service PSVC2 (mapped by id), 03-09 20:00, acknowledged
#        20:20, still open.
PABC1 = incident(
    "PABC1",
    "2026-03-05T12:00:00Z",
    "resolved",
    priority={"id": "PPRI1", "type": "priority", "summary": "P1"},
    title="Checkout 500s after deploy 3f2a9c1",
    resolved_at="2026-03-05T14:00:00Z",
    last_status_change_at="2026-03-05T14:00:00Z",
)
PABC1_LOG = [
    log_entry("trigger_log_entry", "2026-03-05T12:00:00Z"),
    log_entry("acknowledgement_log_entry", "2026-03-05T12:04:00Z"),
    log_entry("acknowledgement_log_entry", "2026-03-05T12:30:00Z"),
    log_entry("resolve_log_entry", "2026-03-05T14:00:00Z"),
]
PDEF2 = incident(
    "PDEF2",
    "2026-03-09T20:00:00Z",
    "acknowledged",
    service=("PSVC2", "Payments backend"),
    acknowledgements=[acknowledgement("2026-03-09T20:20:00Z")],
    last_status_change_at="2026-03-09T20:20:00Z",
)
WINDOWS = ["2025-03-10", "2025-09-06", "2026-03-05"]  # 365 days in windows of 180 days


def serve(fake: FakePagerDuty) -> None:
    fake.add(PABC1, PDEF2)
    fake.logs["PABC1"] = PABC1_LOG


# --- tests -------------------------------------------------------------------------------------


def test_first_sync_reads_the_horizon_in_windows_and_gives_hand_computed_incidents(fake, tmp_path):
    serve(fake)
    pipeline = Pipeline(Store(tmp_path / "s.db"))

    poll = poll_into(pipeline, pagerduty())

    assert poll.problems == []
    assert sorted(poll.events, key=lambda e: e.key) == [
        Incident(
            **Identity(source="pd", key="pagerduty/PABC1", app="shop", team="payments"),
            severity="p1",
            started_at=ts("2026-03-05T12:00:00Z"),
            detected_at=ts("2026-03-05T12:00:00Z"),
            acknowledged_at=ts("2026-03-05T12:04:00Z"),  # the first acknowledgement
            resolved_at=ts("2026-03-05T14:00:00Z"),
            deployment_ref="3f2a9c1",
        ),
        Incident(
            **Identity(source="pd", key="pagerduty/PDEF2", app="api", team="platform"),
            severity="high",  # no priority: the urgency
            started_at=ts("2026-03-09T20:00:00Z"),
            detected_at=ts("2026-03-09T20:00:00Z"),
            acknowledged_at=ts("2026-03-09T20:20:00Z"),
        ),
    ]
    # Three windows, the open incidents, and the log of the one resolved incident only.
    assert requested() == [
        *(f"/incidents[{day}@0]" for day in WINDOWS),
        "/incidents[open@0]",
        "/incidents/PABC1/log_entries",
    ]
    for call in responses.calls:
        assert call.request.headers["Authorization"] == f"Token token={TOKEN}"
        assert call.request.headers["Accept"] == "application/vnd.pagerduty+json;version=2"

    text = served(pipeline)
    # PABC1: restored in 2 h (the 2h bucket, not 1h), acknowledged in 4 min (5m bucket).
    restore = "kpi_incident_restore_seconds"
    assert value(text, f"{restore}_bucket", **SHOP, le=str(HOUR)) == 0
    assert value(text, f"{restore}_bucket", **SHOP, le=str(2 * HOUR)) == 1
    assert value(text, f"{restore}_sum", **SHOP) == 2 * HOUR
    ack = "kpi_incident_acknowledge_seconds"
    assert value(text, f"{ack}_bucket", **SHOP, le=str(MINUTE)) == 0
    assert value(text, f"{ack}_bucket", **SHOP, le=str(5 * MINUTE)) == 1
    # PDEF2: acknowledged in 20 min (30m bucket), open, no restore time yet.
    assert value(text, f"{ack}_bucket", **API_APP, le=str(15 * MINUTE)) == 0
    assert value(text, f"{ack}_bucket", **API_APP, le=str(30 * MINUTE)) == 1
    assert value(text, "kpi_incidents_open", **API_APP) == 1
    assert value(text, f"{restore}_count", **API_APP) == 0
    assert value(text, "kpi_incidents_total", **SHOP, severity="p1") == 1
    assert value(text, "kpi_incidents_total", **API_APP, severity="high") == 1


def first_polled(fake: FakePagerDuty, tmp_path: Path) -> tuple[Pipeline, Clock, PagerDuty]:
    """A pipeline that recorded a first poll of the served incidents at NOW, its clock and
    its source."""
    serve(fake)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    clock = Clock(NOW)
    source = pagerduty(clock=clock)
    poll_into(pipeline, source)
    return pipeline, clock, source


def test_steady_state_costs_two_requests_and_reads_no_log(fake, tmp_path):
    pipeline, clock, source = first_polled(fake, tmp_path)
    responses.calls.reset()
    clock.now = NOW + 300

    again = poll_into(pipeline, source)

    # Since the last poll's end less an hour's overlap, and the open incidents.
    assert requested() == ["/incidents[2026-03-09@0]", "/incidents[open@0]"]
    assert [e.key for e in again.events] == ["pagerduty/PDEF2"]  # open: re-read, unchanged
    assert value(served(pipeline), "kpi_incidents_total") == 2


def test_an_incident_resolved_later_updates_the_same_key(fake, tmp_path):
    pipeline, clock, source = first_polled(fake, tmp_path)
    before = served(pipeline)
    responses.calls.reset()
    # Resolved at 03-10 02:00: 6 h after it started. PagerDuty empties acknowledgements.
    fake.add(
        {
            **PDEF2,
            "status": "resolved",
            "acknowledgements": [],
            "resolved_at": "2026-03-10T02:00:00Z",
            "last_status_change_at": "2026-03-10T02:00:00Z",
        }
    )
    clock.now = ts("2026-03-10T03:00:00Z")

    again = poll_into(pipeline, source)

    # It left the open list, so it is read by id; its acknowledgement time is in the cursor,
    # so no log is read.
    assert requested() == ["/incidents[2026-03-09@0]", "/incidents[open@0]", "/incidents/PDEF2"]
    resolved = next(e for e in again.events if e.key == "pagerduty/PDEF2")
    assert isinstance(resolved, Incident)
    assert resolved.acknowledged_at == ts("2026-03-09T20:20:00Z")
    assert resolved.resolved_at == ts("2026-03-10T02:00:00Z")
    after = served(pipeline)
    restore = "kpi_incident_restore_seconds"
    assert value(before, "kpi_incidents_total", **API_APP) == 1
    assert value(after, "kpi_incidents_total", **API_APP) == 1
    assert value(before, "kpi_incidents_open", **API_APP) == 1
    assert value(after, "kpi_incidents_open", **API_APP) == 0
    assert value(before, f"{restore}_count", **API_APP) == 0
    assert value(after, f"{restore}_count", **API_APP) == 1
    assert value(after, f"{restore}_bucket", **API_APP, le=str(4 * HOUR)) == 0
    assert value(after, f"{restore}_bucket", **API_APP, le=str(8 * HOUR)) == 1

    # Resolved is final: the next poll reads it no more.
    responses.calls.reset()
    clock.now += 300
    third = poll_into(pipeline, source)
    assert third.events == [] and requested() == ["/incidents[2026-03-10@0]", "/incidents[open@0]"]


def test_a_resolved_incident_in_the_overlap_is_not_read_twice(fake, tmp_path):
    """PXYZ3 was created and resolved within the hour before the first poll's end."""
    fake.add(
        incident(
            "PXYZ3",
            "2026-03-09T23:30:00Z",
            "resolved",
            resolved_at="2026-03-09T23:45:00Z",
        )
    )
    fake.logs["PXYZ3"] = [log_entry("resolve_log_entry", "2026-03-09T23:45:00Z")]
    clock = Clock(NOW)
    source = pagerduty(clock=clock)
    first = source.poll(SourceState())
    assert [e.key for e in first.events] == ["pagerduty/PXYZ3"]
    responses.calls.reset()
    clock.now += 300

    second = source.poll(SourceState(first.cursor, first.validators))

    assert second.events == []
    assert requested() == ["/incidents[2026-03-09@0]", "/incidents[open@0]"]  # no log again


def test_pages_are_followed_while_more(fake):
    """150 incidents in the last window: offsets 0 and 100."""
    fake.add(
        *(incident(f"P{n:03d}", f"2026-03-07T{n // 60:02d}:{n % 60:02d}:00Z") for n in range(150))
    )

    poll = pagerduty().poll(SourceState())

    assert len(poll.events) == 150
    assert requested() == [
        "/incidents[2025-03-10@0]",
        "/incidents[2025-09-06@0]",
        "/incidents[2026-03-05@0]",
        "/incidents[2026-03-05@100]",
        "/incidents[open@0]",
        "/incidents[open@100]",
    ]


def test_a_window_over_ten_thousand_incidents_is_narrowed_instead_of_failing(fake):
    """10,150 incidents, one a minute from 2025-12-01 00:00 (in the second 180-day window).
    Offsets 0..9,900 read the first 10,000 (minutes 0..9,999); offset 10,000 would answer
    400, so the window goes on from the last one read, minute 9,999 = 6 d 22 h 39 min later,
    2025-12-07T22:39: its 151 incidents (9,999..10,149) in 2 pages (100 + 51), the incident
    of minute 9,999 read twice and kept once: 10,000 + 151 - 1 = 10,150."""
    start = ts("2025-12-01T00:00:00Z")
    fake.add(
        *(
            incident(
                f"P{n:05d}",
                iso(start + n * MINUTE),
                "resolved",
                acknowledgements=[acknowledgement(iso(start + n * MINUTE + 60))],
                resolved_at=iso(start + n * MINUTE + 600),
            )
            for n in range(10_150)
        )
    )

    poll = pagerduty().poll(SourceState())

    assert len(poll.events) == 10_150
    assert {e.key for e in poll.events} == {f"pagerduty/P{n:05d}" for n in range(10_150)}
    assert requested() == [
        "/incidents[2025-03-10@0]",
        *(f"/incidents[2025-09-06@{offset}]" for offset in range(0, 10_000, 100)),
        "/incidents[2025-12-07@0]",
        "/incidents[2025-12-07@100]",
        "/incidents[2026-03-05@0]",
        "/incidents[open@0]",
    ]
    narrowed = dict(parse_qsl(urlsplit(str(responses.calls[101].request.url)).query))
    assert narrowed["since"] == "2025-12-07T22:39:00Z"
    assert fake.statuses == [200] * len(requested())


def test_the_fake_refuses_offsets_past_ten_thousand_like_pagerduty(fake):
    answer = requests.get(
        f"{API}/incidents?date_range=all&total=false&time_zone=UTC&offset=9950&limit=100"
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 2001


def test_an_acknowledgement_logged_under_either_spelling_counts(fake):
    # PagerDuty's description lists ``acknowledge_log_entry`` among the log entry types and
    # names it ``acknowledgement_log_entry`` in the AcknowledgeLogEntry schema.
    for id_, spelling in (("PA1", "acknowledge_log_entry"), ("PA2", "acknowledgement_log_entry")):
        fake.add(
            incident(id_, "2026-03-06T10:00:00Z", "resolved", resolved_at="2026-03-06T11:00:00Z")
        )
        fake.logs[id_] = [log_entry(spelling, "2026-03-06T10:07:00Z")]

    poll = pagerduty().poll(SourceState())

    # 10:07 - 10:00 = 7 minutes after the trigger, for both
    assert {e.key: e.acknowledged_at for e in poll.events if isinstance(e, Incident)} == {
        "pagerduty/PA1": ts("2026-03-06T10:07:00Z"),
        "pagerduty/PA2": ts("2026-03-06T10:07:00Z"),
    }


def test_a_429_waits_for_retry_after_through_the_injected_sleep(fake):
    serve(fake)
    fake.queue("/incidents", 429, {"Retry-After": "7"}, {"error": {"message": "Rate Limit"}})
    slept: list[float] = []
    source = pagerduty(slept)

    poll = source.poll(SourceState())

    assert slept == [7.0] and len(poll.events) == 2
    assert source.health.api_requests[("pd", "429")] == 1


def test_a_5xx_is_retried_then_succeeds(fake):
    serve(fake)
    fake.queue("/incidents/PABC1/log_entries", 502, {}, "Bad gateway")
    slept: list[float] = []

    poll = pagerduty(slept).poll(SourceState())

    assert len(poll.events) == 2 and len(slept) == 1 and 0.5 <= slept[0] <= 1.5


def test_json_of_an_unexpected_shape_fails_the_poll_clearly(fake):
    fake.queue("/incidents", 200, {}, {"incidents": [{"title": "no id"}], "more": False})

    with pytest.raises(SourceError, match=r"unexpected PagerDuty response \(KeyError: 'id'\)"):
        pagerduty().poll(SourceState())


def test_a_revoked_token_fails_the_poll_and_the_token_is_never_shown(fake, caplog):
    fake.queue("/incidents", 401, {}, {"error": {"message": "Unauthorized", "code": 2006}})
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SourceError) as raised:
        pagerduty().poll(SourceState())

    assert str(raised.value) == "GET https://pd.example.test/incidents: HTTP 401 (Unauthorized)"
    assert TOKEN not in caplog.text and "token" not in str(raised.value).lower()


def test_an_incident_naming_a_sha_links_to_that_deployment(fake, tmp_path):
    """D1 (commit 3f2a9c1...) at 03-04 10:00, D2 at 03-05 09:00: PABC1 (03-05 12:00) names
    3f2a9c1, so D1 failed, not D2, the last deployment before it."""
    serve(fake)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    deployments = [
        Deployment("ci", "d1", "shop", "payments", "production", ts("2026-03-04T10:00:00Z"),
                   commit="3f2a9c1e5b7d"),
        Deployment("ci", "d2", "shop", "payments", "production", ts("2026-03-05T09:00:00Z"),
                   commit="77aa0b1c2d3e"),
    ]  # fmt: skip
    pipeline.record("ci", Poll(list(deployments), None))

    poll_into(pipeline, pagerduty())

    outcomes = {
        e.key: e
        for e in pipeline.store.iter_events(["outcome"])
        if isinstance(e, DeploymentOutcome)
    }
    assert outcomes["d1"].failed and outcomes["d1"].incident_keys == ("pd/pagerduty/PABC1",)
    assert not outcomes["d2"].failed
    assert value(served(pipeline), "kpi_deployments_failed_total", **SHOP) == 1


def test_service_ids_filter_every_list(fake):
    serve(fake)

    poll = pagerduty(service_ids=["PSVC2"]).poll(SourceState())

    assert [e.key for e in poll.events] == ["pagerduty/PDEF2"]
    queries = [parse_qsl(urlsplit(str(c.request.url)).query) for c in responses.calls]
    assert all(("service_ids[]", "PSVC2") in query for query in queries)


def test_an_inline_token_is_refused():
    with pytest.raises(ConfigError, match="secrets are not allowed inline"):
        parse_config("sources:\n  - {type: pagerduty, name: pd, token: abc}\n")
