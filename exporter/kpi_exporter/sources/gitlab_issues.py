"""GitLab issues as work items (gitlab.com or self-managed, REST API v4): each issue of the
listed projects, with its status history from its label and state events.

- Status: ``opened`` (waiting by default) from its creation; a **status label** puts it in
  that status while it is on: a scoped label of ``status_scope`` (``workflow::in dev`` is the
  status ``in dev``; GitLab keeps one label of a scope on an issue, so adding one removes the
  other) or a label ``work.stages`` names; ``closed`` (done) while closed, whatever its labels.
  The rule is :func:`.work_items.label_history`, shared with GitHub Issues.
- Stages by default: ``opened``, ``ready for development``, ``in review``, ``blocked``,
  ``planning breakdown``, ``refinement``: waiting; ``in dev``, ``in development``, ``in
  progress``, ``doing``, ``verification``: active; ``complete``, ``done``: done; any other
  status: waiting.
- Investment category: the first of its labels, then its ``issue_type``, that
  ``work.categories`` names (``type::bug``, ``bug``, ``incident``: defect; ``type::feature``,
  ``feature``: new capability; ``technical debt``: technical debt; ``type::maintenance``,
  ``task``: maintenance ... by default), else ``unmapped``.
- App and team: a label listed in ``apps.*.services``, else the project's app (``apps.*.repos``).
- Who changed an issue (``user`` of an event, ``author``, ``assignees``) is never read: a bot's
  event counts like any other.

Requests, per project: ``GET /projects/:id/issues`` through ONE fixed URL
(``order_by=updated_at&sort=desc&updated_after=<floor>&per_page=100``, the floor being the
horizon's start at the project's first sync), its first page conditional: a ``304`` ends the
project's poll. Else the issues updated since the list's mark (:mod:`.marks`; offset pages,
which GitLab's issue list offers, keyset is not) are new, and each new issue's
``resource_label_events`` and ``resource_state_events`` are read (100 a page, ``concurrency``
requests in flight). A project answering 404 (deleted, renamed, out of the token's reach) is a
problem of the poll naming it, its stored items kept; the others still count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from ..config_base import Duration
from ..model import WorkItem
from ..store import SourceState
from . import Poll, PolledSource, SourceError
from .cursor import dump_cursor, load_cursor
from .delivery import ForgeApi
from .gitlab.changes import item_id, unread_items, updated_at
from .http import HttpClient, HttpStatusError, with_query
from .jira_work import Stage
from .marks import Mark, moved
from .registry import SourceType, headline
from .times import api_time, iso
from .work_items import (
    IssueEvent,
    TrackerWork,
    defaults_field,
    label_history,
    owner_named,
    read_each,
    work_fingerprint,
)

log = logging.getLogger(__name__)

OPENED, CLOSED = "opened", "closed"
PER_PAGE = 100
LABEL_ACTIONS: dict[str, Literal["labeled", "unlabeled"]] = {
    "add": "labeled",
    "remove": "unlabeled",
}
DEFAULT_STAGES: dict[str, Stage] = {
    "opened": "waiting",
    "ready for development": "waiting",
    "planning breakdown": "waiting",
    "refinement": "waiting",
    "in review": "waiting",
    "blocked": "waiting",
    "in dev": "active",
    "in development": "active",
    "in progress": "active",
    "doing": "active",
    "verification": "active",
    "complete": "done",
    "done": "done",
}


DEFAULT_CATEGORIES: dict[str, str] = {
    "type::bug": "defect",
    "bug": "defect",
    "incident": "defect",
    "type::feature": "new_capability",
    "feature": "new_capability",
    "technical debt": "tech_debt",
    "tech debt": "tech_debt",
    "type::maintenance": "maintenance",
    "maintenance": "maintenance",
    "task": "maintenance",
}


class GitLabIssuesWork(TrackerWork):
    categories: dict[str, str] = defaults_field(
        DEFAULT_CATEGORIES,
        "Label or issue_type -> investment category (case-insensitive); replaces"
        " the defaults (type::bug, bug, incident: defect; type::feature, feature:"
        " new_capability; technical debt, tech debt: tech_debt; type::maintenance,"
        " maintenance, task: maintenance).",
    )
    stages: dict[str, Stage] = defaults_field(
        DEFAULT_STAGES,
        "Status (the value of a status_scope label, a label named here, or"
        " opened) -> stage (case-insensitive); replaces the defaults; closed is always done.",
    )


class GitLabIssuesSource(ForgeApi):
    """GitLab issues of the listed projects as work items."""

    type: Literal["gitlab_issues"]
    api_url: str = Field("https://gitlab.com/api/v4", description="REST API root.")
    projects: list[str] = Field(min_length=1, description="group/project paths.")
    horizon: Duration = Field(
        365 * 86400.0, description="The first sync reads the issues updated since then."
    )
    concurrency: int = Field(4, ge=1, le=32, description="Requests in flight at once.")
    status_scope: str = Field(
        "workflow", description="The scoped labels holding the status (workflow::in dev)."
    )
    work: GitLabIssuesWork = Field(default_factory=GitLabIssuesWork)


class GitLabIssues(PolledSource[GitLabIssuesSource]):
    """Polls the issues of the configured projects as work items."""

    system = "GitLab"

    @property
    def fingerprint(self) -> str:
        config = self.config
        return work_fingerprint(self.api, config.horizon, config.work, scope=config.status_scope)

    def read(self, state: SourceState) -> Poll:
        token = self.poll_token()
        http = HttpClient.bearer_for_poll(self, state, token, concurrency=self.config.concurrency)
        saved = load_cursor(state.cursor, self.fingerprint, self.name) or {}
        projects: dict[str, Any] = dict(saved.get("projects") or {})
        with ThreadPoolExecutor(self.config.concurrency, thread_name_prefix=self.name) as pool:
            events, problems = read_each(
                self.config.projects,
                lambda path, found: self.read_project(http, pool, path, projects, found),
                lambda error: isinstance(error, HttpStatusError) and error.status == 404,
            )
        return Poll(
            events=list(events),
            cursor=dump_cursor(self.fingerprint, projects=projects),
            validators=http.validators,
            problems=problems,
        )

    def read_project(
        self,
        http: HttpClient,
        pool: ThreadPoolExecutor,
        path: str,
        projects: dict[str, Any],
        events: list[WorkItem],
    ) -> None:
        """Read the issues of one project updated since its mark into ``events`` (their
        events in ``pool``, ``concurrency`` at once); move its mark in ``projects``."""
        if not self.ownership.polls_repo(path):
            return  # another shard's
        known = projects.get(path)
        floor = self.clock() - self.config.horizon if known is None else known["floor"]
        mark = Mark(*known["mark"]) if known and known.get("mark") else None
        items, mark = self.updated(http, path, floor, mark, fresh=known is None)
        events += pool.map(lambda item: self.work_item(http, path, item), items)
        if known is None:
            log.info("%s: %s: first sync: %d issues read", self.name, path, len(items))
        projects[path] = {"floor": floor, "mark": [mark.updated, mark.ids] if mark else None}

    def project_url(self, path: str) -> str:
        return f"{self.api}/projects/{quote(path, safe='')}"

    def updated(
        self, http: HttpClient, path: str, floor: float, mark: Mark | None, *, fresh: bool
    ) -> tuple[list[dict[str, Any]], Mark | None]:
        """The issues updated since ``mark``, newest first, and the mark after them."""
        url = f"{self.project_url(path)}/issues"
        params = {
            "order_by": "updated_at",
            "sort": "desc",
            "updated_after": iso(floor),
            "per_page": PER_PAGE,
        }
        if fresh:  # a validator left from an earlier cursor must not skip the first sync
            http.validators.pop(with_query(url, params), None)
        new: list[dict[str, Any]] = []
        for page in http.pages(url, params):
            if page.not_modified:
                return [], mark
            fresh_items, reached_old = unread_items(page.json(), url, mark)
            new.extend(fresh_items)
            if reached_old:
                break  # sorted newest first: the remaining pages were read before
        return new, moved(mark, new, updated_at, item_id)

    def events(self, http: HttpClient, path: str, iid: int) -> Iterator[IssueEvent]:
        """The label and state events of an issue."""
        base = f"{self.project_url(path)}/issues/{iid}"
        for kind in ("resource_label_events", "resource_state_events"):
            url = f"{base}/{kind}"
            for page in http.pages(url, {"per_page": PER_PAGE}, conditional=False):
                listed = page.json()
                if not isinstance(listed, list):
                    raise SourceError(f"GET {url}: expected a JSON list")
                for event in listed:
                    at = api_time(event.get("created_at"), "GitLab")
                    if at is None:
                        continue
                    if kind == "resource_label_events":
                        label = str((event.get("label") or {}).get("name") or "")
                        action = LABEL_ACTIONS.get(str(event.get("action")))
                        if action is not None:
                            yield IssueEvent(at, action, label)
                    elif event.get("state") == "closed":
                        yield IssueEvent(at, "closed")
                    elif event.get("state") == "reopened":
                        yield IssueEvent(at, "reopened")

    def status_of_label(self, label: str) -> str | None:
        """The status a label stands for: the value of a ``status_scope`` label, or a label
        ``work.stages`` names; None for any other label."""
        scope, _, value = label.rpartition("::")
        if scope and scope.lower() == self.config.status_scope.lower():
            return value
        named = {name.lower() for name in self.config.work.stages} - {OPENED, CLOSED}
        return label if label.lower() in named else None

    def work_item(self, http: HttpClient, path: str, item: Mapping[str, Any]) -> WorkItem:
        iid = int(item["iid"])
        created = api_time(item.get("created_at"), "GitLab")
        if created is None:
            raise SourceError(f"GitLab issue {path}#{iid} without created_at")
        labels = [str(label) for label in item.get("labels") or ()]
        owner = owner_named(self.ownership, labels, self.ownership.of_repo(path))
        work = self.config.work
        return WorkItem(
            source=self.name,
            key=f"gitlab/{path}#{iid}",
            app=owner.app,
            team=owner.team,
            category=work.category([*labels, str(item.get("issue_type") or "")]),
            created_at=created,
            statuses=label_history(
                created,
                list(self.events(http, path, iid)),
                self.status_of_label,
                work.stage,
                open_status=OPENED,
                closed_status=CLOSED,
            ),
        )


def _describe(source: GitLabIssues) -> list[str]:
    config = source.config
    what = (
        f"issues of {', '.join(config.projects)} as work items (status from"
        f" {config.status_scope}:: labels), API {source.api}"
    )
    return [headline(source, "gitlab issues", what)]


SOURCE_TYPE = SourceType("gitlab_issues", GitLabIssuesSource, GitLabIssues.build, _describe)
