"""GitHub Issues as work items: each issue of the listed repositories (or an organisation's),
with its status history from its label, close and reopen events.

- Status: ``Open`` (waiting by default) from its creation; a **status label** (a label that
  ``work.stages`` names: ``in progress``, ``in review``, ``blocked`` by default) puts it in
  that status while it is on; with ``project_field``, the issue's GitHub Projects status (the
  single-select field of that name, ``Status``) counts as set when it was last changed (the
  API keeps no earlier Projects statuses, and a change of it updates the project item, not
  the issue: it is read with the issue's next change); ``Closed`` (done) while closed,
  whatever its labels. The rule is :func:`.work_items.label_history`.
- Investment category: the first of its labels that ``work.categories`` names (``bug``:
  defect, ``enhancement``: new capability, ``tech debt``: technical debt, ``chore``:
  maintenance ... by default), else ``unmapped``.
- App and team: a label listed in ``apps.*.services``, else the repository's app.
- Who labelled, closed or reopened an issue is never asked for: a bot's event counts like any
  other. Pull requests are not issues here (GraphQL's ``issues`` holds none; ``/issues`` lists
  them too and they are left out).

Requests, per repository: ``GET /repos/{owner}/{repo}/issues`` (the 100 most recently
updated, pull requests among them), conditional: a ``304``, or a page whose newest issue was
read already, ends the repository's poll. Else the issues updated since the newest update
read (the horizon at a first sync) come from GraphQL, 50 a page, oldest update first, each
with its labels and its first 100 label, close and reopen events; an issue with more events
gets further pages of those. With ``org``, ``GET /orgs/{org}/repos`` lists the repositories
(conditional too). A repository that cannot be found (404, GraphQL ``NOT_FOUND``) is a problem
of the poll naming it, its stored items kept; the others still count.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from ..config_base import Duration
from ..model import WorkItem
from ..store import SourceState
from . import Poll, SourceError
from .cursor import dump_cursor, load_cursor
from .github.auth import GitHubPolled
from .github.config import GitHubAccess
from .github.queries import GraphQL, RepositoryNotFound, graphql_url
from .github.repository import issues_changed
from .http import HttpClient, HttpStatusError, with_query
from .jira_work import Stage
from .registry import SourceType, headline
from .times import api_time, iso
from .work_items import (
    IssueEvent,
    TrackerWork,
    connection_nodes,
    defaults_field,
    label_history,
    owner_named,
    read_each,
    work_fingerprint,
)

OPEN, CLOSED = "Open", "Closed"
ISSUES_PAGE = 50
EVENTS_PAGE = 100
GONE = (404, 410)  # a repository deleted, renamed or out of the token's reach
LABELS_PAGE = 50
EVENT_TYPES = "[LABELED_EVENT, UNLABELED_EVENT, CLOSED_EVENT, REOPENED_EVENT]"


DEFAULT_STAGES: dict[str, Stage] = {
    "open": "waiting",
    "in progress": "active",
    "in review": "waiting",
    "blocked": "waiting",
    "todo": "waiting",
    "done": "done",
}


DEFAULT_CATEGORIES: dict[str, str] = {
    "bug": "defect",
    "enhancement": "new_capability",
    "feature": "new_capability",
    "tech debt": "tech_debt",
    "tech-debt": "tech_debt",
    "refactoring": "tech_debt",
    "chore": "maintenance",
    "maintenance": "maintenance",
    "dependencies": "maintenance",
}


class GitHubIssuesWork(TrackerWork):
    categories: dict[str, str] = defaults_field(
        DEFAULT_CATEGORIES,
        "Label -> investment category (case-insensitive); replaces the defaults"
        " (bug: defect; enhancement, feature: new_capability; tech debt, tech-debt,"
        " refactoring: tech_debt; chore, maintenance, dependencies: maintenance).",
    )
    stages: dict[str, Stage] = defaults_field(
        DEFAULT_STAGES,
        "Status label or Projects status -> stage (case-insensitive); a label"
        " named here is a status label. Replaces the defaults (Open, in review, blocked,"
        " Todo: waiting; in progress: active; Done: done); Closed is always done.",
    )


class GitHubIssuesSource(GitHubAccess):
    """GitHub Issues of the listed repositories (or an organisation's) as work items."""

    type: Literal["github_issues"]
    graphql_url: str | None = Field(None, description="GraphQL endpoint; derived by default.")
    horizon: Duration = Field(
        365 * 86400.0, description="The first sync reads the issues updated since then."
    )
    project_field: str | None = Field(
        None,
        description="The GitHub Projects single-select field holding the status (Status);"
        " the token needs read access to the projects.",
    )
    work: GitHubIssuesWork = Field(default_factory=GitHubIssuesWork)


def issues_query(project_field: str | None) -> str:
    """The GraphQL document reading a page of a repository's issues, oldest update first."""
    project = (
        "projectItems(first: 10) { nodes { fieldValueByName(name: $field) { __typename"
        " ... on ProjectV2ItemFieldSingleSelectValue { name updatedAt } } } }"
        if project_field
        else ""
    )
    field = ", $field: String!" if project_field else ""
    return f"""query($owner: String!, $name: String!, $since: DateTime, $after: String{field}) {{
  repository(owner: $owner, name: $name) {{
    issues(first: {ISSUES_PAGE}, after: $after, filterBy: {{since: $since}},
           orderBy: {{field: UPDATED_AT, direction: ASC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        number state createdAt updatedAt
        labels(first: {LABELS_PAGE}) {{ nodes {{ name }} }}
        {_timeline("first: " + str(EVENTS_PAGE))}
        {project}
      }}
    }}
  }}
}}"""


def _timeline(arguments: str) -> str:
    return f"""timelineItems({arguments}, itemTypes: {EVENT_TYPES}) {{
          pageInfo {{ hasNextPage endCursor }}
          nodes {{
            __typename
            ... on LabeledEvent {{ createdAt label {{ name }} }}
            ... on UnlabeledEvent {{ createdAt label {{ name }} }}
            ... on ClosedEvent {{ createdAt }}
            ... on ReopenedEvent {{ createdAt }}
          }}
        }}"""


EVENTS_QUERY = f"""query($owner: String!, $name: String!, $number: Int!, $after: String) {{
  repository(owner: $owner, name: $name) {{
    issue(number: $number) {{
      {_timeline(f"first: {EVENTS_PAGE}, after: $after")}
    }}
  }}
}}"""

ACTIONS: dict[str, Literal["labeled", "unlabeled", "closed", "reopened"]] = {
    "LabeledEvent": "labeled",
    "UnlabeledEvent": "unlabeled",
    "ClosedEvent": "closed",
    "ReopenedEvent": "reopened",
}


def _gone(error: Exception) -> bool:
    """A repository deleted, renamed or out of the token's reach."""
    if isinstance(error, HttpStatusError):
        return error.status in GONE
    return isinstance(error, RepositoryNotFound)


class GitHubIssues(GitHubPolled[GitHubIssuesSource]):
    """Polls the issues of the configured repositories as work items."""

    @property
    def fingerprint(self) -> str:
        config = self.config
        return work_fingerprint(self.api, config.horizon, config.work, project=config.project_field)

    def read(self, state: SourceState) -> Poll:
        self.auth.begin()
        client = HttpClient.for_poll(
            self, state, self.auth.headers, concurrency=1, session=self.session
        )
        graphql = GraphQL(client, graphql_url(self.api, self.config.graphql_url))
        saved = load_cursor(state.cursor, self.fingerprint, self.name) or {}
        marks: dict[str, float] = dict(saved.get("repos") or {})

        def read(repo: str, found: list[WorkItem]) -> None:
            marks[repo] = self.read_repository(client, graphql, repo, marks.get(repo), found)

        try:
            listed = self.organisation(client, saved.get("org"))
            repos = [*self.config.repos, *(r for r in listed if r not in self.config.repos)]
            polled = [repo for repo in repos if self.ownership.polls_repo(repo)]
            events, problems = read_each(polled, read, _gone)
        except SourceError:
            self.auth.forget()  # the token may have been revoked: mint a new one next time
            raise
        return Poll(
            events=list(events),
            cursor=dump_cursor(self.fingerprint, repos=marks, org=listed),
            validators=client.validators,
            problems=problems,
        )

    def organisation(self, client: HttpClient, known: Any) -> list[str]:
        """With ``org``, the organisation's repositories (``304``: those of the last poll)."""
        if not self.config.org:
            return []
        url = f"{self.api}/orgs/{quote(self.config.org)}/repos"
        params = {"per_page": 100}
        if not isinstance(known, list):  # a validator without its answer: no skip
            client.validators.pop(with_query(url, params), None)
        listed: list[str] = []
        for response in client.pages(url, params):
            if response.not_modified and isinstance(known, list):
                return [str(name) for name in known]
            page = response.json()
            if not isinstance(page, list):
                raise SourceError(f"GET {url}: expected a list of repositories")
            listed += [str(repo["full_name"]) for repo in page]
        return listed

    def read_repository(
        self,
        client: HttpClient,
        graphql: GraphQL,
        repo: str,
        mark: float | None,
        events: list[WorkItem],
    ) -> float:
        """Read the issues of ``repo`` updated since ``mark`` into ``events``; the newest
        update read (``mark`` when nothing changed)."""
        url = f"{self.api}/repos/{repo}/issues"
        params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": 100}
        if mark is None:  # a first sync: a validator of an earlier cursor skips nothing
            client.validators.pop(with_query(url, params), None)
        since = self.clock() - self.config.horizon if mark is None else mark
        response = client.get(url, params)
        if response.not_modified or not issues_changed(response.json(), mark):
            return since  # a repository without issues is read up to the horizon's start
        owner, name = repo.split("/", 1)
        variables: dict[str, Any] = {"owner": owner, "name": name, "since": iso(since)}
        if self.config.project_field:
            variables["field"] = self.config.project_field
        query = issues_query(self.config.project_field)

        def page(after: str | None) -> Any:
            data = graphql.run(query, {**variables, "after": after})
            return (data.get("repository") or {}).get("issues")

        newest = since
        for node in connection_nodes(page(None), page, f"{repo} issues", "GitHub"):
            events.append(self.work_item(graphql, repo, node))
            newest = max(newest, api_time(node.get("updatedAt"), "GitHub") or newest)
        return newest

    def work_item(self, graphql: GraphQL, repo: str, node: Mapping[str, Any]) -> WorkItem:
        number = int(node["number"])
        created = api_time(node.get("createdAt"), "GitHub")
        if created is None:
            raise SourceError(f"GitHub issue {repo}#{number} without createdAt")
        labels = [str(label["name"]) for label in (node.get("labels") or {}).get("nodes") or ()]
        happened = list(self.timeline(graphql, repo, number, node.get("timelineItems")))
        for project_item in (node.get("projectItems") or {}).get("nodes") or ():
            value = (project_item or {}).get("fieldValueByName") or {}
            at = api_time(value.get("updatedAt"), "GitHub")
            if value.get("name") and at is not None:
                happened.append(IssueEvent(at, "status", str(value["name"])))
        work = self.config.work
        statuses = {name.lower() for name in work.stages}
        owner = owner_named(self.ownership, labels, self.ownership.of_repo(repo))
        return WorkItem(
            source=self.name,
            key=f"github/{repo}#{number}",
            app=owner.app,
            team=owner.team,
            category=work.category(labels),
            created_at=created,
            statuses=label_history(
                created,
                happened,
                lambda label: label if label.lower() in statuses else None,
                work.stage,
                open_status=OPEN,
                closed_status=CLOSED,
            ),
        )

    def timeline(
        self, graphql: GraphQL, repo: str, number: int, first: Any
    ) -> Iterator[IssueEvent]:
        """The label, close and reopen events of an issue: the first page came with it, the
        others are read."""
        owner, name = repo.split("/", 1)

        def following(after: str) -> Any:
            variables = {"owner": owner, "name": name, "number": number, "after": after}
            data = graphql.run(EVENTS_QUERY, variables)
            return ((data.get("repository") or {}).get("issue") or {}).get("timelineItems")

        what = f"issue {repo}#{number} timelineItems"
        for event in connection_nodes(first, following, what, "GitHub"):
            action = ACTIONS.get(str((event or {}).get("__typename")))
            at = api_time((event or {}).get("createdAt"), "GitHub")
            if action is None or at is None:
                continue
            label = str((event.get("label") or {}).get("name") or "")
            yield IssueEvent(at, action, label)


def _describe(source: GitHubIssues) -> list[str]:
    config = source.config
    scope = [*config.repos, *([f"org {config.org}"] if config.org else [])]
    project = f", Projects field {config.project_field!r}" if config.project_field else ""
    what = f"issues of {', '.join(scope)} as work items{project}, API {source.api}"
    return [headline(source, "github issues", what)]


SOURCE_TYPE = SourceType("github_issues", GitHubIssuesSource, GitHubIssues.build, _describe)
