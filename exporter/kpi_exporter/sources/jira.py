"""Jira (Cloud or Data Center): incidents, bugs and work items found by configurable JQL.

What becomes what (key ``jira/{ISSUE-KEY}``; an issue matched by both queries is both):

- Incident, per issue matched by ``incident_jql``: started and detected ``created``, impact
  start from ``impact_start_field``, resolved by the rule below, severity from
  ``severity_field`` (default ``priority``; its name or value lowercased, ``unknown`` when
  empty), explicit deployment reference from ``deployment_field``.
- Defect, per issue matched by ``bug_jql``: created ``created``, resolved by the rule below,
  found in ``production`` when a value of ``environment_field`` matches the production pattern
  (as written or lowercased), else ``pre-production``; customer-reported when a value of
  ``customer_field`` equals one of ``customer_values`` (case-insensitive); severity as above;
  the phase that should have caught it from ``escape_phase_field`` through ``escape_phases``.
- WorkItem, per issue matched by ``work_jql``: created ``created``, investment category
  and status history (every status change of the changelog, each status mapped to active,
  waiting or done) as :mod:`.jira_work` says, from the ``work`` settings.
- App and team: each value of ``app_field`` (component names for ``components``, else the
  custom field's value), for work items each label, then the project key, looked up in
  ``apps.*.services``; the first that names a configured app wins, else the defaults.

Resolved: an issue whose status is not in the ``done`` category now is unresolved (reopened
ones included). A done issue resolved at the FIRST changelog transition to a status of the
done category (``expand=changelog``; status categories from ``/status``), when the changelog
is complete in the response; else ``resolutiondate``; else ``statuscategorychangedate``; else
``updated``. A work item's changelog is read whole: when the search returns part of it, the
rest comes from ``GET /rest/api/3/issue/{key}/changelog`` (Cloud, ``startAt`` pages) or
``GET /rest/api/2/issue/{key}?expand=changelog`` (Data Center).

Requests. Cloud: ``POST /rest/api/3/search/jql`` (enhanced search, ``nextPageToken`` pages),
basic auth ``email:token``. Data Center: ``GET /rest/api/2/search`` (``startAt``/``total``
pages), ``Authorization: Bearer <personal access token>``. Each query runs as
``(<jql>) AND updated >= "<since>" ORDER BY updated ASC, key ASC``, ``since`` being the horizon
at the first sync, then the newest ``updated`` read less one day: JQL dates are minutes in the
API user's time zone, so a day of overlap covers every offset; re-read issues are upserted
unchanged. The status list is one conditional GET (a ``304`` reuses the statuses and their
categories kept in the cursor). A changed query, field mapping, horizon, flavour, API URL or
production pattern starts over with a first sync.

Any failure (bad token, bad JQL, malformed JSON, retries spent) fails the poll as a whole and
leaves the stored data as it was. Issues that stop matching a query stay stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config_base import Credentials, Duration, Name, Strict
from ..model import Defect, Event, Incident, WorkItem
from ..ownership import Owner
from ..redaction import basic_authorization
from ..store import SourceState
from . import KpiSource, Poll, SourceError
from .cursor import dump_cursor, load_cursor
from .http import HttpClient, with_query
from .jira_work import JiraWork, StatusList
from .registry import SourceType, headline
from .times import api_time

EscapePhase = Literal["requirements", "unit", "integration", "staging", "production"]
DEFAULT_ESCAPE_PHASES: tuple[tuple[str, EscapePhase], ...] = (
    ("requirements", "requirements"),
    ("unit", "unit"),
    ("unit test", "unit"),
    ("integration", "integration"),
    ("integration test", "integration"),
    ("staging", "staging"),
    ("production", "production"),
    ("production only", "production"),
)


class JiraFields(Strict):
    """Where the Jira source finds each fact: a field id (``components``, ``priority``,
    ``environment``, ``labels`` or a custom field such as ``customfield_10010``)."""

    app_field: str = Field(
        "components", description="App: its values are looked up in apps.*.services."
    )
    environment_field: str | None = Field(
        "environment", description="Bugs: found in production when it matches the pattern."
    )
    customer_field: str | None = Field(
        None, description="Bugs: reported by a customer when it holds a customer_values entry."
    )
    customer_values: list[str] = Field(
        default_factory=lambda: ["customer"], description="Case-insensitive values."
    )
    escape_phase_field: str | None = Field(
        None,
        description="Bugs: the phase that should have caught it (a select or text field);"
        " its value is looked up in escape_phases.",
    )
    escape_phases: dict[str, EscapePhase] = Field(
        default_factory=lambda: dict(DEFAULT_ESCAPE_PHASES),
        description="Value of escape_phase_field (case-insensitive) -> requirements, unit,"
        " integration, staging or production; other values count as unknown.",
    )
    impact_start_field: str | None = Field(
        None, description="Incidents: a date-time field holding when the impact started."
    )
    severity_field: str = Field("priority", description="Severity (lowercased).")
    deployment_field: str | None = Field(
        None, description="Incidents: an explicit deployment reference (key, SHA or version)."
    )


class JiraSource(JiraFields, Credentials):
    type: Literal["jira"]
    name: Name
    interval: Duration = 300.0
    flavour: Literal["cloud", "datacenter"] = Field(
        "cloud", description="cloud: email + API token; datacenter: personal access token."
    )
    api_url: str = Field(
        pattern=r"^https?://",
        description="Site root: https://your.atlassian.net or https://jira.example.com.",
    )
    email: str | None = Field(None, description="Cloud: the account of the API token.")
    incident_jql: str = Field("", description="Issues that are incidents (empty: none).")
    bug_jql: str = Field("", description="Issues that are bugs (empty: none).")
    work_jql: str = Field(
        "", description="Issues that are work items, for the flow KPIs (empty: none)."
    )
    work: JiraWork = Field(
        default_factory=JiraWork,
        description="Work items: investment category by issue type or label, stage by status.",
    )
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")

    @model_validator(mode="after")
    def _scope(self) -> JiraSource:
        if self.flavour == "cloud" and not self.email:
            raise ValueError("flavour cloud needs email (the account of the API token)")
        if not any(jql.strip() for jql in (self.incident_jql, self.bug_jql, self.work_jql)):
            raise ValueError("set at least one of incident_jql, bug_jql and work_jql")
        if self.customer_field and not self.customer_values:
            raise ValueError("customer_field needs at least one customer_values entry")
        return self


log = logging.getLogger(__name__)

PAGE_SIZE = 100
OVERLAP = 86400.0
QUERIES = ("incident", "bug", "work")


def timestamp(value: Any) -> float | None:
    """Epoch seconds of a Jira time (``2026-03-02T10:00:00.000+0000``), None when absent."""
    # A date-time custom field always carries an offset; a bare date is read as UTC.
    return api_time(value, "Jira")


def jql_time(seconds: float) -> str:
    """A JQL date-time (minute precision, read in the API user's time zone)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y/%m/%d %H:%M")


def texts(value: Any) -> list[str]:
    """The plain texts of a field value: a string, a number, an option (``value``), a named
    object (component, priority: ``name``), a list of those, or an Atlassian Document Format
    document (Cloud v3 rich text such as ``environment``)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, list):
        return [text for item in value for text in texts(item)]
    if isinstance(value, Mapping):
        if value.get("type") == "doc":
            words = " ".join(_adf_text(value)).strip()
            return [words] if words else []
        for name in ("value", "name", "key"):
            if name in value:
                return texts(value[name])
        return []
    raise SourceError(f"unexpected field value {value!r} in a Jira response")


def _adf_text(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        if isinstance(node.get("text"), str):
            yield node["text"]
        for child in node.get("content") or ():
            yield from _adf_text(child)


class Jira(KpiSource[JiraSource]):
    """Polls the incident and bug queries of one Jira site."""

    system = "Jira"

    @property
    def version(self) -> str:
        """The REST API version of the flavour."""
        return "3" if self.config.flavour == "cloud" else "2"

    def scope(self) -> dict[str, Any]:
        config = self.config
        work = {"work": [config.work_jql, config.work.model_dump()]} if config.work_jql else {}
        return {
            **work,
            "flavour": config.flavour,
            "jql": [config.incident_jql, config.bug_jql],
            "fields": [
                config.app_field,
                config.environment_field,
                config.customer_field,
                sorted(v.lower() for v in config.customer_values),
                config.escape_phase_field,
                sorted((k.lower(), v) for k, v in config.escape_phases.items()),
                config.impact_start_field,
                config.severity_field,
                config.deployment_field,
            ],
        }

    def _headers(self, token: str) -> dict[str, str]:
        if self.config.flavour == "cloud":
            return {"Authorization": basic_authorization(str(self.config.email), token)}
        return {"Authorization": f"Bearer {token}"}

    # --- one poll ----------------------------------------------------------------------------

    def read(self, state: SourceState) -> Poll:
        token = self.poll_token()
        headers = {"Accept": "application/json", **self._headers(token)}
        http = HttpClient.for_poll(self, state, lambda: headers)
        saved = self._load(state.cursor)
        fresh = not saved
        now = self.clock()
        statuses = self.status_list(http, saved.get("statuses"), fresh)
        done = sorted(id_ for id_, (_, category) in statuses.items() if category == "done")
        events: list[Event] = []
        marks: dict[str, float] = {}
        for query in QUERIES:
            jql = {
                "incident": self.config.incident_jql,
                "bug": self.config.bug_jql,
                "work": self.config.work_jql,
            }[query]
            if not jql.strip():
                continue
            mark = saved.get(query)
            since = now - self.config.horizon if mark is None else mark - OVERLAP
            newest = mark
            count = 0
            for issue in self.search(http, jql, since):
                count += 1
                updated = timestamp(issue["fields"].get("updated"))
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
                if query == "work":
                    events.append(self.work_item(http, issue, statuses))
                else:
                    events.append(self.event(query, issue, done))
            if fresh:
                log.info("%s: first sync: %d %s issues read", self.name, count, query)
            if newest is not None:
                marks[query] = newest
        kept: dict[str, Any] = {"statuses": statuses, **marks}
        return Poll(
            events=events,
            cursor=dump_cursor(self.fingerprint, **kept),
            validators=http.validators,
        )

    def _load(self, text: str | None) -> dict[str, Any]:
        return load_cursor(text, self.fingerprint, self.name) or {}

    # --- requests ----------------------------------------------------------------------------

    def status_list(
        self, http: HttpClient, known: dict[str, list[str]] | None, fresh: bool
    ) -> dict[str, tuple[str, str]]:
        """Every status: id -> (name, status category key); the remembered ones while the
        status list is unchanged (``304``)."""
        url = f"{self.api}/rest/api/{self.version}/status"
        if fresh or not isinstance(known, dict):  # a validator without its answer: no skip
            http.validators.pop(with_query(url, None), None)
        response = http.get(url)
        if response.not_modified and isinstance(known, dict):
            return {id_: (name, category) for id_, (name, category) in known.items()}
        statuses = response.json()
        if not isinstance(statuses, list):
            raise SourceError(f"GET {url}: expected a JSON list")
        try:
            return {
                str(status["id"]): (
                    str(status.get("name") or status["id"]),
                    str((status.get("statusCategory") or {}).get("key") or ""),
                )
                for status in statuses
            }
        except (KeyError, TypeError, AttributeError):
            raise SourceError(f"GET {url}: a status without an id") from None

    def fields(self) -> list[str]:
        config = self.config
        wanted = [
            "created",
            "updated",
            "resolutiondate",
            "statuscategorychangedate",
            "status",
            "project",
            config.app_field,
            config.severity_field,
            config.environment_field,
            config.customer_field,
            config.escape_phase_field,
            config.impact_start_field,
            config.deployment_field,
        ]
        if config.work_jql.strip():
            wanted += ["issuetype", "labels"]
        return list(dict.fromkeys(field for field in wanted if field))

    def search(self, http: HttpClient, jql: str, since: float) -> Iterator[dict[str, Any]]:
        """Every issue of ``jql`` updated at or after ``since``, oldest update first."""
        query = f'({jql}) AND updated >= "{jql_time(since)}" ORDER BY updated ASC, key ASC'
        pages = self._cloud_pages if self.config.flavour == "cloud" else self._dc_pages
        for body in pages(http, query):
            if not isinstance(body, dict) or not isinstance(body.get("issues"), list):
                raise SourceError("Jira search: expected an object with an issues list")
            yield from body["issues"]

    def _cloud_pages(self, http: HttpClient, jql: str) -> Iterator[Any]:
        url = f"{self.api}/rest/api/3/search/jql"
        payload: dict[str, Any] = {
            "jql": jql,
            "fields": self.fields(),
            "expand": "changelog",
            "maxResults": PAGE_SIZE,
        }
        while True:
            body = http.post_json(url, payload).json()
            yield body
            token = body.get("nextPageToken") if isinstance(body, dict) else None
            if not token or body.get("isLast") is True:
                return
            payload = {**payload, "nextPageToken": token}

    def _dc_pages(self, http: HttpClient, jql: str) -> Iterator[Any]:
        url = f"{self.api}/rest/api/2/search"
        start = 0
        while True:
            params = {
                "jql": jql,
                "startAt": start,
                "maxResults": PAGE_SIZE,
                "fields": ",".join(self.fields()),
                "expand": "changelog",
            }
            # The URL changes with the cursor: no validator would ever be reused.
            body = http.get(url, params, conditional=False).json()
            yield body
            issues = body.get("issues") if isinstance(body, dict) else None
            if not issues:
                return
            start += len(issues)
            if start >= int(body.get("total", 0)):
                return

    # --- issues ------------------------------------------------------------------------------

    def owner(self, fields: Mapping[str, Any], labels: bool = False) -> Owner:
        candidates = texts(fields.get(self.config.app_field))
        if labels:
            candidates.extend(texts(fields.get("labels")))
        candidates.extend(texts((fields.get("project") or {}).get("key")))
        for candidate in candidates:
            owner = self.ownership.of_service(candidate)
            if owner != self.ownership.default:
                return owner
        return self.ownership.default

    def resolved_at(self, issue: Mapping[str, Any], done: list[str]) -> float | None:
        fields = issue["fields"]
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        if category != "done":
            return None
        changelog = issue.get("changelog") or {}
        histories = changelog.get("histories") or []
        if histories and int(changelog.get("total", len(histories))) <= len(histories):
            transitions = sorted(
                moment
                for history in histories
                for item in history.get("items") or ()
                if item.get("field") == "status"
                and str(item.get("to")) in done
                and (moment := timestamp(history.get("created"))) is not None
            )
            if transitions:
                return transitions[0]
        for name in ("resolutiondate", "statuscategorychangedate", "updated"):
            moment = timestamp(fields.get(name))
            if moment is not None:
                return moment
        return None

    def severity(self, fields: Mapping[str, Any]) -> str:
        values = texts(fields.get(self.config.severity_field))
        return values[0].lower() if values else "unknown"

    def event(self, query: str, issue: Mapping[str, Any], done: list[str]) -> Event:
        fields = issue["fields"]
        key = f"jira/{issue['key']}"
        created = timestamp(fields.get("created"))
        if created is None:
            raise SourceError(f"Jira issue {issue['key']} without 'created'")
        owner = self.owner(fields)
        resolved = self.resolved_at(issue, done)
        config = self.config
        if query == "incident":
            impact = (
                timestamp(fields.get(config.impact_start_field))
                if config.impact_start_field
                else None
            )
            reference = (
                texts(fields.get(config.deployment_field)) if config.deployment_field else []
            )
            return Incident(
                **owner.identity(self.name, key),
                severity=self.severity(fields),
                started_at=created,
                detected_at=created,
                resolved_at=resolved,
                impact_started_at=impact,
                deployment_ref=reference[0] if reference else "",
            )
        environments = (
            texts(fields.get(config.environment_field)) if config.environment_field else []
        )
        production = any(
            self.settings.is_production(text) or self.settings.is_production(text.lower())
            for text in environments
        )
        wanted = {value.lower() for value in config.customer_values}
        customer = bool(config.customer_field) and any(
            text.lower() in wanted for text in texts(fields.get(config.customer_field or ""))
        )
        phases = {name.lower(): phase for name, phase in config.escape_phases.items()}
        phase = next(
            (
                phases[text.lower()]
                for text in texts(fields.get(config.escape_phase_field or ""))
                if text.lower() in phases
            ),
            "",
        )
        return Defect(
            **owner.identity(self.name, key),
            created_at=created,
            found_in="production" if production else "pre-production",
            customer_reported=customer,
            severity=self.severity(fields),
            resolved_at=resolved,
            escape_phase=phase if config.escape_phase_field else "",
        )

    # --- work items --------------------------------------------------------------------------

    def work_item(
        self, http: HttpClient, issue: Mapping[str, Any], statuses: StatusList
    ) -> WorkItem:
        """The work item of an issue, with its whole status history."""
        fields = issue["fields"]
        created = timestamp(fields.get("created"))
        if created is None:
            raise SourceError(f"Jira issue {issue['key']} without 'created'")
        owner = self.owner(fields, labels=True)
        work = self.config.work
        histories = self.changelog(http, issue)
        try:
            statuses_entered = work.history(
                created, fields.get("status") or {}, histories, statuses
            )
        except ValueError as error:
            raise SourceError(f"Jira issue {issue['key']}: {error}") from None
        return WorkItem(
            source=self.name,
            key=f"jira/{issue['key']}",
            app=owner.app,
            team=owner.team,
            category=work.category(
                next(iter(texts(fields.get("issuetype"))), ""), texts(fields.get("labels"))
            ),
            created_at=created,
            statuses=statuses_entered,
        )

    def changelog(self, http: HttpClient, issue: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Every history of an issue's changelog: the search's when complete, else read."""
        changelog = issue.get("changelog") or {}
        histories = list(changelog.get("histories") or [])
        if int(changelog.get("total", len(histories))) <= len(histories):
            return histories
        key = issue["key"]
        if self.config.flavour == "datacenter":
            url = f"{self.api}/rest/api/2/issue/{key}"
            body = http.get(url, {"expand": "changelog", "fields": "status"}, conditional=False)
            full = body.json()
            changes = full.get("changelog") if isinstance(full, dict) else None
            if not isinstance(changes, dict) or not isinstance(changes.get("histories"), list):
                raise SourceError(f"GET {url}: expected an issue with a changelog")
            return list(changes["histories"])
        url = f"{self.api}/rest/api/3/issue/{key}/changelog"
        histories = []
        while True:
            page = http.get(
                url, {"startAt": len(histories), "maxResults": PAGE_SIZE}, conditional=False
            ).json()
            values = page.get("values") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise SourceError(f"GET {url}: expected an object with a values list")
            histories += values
            if not values or page.get("isLast") is True:
                return histories
            if len(histories) >= int(page.get("total", len(histories))):
                return histories


def _describe(source: Jira) -> list[str]:
    jira = source.config
    queries = [
        f"{what} ({jql})"
        for what, jql in (
            ("incidents", jira.incident_jql),
            ("bugs", jira.bug_jql),
            ("work items", jira.work_jql),
        )
        if jql.strip()
    ]
    found = f"{'; '.join(queries)}; app from {jira.app_field}, API {source.api}"
    return [headline(source, f"jira {jira.flavour}", found)]


SOURCE_TYPE = SourceType("jira", JiraSource, Jira.build, _describe)
