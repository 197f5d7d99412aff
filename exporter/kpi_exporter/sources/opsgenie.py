"""Opsgenie (Alert API v2): every alert matching ``query`` becomes an Incident
``opsgenie/{id}``.

Alerts rather than Opsgenie's Incident API: an incident in its list carries no
acknowledgement or resolution time, an alert does (``report.ackTime``, ``report.closeTime``:
milliseconds after ``createdAt``). ``query`` (Opsgenie's alert search syntax, default
``priority: (P1 OR P2)``) tells which alerts are incidents.

- started and detected: ``createdAt``; acknowledged: ``createdAt + report.ackTime``;
  resolved (status ``closed``): ``createdAt + report.closeTime``, else ``updatedAt``;
- severity: ``priority`` lowercased (``p1`` .. ``p5``);
- app and team: a tag ``app:<name>`` names the app; else the first tag that is a service of
  the ``apps`` mapping (``apps.*.services``); else the defaults;
- explicit deployment: the first match of ``deployment_pattern`` in the message.

Requests. ONE fixed URL: ``GET /v2/alerts?query=createdAt >= <floor> AND (<query>)
&sort=updatedAt&order=desc&limit=100``, the floor being the horizon's start at the first sync
(a URL that moved with the cursor would never reuse a validator). Its first page is
conditional (a ``304`` ends the list); ``paging.next`` is followed while the page holds alerts
updated since the cursor (the newest ``updatedAt`` read and the ids at that instant), so a
steady-state poll costs one request. Opsgenie pages by offset up to 20,000 alerts: a first
sync with more alerts than that in the horizon stops there (narrow ``query`` or ``horizon``).
A changed API URL, query, horizon or pattern starts over with a first sync. Malformed JSON, a
bad key or spent retries fail the poll as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import Field

from ..config_base import Credentials, Duration, Name, Regex
from ..model import Event, Incident
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


class OpsgenieSource(Credentials):
    type: Literal["opsgenie"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field(
        "https://api.opsgenie.com", description="API root (EU: https://api.eu.opsgenie.com)."
    )
    query: str = Field(
        "priority: (P1 OR P2)",
        description="Opsgenie alert search: the alerts that are incidents (empty: all).",
    )
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    deployment_pattern: Regex = Field(
        DEFAULT_DEPLOYMENT_PATTERN, description="Explicit deployment reference in the message."
    )


log = logging.getLogger(__name__)

SYSTEM = "Opsgenie"
LIMIT = 100
APP_TAG = "app:"


def timestamp(text: Any) -> float | None:
    return api_time(text, SYSTEM)


class Opsgenie(IncidentTool[OpsgenieSource]):
    """Polls the alerts of one Opsgenie account."""

    system = SYSTEM

    def scope(self) -> dict[str, Any]:
        return {"query": self.config.query}

    def alerts_url(self, floor: float) -> str:
        query = f"createdAt >= {int(floor * 1000)}"
        if self.config.query.strip():
            query += f" AND ({self.config.query.strip()})"
        params = [("query", query), ("sort", "updatedAt"), ("order", "desc")]
        return f"{self.api}/v2/alerts?{urlencode([*params, ('limit', LIMIT), ('offset', 0)])}"

    def read(self, state: SourceState) -> Poll:
        key = self.poll_token()
        http = HttpClient.for_poll(self, state, lambda: {"Authorization": f"GenieKey {key}"})
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
            alerts = body.get("data") if isinstance(body, dict) else None
            if not isinstance(alerts, list):
                raise SourceError(f"GET {url.split('?')[0]}: expected a JSON object with 'data'")
            unread_alerts, reached_old = unread(alerts, mark, _updated_at, _id)
            new.extend(unread_alerts)
            following = (body.get("paging") or {}).get("next")
            if reached_old or not alerts or not following:
                break  # sorted by updatedAt, newest first: the rest was read before
            page = http.get(str(following), conditional=False)
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

    @staticmethod
    def required(alert: Mapping[str, Any], name: str) -> float:
        value = timestamp(alert.get(name))
        if value is None:
            raise SourceError(f"{SYSTEM} alert {alert.get('id')} without {name}")
        return value

    def incident(self, alert: Mapping[str, Any]) -> Incident:
        created = self.required(alert, "createdAt")
        report = alert.get("report") or {}
        ack_ms = report.get("ackTime")
        acknowledged = created + float(ack_ms) / 1000 if ack_ms is not None else None
        resolved: float | None = None
        if alert["status"] == "closed":
            close_ms = report.get("closeTime")
            resolved = (
                created + float(close_ms) / 1000
                if close_ms is not None
                else self.required(alert, "updatedAt")
            )
        tags = [str(tag) for tag in alert.get("tags") or ()]
        apps = [tag[len(APP_TAG) :].strip() for tag in tags if tag.lower().startswith(APP_TAG)]
        owner = owner_of(self.ownership, tags, apps)
        return Incident(
            **owner.identity(self.name, f"opsgenie/{alert['id']}"),
            severity=str(alert.get("priority") or "unknown").lower(),
            started_at=created,
            detected_at=created,
            acknowledged_at=acknowledged,
            resolved_at=resolved,
            deployment_ref=deployment_ref(self.pattern, [alert.get("message")]),
        )


def _updated_at(alert: Mapping[str, Any]) -> float:
    return Opsgenie.required(alert, "updatedAt")


def _id(alert: Mapping[str, Any]) -> str:
    return str(alert["id"])


def _describe(source: Opsgenie) -> list[str]:
    query = source.config.query or "anything"
    return [headline(source, "opsgenie", f"alerts matching {query!r}; API {source.api}")]


SOURCE_TYPE = SourceType("opsgenie", OpsgenieSource, Opsgenie.build, _describe)
