"""GraphQL: the connections the source reads, and a reader that pages several at once.

One query returns 100 pull requests with their reviews, comments, labels and first commit,
which REST would need four calls per pull request for. The reader asks for every wanted
connection of a repository in ONE query and, while some still have pages to read, asks again
for those only: a first sync costs as many requests as its longest connection has pages.

Authors' logins are asked for only to tell the author's own reviews and comments from the
others' and to classify a pull request's origin (human, AI agent, bot, with its head branch
and the first and merge commits' messages); they are compared and dropped, never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import SourceError
from ..http import HttpClient

PAGE = 100

Node = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Connection:
    """A paged connection of ``Repository``: its selection text (``$after`` stands for its
    own cursor variable), the variables it declares besides that cursor, and its path from
    the repository object."""

    name: str
    text: str
    variables: tuple[tuple[str, str], ...] = ()
    path: tuple[str, ...] = ()

    @property
    def after(self) -> str:
        return f"{self.name}After"


_PAGE_INFO = "pageInfo { hasNextPage endCursor }"
_ACTOR = "author { __typename login }"


def newest_first(call: str, order: str, nodes: str, *arguments: str) -> str:
    """The selection of a connection read a page at a time, newest first by ``order``
    (``$after`` is its cursor), with each node's fields ``nodes``."""
    given = ", ".join((*arguments, f"first: {PAGE}", "after: $after"))
    return f"""{call}({given}, orderBy: {{field: {order}, direction: DESC}}) {{
      {_PAGE_INFO}
      nodes {{ {nodes} }}
    }}"""


PULL_REQUESTS = Connection(
    "pullRequests",
    newest_first(
        "pullRequests",
        "UPDATED_AT",
        f"""number state createdAt updatedAt mergedAt closedAt additions deletions
        baseRefName headRefName isDraft title body {_ACTOR}
        labels(first: 20) {{ nodes {{ name }} }}
        mergeCommit {{ oid message }}
        commits(first: 1) {{ nodes {{ commit {{ authoredDate committedDate message }} }} }}
        reviews(first: 50) {{ nodes {{ {_ACTOR} state submittedAt }} }}
        comments(first: 50) {{ nodes {{ {_ACTOR} createdAt }} }}""",
    ),
    path=("pullRequests",),
)

HISTORY = Connection(
    "history",
    f"""target {{ ... on Commit {{
      history(first: {PAGE}, after: $after, since: $historySince) {{
        {_PAGE_INFO}
        nodes {{ oid committedDate parents(first: 2) {{ nodes {{ oid }} }} }}
      }}
    }} }}""",
    variables=(("historySince", "GitTimestamp"),),
    path=("defaultBranchRef", "target", "history"),
)

DEPLOYMENTS = Connection(
    "deployments",
    newest_first(
        "deployments",
        "CREATED_AT",
        """databaseId environment createdAt commitOid
        latestStatus { state createdAt }
        statuses(first: 20) { nodes { state createdAt } }""",
    ),
    path=("deployments",),
)

RELEASES = Connection(
    "releases",
    newest_first(
        "releases",
        "CREATED_AT",
        "databaseId tagName createdAt publishedAt isDraft isPrerelease tagCommit { oid }",
    ),
    path=("releases",),
)

TAGS = Connection(
    "tags",
    newest_first(
        "tags: refs",
        "TAG_COMMIT_DATE",
        """name
        target {
          __typename oid
          ... on Commit { committedDate }
          ... on Tag {
            tagger { date }
            target { __typename oid ... on Commit { committedDate } }
          }
        }""",
        'refPrefix: "refs/tags/"',
    ),
    path=("tags",),
)

ISSUES = Connection(
    "issues",
    newest_first(
        "issues",
        "UPDATED_AT",
        "number state createdAt closedAt updatedAt labels(first: 20) { nodes { name } }",
        "labels: $issueLabels",
        "filterBy: {since: $issuesSince}",
    ),
    variables=(("issueLabels", "[String!]"), ("issuesSince", "DateTime")),
    path=("issues",),
)


@dataclass(slots=True)
class Want:
    """One connection to read: the values of its variables, and whether, having read a
    page, the next page is wanted too (pages are ordered newest first, so a page that
    reaches back past what is already known ends the reading)."""

    connection: Connection
    values: Mapping[str, Any] = field(default_factory=dict)
    more: Callable[[list[Node]], bool] = lambda page: True


class RepositoryNotFound(SourceError):
    """The repository does not exist (any more) or the credential cannot see it."""


def graphql_url(api_url: str, configured: str | None) -> str:
    """The GraphQL endpoint: configured, else next to the REST root (``/graphql`` on
    github.com, ``/api/graphql`` for GitHub Enterprise Server's ``/api/v3``)."""
    if configured:
        return configured
    root = api_url.rstrip("/")
    if root.endswith("/api/v3"):
        return root.removesuffix("/v3") + "/graphql"
    return root + "/graphql"


def build_query(wanted: list[tuple[Want, str | None]]) -> tuple[str, dict[str, Any]]:
    """The query text and variables that read one page of each wanted connection."""
    declarations = ["$owner: String!", "$name: String!"]
    variables: dict[str, Any] = {}
    history = ""
    selections = []
    for want, after in wanted:
        connection = want.connection
        declarations.append(f"${connection.after}: String")
        variables[connection.after] = after
        for name, type_ in connection.variables:
            declarations.append(f"${name}: {type_}")
            variables[name] = want.values.get(name)
        text = connection.text.replace("$after", f"${connection.after}")
        if connection is HISTORY:
            history = text
        else:
            selections.append(text)
    body = "\n    ".join(selections)
    query = (
        f"query({', '.join(declarations)}) {{\n"
        f"  repository(owner: $owner, name: $name) {{\n"
        f"    defaultBranchRef {{ name {history} }}\n"
        f"    {body}\n"
        f"  }}\n"
        f"}}"
    )
    return query, variables


class GraphQL:
    """POSTs queries through the shared client; a GraphQL ``errors`` array fails the poll,
    except a repository that cannot be found, which is that repository's problem."""

    def __init__(self, client: HttpClient, url: str) -> None:
        self.client = client
        self.url = url

    def run(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        response = self.client.post_json(self.url, {"query": query, "variables": variables})
        body = response.json()
        if not isinstance(body, dict):
            raise SourceError(f"POST {self.url}: the answer is not a GraphQL response")
        errors = body.get("errors")
        if errors:
            details = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
            messages = "; ".join(str(e.get("message", ""))[:200] for e in details[:3])
            if details and all(e.get("type") == "NOT_FOUND" for e in details):
                raise RepositoryNotFound(f"POST {self.url}: {messages}")
            raise SourceError(f"POST {self.url}: GraphQL errors: {messages or str(errors)[:200]}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise SourceError(f"POST {self.url}: the answer has no data")
        return data


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def read(
    graphql: GraphQL, repo: str, wants: Mapping[str, Want]
) -> tuple[str | None, dict[str, list[Node]]]:
    """(default branch name, nodes of each wanted connection), reading all of them in the
    same queries until each has no next page or does not want one."""
    owner, name = repo.split("/", 1)
    after: dict[str, str | None] = dict.fromkeys(wants)
    nodes: dict[str, list[Node]] = {key: [] for key in wants}
    active = list(wants)
    branch: str | None = None
    while True:
        query, variables = build_query([(wants[key], after[key]) for key in active])
        data = graphql.run(query, {"owner": owner, "name": name, **variables})
        repository = data.get("repository")
        if not isinstance(repository, dict):
            raise RepositoryNotFound(f"{repo}: repository not found")
        branch = _dig(repository, ("defaultBranchRef", "name"))
        following = []
        for key in active:
            connection = _dig(repository, wants[key].connection.path)
            if connection is None:
                continue  # an empty repository has no default branch, so no history
            try:
                page = [node for node in connection["nodes"] if isinstance(node, dict)]
                info = connection["pageInfo"]
                has_next, cursor = bool(info["hasNextPage"]), info["endCursor"]
            except (KeyError, TypeError):
                raise SourceError(
                    f"POST {graphql.url}: {repo}: unexpected shape of {key}"
                ) from None
            nodes[key].extend(page)
            if has_next and cursor and page and wants[key].more(page):
                after[key] = str(cursor)
                following.append(key)
        if not following:
            return branch if isinstance(branch, str) else None, nodes
        active = following
