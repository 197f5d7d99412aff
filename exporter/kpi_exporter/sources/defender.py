"""Microsoft Defender Vulnerability Management: the software vulnerabilities of every device
(the export assessment API) become Vulnerability events ``defender/{record id}``, one per
device, software version and CVE.

- **first sync**: the full export, ``GET /api/machines/SoftwareVulnerabilitiesByMachine``
  (``pageSize``, ``@odata.nextLink``): every record with a ``cveId`` is an open finding,
  created at its ``firstSeenTimestamp``. Defender refreshes this snapshot every six hours.
- **later polls**: the delta export, ``GET /api/machines/SoftwareVulnerabilityChangesByMachine
  ?sinceTime=`` the last poll's time (its six-hour period is read again; the upsert makes that
  harmless). ``status`` ``New`` or ``Updated`` is open (``Updated``: the severity may have
  changed), ``Fixed`` is fixed at ``eventTimestamp``. A finding fixed and later ``New`` again
  is open again (its fix stays counted). Of the changes of one record in one poll the latest
  counts; on a tie ``New`` wins over ``Fixed`` (a device moved to another device group shows
  as both, under the old and the new group).
- The delta reaches back 14 days at most: after a longer gap (or a changed API root or tenant)
  the full export is read again, and every finding open before but missing from it is fixed
  at that poll. The cursor keeps the open findings (id, creation, severity, app) for that.
- **severity**: ``vulnerabilitySeverityLevel`` lowercased. Defender's export has no dismissed
  state (remediation exceptions are not exported).
- **app**: the ``machines`` globs (first wins) against the device group (``rbacGroupName``),
  then the device name (``deviceName``); else the source's ``app``; else the default app.

Authentication: an Entra ID app registration with the application permission
``Vulnerability.Read.All``; its client secret is the source's token (``token_env`` or
``token_file``), exchanged for a bearer token (:mod:`.entra`). The API allows 30 calls a
minute and 1,000 an hour; a 429 carries ``Retry-After``, which the shared client obeys.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any, Literal

from pydantic import Field

from ..config_base import Credentials, Duration, Name
from ..model import Event, Vulnerability
from ..store import SourceState
from . import Poll, SourceError
from .cursor import dump_cursor, load_cursor
from .entra import LOGIN_URL, EntraToken
from .findings import FindingsSource, severity_of, skipped
from .http import HttpClient, HttpStatusError, with_query
from .registry import SourceType, headline
from .times import api_time, iso

DEFENDER_API = "https://api.securitycenter.microsoft.com"


class DefenderSource(Credentials):
    """Software vulnerabilities by device from Microsoft Defender Vulnerability Management.
    The token (``token_env`` or ``token_file``) is the app registration's client secret."""

    type: Literal["defender"]
    name: Name
    interval: Duration = 3600.0
    api_url: str = Field(DEFENDER_API, description="API root (or a regional one).")
    login_url: str = Field(LOGIN_URL, description="Entra ID sign-in root.")
    tenant_id: str = Field(min_length=1, description="The Entra ID tenant (directory) id.")
    client_id: str = Field(min_length=1, description="The app registration's client id.")
    machines: dict[str, str] = Field(
        default_factory=dict, description="Device group or device name glob -> app; first wins."
    )
    app: str | None = Field(None, description="App of the devices no glob places.")
    page_size: int = Field(10_000, ge=1, le=200_000, description="Records per page.")


SYSTEM = "Defender"
FULL = "/api/machines/SoftwareVulnerabilitiesByMachine"
DELTA = "/api/machines/SoftwareVulnerabilityChangesByMachine"
DELTA_REACH = 14 * 86400.0  # sinceTime may go back this far
# On a tie of eventTimestamp, the later of a record's changes (a device moved between groups
# is Fixed under the old group and New under the new one at once).
STATUS_ORDER = {"Fixed": 0, "Updated": 1, "New": 2}
OpenFinding = list[Any]  # [created, severity, app, team]: what a later fix is made of


class Defender(FindingsSource[DefenderSource]):
    """Polls the software vulnerabilities of every device of one tenant."""

    system = SYSTEM

    @cached_property
    def bearer(self) -> EntraToken:
        """The bearer token the client secret buys."""
        return EntraToken.of(self)

    scoped = ("tenant_id", "machines")

    def read(self, state: SourceState) -> Poll:
        http = self.bearer.client(self, state, self.poll_token())
        now = self.clock()
        saved = load_cursor(state.cursor, None, self.name)
        known: dict[str, OpenFinding] = dict(saved["open"]) if saved else {}
        since = float(saved["since"]) if saved and saved["settings"] == self.settings else None
        problems: list[str] = []
        try:
            if since is not None and now - since < DELTA_REACH:
                query = {"sinceTime": iso(since), "pageSize": self.page_size}
                events = self.changes(http, query, known, problems)
            else:
                events = self.snapshot(http, known, now, problems)
        except HttpStatusError as error:
            if error.status == 401:
                self.bearer.forget()  # revoked or expired early: buy a new one next poll
            raise
        return Poll(
            events=events,
            cursor=dump_cursor(self.settings, since=now, open=dict(sorted(known.items()))),
            validators=http.validators,
            problems=problems,
        )

    @property
    def page_size(self) -> str:
        return str(self.config.page_size)

    def records(self, http: HttpClient, path: str, query: Mapping[str, str]) -> Iterator[Any]:
        """Every record of an export, following ``@odata.nextLink`` to the end."""
        url: str | None = with_query(f"{self.api}{path}", query)
        while url:
            body = http.get(url, conditional=False).json()
            value = body.get("value") if isinstance(body, dict) else None
            if not isinstance(value, list):
                raise SourceError(f"GET {self.api}{path}: expected an OData answer with 'value'")
            yield from value
            url = body.get("@odata.nextLink") or None

    def snapshot(
        self, http: HttpClient, known: dict[str, OpenFinding], now: float, problems: list[str]
    ) -> list[Event]:
        """The full export: its findings open, and those open before but not in it fixed."""
        events: dict[str, Event] = {}
        for record in self.records(http, FULL, {"pageSize": self.page_size}):
            try:
                if not record.get("cveId"):
                    continue  # software without a known vulnerability
                finding = self.finding(record, "open", None)
            except (KeyError, TypeError, ValueError, AttributeError, SourceError) as error:
                problems.append(skipped("record", record, error))
                continue
            events[finding.key] = finding
        for key in sorted(set(known) - set(events)):
            created, severity, app, team = known[key]
            events[key] = Vulnerability(
                source=self.name,
                key=key,
                app=app,
                team=team,
                severity=severity,
                created_at=created,
                state="fixed",
                closed_at=now,
                scanner="defender",
            )
        known.clear()
        known.update(_open(events.values()))
        return list(events.values())

    def changes(
        self,
        http: HttpClient,
        query: Mapping[str, str],
        known: dict[str, OpenFinding],
        problems: list[str],
    ) -> list[Event]:
        """The delta export: the latest change of each record since the last poll."""
        latest: dict[str, tuple[tuple[float, int], Vulnerability]] = {}
        for record in self.records(http, DELTA, query):
            try:
                if not record.get("cveId"):
                    continue
                status = record["status"]
                if status not in STATUS_ORDER:
                    raise ValueError(f"status {status!r}")
                at = api_time(record.get("eventTimestamp"), SYSTEM)
                if at is None:
                    raise ValueError("no eventTimestamp")
                fixed = status == "Fixed"
                finding = self.finding(record, "fixed" if fixed else "open", at if fixed else None)
            except (KeyError, TypeError, ValueError, AttributeError, SourceError) as error:
                problems.append(skipped("record", record, error))
                continue
            order = (at, STATUS_ORDER[status])
            if finding.key not in latest or order >= latest[finding.key][0]:
                latest[finding.key] = (order, finding)
        events = [finding for _, finding in latest.values()]
        for finding in events:
            known.pop(finding.key, None)
        known.update(_open(events))
        return list(events)

    def finding(self, record: Mapping[str, Any], state: str, closed: float | None) -> Vulnerability:
        created = api_time(record.get("firstSeenTimestamp"), SYSTEM)
        if created is None:
            raise ValueError("no firstSeenTimestamp")
        names = [str(record.get("rbacGroupName") or ""), str(record.get("deviceName") or "")]
        owner = self.owner(names, self.config.machines)
        return Vulnerability(
            source=self.name,
            key=f"defender/{record['id']}",
            app=owner.app,
            team=owner.team,
            severity=severity_of(record.get("vulnerabilitySeverityLevel")),
            created_at=created,
            state=state,
            closed_at=closed,
            scanner="defender",
        )


def _open(events: Iterable[Event]) -> Iterator[tuple[str, OpenFinding]]:
    for event in events:
        if isinstance(event, Vulnerability) and event.state == "open":
            yield event.key, [event.created_at, event.severity, event.app, event.team]


def _describe(source: Defender) -> list[str]:
    what = f"software vulnerabilities of tenant {source.config.tenant_id}; API {source.api}"
    return [headline(source, "defender", what)]


SOURCE_TYPE = SourceType("defender", DefenderSource, Defender.build, _describe)
