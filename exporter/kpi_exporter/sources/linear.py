"""Linear issues as work items (GraphQL API), with their workflow state history.

- Status history: the state the issue was created in (the ``fromState`` of its first state
  change, or its state now when it never moved), then every state change of its ``history``
  (``toState``), in time order. A state's stage is the one ``work.stages`` gives its name,
  else its type's: ``triage``, ``backlog``, ``unstarted``: waiting; ``started``: active;
  ``completed`` and ``canceled``: done (a canceled issue leaves the flow too).
- Investment category: the first of its labels that ``work.categories`` names (``Bug``:
  defect; ``Feature``, ``Improvement``: new capability; ``Tech Debt``: technical debt;
  ``Chore``, ``Maintenance``: maintenance ... by default), else ``unmapped``.
- App and team: a label, else its project's name, else its team's key, listed in
  ``apps.*.services``; else the defaults.
- Key: ``linear/{identifier}`` (``ENG-123``), the name branches, pull requests and commits use
  to reference an issue. An issue moved to another team gets a new identifier, so a new key:
  the item under its old key stays stored as it was.
- Who changed an issue (``actor``, ``botActor``) is never asked for: an automation's or an
  integration's state change counts like any other.

Requests: ``issues`` updated at or after the newest ``updatedAt`` read (``filter: {updatedAt:
{gte}}``; the horizon at a first sync), ``PAGE`` a page with ``first``/``after`` cursors, each
with its labels, state, team and its first ``HISTORY_PAGE`` history entries; an issue with more
history gets pages of 100 (``issue(id)``). A GraphQL ``POST`` cannot be conditional: a
steady-state poll costs one request (an empty page) when nothing changed. The API key goes in
``Authorization`` as it is (an OAuth token with ``Bearer``). Rate limits: the shared client
waits for ``X-RateLimit-Requests-Reset`` / ``-Complexity-Reset`` (epoch milliseconds) when a
budget is spent (a ``400`` with a ``RATELIMITED`` error, or a ``429``), or ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import Field

from ..config_base import Credentials, Duration, Name
from ..model import ACTIVE, DONE, WAITING, WorkItem
from ..store import SourceState
from . import Poll, PolledSource, SourceError
from .cursor import dump_cursor, load_cursor
from .http import HttpClient
from .jira_work import Stage
from .registry import SourceType, headline
from .times import api_time, iso
from .work_items import TrackerWork, connection_nodes, defaults_field, owner_named, work_fingerprint

log = logging.getLogger(__name__)

PAGE = 50
HISTORY_PAGE = 50
STAGE_OF_TYPE = {
    "triage": WAITING,
    "backlog": WAITING,
    "unstarted": WAITING,
    "started": ACTIVE,
    "completed": DONE,
    "canceled": DONE,
}
STATE = "{ name type }"
HISTORY = (
    f"pageInfo {{ hasNextPage endCursor }} nodes {{ createdAt fromState {STATE} toState {STATE} }}"
)
ISSUES_QUERY = f"""query($since: DateTimeOrDuration!, $after: String) {{
  issues(first: {PAGE}, after: $after, filter: {{updatedAt: {{gte: $since}}}},
         orderBy: updatedAt, includeArchived: true) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id identifier createdAt updatedAt
      team {{ key }}
      project {{ name }}
      state {STATE}
      labels(first: 50) {{ nodes {{ name }} }}
      history(first: {HISTORY_PAGE}) {{ {HISTORY} }}
    }}
  }}
}}"""
HISTORY_QUERY = f"""query($id: String!, $after: String) {{
  issue(id: $id) {{ history(first: 100, after: $after) {{ {HISTORY} }} }}
}}"""


DEFAULT_CATEGORIES: dict[str, str] = {
    "bug": "defect",
    "feature": "new_capability",
    "improvement": "new_capability",
    "tech debt": "tech_debt",
    "chore": "maintenance",
    "maintenance": "maintenance",
}


class LinearWork(TrackerWork):
    categories: dict[str, str] = defaults_field(
        DEFAULT_CATEGORIES,
        "Label -> investment category (case-insensitive); replaces the defaults"
        " (Bug: defect; Feature, Improvement: new_capability; Tech Debt: tech_debt; Chore,"
        " Maintenance: maintenance).",
    )
    stages: dict[str, Stage] = defaults_field(
        {},
        "Workflow state name -> stage, over its type's (triage, backlog,"
        " unstarted: waiting; started: active; completed, canceled: done). List your"
        " queues: {In Review: waiting}.",
    )


class LinearSource(Credentials):
    """Linear issues as work items."""

    type: Literal["linear"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field(
        pattern=r"^https?://", description="Linear's GraphQL endpoint (its API documentation)."
    )
    oauth: bool = Field(False, description="The token is an OAuth access token, not an API key.")
    horizon: Duration = Field(
        365 * 86400.0, description="The first sync reads the issues updated since then."
    )
    work: LinearWork = Field(default_factory=LinearWork)


class Linear(PolledSource[LinearSource]):
    """Polls the issues of a Linear workspace as work items."""

    system = "Linear"

    @property
    def fingerprint(self) -> str:
        return work_fingerprint(self.api, self.config.horizon, self.config.work)

    def read(self, state: SourceState) -> Poll:
        token = self.poll_token()
        credential = f"Bearer {token}" if self.config.oauth else token
        http = HttpClient.for_poll(self, state, lambda: {"Authorization": credential})
        saved = load_cursor(state.cursor, self.fingerprint, self.name) or {}
        mark = saved.get("updated")
        since = self.clock() - self.config.horizon if mark is None else float(mark)

        def page(after: str | None) -> Any:
            return self.run(http, ISSUES_QUERY, {"since": iso(since), "after": after}).get("issues")

        newest = since
        events: list[WorkItem] = []
        for node in connection_nodes(page(None), page, "issues", "Linear"):
            events.append(self.work_item(http, node))
            newest = max(newest, api_time(node.get("updatedAt"), "Linear") or newest)
        if mark is None:
            log.info("%s: first sync: %d issues read", self.name, len(events))
        return Poll(events=list(events), cursor=dump_cursor(self.fingerprint, updated=newest))

    def run(self, http: HttpClient, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer; its ``errors`` fail the poll."""
        body = http.post_json(self.api, {"query": query, "variables": variables}).json()
        if not isinstance(body, dict):
            raise SourceError(f"POST {self.api}: the answer is not a GraphQL response")
        errors = body.get("errors")
        if errors:
            listed = errors if isinstance(errors, list) else [errors]
            messages = "; ".join(
                str(e.get("message", ""))[:200] if isinstance(e, dict) else str(e)[:200]
                for e in listed[:3]
            )
            raise SourceError(f"POST {self.api}: GraphQL errors: {messages}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise SourceError(f"POST {self.api}: the answer has no data")
        return data

    def history(self, http: HttpClient, node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every history entry of an issue: the first page came with it, the others are read."""

        def following(after: str) -> Any:
            variables = {"id": node["id"], "after": after}
            return (self.run(http, HISTORY_QUERY, variables).get("issue") or {}).get("history")

        what = f"issue {node.get('id')} history"
        yield from connection_nodes(node.get("history"), following, what, "Linear")

    def stage(self, state: Mapping[str, Any]) -> str:
        default = STAGE_OF_TYPE.get(str(state.get("type") or ""), WAITING)
        return self.config.work.stage(str(state.get("name") or ""), default)

    def work_item(self, http: HttpClient, node: Mapping[str, Any]) -> WorkItem:
        created = api_time(node.get("createdAt"), "Linear")
        if created is None:
            raise SourceError(f"Linear issue {node.get('id')} without createdAt")
        changes = sorted(
            (
                (at, entry.get("fromState"), entry["toState"])
                for entry in self.history(http, node)
                if isinstance(entry.get("toState"), dict)
                and (at := api_time(entry.get("createdAt"), "Linear")) is not None
            ),
            key=lambda change: change[0],
        )
        first = (changes[0][1] if changes else None) or node.get("state") or {}
        entered = [(created, first), *((at, to) for at, _, to in changes)]
        labels = [str(label["name"]) for label in (node.get("labels") or {}).get("nodes") or ()]
        project = str((node.get("project") or {}).get("name") or "")
        team_key = str((node.get("team") or {}).get("key") or "")
        owner = owner_named(self.ownership, [*labels, project, team_key], self.ownership.default)
        return WorkItem(
            source=self.name,
            key=f"linear/{node['identifier']}",
            app=owner.app,
            team=owner.team,
            category=self.config.work.category(labels),
            created_at=created,
            statuses=tuple(
                (at, str(state.get("name") or ""), self.stage(state)) for at, state in entered
            ),
        )


def _describe(source: Linear) -> list[str]:
    return [headline(source, "linear", f"issues as work items, API {source.api}")]


SOURCE_TYPE = SourceType("linear", LinearSource, Linear.build, _describe)
