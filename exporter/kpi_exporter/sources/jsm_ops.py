"""Jira Service Management operations (the JSM ops REST API, Opsgenie's successor): every
alert matching ``query`` becomes an Incident ``jsm_ops/{id}``.

Atlassian moved Opsgenie's alerts into Jira Service Management and keeps their fields and
search syntax; the ops REST API serves them under ``/jsm/ops/api/{cloudId}/v1``, with basic
authentication (an Atlassian account's email and API token). The same semantics as the
``opsgenie`` source, so that moving over is a change of configuration only:

- started and detected: ``createdAt``;
- acknowledged: ``createdAt + report.ackTime`` (milliseconds, Opsgenie's shape); else a
  top-level ``ackTime`` or ``acknowledgedAt`` (a number: milliseconds after ``createdAt``; a
  string: the time itself); else unknown, even when ``acknowledged`` is true;
- resolved (status ``closed``): ``createdAt + report.closeTime``, else a top-level
  ``closeTime`` or ``closedAt`` read the same way, else ``updatedAt``; an alert that is open
  again (reopened) is unresolved, and its earlier restore time becomes a retraction;
- severity: ``priority`` lowercased (``p1`` .. ``p5``), ``unknown`` when absent;
- app and team: a tag ``app:<name>`` names the app; else the first tag that is a service of
  the ``apps`` mapping (``apps.*.services``); else the defaults;
- explicit deployment: the first match of ``deployment_pattern`` in the message.

The ops API exposes alerts, not incidents: a JSM incident is a Jira work item, read by the
``jira`` source with an ``incident_jql``.

Requests. ONE fixed URL: ``GET /jsm/ops/api/{cloudId}/v1/alerts?query=createdAt >= <floor>
AND (<query>)&sort=updatedAt&order=desc&offset=0&size=100``, the floor being the horizon's
start at the first sync. Its first page is conditional (a ``304`` ends the list);
``links.next`` (a path under ``/jsm/ops/api/{cloudId}``) is followed while the page holds
alerts updated since the cursor (the newest ``updatedAt`` read and the ids at that instant),
so a steady-state poll costs one request. The API serves at most 20,000 alerts of one query
(offset + size below 20,000): a first sync with more alerts than that in the horizon stops
there, with a warning (narrow ``query`` or ``horizon``). A changed API URL, cloud id, query,
horizon or pattern starts over with a first sync. Malformed JSON, a bad token or spent
retries fail the poll as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import Field

from ..config_base import Credentials, Duration, Name, Regex
from ..model import Event, Incident
from ..redaction import basic_authorization
from ..store import SourceState
from . import Poll, SourceError
from .cursor import dump_cursor, load_cursor
from .http import HttpClient
from .incident_tools import (
    DEFAULT_DEPLOYMENT_PATTERN,
    IncidentTool,
    deployment_ref,
    owner_of,
)
from .marks import Mark, moved, unread
from .registry import SourceType, headline
from .times import api_time


class JsmOpsSource(Credentials):
    type: Literal["jsm_ops"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field(
        "https://api.atlassian.com", pattern=r"^https?://", description="Atlassian API root."
    )
    cloud_id: str = Field(
        pattern=r"^[A-Za-z0-9-]+$",
        description="The site's cloud id (https://<site>.atlassian.net/_edge/tenant_info).",
    )
    email: str = Field(description="The Atlassian account of the API token.")
    query: str = Field(
        "priority: (P1 OR P2)",
        description="Alert search (Opsgenie's syntax): the alerts that are incidents (empty: all).",
    )
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    deployment_pattern: Regex = Field(
        DEFAULT_DEPLOYMENT_PATTERN, description="Explicit deployment reference in the message."
    )


log = logging.getLogger(__name__)

SYSTEM = "Jira Service Management ops"
SIZE = 100
WINDOW = 20_000  # offset + size must stay below it
APP_TAG = "app:"


class JsmOps(IncidentTool[JsmOpsSource]):
    """Polls the alerts of one Jira Service Management site through the ops REST API."""

    system = SYSTEM

    @property
    def root(self) -> str:
        """Where ``links.next`` paths start: ``{api}/jsm/ops/api/{cloudId}``."""
        return f"{self.api}/jsm/ops/api/{self.config.cloud_id}"

    def scope(self) -> dict[str, Any]:
        return {"cloud_id": self.config.cloud_id, "query": self.config.query}

    def alerts_url(self, floor: float) -> str:
        query = f"createdAt >= {int(floor * 1000)}"
        if self.config.query.strip():
            query += f" AND ({self.config.query.strip()})"
        params = [("query", query), ("sort", "updatedAt"), ("order", "desc")]
        return f"{self.root}/v1/alerts?{urlencode([*params, ('offset', 0), ('size', SIZE)])}"

    def following(self, body: Mapping[str, Any]) -> str | None:
        """The next page's URL from ``links.next``; None at the end or at the API's window."""
        link = (body.get("links") or {}).get("next")
        if not link:
            return None
        url = str(link) if str(link).startswith(("http://", "https://")) else self.root + link
        params = dict(parse_qsl(urlsplit(url).query))
        if int(params.get("offset", 0)) + int(params.get("size", SIZE)) >= WINDOW:
            log.warning(
                "%s: the API serves at most %d alerts of one query; the older ones are not "
                "read (narrow query or horizon)",
                self.name,
                WINDOW,
            )
            return None
        return url

    def read(self, state: SourceState) -> Poll:
        headers = {
            "Accept": "application/json",
            "Authorization": basic_authorization(self.config.email, self.poll_token()),
        }
        http = HttpClient.for_poll(self, state, lambda: headers)
        saved = load_cursor(state.cursor, self.fingerprint, self.name)
        floor = self.clock() - self.config.horizon if saved is None else float(saved["floor"])
        url = self.alerts_url(floor)
        if saved is None:  # a validator left from an earlier state must not skip the first sync
            http.validators.pop(url, None)
        mark: Mark | None = None
        if saved is not None and saved["mark"] is not None:
            mark = Mark(float(saved["mark"][0]), list(saved["mark"][1]))

        new: list[Mapping[str, Any]] = []
        page = http.get(url)
        while not page.not_modified:
            body = page.json()
            alerts = body.get("values") if isinstance(body, dict) else None
            if not isinstance(alerts, list):
                raise SourceError(f"GET {url.split('?')[0]}: expected a JSON object with 'values'")
            unread_alerts, reached_old = unread(alerts, mark, _updated_at, _id)
            new.extend(unread_alerts)
            following = self.following(body)
            if reached_old or not alerts or not following:
                break  # sorted by updatedAt, newest first: the rest was read before
            page = http.get(following, conditional=False)
        if saved is None:
            log.info("%s: first sync: %d alerts read", self.name, len(new))

        mark = moved(mark, new, _updated_at, _id)
        events: list[Event] = [self.incident(alert) for alert in new]
        return Poll(
            events=events,
            cursor=dump_cursor(
                self.fingerprint,
                floor=floor,
                mark=None if mark is None else [mark.updated, mark.ids],
            ),
            validators=http.validators,
        )

    def incident(self, alert: Mapping[str, Any]) -> Incident:
        created = _required(alert, "createdAt")
        acknowledged = _moment(alert, created, "ackTime", "acknowledgedAt")
        resolved: float | None = None
        if str(alert.get("status") or "").lower() == "closed":
            resolved = _moment(alert, created, "closeTime", "closedAt")
            if resolved is None:
                resolved = _required(alert, "updatedAt")
        tags = [str(tag) for tag in alert.get("tags") or ()]
        apps = [tag[len(APP_TAG) :].strip() for tag in tags if tag.lower().startswith(APP_TAG)]
        owner = owner_of(self.ownership, tags, apps)
        return Incident(
            **owner.identity(self.name, f"jsm_ops/{alert['id']}"),
            severity=str(alert.get("priority") or "unknown").lower(),
            started_at=created,
            detected_at=created,
            acknowledged_at=acknowledged,
            resolved_at=resolved,
            deployment_ref=deployment_ref(self.pattern, [alert.get("message")]),
        )


def _required(alert: Mapping[str, Any], name: str) -> float:
    value = api_time(alert.get(name), SYSTEM)
    if value is None:
        raise SourceError(f"{SYSTEM} alert {alert.get('id')} without {name}")
    return value


def _moment(alert: Mapping[str, Any], created: float, elapsed: str, at: str) -> float | None:
    """When an alert was acknowledged or closed: ``report.<elapsed>`` (milliseconds after
    ``created``), else a top-level ``<elapsed>`` or ``<at>`` (a number: milliseconds after
    ``created``; a string: the time); None when the answer has none."""
    report = alert.get("report") or {}
    for value in (report.get(elapsed), alert.get(elapsed), alert.get(at)):
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            if value < 0:
                raise SourceError(f"{SYSTEM} alert {alert.get('id')}: negative {elapsed} {value}")
            return created + float(value) / 1000
        return api_time(value, SYSTEM)
    return None


def _updated_at(alert: Mapping[str, Any]) -> float:
    return _required(alert, "updatedAt")


def _id(alert: Mapping[str, Any]) -> str:
    return str(alert["id"])


def _describe(source: JsmOps) -> list[str]:
    query = source.config.query or "anything"
    return [headline(source, "jsm_ops", f"alerts matching {query!r}; API {source.root}")]


SOURCE_TYPE = SourceType("jsm_ops", JsmOpsSource, JsmOps.build, _describe)
