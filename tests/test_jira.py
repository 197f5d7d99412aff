"""The Jira source against a fake Jira (``responses``) whose payloads follow the REST reference:
Cloud's enhanced search (``POST /rest/api/3/search/jql``, ``nextPageToken``), Data Center's
search (``GET /rest/api/2/search``, ``startAt``/``total``), ``expand=changelog`` and the status
list. Every expectation is computed by hand in the test.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.model import Defect, Incident
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.jira import Jira
from kpi_exporter.store import SourceState
from tests.support import HOUR, built_source, ts, value
from tests.support import exposition as render

CLOUD = "https://acme.atlassian.test"
DC = "https://jira.acme.test"
TOKEN = "jira-s3cret-token"
NOW = ts("2026-03-10T00:00:00Z")
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, services: [Checkout, SHOP]}
  api: {team: platform, services: [API]}
"""
INCIDENTS = "project = OPS AND type = Incident"
BUGS = "type = Bug"
WORK = "project = SHOP AND type in (Story, Task, Spike)"
STATUSES = [
    {"id": "1", "name": "Open", "statusCategory": {"key": "new"}},
    {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
    {"id": "10001", "name": "Done", "statusCategory": {"key": "done"}},
    {"id": "10002", "name": "Closed", "statusCategory": {"key": "done"}},
    {"id": "10003", "name": "In Review", "statusCategory": {"key": "indeterminate"}},
]


def jira_time(text: str) -> str:
    """Jira's time format: ``2026-03-02T10:00`` -> ``2026-03-02T10:00:00.000+0000``."""
    return f"{text}:00.000+0000"


def status(status_id: str) -> dict[str, Any]:
    found = next(s for s in STATUSES if s["id"] == status_id)
    return {"id": status_id, "name": found["name"], "statusCategory": found["statusCategory"]}


def transition(at: str, to: str, source: str = "3") -> dict[str, Any]:
    return {
        "id": f"h{at}",
        "created": jira_time(at),
        "items": [{"field": "status", "fieldtype": "jira", "from": source, "to": to}],
    }


def issue(
    key: str,
    created: str,
    state: str = "1",
    *,
    updated: str | None = None,
    histories: list[dict[str, Any]] | None = None,
    history_total: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(sum(map(ord, key))),
        "key": key,
        "fields": {
            "created": jira_time(created),
            "updated": jira_time(updated or created),
            "status": status(state),
            "project": {"key": key.split("-")[0]},
            "components": [],
            "priority": {"name": "Medium"},
            **fields,
        },
    }
    if histories is not None:
        body["changelog"] = {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(histories) if history_total is None else history_total,
            "histories": histories,
        }
    return body


# Incidents. OPS-1 resolved at its FIRST transition to a done status (12:00, not the later
# Closed at 13:00 nor resolutiondate 13:00): restore 2 h; impact 09:45 -> created 10:00: detect
# 15 min; names its deployment. OPS-2 in progress: open. OPS-3 done, changelog cut short
# (total 5, one history returned): resolutiondate 11:00, restore 1 h.
OPS_1 = issue(
    "OPS-1",
    "2026-03-02T10:00",
    "10002",
    updated="2026-03-02T13:00",
    histories=[
        transition("2026-03-02T10:30", "3", source="1"),
        transition("2026-03-02T13:00", "10002", source="10001"),
        transition("2026-03-02T12:00", "10001"),
    ],
    components=[{"name": "Checkout"}],
    priority={"name": "High"},
    resolutiondate=jira_time("2026-03-02T13:00"),
    customfield_10050=jira_time("2026-03-02T09:45"),
    customfield_10060="abc1234def",
)
OPS_2 = issue(
    "OPS-2",
    "2026-03-04T08:00",
    "3",
    components=[{"name": "API"}],
    priority={"name": "Highest"},
    histories=[],
)
OPS_3 = issue(
    "OPS-3",
    "2026-03-05T10:00",
    "10001",
    updated="2026-03-05T11:00",
    histories=[transition("2026-03-05T10:59", "3", source="1")],
    history_total=5,
    components=[{"name": "Checkout"}],
    resolutiondate=jira_time("2026-03-05T11:00"),
)

# Bugs (app shop): SHOP-1 in production, reported by a customer, open. SHOP-2 found in
# staging, done at 2026-03-03T09:00. SHOP-3: component unknown, app from the project key SHOP;
# found in prod-eu, by the internal QA.
SHOP_1 = issue(
    "SHOP-1",
    "2026-03-01T09:00",
    components=[{"name": "Checkout"}],
    environment="Production",
    customfield_10070=[{"value": "Customer"}],
)
SHOP_2 = issue(
    "SHOP-2",
    "2026-03-02T09:00",
    "10001",
    updated="2026-03-03T09:00",
    histories=[transition("2026-03-03T09:00", "10001")],
    components=[{"name": "Checkout"}],
    environment="staging",
    priority={"name": "High"},
)
SHOP_3 = issue(
    "SHOP-3",
    "2026-03-03T09:00",
    components=[{"name": "Legacy"}],
    environment="prod-eu",
    customfield_10070={"value": "Internal"},
    priority={"name": "Low"},
)

FIELD_MAPPING = {
    "impact_start_field": "customfield_10050",
    "deployment_field": "customfield_10060",
    "customer_field": "customfield_10070",
    "customer_values": ["customer"],
}


# --- a fake Jira ---------------------------------------------------------------------------


class FakeJira:
    """Answers searches from ``incidents``, ``bugs`` and ``work`` (chosen by the JQL),
    ``page`` issues at a time, the status list with an ETag (``304`` on a matching
    If-None-Match), and the whole changelog of an issue from ``changelogs`` (Cloud: the
    changelog endpoint, ``page`` histories at a time; Data Center: the issue with
    ``expand=changelog``)."""

    def __init__(self, api: str, flavour: str, page: int = 2) -> None:
        self.api = api
        self.flavour = flavour
        self.page = page
        self.incidents: list[dict[str, Any]] = []
        self.bugs: list[dict[str, Any]] = []
        self.work: list[dict[str, Any]] = []
        self.changelogs: dict[str, list[dict[str, Any]]] = {}
        self.changelog_reads: list[str] = []
        self.searches: list[dict[str, Any]] = []
        self.queued: list[tuple[int, dict[str, str], str]] = []
        version = "3" if flavour == "cloud" else "2"
        responses.add_callback(
            responses.GET, f"{api}/rest/api/{version}/status", callback=self._statuses
        )
        if flavour == "cloud":
            responses.add_callback(
                responses.POST, f"{api}/rest/api/3/search/jql", callback=self._cloud
            )
            responses.add_callback(
                responses.GET,
                re.compile(re.escape(api) + r"/rest/api/3/issue/[^/]+/changelog"),
                callback=self._cloud_changelog,
            )
        else:
            responses.add_callback(responses.GET, f"{api}/rest/api/2/search", callback=self._dc)
            responses.add_callback(
                responses.GET,
                re.compile(re.escape(api) + r"/rest/api/2/issue/[^/?]+"),
                callback=self._dc_issue,
            )

    def _cloud_changelog(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        key = parts.path.split("/")[-2]
        self.changelog_reads.append(request.url)
        histories = self.changelogs[key]
        start = int(dict(parse_qsl(parts.query)).get("startAt", 0))
        values = histories[start : start + self.page]
        body = {
            "startAt": start,
            "maxResults": self.page,
            "total": len(histories),
            "isLast": start + self.page >= len(histories),
            "values": values,
        }
        return 200, {}, json.dumps(body)

    def _dc_issue(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        key = parts.path.split("/")[-1]
        self.changelog_reads.append(request.url)
        assert dict(parse_qsl(parts.query))["expand"] == "changelog"
        histories = self.changelogs[key]
        changelog = {"startAt": 0, "maxResults": len(histories), "total": len(histories)}
        body = {"key": key, "changelog": {**changelog, "histories": histories}}
        return 200, {}, json.dumps(body)

    def _statuses(self, request: Any) -> tuple[int, dict[str, str], str]:
        if request.headers.get("If-None-Match") == '"s1"':
            return 304, {"ETag": '"s1"'}, ""
        return 200, {"ETag": '"s1"'}, json.dumps(STATUSES)

    def _issues(self, jql: str) -> list[dict[str, Any]]:
        if jql.startswith(f"({WORK})"):
            return self.work
        return self.incidents if jql.startswith(f"({INCIDENTS})") else self.bugs

    def _cloud(self, request: Any) -> tuple[int, dict[str, str], str]:
        payload = json.loads(request.body)
        self.searches.append({**payload, "authorization": request.headers["Authorization"]})
        if self.queued:
            return self.queued.pop(0)
        issues = self._issues(payload["jql"])
        start = int(payload.get("nextPageToken") or 0)
        body: dict[str, Any] = {"issues": issues[start : start + self.page]}
        if start + self.page < len(issues):
            body["nextPageToken"] = str(start + self.page)
        else:
            body["isLast"] = True
        return 200, {}, json.dumps(body)

    def _dc(self, request: Any) -> tuple[int, dict[str, str], str]:
        params = dict(parse_qsl(urlsplit(request.url).query))
        self.searches.append({**params, "authorization": request.headers["Authorization"]})
        if self.queued:
            return self.queued.pop(0)
        issues = self._issues(params["jql"])
        start = int(params["startAt"])
        body = {
            "startAt": start,
            "maxResults": int(params["maxResults"]),
            "total": len(issues),
            "issues": issues[start : start + self.page],
        }
        return 200, {}, json.dumps(body)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterable[None]:
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    with responses.mock:  # any request without a route fails: nothing leaves the test
        yield


def jira(api: str, flavour: str, slept: list[float] | None = None, **config: Any) -> Jira:
    settings: dict[str, Any] = {
        "type": "jira",
        "name": "jira",
        "api_url": api,
        "flavour": flavour,
        "token_env": "JIRA_TOKEN",
        "incident_jql": INCIDENTS,
        "bug_jql": BUGS,
        **FIELD_MAPPING,
    }
    if flavour == "cloud":
        settings["email"] = "kpi@acme.test"
    settings.update(config)
    source: Jira = built_source(settings, CONFIG, clock=lambda: NOW, slept=slept)
    return source


def by_key(events: Iterable[Any]) -> dict[tuple[str, str], Any]:
    return {(event.kind, event.key): event for event in events}


def serve_all(fake: FakeJira) -> None:
    fake.incidents = [OPS_1, OPS_2, OPS_3]
    fake.bugs = [SHOP_1, SHOP_2, SHOP_3]


# --- tests ---------------------------------------------------------------------------------


def test_cloud_search_gives_hand_computed_incidents_and_defects(mocked):
    fake = FakeJira(CLOUD, "cloud")
    serve_all(fake)

    poll = jira(CLOUD, "cloud").poll(SourceState())

    events = by_key(poll.events)
    assert events[("incident", "jira/OPS-1")] == Incident(
        source="jira",
        key="jira/OPS-1",
        app="shop",
        team="payments",
        severity="high",
        started_at=ts("2026-03-02T10:00:00Z"),
        detected_at=ts("2026-03-02T10:00:00Z"),
        resolved_at=ts("2026-03-02T12:00:00Z"),  # the first transition to done
        impact_started_at=ts("2026-03-02T09:45:00Z"),
        deployment_ref="abc1234def",
    )
    ops_2 = events[("incident", "jira/OPS-2")]
    assert (ops_2.app, ops_2.team, ops_2.severity, ops_2.resolved_at) == (
        "api",
        "platform",
        "highest",
        None,
    )
    assert events[("incident", "jira/OPS-3")].resolved_at == ts("2026-03-05T11:00:00Z")
    assert events[("defect", "jira/SHOP-1")] == Defect(
        source="jira",
        key="jira/SHOP-1",
        app="shop",
        team="payments",
        created_at=ts("2026-03-01T09:00:00Z"),
        found_in="production",
        customer_reported=True,
        severity="medium",
    )
    shop_2, shop_3 = events[("defect", "jira/SHOP-2")], events[("defect", "jira/SHOP-3")]
    assert (shop_2.found_in, shop_2.customer_reported, shop_2.resolved_at) == (
        "pre-production",
        False,
        ts("2026-03-03T09:00:00Z"),
    )
    assert (shop_3.app, shop_3.found_in, shop_3.customer_reported, shop_3.severity) == (
        "shop",
        "production",
        False,
        "low",
    )
    assert len(poll.events) == 6
    # Two pages per query (two issues a page), basic auth with the email and the token.
    assert len(fake.searches) == 4
    assert [s.get("nextPageToken") for s in fake.searches] == [None, "2", None, "2"]
    basic = base64.b64encode(f"kpi@acme.test:{TOKEN}".encode()).decode()
    assert {s["authorization"] for s in fake.searches} == {f"Basic {basic}"}
    assert fake.searches[0]["jql"] == (
        f'({INCIDENTS}) AND updated >= "2025/03/10 00:00" ORDER BY updated ASC, key ASC'
    )
    assert fake.searches[0]["expand"] == "changelog"
    assert {"created", "resolutiondate", "status", "components", "customfield_10070"} <= set(
        fake.searches[0]["fields"]
    )


def test_hand_computed_kpis_from_a_cloud_poll(mocked):
    fake = FakeJira(CLOUD, "cloud")
    serve_all(fake)

    text = render(jira(CLOUD, "cloud").poll(SourceState()).events)

    shop = {"app": "shop", "team": "payments"}
    assert value(text, "kpi_incidents_total", **shop) == 2
    assert value(text, "kpi_incidents_open", app="api") == 1
    # OPS-1: 2 h, OPS-3: 1 h -> sum 3 h.
    assert value(text, "kpi_incident_restore_seconds_sum", **shop) == 3 * HOUR
    assert value(text, "kpi_incident_detect_seconds_sum", **shop) == 15 * 60
    assert value(text, "kpi_defects_total", **shop) == 3
    assert value(text, "kpi_defects_escaped_total", **shop) == 2  # SHOP-1, SHOP-3
    assert value(text, "kpi_defects_customer_reported_total", **shop) == 1  # SHOP-1
    assert value(text, "kpi_defects_open", **shop) == 2  # SHOP-1, SHOP-3


def test_data_center_pages_by_start_at_with_a_bearer_token(mocked):
    fake = FakeJira(DC, "datacenter")
    serve_all(fake)

    poll = jira(DC, "datacenter").poll(SourceState())

    assert sorted(key for _, key in by_key(poll.events)) == [
        "jira/OPS-1",
        "jira/OPS-2",
        "jira/OPS-3",
        "jira/SHOP-1",
        "jira/SHOP-2",
        "jira/SHOP-3",
    ]
    assert by_key(poll.events)[("incident", "jira/OPS-1")].resolved_at == ts("2026-03-02T12:00:00Z")
    assert [s["startAt"] for s in fake.searches] == ["0", "2", "0", "2"]
    assert {s["authorization"] for s in fake.searches} == {f"Bearer {TOKEN}"}
    assert fake.searches[0]["expand"] == "changelog"
    assert fake.searches[0]["maxResults"] == "100"


def test_resolution_is_the_first_done_transition_and_a_reopened_issue_is_open(mocked):
    fake = FakeJira(DC, "datacenter")
    # Done at 10:00, reopened at 11:00, done again at 12:00: resolved at 10:00.
    redone = issue(
        "OPS-7",
        "2026-03-06T09:00",
        "10001",
        histories=[
            transition("2026-03-06T12:00", "10001", source="1"),
            transition("2026-03-06T10:00", "10001"),
            transition("2026-03-06T11:00", "1", source="10001"),
        ],
        resolutiondate=jira_time("2026-03-06T12:00"),
    )
    # Done once, reopened now: open, whatever its changelog and stale resolution date say.
    reopened = issue(
        "OPS-8",
        "2026-03-06T09:00",
        "1",
        histories=[transition("2026-03-06T10:00", "10001")],
        resolutiondate=jira_time("2026-03-06T10:00"),
    )
    # Done without a changelog: resolutiondate.
    plain = issue(
        "OPS-9", "2026-03-06T09:00", "10002", resolutiondate=jira_time("2026-03-07T09:00")
    )
    fake.incidents = [redone, reopened, plain]

    events = by_key(jira(DC, "datacenter", bug_jql="").poll(SourceState()).events)

    assert events[("incident", "jira/OPS-7")].resolved_at == ts("2026-03-06T10:00:00Z")
    assert events[("incident", "jira/OPS-8")].resolved_at is None
    assert events[("incident", "jira/OPS-9")].resolved_at == ts("2026-03-07T09:00:00Z")
    assert all(s["jql"].startswith(f"({INCIDENTS})") for s in fake.searches)  # no bug query


def test_the_next_poll_reads_since_the_newest_update_less_a_day(mocked):
    fake = FakeJira(DC, "datacenter")
    serve_all(fake)
    source = jira(DC, "datacenter")
    first = source.poll(SourceState())
    fake.searches.clear()

    second = source.poll(SourceState(first.cursor, first.validators))

    # Newest incident update OPS-3 2026-03-05T11:00, bug update SHOP-3 2026-03-03T09:00.
    assert [s["jql"] for s in fake.searches if s["startAt"] == "0"] == [
        f'({INCIDENTS}) AND updated >= "2026/03/04 11:00" ORDER BY updated ASC, key ASC',
        f'({BUGS}) AND updated >= "2026/03/02 09:00" ORDER BY updated ASC, key ASC',
    ]
    assert source.health.api_requests[("jira", "304")] == 1  # the status list
    assert by_key(second.events) == by_key(first.events)  # re-read, upserted unchanged


def test_a_changed_query_starts_over_with_a_first_sync(mocked):
    fake = FakeJira(DC, "datacenter")
    serve_all(fake)
    first = jira(DC, "datacenter").poll(SourceState())
    fake.searches.clear()

    jira(DC, "datacenter", bug_jql="type = Bug AND project = SHOP").poll(
        SourceState(first.cursor, first.validators)
    )

    assert all('updated >= "2025/03/10 00:00"' in s["jql"] for s in fake.searches)


def test_custom_fields_map_app_severity_and_a_rich_text_environment(mocked):
    fake = FakeJira(CLOUD, "cloud")
    environment = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "production"}]}],
    }
    fake.bugs = [
        issue(
            "PAY-4",
            "2026-03-01T09:00",
            customfield_10010={"value": "API", "id": "10400"},
            customfield_10020={"value": "S1"},
            environment=environment,
            labels=["customer-report", "regression"],
        ),
        issue("PAY-5", "2026-03-01T10:00", customfield_10010=None, environment=None),
    ]

    events = by_key(
        jira(
            CLOUD,
            "cloud",
            incident_jql="",
            app_field="customfield_10010",
            severity_field="customfield_10020",
            customer_field="labels",
            customer_values=["Customer-Report"],
        )
        .poll(SourceState())
        .events
    )

    pay_4, pay_5 = events[("defect", "jira/PAY-4")], events[("defect", "jira/PAY-5")]
    assert (pay_4.app, pay_4.team, pay_4.severity, pay_4.found_in, pay_4.customer_reported) == (
        "api",
        "platform",
        "s1",
        "production",
        True,
    )
    # Nothing maps (project PAY is no service): the defaults; no environment: pre-production.
    assert (pay_5.app, pay_5.team, pay_5.severity, pay_5.found_in, pay_5.customer_reported) == (
        "unknown",
        "unassigned",
        "unknown",
        "pre-production",
        False,
    )


def test_a_429_waits_for_retry_after_through_the_injected_sleep(mocked):
    fake = FakeJira(CLOUD, "cloud")
    fake.incidents = [OPS_2]
    fake.queued.append((429, {"Retry-After": "13"}, '{"errorMessages": ["Rate limit exceeded"]}'))
    slept: list[float] = []
    source = jira(CLOUD, "cloud", slept, bug_jql="")

    poll = source.poll(SourceState())

    assert [event.key for event in poll.events] == ["jira/OPS-2"]
    assert slept == [13.0]
    assert source.health.api_requests[("jira", "429")] == 1


def test_malformed_json_fails_the_poll(mocked):
    fake = FakeJira(DC, "datacenter")
    fake.queued.append((200, {}, '{"startAt": 0, "issues": ['))

    with pytest.raises(SourceError, match="search: response is not valid JSON"):
        jira(DC, "datacenter").poll(SourceState())


def test_an_unexpected_shape_fails_the_poll_clearly(mocked):
    fake = FakeJira(DC, "datacenter")
    fake.incidents = [{"key": "OPS-1"}]  # no fields

    with pytest.raises(SourceError, match=r"unexpected Jira response \(KeyError: 'fields'\)"):
        jira(DC, "datacenter").poll(SourceState())


def test_a_bad_jql_query_fails_the_poll_with_jira_s_message(mocked):
    fake = FakeJira(CLOUD, "cloud")
    fake.queued.append((400, {}, '{"errorMessages": ["Field \'tpye\' does not exist."]}'))

    with pytest.raises(SourceError, match=r"HTTP 400 \(Field 'tpye' does not exist.\)"):
        jira(CLOUD, "cloud").poll(SourceState())


def test_config_checks_auth_and_queries() -> None:
    def problems(source: str) -> list[str]:
        with pytest.raises(ConfigError) as raised:
            parse_config(f"sources:\n  - {source}\n")
        return raised.value.problems

    base = f"type: jira, name: j, api_url: {CLOUD}, token_env: T"
    assert problems(f"{{{base}, bug_jql: x}}") == [
        "<config>:2: sources[j]: flavour cloud needs email (the account of the API token)"
    ]
    assert problems(f"{{{base}, flavour: datacenter}}") == [
        "<config>:2: sources[j]: set at least one of incident_jql, bug_jql and work_jql"
    ]
    assert problems(f"{{{base}, flavour: datacenter, bug_jql: x, token: abc}}")[0].endswith(
        "secrets are not allowed inline; use token_env (an environment variable) or token_file"
        " (a file) instead"
    )
