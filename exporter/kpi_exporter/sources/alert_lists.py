"""What the two alert APIs of Opsgenie's lineage share: Opsgenie's Alert API v2 and its
successor, the Jira Service Management operations API, which keeps Opsgenie's alert fields
and search syntax. Every alert matching the configured ``query`` becomes an Incident
``{prefix}/{id}``:

- started and detected: ``createdAt``; acknowledged: ``createdAt + report.ackTime``
  (milliseconds); resolved (status ``closed``): ``createdAt + report.closeTime``, else
  ``updatedAt`` (a source may read more spellings of both times: :meth:`AlertList.moment`);
- severity: ``priority`` lowercased (``p1`` .. ``p5``), ``unknown`` when absent;
- app and team: a tag ``app:<name>`` names the app; else the first tag that is a service of
  the ``apps`` mapping (``apps.*.services``); else the defaults;
- explicit deployment: the first match of ``deployment_pattern`` in the message.

One fixed URL per configuration: ``query=createdAt >= <floor> AND (<query>)``, sorted by
``updatedAt``, newest first, the floor being the horizon's start at the first sync (a URL
that moved with the cursor would never reuse a validator). Its first page is conditional (a
``304`` ends the list); the next pages are followed while a page holds alerts updated since
the cursor (the newest ``updatedAt`` read and the ids at that instant), so a steady-state
poll costs one request. A changed API, query, horizon or pattern starts over with a first
sync.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar
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
    IncidentSettings,
    IncidentTool,
    deployment_ref,
    owner_of,
)
from .marks import Mark, moved, unread
from .registry import headline
from .times import api_time

log = logging.getLogger(__name__)

APP_TAG = "app:"


class AlertSearch(Credentials):
    """The settings both sources share: which alerts are incidents, how far back."""

    name: Name
    interval: Duration = 300.0
    query: str = Field(
        "priority: (P1 OR P2)",
        description="Alert search (Opsgenie's syntax): the alerts that are incidents (empty: all).",
    )
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    deployment_pattern: Regex = Field(
        DEFAULT_DEPLOYMENT_PATTERN, description="Explicit deployment reference in the message."
    )


class AlertSettings(IncidentSettings, Protocol):
    @property
    def query(self) -> str: ...


AlertT = TypeVar("AlertT", bound=AlertSettings)


class AlertList(IncidentTool[AlertT]):
    """Polls one Opsgenie-shaped alert list. A source says where the list is
    (:meth:`list_url`, :attr:`page_size`), how it authenticates (:meth:`headers`), under
    which key an answer holds its alerts (:attr:`values`) and where the next page is
    (:meth:`following`)."""

    prefix: ClassVar[str] = ""  # the type, and the prefix of the incidents' keys
    values: ClassVar[str] = ""  # the answer's list of alerts
    page_size: ClassVar[tuple[str, int]] = ("limit", 100)  # the page size parameter

    def scope(self) -> dict[str, Any]:
        return {"query": self.config.query}

    def list_url(self) -> str:
        raise NotImplementedError

    def headers(self, token: str) -> dict[str, str]:
        raise NotImplementedError

    def following(self, body: Mapping[str, Any]) -> str | None:
        """The URL of the next page named by an answer; None at the end."""
        raise NotImplementedError

    def alerts_url(self, floor: float) -> str:
        query = f"createdAt >= {int(floor * 1000)}"
        if self.config.query.strip():
            query += f" AND ({self.config.query.strip()})"
        params = [("query", query), ("sort", "updatedAt"), ("order", "desc")]
        return f"{self.list_url()}?{urlencode([*params, self.page_size, ('offset', 0)])}"

    def read(self, state: SourceState) -> Poll:
        headers = self.headers(self.poll_token())
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
            alerts = body.get(self.values) if isinstance(body, dict) else None
            if not isinstance(alerts, list):
                raise SourceError(
                    f"GET {url.split('?')[0]}: expected a JSON object with {self.values!r}"
                )
            unread_alerts, reached_old = unread(alerts, mark, self.updated_at, _id)
            new.extend(unread_alerts)
            following = self.following(body)
            if reached_old or not alerts or not following:
                break  # sorted by updatedAt, newest first: the rest was read before
            page = http.get(following, conditional=False)
        if saved is None:
            log.info("%s: first sync: %d alerts read", self.name, len(new))

        mark = moved(mark, new, self.updated_at, _id)
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

    def required(self, alert: Mapping[str, Any], name: str) -> float:
        value = api_time(alert.get(name), self.system)
        if value is None:
            raise SourceError(f"{self.system} alert {alert.get('id')} without {name}")
        return value

    def updated_at(self, alert: Mapping[str, Any]) -> float:
        return self.required(alert, "updatedAt")

    def moment(self, alert: Mapping[str, Any], created: float, elapsed: str) -> float | None:
        """When an alert was acknowledged (``ackTime``) or closed (``closeTime``):
        ``created`` plus ``report.<elapsed>`` milliseconds; None when the report has none."""
        value = (alert.get("report") or {}).get(elapsed)
        return None if value is None else created + float(value) / 1000

    def incident(self, alert: Mapping[str, Any]) -> Incident:
        created = self.required(alert, "createdAt")
        resolved: float | None = None
        if str(alert.get("status") or "").lower() == "closed":
            resolved = self.moment(alert, created, "closeTime")
            if resolved is None:
                resolved = self.required(alert, "updatedAt")
        tags = [str(tag) for tag in alert.get("tags") or ()]
        apps = [tag[len(APP_TAG) :].strip() for tag in tags if tag.lower().startswith(APP_TAG)]
        owner = owner_of(self.ownership, tags, apps)
        return Incident(
            **owner.identity(self.name, f"{self.prefix}/{alert['id']}"),
            severity=str(alert.get("priority") or "unknown").lower(),
            started_at=created,
            detected_at=created,
            acknowledged_at=self.moment(alert, created, "ackTime"),
            resolved_at=resolved,
            deployment_ref=deployment_ref(self.pattern, [alert.get("message")]),
        )

    def describe(self, where: str) -> list[str]:
        """``check-config``'s line: the query and where the alerts are read."""
        query = self.config.query or "anything"
        return [headline(self, self.prefix, f"alerts matching {query!r}; API {where}")]


def _id(alert: Mapping[str, Any]) -> str:
    return str(alert["id"])
