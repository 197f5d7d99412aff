"""GitHub security alerts: Dependabot, code scanning and secret scanning, per repository or for a
whole organisation (REST API).

Each alert list (``/repos/{o}/{r}/{kind}/alerts``, or ``/orgs/{org}/{kind}/alerts`` with
``org``) is read in full, every state, following ``Link`` pagination; its first page is
conditional, so a list where nothing changed costs one ``304`` and no event. An alert is a
:class:`~kpi_exporter.model.Vulnerability` keyed ``github/{owner}/{repo}/{kind}/{number}``: a
later poll that finds it fixed or dismissed replaces the stored open one.

- **state**: ``open``; ``fixed`` (``fixed_at``); ``dismissed`` and ``auto_dismissed``
  (Dependabot) are dismissed, never fixed. Secret scanning has ``resolved`` with a resolution:
  ``revoked`` is fixed (the secret no longer works), any other resolution (false positive,
  won't fix, used in tests, pattern edited or deleted) is dismissed.
- **severity**: Dependabot's advisory severity (``security_advisory.severity``, else
  ``security_vulnerability.severity``); code scanning's ``rule.security_severity_level``, else
  the rule's severity (error: high, warning: medium, note and none: low). Secret scanning has
  no severity: a leaked secret counts as **high**.
- **app**: the repository's app (the ``apps.*.repos`` mapping), else the default app.

Lists are read most recently updated first; the cursor keeps, per list, the newest
``updated_at`` seen, and the pages stop at the first alert updated before it (a state change
updates an alert, so it is read again). Alerts closed before the horizon are left out. A
repository whose alerts cannot be read (feature disabled: 403/404) is a problem naming it;
the other lists still count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import Field

from ..config_base import Duration
from ..model import Event, Vulnerability
from ..store import SourceState
from . import Poll, SourceError
from .github.auth import GitHubPolled
from .github.config import GitHubAccess
from .http import HttpClient, HttpStatusError
from .registry import SourceType, headline
from .times import parse_time

AlertKind = Literal["dependabot", "code_scanning", "secret_scanning"]


ALERT_KINDS: tuple[AlertKind, ...] = ("dependabot", "code_scanning", "secret_scanning")


class GitHubSecuritySource(GitHubAccess):
    """GitHub Dependabot, code scanning and secret scanning alerts (REST API)."""

    type: Literal["github_security"]
    interval: Duration = 900.0
    org: str | None = Field(None, description="Read the alerts of a whole organisation.")
    alerts: list[AlertKind] = Field(
        default_factory=lambda: list(ALERT_KINDS),
        min_length=1,
        description="Which alert kinds to read.",
    )
    horizon: Duration = Field(
        365 * 86400.0, description="Closed alerts older than this are left out."
    )


PATHS = {
    "dependabot": "dependabot/alerts",
    "code_scanning": "code-scanning/alerts",
    "secret_scanning": "secret-scanning/alerts",
}
RULE_SEVERITY = {"error": "high", "warning": "medium", "note": "low", "none": "low"}
SECRET_SEVERITY = "high"
SEVERITIES = ("critical", "high", "medium", "low")


class GitHubSecurity(GitHubPolled[GitHubSecuritySource]):
    """Polls the security alerts of the configured repositories or organisation."""

    def lists(self) -> Iterator[tuple[str, str, str]]:
        """(where, alert kind, URL) of every alert list to read."""
        for kind in self.config.alerts:
            if self.config.org:
                yield (
                    f"org {self.config.org}",
                    kind,
                    f"{self.api}/orgs/{self.config.org}/{PATHS[kind]}",
                )
            for repo in self.config.repos:
                if self.ownership.polls_repo(repo):  # this shard's (see sharding)
                    yield repo, kind, f"{self.api}/repos/{repo}/{PATHS[kind]}"

    def read(self, state: SourceState) -> Poll:
        now = self.clock()
        self.auth.begin()
        client = HttpClient.for_poll(
            self,
            state,
            self.auth.headers,
            session=self.session,
        )
        cursor: dict[str, str] = json.loads(state.cursor) if state.cursor else {}
        events: list[Event] = []
        problems: list[str] = []
        lists = list(self.lists())
        failed = 0
        try:
            for where, kind, url in lists:
                try:
                    found, newest = self._read(client, kind, url, where, cursor.get(url), now)
                except HttpStatusError as error:
                    if error.status not in (403, 404, 422):
                        raise
                    failed += 1
                    problems.append(f"{where}: {kind} alerts skipped: {error}")
                    continue
                events.extend(found.events)
                problems.extend(found.problems)
                if newest:
                    cursor[url] = newest
        except SourceError:
            self.auth.forget()  # the token may have been revoked: mint a new one next time
            raise
        if failed and failed == len(lists):
            raise SourceError("; ".join(problems))
        return Poll(
            events=events,
            cursor=json.dumps(cursor, sort_keys=True),
            validators=client.validators,
            problems=problems,
        )

    def _read(
        self,
        client: HttpClient,
        kind: str,
        url: str,
        where: str,
        since: str | None,
        now: float,
    ) -> tuple[Poll, str]:
        """The alerts of one list updated since ``since`` (most recently updated first, so
        the pages stop at the first older one), and the newest ``updated_at`` seen."""
        found = Poll(events=[], cursor=None)
        oldest = now - self.config.horizon
        newest = since or ""
        params = {"per_page": 100, "sort": "updated", "direction": "desc"}
        for response in client.pages(url, params):
            if response.not_modified:
                break
            page = response.json()
            if not isinstance(page, list):
                raise SourceError(f"{where}: {kind} alerts: expected a list")
            older = False
            for alert in page:
                updated = str(alert.get("updated_at") or "") if isinstance(alert, dict) else ""
                if since and updated and _time(updated) < _time(since):
                    older = True
                    break
                try:
                    finding = self._finding(kind, alert, where)
                except (KeyError, TypeError, ValueError) as error:
                    found.problems.append(f"{where}: {kind} alert skipped: bad field {error}")
                    continue
                if updated and (not newest or _time(updated) > _time(newest)):
                    newest = updated
                if finding.closed_at is None or finding.closed_at >= oldest:
                    found.events.append(finding)
            if older:
                break
        return found, newest

    def _finding(self, kind: str, alert: Mapping[str, Any], where: str) -> Vulnerability:
        # An organisation's alerts name their repository; a repository's alerts do not.
        repo = where
        if where.startswith("org "):
            repo = str((alert.get("repository") or {}).get("full_name") or where)
        owner = self.ownership.of_repo(repo)
        state, closed_at = _state(kind, alert)
        return Vulnerability(
            **owner.identity(self.name, f"github/{repo}/{kind}/{int(alert['number'])}"),
            severity=_severity(kind, alert),
            created_at=_time(alert["created_at"]),
            state=state,
            closed_at=closed_at,
            scanner=kind,
        )


def _time(text: str) -> float:
    return parse_time(text)


def _at(alert: Mapping[str, Any], *fields: str) -> float:
    """The first of ``fields`` the alert has; else when it was last updated."""
    for name in (*fields, "updated_at"):
        if alert.get(name):
            return _time(alert[name])
    return _time(alert["created_at"])


def _state(kind: str, alert: Mapping[str, Any]) -> tuple[str, float | None]:
    state = alert["state"]
    if state == "open":
        return "open", None
    if state == "fixed":
        return "fixed", _at(alert, "fixed_at")
    if state in ("dismissed", "auto_dismissed"):
        return "dismissed", _at(alert, "dismissed_at", "auto_dismissed_at")
    if kind == "secret_scanning" and state == "resolved":
        fixed = alert.get("resolution") == "revoked"
        return ("fixed" if fixed else "dismissed"), _at(alert, "resolved_at")
    raise ValueError(f"state {state!r}")


def _severity(kind: str, alert: Mapping[str, Any]) -> str:
    if kind == "secret_scanning":
        return SECRET_SEVERITY
    if kind == "dependabot":
        advisory = alert.get("security_advisory") or {}
        vulnerability = alert.get("security_vulnerability") or {}
        severity = str(advisory.get("severity") or vulnerability.get("severity") or "")
    else:
        rule = alert.get("rule") or {}
        severity = str(rule.get("security_severity_level") or "")
        if not severity:
            severity = RULE_SEVERITY.get(str(rule.get("severity") or ""), "")
    severity = severity.lower()
    return severity if severity in SEVERITIES else "unknown"


def _describe(source: GitHubSecurity) -> list[str]:
    security = source.config
    alerts = f"{', '.join(security.alerts)} alerts of {security.scope()}; API {source.api}"
    return [headline(source, "github_security", alerts)]


SOURCE_TYPE = SourceType("github_security", GitHubSecuritySource, GitHubSecurity.build, _describe)
