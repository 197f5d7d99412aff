"""GitHub security coverage: which repositories run code scanning and secret scanning, and the
dependency update pull requests (Dependabot, Renovate) left open (REST API).

Per poll:

- ``GET /orgs/{org}/repos`` (with ``org``; conditional, paged): each repository's
  ``security_and_analysis.secret_scanning.status`` (``enabled`` or ``disabled``). GitHub
  shows ``security_and_analysis`` only to a token with admin or security manager rights on
  the repository; where it is missing, secret scanning is not assessed and the poll names the
  repositories. Archived and disabled repositories leave the coverage.
- ``GET /repos/{o}/{r}/code-scanning/alerts?per_page=1`` (conditional) for every repository:
  ``200`` (a list, even empty) says code scanning has analysed it; ``404`` (no analysis
  found) and ``403`` (code scanning or Advanced Security not enabled) say it is not enabled.
  A ``304`` keeps the last answer (only a ``200`` carries an ``ETag``).
- ``GET /repos/{o}/{r}/pulls?state=open`` (conditional, paged, 100 per page): the open pull
  requests whose author's ``user.login`` is one of ``dependency_bots``. A pull request no
  longer listed open is sent again as closed, so it leaves the open count.

Events are :class:`~kpi_exporter.model.Gauge` events of the repository's app (``apps.*.repos``,
else the default app): ``github_security_coverage`` with label ``feature`` (``code_scanning``,
``secret_scanning``) and value 1 (enabled) or 0 (not), keyed per repository and feature, and
``github_dependency_update`` per pull request (value 1 open, 0 closed) dated by its creation.
A repository that left (archived, disabled, no longer listed) is sent again as
``github_security_coverage_retired``: it counts no more. The cursor keeps the repositories
assessed and the open pull requests with their creation time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from ..config_base import Duration
from ..kpis.security import COVERAGE, DEPENDENCY_UPDATE
from ..model import Event, Gauge
from ..store import SourceState
from . import Poll, SourceError
from .github.auth import GitHubPolled
from .github.config import GitHubAccess
from .http import HttpClient, HttpStatusError
from .registry import SourceType, headline
from .times import parse_time

RETIRED = "github_security_coverage_retired"
Feature = Literal["code_scanning", "secret_scanning", "dependency_updates"]
FEATURES: tuple[Feature, ...] = ("code_scanning", "secret_scanning", "dependency_updates")
DEFAULT_BOTS = ("dependabot[bot]", "renovate[bot]")


class GitHubCoverageSource(GitHubAccess):
    """Code scanning and secret scanning coverage and open dependency update pull requests."""

    type: Literal["github_coverage"]
    interval: Duration = 3600.0
    dependency_bots: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BOTS),
        description="Authors (user.login) of dependency update pull requests.",
    )
    features: list[Feature] = Field(
        default_factory=lambda: list(FEATURES),
        min_length=1,
        description="What to read: code_scanning, secret_scanning (needs org), dependency_updates.",
    )


class GitHubCoverage(GitHubPolled[GitHubCoverageSource]):
    """Polls the coverage of the configured repositories or organisation."""

    def read(self, state: SourceState) -> Poll:
        self.auth.begin()
        client = HttpClient.for_poll(self, state, self.auth.headers, session=self.session)
        cursor: dict[str, Any] = json.loads(state.cursor) if state.cursor else {}
        known: dict[str, dict[str, int]] = cursor.get("repos", {})
        open_before: dict[str, float] = cursor.get("pulls", {})
        problems: list[str] = []
        try:
            listed, secret = self._organisation(client, cursor, problems)
            repos = {r.lower(): r for r in [*self.config.repos, *listed]}.values()
            assessed: dict[str, dict[str, int]] = {}
            open_now: dict[str, float] = {}
            for repo in sorted(repos, key=str.lower):
                if not self.ownership.polls_repo(repo):  # another shard's
                    continue
                assessed[repo] = self._features(client, repo, known.get(repo, {}), secret, problems)
                if "dependency_updates" in self.config.features:
                    previous = {k: v for k, v in open_before.items() if k.startswith(f"{repo}#")}
                    open_now.update(self._dependency_updates(client, repo, previous, problems))
        except SourceError:
            self.auth.forget()
            raise
        events = self._coverage(assessed, known) + self._updates(open_before, open_now)
        cursor.update(repos=assessed, pulls=open_now)
        return Poll(events, json.dumps(cursor, sort_keys=True), client.validators, problems)

    def _features(
        self,
        client: HttpClient,
        repo: str,
        known: Mapping[str, int],
        secret: Mapping[str, int],
        problems: list[str],
    ) -> dict[str, int]:
        """Feature -> 1 (enabled) or 0 of one repository; what cannot be read now keeps its
        last known value."""
        features = dict(known)
        if "code_scanning" in self.config.features:
            features["code_scanning"] = self._code_scanning(
                client, repo, known.get("code_scanning")
            )
        if repo in secret:
            features["secret_scanning"] = secret[repo]
        elif "secret_scanning" in self.config.features and "secret_scanning" not in features:
            problems.append(
                f"{repo}: secret scanning not assessed (security_and_analysis is shown"
                " only to admins and security managers of an organisation's repository)"
            )
        return features

    def _coverage(
        self, assessed: Mapping[str, Mapping[str, int]], known: Mapping[str, Mapping[str, int]]
    ) -> list[Event]:
        """One gauge per repository and feature; a repository assessed before and not now
        (archived, disabled, no longer listed) is retired."""
        now = self.clock()
        gone = {repo: features for repo, features in known.items() if repo not in assessed}
        events: list[Event] = []
        for repos, name in ((assessed, COVERAGE), (gone, RETIRED)):
            for repo, features in repos.items():
                owner = self.ownership.of_repo(repo)
                events.extend(
                    Gauge(
                        **owner.identity(self.name, f"github/{repo}/{feature}"),
                        name=name,
                        value=float(enabled) if name == COVERAGE else 0.0,
                        measured_at=now,
                        labels=(("feature", feature),),
                    )
                    for feature, enabled in sorted(features.items())
                )
        return events

    def _updates(self, before: Mapping[str, float], now: Mapping[str, float]) -> list[Event]:
        """One gauge per dependency update pull request open now (1) or open before and
        closed since (0), dated by its creation."""
        events: list[Event] = []
        for key, created in sorted({**before, **now}.items()):
            repo, number = key.rsplit("#", 1)
            events.append(
                Gauge(
                    **self.ownership.of_repo(repo).identity(
                        self.name, f"github/{repo}/pull/{number}"
                    ),
                    name=DEPENDENCY_UPDATE,
                    value=1.0 if key in now else 0.0,
                    measured_at=created,
                )
            )
        return events

    def _organisation(
        self, client: HttpClient, cursor: dict[str, Any], problems: list[str]
    ) -> tuple[list[str], dict[str, int]]:
        """The organisation's active repositories and, where shown, whether each has secret
        scanning enabled; a 304 keeps the last answer (kept in the cursor)."""
        if self.config.org is None:
            return [], {}
        url = f"{self.api}/orgs/{quote(self.config.org)}/repos"
        listed: list[str] = []
        secret: dict[str, int] = {}
        for page in client.pages(url, {"per_page": 100}):
            if page.not_modified and "org" in cursor:
                return list(cursor["org"]["repos"]), dict(cursor["org"]["secret"])
            body = page.json()
            if not isinstance(body, list):
                raise SourceError(f"GET {url}: expected a list of repositories")
            for repo in body:
                try:
                    name = str(repo["full_name"])
                    if repo.get("archived") or repo.get("disabled"):
                        continue
                    listed.append(name)
                    status = _status(repo.get("security_and_analysis"), "secret_scanning")
                except (KeyError, TypeError, ValueError) as error:
                    problems.append(f"org {self.config.org}: repository skipped: bad field {error}")
                    continue
                if status is not None and "secret_scanning" in self.config.features:
                    secret[name] = status
        cursor["org"] = {"repos": listed, "secret": secret}
        return listed, secret

    def _code_scanning(self, client: HttpClient, repo: str, before: int | None) -> int:
        """1 when code scanning has analysed ``repo``, else 0."""
        url = f"{self.api}/repos/{repo}/code-scanning/alerts"
        try:
            response = client.get(url, {"per_page": 1})
        except HttpStatusError as error:
            if error.status in (403, 404):
                return 0
            raise
        if response.not_modified:
            return before if before is not None else 1
        if not isinstance(response.json(), list):  # a proxy's page is no analysis
            raise SourceError(f"GET {url}: expected a list of code scanning alerts")
        return 1

    def _dependency_updates(
        self,
        client: HttpClient,
        repo: str,
        before: Mapping[str, float],
        problems: list[str],
    ) -> dict[str, float]:
        """``repo#number`` -> creation time of the open pull requests of dependency bots; a
        304 keeps those open before."""
        url = f"{self.api}/repos/{repo}/pulls"
        bots = {bot.lower() for bot in self.config.dependency_bots}
        found: dict[str, float] = {}
        params = {"state": "open", "per_page": 100}
        for page in client.pages(url, params):
            if page.not_modified:
                return dict(before)
            body = page.json()
            if not isinstance(body, list):
                raise SourceError(f"GET {url}: expected a list of pull requests")
            for pull in body:
                try:
                    login = str((pull.get("user") or {}).get("login") or "").lower()
                    if login in bots:
                        found[f"{repo}#{int(pull['number'])}"] = parse_time(pull["created_at"])
                except (KeyError, TypeError, ValueError) as error:
                    problems.append(f"{repo}: pull request skipped: bad field {error}")
        return found


def _status(security: Any, feature: str) -> int | None:
    """1 when ``security_and_analysis.<feature>.status`` is enabled, 0 when disabled, None
    when GitHub does not show it."""
    if not isinstance(security, Mapping):
        return None
    status = (security.get(feature) or {}).get("status")
    if status is None:
        return None
    if status not in ("enabled", "disabled"):
        raise ValueError(f"security_and_analysis.{feature}.status {status!r}")
    return 1 if status == "enabled" else 0


def _describe(source: GitHubCoverage) -> list[str]:
    config = source.config
    text = f"{', '.join(config.features)} of {config.scope()}; API {source.api}"
    return [headline(source, "github_coverage", text)]


SOURCE_TYPE = SourceType("github_coverage", GitHubCoverageSource, GitHubCoverage.build, _describe)
