"""The GitHub source: one poll reads every configured repository incrementally.

Repositories are the listed ones plus, with ``org``, the organisation's (``GET /orgs/{org}/
repos``, conditional). They are read in parallel (``concurrency`` at a time), each as
``repository.py`` describes: conditional REST requests tell what changed, GraphQL reads only
that, and the state kept in the cursor (``state.py``) ties pull requests to deployments.

A poll where nothing changed sends only conditional requests that all come back ``304``.
A first sync reads back to the horizon and logs its progress per repository. The scheduler
stores each repository as it is read (:meth:`GitHub.poll_parts`), with at most twice
``concurrency`` repositories read ahead, so memory does not grow with the organisation. A
repository that no longer exists (404) is a problem of the poll, and the others still count.
A malformed answer or a GraphQL error fails the poll: the repositories stored before it
stay, the failed one and those after it are read by the next poll.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Unpack
from urllib.parse import quote

from ...health import Health
from ...kpis.settings import KpiSettings
from ...model import Event
from ...ownership import Ownership
from ...store import SourceState, Validator
from .. import Poll, SourceError
from ..cursor import CURSOR_VERSION, dump_cursor, load_cursor
from ..http import HttpClient, with_query
from ..registry import SourceContext, SourceType, headline, with_settings
from .auth import ClientOptions, GitHubPolled, check_credentials
from .config import GitHubSource
from .normalise import Malformed, checked
from .queries import GraphQL, RepositoryNotFound, graphql_url
from .repository import Settings, Synced, checks, sync

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Cursor:
    """The whole cursor: the settings it was made with, the organisation's repositories
    with the filters that chose them (kept for when the listing answers 304), and each
    repository's state."""

    settings: str
    org: dict[str, Any] | None = None  # {"filters": ..., "repos": [...]}
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, text: str | None, settings: str, name: str) -> Cursor:
        data = load_cursor(text, settings, name, version=None)  # the version is in settings
        if data is None:
            return cls(settings)  # new settings: read everything again
        return cls(settings, data.get("org"), data.get("repos") or {})

    def dump(self) -> str:
        return dump_cursor(self.settings, version=None, org=self.org, repos=self.repos)


class GitHub(GitHubPolled[GitHubSource]):
    """Polls the repositories of one ``type: github`` source. ``clock``, ``sleep`` and
    ``session`` are those of the HTTP client (tests pass fakes).

    On the common bases: the configuration, ownership, health, clock, sleep and the token
    checked at start (:class:`PolledSource`); the session and the authentication, shared with
    ``github_security`` (:class:`GitHubPolled`: a token, or a GitHub App installation token
    minted and renewed during a poll, so headers are asked per request rather than read once
    per poll). Its own is the poll itself, in parts (:meth:`poll_parts`: the repositories read in
    parallel, each stored as it comes and failing alone, a malformed answer reported through
    ``normalise.checked``)."""

    def __init__(
        self,
        config: GitHubSource,
        ownership: Ownership,
        kpi: KpiSettings | None = None,
        health: Health | None = None,
        *,
        what: str = "github",
        **client: Unpack[ClientOptions],
    ) -> None:
        super().__init__(config, ownership, health, what=what, **client)
        self.graphql_url = graphql_url(self.api, config.graphql_url)
        self.repo_pattern = re.compile(config.repo_pattern)
        self.reading = Settings(
            config.name, config, kpi or KpiSettings(), self.api, re.compile(config.tag_pattern)
        )
        # What the events depend on besides the repositories' data: a change reads again.
        self.settings = json.dumps(
            [
                CURSOR_VERSION,
                self.api,
                config.deploy_signal,
                config.workflow,
                config.tag_pattern,
                config.labels.model_dump(),
                config.horizon,
                self.reading.kpi.production.pattern,
            ],
            sort_keys=True,
        )
        self.org_filters = [config.org, config.repo_pattern, sorted(config.topics)]

    def poll(self, state: SourceState) -> Poll:
        """The whole poll at once: every part of :meth:`poll_parts` merged."""
        events: list[Event] = []
        problems: list[str] = []
        validators: dict[str, Validator] = {}
        cursor = state.cursor
        for part in self.poll_parts(state):
            events.extend(part.events)
            problems.extend(part.problems)
            validators.update(part.validators)
            cursor = part.cursor
        return Poll(events, cursor, validators, problems)

    def poll_parts(self, state: SourceState) -> Iterator[Poll]:
        """The poll as parts to store one after another, each in its own transaction: one
        per repository as it is read (its events, its validators and the cursor with its new
        state), then the organisation listing's validators and the final cursor. Only a few
        repositories are held at a time, so a first sync's memory does not grow with the
        organisation; a failure part-way keeps the repositories stored before it, and the
        next poll resumes after them."""
        now = self.clock()
        self.auth.begin()
        cursor = Cursor.load(state.cursor, self.settings, self.name)
        abandoned = threading.Event()  # set when one repository failed the poll

        def headers() -> Mapping[str, str]:
            if abandoned.is_set():  # stop the other threads at their next request
                raise SourceError("poll abandoned")
            return self.auth.headers()

        client = HttpClient.for_poll(
            self,
            state,
            headers,
            concurrency=self.config.concurrency,
            session=self.session,
        )
        sent: set[str] = set()

        def changed(urls: Iterable[str]) -> dict[str, Validator]:
            found = {
                url: validator
                for url in urls
                if (validator := client.validators.get(url)) is not None
                and state.validators.get(url) != validator
            }
            sent.update(found)
            return found

        try:
            repos = self.repositories(client, cursor)
            stored = dict(cursor.repos)  # repositories not read yet keep their state
            for repo, result in self._sync_each(client, repos, cursor, now, abandoned):
                urls = checks(self.reading, repo).values()
                if isinstance(result, str):
                    yield Poll([], cursor.dump(), changed(urls), [result])
                    continue
                cursor.repos[repo] = result.state
                yield Poll(result.events, cursor.dump(), changed(urls))
                del result  # stored: not kept while the next repositories are read
        except SourceError:
            self.auth.forget()  # the token may have been revoked: mint a new one next time
            raise
        # Repositories no longer listed are forgotten; the listing's validators go last.
        cursor.repos = {repo: cursor.repos[repo] for repo in repos if repo in cursor.repos}
        for repo in repos:
            if repo not in cursor.repos and repo in stored:
                cursor.repos[repo] = stored[repo]
        rest = changed(url for url in list(client.validators) if url not in sent)
        yield Poll([], cursor.dump(), rest)

    def repositories(self, client: HttpClient, cursor: Cursor) -> list[str]:
        """The listed repositories, then the organisation's that pass the filters; of those,
        the repositories of this shard's apps."""
        listed = self._organisation(client, cursor) if self.config.org else []
        found: dict[str, str] = {}
        for repo in [*self.config.repos, *listed]:
            found.setdefault(repo.lower(), repo)  # GitHub names are case-insensitive
        return [repo for repo in found.values() if self.ownership.polls_repo(repo)]

    def _organisation(self, client: HttpClient, cursor: Cursor) -> list[str]:
        """``GET /orgs/{org}/repos``, conditional: a 304 keeps the list of the last poll.
        Archived and disabled repositories are skipped; ``repo_pattern`` searches the name;
        every configured topic must be among the repository's topics."""
        org = str(self.config.org)
        url = f"{self.api}/orgs/{quote(org)}/repos"
        params = {"per_page": 100}
        known = cursor.org if cursor.org and cursor.org.get("filters") == self.org_filters else None
        if known is None:
            client.validators.pop(with_query(url, params), None)
        wanted = {topic.lower() for topic in self.config.topics}
        found = []
        for page in client.pages(url, params):
            if page.not_modified and known is not None:
                return [str(repo) for repo in known["repos"]]
            body = page.json()
            if not isinstance(body, list):
                raise Malformed(f"GET {url}: expected a list of repositories")
            with checked("repository", org):
                for repo in body:
                    topics = {str(topic).lower() for topic in repo.get("topics") or []}
                    if (
                        not repo.get("archived")
                        and not repo.get("disabled")
                        and self.repo_pattern.search(str(repo["name"]))
                        and wanted <= topics
                    ):
                        found.append(str(repo["full_name"]))
        cursor.org = {"filters": self.org_filters, "repos": sorted(found)}
        return sorted(found)

    def _sync_each(
        self,
        client: HttpClient,
        repos: list[str],
        cursor: Cursor,
        now: float,
        abandoned: threading.Event,
    ) -> Iterator[tuple[str, Synced | str]]:
        """Each repository with its result, in order, read ``concurrency`` at a time with at
        most as many more read ahead: results wait for the store, never pile up."""
        graphql = GraphQL(client, self.graphql_url)
        counter = itertools.count(1)
        lock = threading.Lock()
        failures: list[BaseException] = []

        def one(repo: str) -> Synced | str:
            stored = cursor.repos.get(repo)
            try:
                result = self._sync_one(client, graphql, repo, stored, now)
            except BaseException as error:
                with lock:
                    failures.append(error)  # the first is the cause, later ones "abandoned"
                abandoned.set()
                raise
            with lock:
                done = next(counter)
            if isinstance(result, str):
                log.warning("%s: %s (%d of %d)", self.name, result, done, len(repos))
            elif result.summary:
                first = " (first sync)" if stored is None else ""
                log.info(
                    "%s: %s%s: %s (%d of %d)",
                    self.name,
                    repo,
                    first,
                    result.summary,
                    done,
                    len(repos),
                )
            return result

        workers = min(self.config.concurrency, len(repos))
        if workers <= 1:
            for repo in repos:
                yield repo, one(repo)
            return
        pool = ThreadPoolExecutor(workers, thread_name_prefix=f"poll-{self.name}")
        pending: deque[tuple[str, Future[Synced | str]]] = deque()
        waiting = iter(repos)
        try:
            while True:
                while len(pending) < 2 * workers and (ahead := next(waiting, None)) is not None:
                    pending.append((ahead, pool.submit(one, ahead)))
                if not pending:
                    return
                repo, future = pending.popleft()
                try:
                    result = future.result()
                except BaseException as error:  # the first failure is the cause
                    raise (failures[0] if failures else error) from None
                yield repo, result
        finally:
            abandoned.set()  # the threads still reading stop at their next request
            for _, future in pending:
                future.cancel()
            pool.shutdown(wait=True)

    def _sync_one(
        self,
        client: HttpClient,
        graphql: GraphQL,
        repo: str,
        stored: dict[str, Any] | None,
        now: float,
    ) -> Synced | str:
        """One repository, or the problem that skipped it (it no longer exists). A skipped
        repository keeps its validators and cursor, so the next poll reads what it missed."""
        before = {url: client.validators.get(url) for url in checks(self.reading, repo).values()}
        owner = self.ownership.of_repo(repo)
        try:
            return sync(self.reading, client, graphql, repo, owner, stored, now)
        except RepositoryNotFound as error:
            for url, validator in before.items():
                if validator is None:
                    client.validators.pop(url, None)
                else:
                    client.validators[url] = validator
            return f"{repo}: skipped: {error}"


def _build(config: GitHubSource, context: SourceContext) -> GitHub:
    check_credentials(config, context.what)  # the App's key too, at start
    return with_settings(GitHub)(config, context)


def _describe(source: GitHub) -> list[str]:
    github = source.config
    scope = [*github.repos]
    if github.org:
        topics = f", topics {','.join(github.topics)}" if github.topics else ""
        scope.append(f"org {github.org} (names ~ {github.repo_pattern!r}{topics})")
    return [
        headline(source, "github", f"{', '.join(scope)}; ")
        + f"deployments from {github.deploy_signal}, API {source.api}"
    ]


SOURCE_TYPE = SourceType("github", GitHubSource, _build, _describe)
