"""GitLab (gitlab.com or self-managed, REST API v4): deployments, merge requests and issues.

What becomes what, per project (``projects`` listed, and those of ``group``, subgroups included
when ``include_subgroups``, archived and shared ones not):

- Deployment ``gitlab/{path}/deployment/{id}``: a successful deployment to an environment that
  matches the production pattern (others are skipped). It finished at ``finished_at`` (GitLab
  15.x+), else its job's ``finished_at``, else ``updated_at``; its commit is ``sha``, its
  version the tag name when its job ran for a tag.
- Change ``gitlab/{path}!{iid}``: every merge request, ``state`` open, merged or closed. First
  commit: the earliest ``authored_date`` of its commits; opened: ``created_at``; first review:
  the first note (not a system note) or approval by someone other than the author, before the
  merge; approved: the first such approval (``approved_at``, or on GitLab versions without it
  the approver's "approved this merge request" system note); size: added plus removed lines of
  its diffs (``/diffs``, or ``/changes`` before GitLab 15.7), unknown when GitLab withholds a
  diff as too large (``changes_count`` counts files, not lines, so it is no fallback). The
  author's id is used while reading, never stored.
- Deployed: a merged MR lands on the default branch as its merge commit (``merge_commit_sha``),
  else its squash commit (``squash_commit_sha``: fast-forward with squash), else its head
  (``sha``: fast-forward). The first production deployment (by finish time) whose ``sha`` has
  that commit as an ancestor deploys it: ancestry is walked locally on the default branch's
  history (``repository/commits``, which carries the parents), never one request per
  deployment. A deployment of a commit outside the default branch deploys no MR.
- Change type of a deployment: ``rollback`` when it goes back to the commit of an earlier
  deployment to the same environment while the one before it deployed another (GitLab's
  "Rollback" re-runs the older job), or when an MR it deploys first carries a revert label or
  the ``Revert "..."`` title of GitLab's Revert button; else ``hotfix`` when one of those MRs
  carries a hotfix label; else ``normal``. Labels match case-insensitively.
- Incident ``gitlab/{path}#{iid}``: an issue whose ``issue_type`` is incident (``type``
  INCIDENT) or that carries an incident label; started ``created_at``, resolved ``closed_at``,
  severity the ``severity`` field lowercased (unknown, low, medium, high, critical). Defect
  (same key): an issue with a bug label, found in production, resolved ``closed_at``.

Requests. Each project has three lists (deployments, merge requests, issues), each read through
ONE fixed URL: ``order_by=updated_at&sort=desc&updated_after=<floor>&per_page=100``, the floor
being the horizon's start at the project's first sync. Its first page is conditional: a ``304``
ends the list, so a steady-state poll costs three conditional requests per project plus one per
group for discovery. (An ``updated_after`` that moved with the cursor would change the URL at
every change, so no ETag would ever be reused and stale ones would pile up in the store.)
When the page changed, the list's cursor (per project and list: the newest ``updated_at`` read
and the ids at that instant, in ``Poll.cursor``) tells what is new, and ``Link: rel="next"``
pages are followed while they hold new items; the first sync reads back to the floor, with a
progress log. GitLab paginates these lists by offset (keyset is not offered for them). The
group's projects are listed newest first, so a new project changes the first page and its ETag.

Per MR, four REST calls (commits, notes, approvals, diffs; more pages for long ones), made ONLY
for MRs new or updated since the cursor, never again for unchanged ones. The default-branch
history is read (``since`` the oldest landing commit waiting to be matched, less a day) only when
a merged MR and a deployment finished after its merge are new. The cursor remembers, per project,
the production deployments of the last 14 days (an MR read late still finds the one that shipped
it) and the merged MRs no deployment contains yet (a later deployment ships them without reading
them again); a waiting MR is dropped once its merge leaves the horizon, or when the history shows
its commit is not on the default branch. A changed horizon, label set, production pattern, API
URL or group starts over with a first sync (the upsert keeps that idempotent).

A project answering 404 is a problem of the poll naming it (the group's list is read again on the
next poll); the others still count. Any other failure (bad token, malformed JSON, retries spent)
fails the poll as a whole and leaves the stored data as it was.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import quote

from ...model import Change, Defect, Deployment, Event, Incident, from_json, to_json
from ...ownership import Owner
from ...store import SourceState, Validator
from .. import KpiSource, Poll, SourceError
from ..cursor import dump_cursor, load_cursor
from ..http import HttpClient, with_query
from ..marks import Mark, moved
from ..registry import SourceType, headline
from ..times import iso
from .changes import (
    PER_PAGE,
    MergeRequest,
    http_status,
    item_id,
    label_set,
    read_merge_request,
    required_time,
    timestamp,
    unread_items,
    updated_at,
)
from .config import GitLabSource
from .deployments import Shipped, ship, shipped

log = logging.getLogger(__name__)

LISTS = ("deployments", "merge_requests", "issues")


class ProjectMissing(Exception):
    """A project the token cannot see (404): a problem of the poll, not a failure."""


@dataclass(slots=True)
class ProjectState:
    floor: float
    marks: dict[str, Mark] = field(default_factory=dict)
    recent: list[Shipped] = field(default_factory=list)
    waiting: list[MergeRequest] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "floor": self.floor,
            "marks": {name: [mark.updated, mark.ids] for name, mark in self.marks.items()},
            "recent": [asdict(deployment) for deployment in self.recent],
            "waiting": [
                {
                    "iid": mr.iid,
                    "change": json.loads(to_json(mr.change)),
                    "commit": mr.commit,
                    "since": mr.since,
                    "change_type": mr.change_type,
                }
                for mr in self.waiting
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectState:
        waiting = []
        for mr in data["waiting"]:
            change = from_json("change", json.dumps(mr["change"]))
            assert isinstance(change, Change)
            waiting.append(
                MergeRequest(mr["iid"], change, mr["commit"], mr["since"], mr["change_type"])
            )
        return cls(
            floor=data["floor"],
            marks={name: Mark(updated, ids) for name, (updated, ids) in data["marks"].items()},
            recent=[Shipped(**deployment) for deployment in data["recent"]],
            waiting=waiting,
        )


@dataclass(slots=True)
class ProjectPoll:
    events: list[Event]
    state: ProjectState


class GitLab(KpiSource[GitLabSource]):
    """Polls the projects of one GitLab source."""

    system = "GitLab"

    def scope(self) -> dict[str, Any]:
        config = self.config
        return {
            "group": [config.group, config.include_subgroups],
            "labels": config.labels.model_dump(),
        }

    # --- one poll ----------------------------------------------------------------------------

    def read(self, state: SourceState) -> Poll:
        token = self.poll_token()
        http = HttpClient.bearer_for_poll(self, state, token, concurrency=self.config.concurrency)
        saved = self._load(state.cursor)
        now = self.clock()
        problems: list[str] = []
        discovered = self.discover(http, saved.get("discovered"), problems)
        listed = dict.fromkeys([*self.config.projects, *(discovered or [])])
        paths = [path for path in listed if self.ownership.polls_repo(path)]  # this shard's
        known: dict[str, ProjectState] = {
            path: ProjectState.from_json(data) for path, data in saved["projects"].items()
        }
        polled, missing = self.poll_projects(http, paths, known, now)
        problems.extend(missing.values())
        if paths and len(missing) == len(paths):
            raise SourceError("; ".join(problems))
        if discovered and set(missing) & set(discovered):
            # A discovered project is gone: list the group in full on the next poll.
            http.validators[self._group_key()] = Validator()
        events: list[Event] = []
        projects: dict[str, Any] = {}
        for path in paths:
            if path in polled:
                events.extend(polled[path].events)
                projects[path] = polled[path].state.to_json()
            elif path in known:
                projects[path] = known[path].to_json()
        return Poll(
            events=events,
            cursor=dump_cursor(self.fingerprint, discovered=discovered, projects=projects),
            validators=http.validators,
            problems=problems,
        )

    def _load(self, text: str | None) -> dict[str, Any]:
        saved = load_cursor(text, self.fingerprint, self.name)
        return saved if saved is not None else {"discovered": None, "projects": {}}

    # --- projects ----------------------------------------------------------------------------

    def _group_url(self) -> tuple[str, dict[str, Any]]:
        group = self.config.group or ""
        params = {
            "include_subgroups": str(self.config.include_subgroups).lower(),
            "archived": "false",
            "with_shared": "false",
            # Newest first: a new project changes the first page, and so its ETag.
            "order_by": "id",
            "sort": "desc",
            "per_page": PER_PAGE,
        }
        return f"{self.api}/groups/{quote(group, safe='')}/projects", params

    def _group_key(self) -> str:
        return with_query(*self._group_url())

    def discover(
        self, http: HttpClient, known: list[str] | None, problems: list[str]
    ) -> list[str] | None:
        """The group's project paths: the remembered ones while its first page is unchanged."""
        if self.config.group is None:
            return None
        url, params = self._group_url()
        if known is None:
            http.validators.pop(self._group_key(), None)
        found: list[str] = []
        try:
            for page in http.pages(url, params):
                if page.not_modified:
                    return known
                body = page.json()
                if not isinstance(body, list):
                    raise SourceError(f"GET {url}: expected a JSON list")
                found.extend(str(project["path_with_namespace"]) for project in body)
        except SourceError as error:
            if http_status(error) != 404 or not self.config.projects:
                raise
            problems.append(f"group {self.config.group}: {error}")
            return known
        if known is None:
            log.info("%s: group %s has %d projects", self.name, self.config.group, len(found))
        return sorted(found)

    def poll_projects(
        self, http: HttpClient, paths: list[str], known: dict[str, ProjectState], now: float
    ) -> tuple[dict[str, ProjectPoll], dict[str, str]]:
        """Every project, ``concurrency`` at a time; merge request details in a second pool
        (so a project waiting for its details never holds a slot they need)."""
        workers = self.config.concurrency
        projects = ThreadPoolExecutor(workers, thread_name_prefix=f"{self.name}-project")
        details = ThreadPoolExecutor(workers, thread_name_prefix=f"{self.name}-mr")
        stop = threading.Event()
        polled: dict[str, ProjectPoll] = {}
        missing: dict[str, str] = {}
        try:
            futures = [
                (
                    path,
                    projects.submit(
                        self.poll_project, http, details, path, known.get(path), now, stop
                    ),
                )
                for path in paths
            ]
            for path, future in futures:
                try:
                    polled[path] = future.result()
                except ProjectMissing as error:
                    missing[path] = str(error)
        except BaseException:
            stop.set()
            raise
        finally:
            projects.shutdown(wait=True, cancel_futures=True)
            details.shutdown(wait=True, cancel_futures=True)
        return polled, missing

    def poll_project(
        self,
        http: HttpClient,
        details: ThreadPoolExecutor,
        path: str,
        saved: ProjectState | None,
        now: float,
        stop: threading.Event,
    ) -> ProjectPoll:
        fresh = saved is None
        state = (
            ProjectState(floor=now - self.config.horizon) if saved is None else copy.deepcopy(saved)
        )
        url = f"{self.api}/projects/{quote(path, safe='')}"
        owner = self.ownership.of_repo(path)
        try:
            read = {name: self.updated(http, path, url, name, state, fresh, stop) for name in LISTS}
            if fresh and read["merge_requests"]:
                log.info(
                    "%s: %s: first sync: reading commits, notes, approvals and diffs of %d"
                    " merge requests",
                    self.name,
                    path,
                    len(read["merge_requests"]),
                )
            merge_requests = self.read_merge_requests(
                http, details, url, path, owner, read["merge_requests"], stop
            )
            shipment = ship(
                http,
                url,
                recent=state.recent,
                waiting=state.waiting,
                new=[d for d in (shipped(i, self.settings) for i in read["deployments"]) if d],
                merge_requests=merge_requests,
                floor=state.floor,
                now=now,
                horizon=self.config.horizon,
                fresh=fresh,
                key=lambda deployment: self.deployment_key(path, deployment),
            )
        except SourceError as error:
            if http_status(error) == 404:
                raise ProjectMissing(f"project {path}: {error}") from None
            raise
        state.recent, state.waiting = shipment.recent, shipment.waiting
        # Waiting changes were read under the ownership of their time: today's applies.
        events: list[Event] = [
            replace(change, app=owner.app, team=owner.team) for change in shipment.changes
        ]
        events.extend(self.deployment_event(path, owner, d) for d in shipment.deployments)
        for issue in read["issues"]:
            events.extend(self.issue_events(path, owner, issue))
        if fresh:
            log.info(
                "%s: %s: first sync done: %d deployments, %d merge requests, %d issues read",
                self.name,
                path,
                len(read["deployments"]),
                len(read["merge_requests"]),
                len(read["issues"]),
            )
        return ProjectPoll(events, state)

    def updated(
        self,
        http: HttpClient,
        path: str,
        project_url: str,
        name: str,
        state: ProjectState,
        fresh: bool,
        stop: threading.Event,
    ) -> list[dict[str, Any]]:
        """Items of one list updated since its mark, newest first; moves the mark."""
        url = f"{project_url}/{name}"
        params: dict[str, Any] = {
            "order_by": "updated_at",
            "sort": "desc",
            "updated_after": iso(state.floor),
            "per_page": PER_PAGE,
        }
        if name == "deployments":
            params["status"] = "success"
        elif name == "merge_requests":
            params["state"] = "all"
        if fresh:  # a validator left from an earlier state must not skip the first sync
            http.validators.pop(with_query(url, params), None)
        mark = state.marks.get(name)
        new: list[dict[str, Any]] = []
        for number, page in enumerate(http.pages(url, params), start=1):
            if stop.is_set():
                raise SourceError("poll abandoned")
            if page.not_modified:
                return []
            fresh_items, reached_old = unread_items(page.json(), url, mark)
            new.extend(fresh_items)
            if fresh:
                log.info(
                    "%s: %s: first sync: %d %s read (page %d)",
                    self.name,
                    path,
                    len(new),
                    name.replace("_", " "),
                    number,
                )
            if reached_old:
                break  # sorted newest first: the remaining pages were read before
        if (moved_mark := moved(mark, new, updated_at, item_id)) is not None:
            state.marks[name] = moved_mark
        return new

    def read_merge_requests(
        self,
        http: HttpClient,
        details: ThreadPoolExecutor,
        project_url: str,
        path: str,
        owner: Owner,
        items: list[dict[str, Any]],
        stop: threading.Event,
    ) -> list[MergeRequest]:
        def read(item: dict[str, Any]) -> MergeRequest:
            if stop.is_set():
                raise SourceError("poll abandoned")
            return read_merge_request(
                http,
                project_url,
                item,
                self.config.labels,
                source=self.name,
                key=f"gitlab/{path}!{item['iid']}",
                owner=owner,
                origins=self.settings.origins,
            )

        futures: list[Future[MergeRequest]] = [details.submit(read, item) for item in items]
        return [future.result() for future in futures]

    # --- deployments and issues ------------------------------------------------------------

    @staticmethod
    def deployment_key(path: str, deployment: Shipped) -> str:
        return f"gitlab/{path}/deployment/{deployment.id}"

    def deployment_event(self, path: str, owner: Owner, deployment: Shipped) -> Deployment:
        return Deployment(
            **owner.identity(self.name, self.deployment_key(path, deployment)),
            environment=deployment.environment,
            finished_at=deployment.finished_at,
            started_at=deployment.started_at,
            version=deployment.version,
            commit=deployment.sha,
            change_type=deployment.change_type,
        )

    # --- issues ------------------------------------------------------------------------------

    def issue_events(self, path: str, owner: Owner, item: Mapping[str, Any]) -> list[Event]:
        labels = label_set(item)
        key = f"gitlab/{path}#{item['iid']}"
        created_at = required_time(item, "created_at")
        resolved_at = timestamp(item.get("closed_at")) if item.get("state") == "closed" else None
        events: list[Event] = []
        configured = self.config.labels
        incident = item.get("issue_type") == "incident" or item.get("type") == "INCIDENT"
        if incident or labels & {name.lower() for name in configured.incident}:
            events.append(
                Incident(
                    **owner.identity(self.name, key),
                    severity=str(item.get("severity") or "unknown").lower(),
                    started_at=created_at,
                    resolved_at=resolved_at,
                )
            )
        if labels & {name.lower() for name in configured.bug}:
            events.append(
                Defect(
                    **owner.identity(self.name, key),
                    created_at=created_at,
                    resolved_at=resolved_at,
                )
            )
        return events


def _describe(source: GitLab) -> list[str]:
    gitlab = source.config
    scope = [*gitlab.projects]
    if gitlab.group:
        subgroups = " and subgroups" if gitlab.include_subgroups else ""
        scope.append(f"group {gitlab.group}{subgroups}")
    return [headline(source, "gitlab", f"{', '.join(scope)}; API {source.api}")]


SOURCE_TYPE = SourceType("gitlab", GitLabSource, GitLab.build, _describe)
