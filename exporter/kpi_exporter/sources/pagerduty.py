"""PagerDuty (REST API v2): every incident becomes an Incident ``pagerduty/{id}``.

- started and detected: ``created_at`` (PagerDuty's trigger); impact start unknown, so no
  time to detect;
- acknowledged: the first ``acknowledgements[].at``; resolved: ``resolved_at``;
- severity: the priority's summary lowercased (``p1`` .. ``p5``) when the account uses
  priorities, else the urgency (``high``, ``low``);
- app and team: the ``apps`` mapping (``apps.*.services``) by service name, else by service id;
- explicit deployment: the first match of ``deployment_pattern`` in the title (a SHA, or
  ``deploy: ID``), for :mod:`kpi_exporter.linking`. An incident object has no description
  field in PagerDuty's own API description (its ``body`` is only on request, ``summary``
  repeats the title).

Requests. ``GET /incidents`` filters by creation time, with at most six months between
``since`` and ``until``, and pages by ``offset`` while ``more``, up to ``offset + limit`` of
10,000 (PagerDuty answers 400 past it): a window holding more incidents goes on from the
creation time of the last one read. Each poll reads
- the incidents created since the last poll's end less an hour of overlap (the first sync
  reads the horizon, in windows of 180 days), sorted by ``created_at`` so offsets stay stable;
- the incidents open now (``date_range=all``, triggered and acknowledged): acknowledgements
  of older incidents, and which of the incidents open at the last poll are no longer;
- ``GET /incidents/{id}`` for each incident open at the last poll and in neither list
  (resolved since);
- ``GET /incidents/{id}/log_entries?is_overview=true`` ONLY for an incident read resolved for
  the first time whose acknowledgement time is unknown (PagerDuty empties
  ``acknowledgements`` on resolve; a time seen while it was open is kept in the cursor) or
  that has no ``resolved_at``. A resolved incident is final: it is never read again, except
  in the overlap, where the cursor tells it was done.

So a steady-state poll costs two requests, plus one or two per incident resolved since.
PagerDuty sends no validators on these lists, so no request is conditional. A changed API URL,
service filter, horizon or pattern starts over with a first sync (the upsert keeps that
idempotent). Malformed JSON, a bad token or spent retries fail the poll as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import quote, urlencode

from pydantic import Field

from ..config_base import Credentials, Duration, Name, Regex
from ..model import Event, Incident
from ..store import SourceState
from . import Poll, SourceError
from .cursor import dump_cursor, load_cursor
from .http import HttpClient, HttpStatusError
from .incident_tools import (
    DEFAULT_DEPLOYMENT_PATTERN,
    IncidentTool,
    deployment_ref,
    owner_of,
)
from .registry import SourceType, headline
from .times import api_time, iso


class PagerDutySource(Credentials):
    type: Literal["pagerduty"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field("https://api.pagerduty.com", description="REST API root.")
    service_ids: list[str] = Field(
        default_factory=list, description="Only the incidents of these services (all if empty)."
    )
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    deployment_pattern: Regex = Field(
        DEFAULT_DEPLOYMENT_PATTERN,
        description="Explicit deployment reference in the title or description.",
    )


log = logging.getLogger(__name__)

SYSTEM = "PagerDuty"
ACCEPT = "application/vnd.pagerduty+json;version=2"
LIMIT = 100
DAY = 86400.0
WINDOW = 180 * DAY  # PagerDuty accepts at most six months between since and until
OVERLAP = 3600.0  # incidents created just before the last poll's end, read again
MAX_OFFSET = 10_000  # classic pagination: offset + limit above it answers 400
# PagerDuty's API description spells an acknowledgement's log entry type both ways: the list
# of types says ``acknowledge_log_entry``, the AcknowledgeLogEntry schema
# ``acknowledgement_log_entry``.
ACKNOWLEDGE_LOG_ENTRIES = frozenset({"acknowledge_log_entry", "acknowledgement_log_entry"})


class WindowFull(SourceError):
    """A list holds more items than classic pagination can reach."""


def windows(since: float, until: float) -> Iterator[tuple[float, float]]:
    """``[since, until)`` cut into windows PagerDuty accepts, oldest first."""
    start = since
    while start < until:
        end = min(until, start + WINDOW)
        yield start, end
        start = end


class PagerDuty(IncidentTool[PagerDutySource]):
    """Polls the incidents of one PagerDuty account."""

    system = SYSTEM

    def scope(self) -> dict[str, Any]:
        return {"services": sorted(self.config.service_ids)}

    def read(self, state: SourceState) -> Poll:
        token = self.poll_token()
        http = HttpClient.for_poll(
            self,
            state,
            lambda: {"Authorization": f"Token token={token}", "Accept": ACCEPT},
        )
        now = self.clock()
        saved = load_cursor(state.cursor, self.fingerprint, self.name)
        floor = now - self.config.horizon
        if saved is None:
            since, was_open, done = floor, {}, {}
            log.info("%s: first sync from %s", self.name, iso(since))
        else:
            since = max(floor, float(saved["until"]) - OVERLAP)
            was_open, done = dict(saved["open"]), dict(saved["resolved"])

        items: dict[str, Mapping[str, Any]] = {}
        for start, end in windows(since, now):
            items.update((str(item["id"]), item) for item in self.created(http, start, end))
        still_open = [("date_range", "all"), ("statuses[]", "triggered")]
        still_open.append(("statuses[]", "acknowledged"))
        items.update((str(item["id"]), item) for item in self.incidents(http, still_open))
        problems: list[str] = []
        for id_ in sorted(set(was_open) - set(items)):
            try:
                body = http.get(f"{self.api}/incidents/{quote(id_, safe='')}", conditional=False)
            except HttpStatusError as error:
                if error.status != 404:
                    raise
                problems.append(f"incident {id_}: {error}")
                continue
            items[id_] = body.json()["incident"]

        events: list[Event] = []
        open_now: dict[str, float | None] = {}
        overlap_start = now - OVERLAP  # the next poll reads from here again
        resolved = {id_: at for id_, at in done.items() if at >= overlap_start}
        for id_, item in sorted(items.items()):
            if item["status"] == "resolved" and id_ in done:
                continue  # final, and stored at an earlier poll
            incident = self.incident(http, item, was_open.get(id_))
            events.append(incident)
            if item["status"] != "resolved":
                open_now[id_] = incident.acknowledged_at
            elif incident.started_at >= overlap_start:
                resolved[id_] = incident.started_at
        return Poll(
            events=events,
            cursor=dump_cursor(self.fingerprint, until=now, open=open_now, resolved=resolved),
            validators=http.validators,
            problems=problems,
        )

    # --- requests ----------------------------------------------------------------------------

    def incidents(
        self, http: HttpClient, params: list[tuple[str, str]]
    ) -> Iterator[Mapping[str, Any]]:
        """Every incident of a ``GET /incidents`` query, page by page."""
        query = [*params, *(("service_ids[]", s) for s in self.config.service_ids)]
        query += [("time_zone", "UTC"), ("total", "false"), ("limit", str(LIMIT))]
        yield from self._offset_pages(http, f"{self.api}/incidents", query, "incidents")

    def created(self, http: HttpClient, start: float, end: float) -> Iterator[Mapping[str, Any]]:
        """The incidents created in ``[start, end)``, oldest first. A window holding more
        than classic pagination reaches (offset + limit at most 10,000) is narrowed: it goes
        on from the creation time of the last incident read (read again, kept once)."""
        while True:
            last = start
            created = [("since", iso(start)), ("until", iso(end)), ("sort_by", "created_at:asc")]
            try:
                for item in self.incidents(http, created):
                    last = api_time(item.get("created_at"), SYSTEM) or last
                    yield item
                return
            except WindowFull:
                if last <= start:
                    raise SourceError(
                        f"GET {self.api}/incidents: more than {MAX_OFFSET} incidents created"
                        f" at {iso(start)}: the window cannot be narrowed"
                    ) from None
                log.info("%s: over %d incidents since %s", self.name, MAX_OFFSET, iso(start))
                start = last

    def _offset_pages(
        self, http: HttpClient, url: str, query: list[tuple[str, str]], field: str
    ) -> Iterator[Mapping[str, Any]]:
        """PagerDuty's classic pagination: ``offset`` moves on while the body says ``more``,
        as long as ``offset + limit`` stays within 10,000 (PagerDuty answers 400 past it)."""
        offset = 0
        while True:
            if offset + LIMIT > MAX_OFFSET:
                raise WindowFull(f"GET {url}: more than {MAX_OFFSET} items; narrow the query")
            page = http.get(f"{url}?{urlencode([*query, ('offset', offset)])}", conditional=False)
            body = page.json()
            items = body.get(field) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise SourceError(f"GET {url}: expected a JSON object with a list {field!r}")
            yield from items
            if not body.get("more") or not items:
                return
            offset += len(items)

    def log_times(self, http: HttpClient, id_: str) -> tuple[float | None, float | None]:
        """(first acknowledgement, last resolution) from the incident's overview log."""
        url = f"{self.api}/incidents/{quote(id_, safe='')}/log_entries"
        query = [("is_overview", "true"), ("time_zone", "UTC"), ("limit", str(LIMIT))]
        acknowledged: list[float] = []
        resolved: list[float] = []
        for entry in self._offset_pages(http, url, query, "log_entries"):
            at = api_time(entry.get("created_at"), SYSTEM)
            if at is None:
                continue
            if entry.get("type") in ACKNOWLEDGE_LOG_ENTRIES:
                acknowledged.append(at)
            elif entry.get("type") == "resolve_log_entry":
                resolved.append(at)
        return min(acknowledged, default=None), max(resolved, default=None)

    # --- one incident ------------------------------------------------------------------------

    def incident(
        self, http: HttpClient, item: Mapping[str, Any], known_ack: float | None
    ) -> Incident:
        """The Incident of one incident object; ``known_ack``: its acknowledgement time seen
        while it was open, if any."""
        id_ = str(item["id"])
        created = api_time(item.get("created_at"), SYSTEM)
        if created is None:
            raise SourceError(f"{SYSTEM} incident {id_} without created_at")
        status = item["status"]
        acks = [api_time(a.get("at"), SYSTEM) for a in item.get("acknowledgements") or ()]
        acknowledged = min((a for a in acks if a is not None), default=known_ack)
        resolved = api_time(item.get("resolved_at"), SYSTEM) if status == "resolved" else None
        if status == "resolved" and (resolved is None or acknowledged is None):
            logged_ack, logged_resolved = self.log_times(http, id_)
            acknowledged = acknowledged if acknowledged is not None else logged_ack
            if resolved is None:
                resolved = logged_resolved or api_time(item.get("last_status_change_at"), SYSTEM)
        priority = item.get("priority")
        if isinstance(priority, dict) and priority.get("summary"):
            severity = str(priority["summary"]).lower()
        else:
            severity = str(item.get("urgency") or "unknown").lower()
        service = item.get("service") or {}
        owner = owner_of(self.ownership, [str(service.get("summary") or ""), str(service["id"])])
        return Incident(
            **owner.identity(self.name, f"pagerduty/{id_}"),
            severity=severity,
            started_at=created,
            detected_at=created,
            acknowledged_at=acknowledged,
            resolved_at=resolved,
            deployment_ref=deployment_ref(self.pattern, (item.get("title"),)),
        )


def _describe(source: PagerDuty) -> list[str]:
    services = ", ".join(source.config.service_ids) or "every service"
    return [headline(source, "pagerduty", f"incidents of {services}; API {source.api}")]


SOURCE_TYPE = SourceType("pagerduty", PagerDutySource, PagerDuty.build, _describe)
