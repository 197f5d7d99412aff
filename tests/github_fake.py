"""A stand-in for GitHub's REST and GraphQL APIs, served through ``responses`` or, by
tests/github_server.py, a real HTTP server on 127.0.0.1 (both call the same handlers).

The test describes repositories as data (GraphQL objects as the GraphQL reference shapes
them: PullRequest, Commit, Deployment, Release, Ref, Issue; REST objects for repositories and
workflow runs) and the fake answers like GitHub:

- REST ``per_page=1`` lists (pulls, commits, deployments, releases, tags, issues, workflow runs)
  and the unpaged list of tag refs (``git/matching-refs/tags``), with an ``ETag`` computed from
  the body, and ``304`` when ``If-None-Match`` matches it;
- REST lists with ``Link: <...>; rel="next"`` pagination (organisation repositories, workflow
  runs, pull requests filtered by ``state``: open by default, as GitHub does, each with its
  ``user`` (``login``, ``type``; a bot's login ends in ``[bot]``) and ``created_at``);
- code scanning alerts of a repository, by its ``code_scanning`` state: ``analysed`` lists
  them (empty), ``none`` answers 404 (no analysis found), ``disabled`` 403;
- GraphQL: the connections the query asks for, ordered as GitHub orders them, filtered by
  ``since`` arguments, 100 per page with opaque cursors; ``NOT_FOUND`` errors for a missing
  repository;
- installation tokens for a GitHub App (``POST /app/installations/{id}/access_tokens``).

``fail(...)`` queues one answer that replaces the next matching request (5xx, 403, bad JSON).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses

from kpi_exporter.sources.github import graphql_url

Node = dict[str, Any]
Answer = tuple[int, dict[str, str], str]
PAGE = 100


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- builders of GraphQL objects ------------------------------------------------------------


def commit(oid: str, at: str, *parents: str) -> Node:
    return {"oid": oid, "committedDate": at, "parents": {"nodes": [{"oid": p} for p in parents]}}


def user(login: str | None) -> Node | None:
    return None if login is None else {"__typename": "User", "login": login}


def bot(login: str) -> Node:
    return {"__typename": "Bot", "login": login}


def review(author: Node | str | None, state: str, at: str | None) -> Node:
    actor = user(author) if isinstance(author, str) else author
    return {"author": actor, "state": state, "submittedAt": at}


def comment(author: Node | str | None, at: str) -> Node:
    actor = user(author) if isinstance(author, str) else author
    return {"author": actor, "createdAt": at}


def pull(
    number: int,
    *,
    created: str,
    first_commit: str,
    author: str | Node = "alice",
    merged: str | None = None,
    merge_commit: str | None = None,
    closed: str | None = None,
    updated: str | None = None,
    reviews: list[Node] | None = None,
    comments: list[Node] | None = None,
    labels: list[str] | None = None,
    base: str = "main",
    additions: int = 10,
    deletions: int = 2,
    title: str = "Change something",
    head: str = "feature",
    message: str = "Change something",
    merge_message: str | None = None,
    body: str = "",
) -> Node:
    state = "MERGED" if merged else ("CLOSED" if closed else "OPEN")
    times = [created, merged or "", closed or ""]
    times += [r["submittedAt"] or "" for r in reviews or []]
    times += [c["createdAt"] for c in comments or []]
    return {
        "number": number,
        "state": state,
        "title": title,
        "createdAt": created,
        "updatedAt": updated or max(times),
        "mergedAt": merged,
        "closedAt": closed or merged,
        "additions": additions,
        "deletions": deletions,
        "baseRefName": base,
        "headRefName": head,
        "body": body,
        "isDraft": False,
        "author": user(author) if isinstance(author, str) else author,
        "labels": {"nodes": [{"name": name} for name in labels or []]},
        "mergeCommit": (
            {"oid": merge_commit, "message": merge_message or f"Merge pull request #{number}"}
            if merge_commit
            else None
        ),
        "commits": {
            "nodes": [
                {
                    "commit": {
                        "authoredDate": first_commit,
                        "committedDate": first_commit,
                        "message": message,
                    }
                }
            ]
        },
        "reviews": {"nodes": reviews or []},
        "comments": {"nodes": comments or []},
    }


def deployment(
    database_id: int,
    commit_oid: str,
    created: str,
    *statuses: tuple[str, str],
    environment: str = "production",
) -> Node:
    """``statuses``: (state, createdAt), oldest first; the last one is the latest status."""
    nodes = [{"state": state, "createdAt": at} for state, at in statuses]
    return {
        "databaseId": database_id,
        "environment": environment,
        "createdAt": created,
        "commitOid": commit_oid,
        "latestStatus": nodes[-1] if nodes else None,
        "statuses": {"nodes": nodes},
    }


def release(
    database_id: int,
    tag: str,
    commit_oid: str,
    created: str,
    published: str | None,
    *,
    draft: bool = False,
    prerelease: bool = False,
) -> Node:
    return {
        "databaseId": database_id,
        "tagName": tag,
        "createdAt": created,
        "publishedAt": published,
        "isDraft": draft,
        "isPrerelease": prerelease,
        "tagCommit": {"oid": commit_oid},
    }


def tag(name: str, commit_oid: str, committed: str, tagged: str | None = None) -> Node:
    """A lightweight tag (no ``tagged``) or an annotated one tagged at ``tagged``."""
    target = {"__typename": "Commit", "oid": commit_oid, "committedDate": committed}
    if tagged is None:
        return {"name": name, "target": target}
    return {
        "name": name,
        "target": {
            "__typename": "Tag",
            "oid": hashlib.sha1(name.encode()).hexdigest(),
            "tagger": {"date": tagged},
            "target": target,
        },
    }


def issue(number: int, created: str, labels: list[str], closed: str | None = None) -> Node:
    return {
        "number": number,
        "state": "CLOSED" if closed else "OPEN",
        "createdAt": created,
        "closedAt": closed,
        "updatedAt": closed or created,
        "labels": {"nodes": [{"name": name} for name in labels]},
    }


def labeled(at: str, name: str, *, removed: bool = False) -> Node:
    """A ``LabeledEvent`` (``UnlabeledEvent`` when ``removed``) of an issue's timeline."""
    kind = "UnlabeledEvent" if removed else "LabeledEvent"
    return {"__typename": kind, "createdAt": at, "label": {"name": name}}


def closed(at: str) -> Node:
    return {"__typename": "ClosedEvent", "createdAt": at}


def reopened(at: str) -> Node:
    return {"__typename": "ReopenedEvent", "createdAt": at}


def work_issue(
    number: int,
    created: str,
    labels: list[str],
    events: list[Node],
    *,
    project_status: tuple[str, str] | None = None,
) -> Node:
    """An Issue with its timeline (label, close and reopen events, oldest first), closed when
    its last close is not followed by a reopening, updated at its last event; with
    ``project_status`` (name, updatedAt), in a GitHub Project whose Status field holds it (a
    change of a project's field updates the project item, not the issue)."""
    shut = [e for e in events if e["__typename"] in ("ClosedEvent", "ReopenedEvent")]
    closed_at = shut[-1]["createdAt"] if shut and shut[-1]["__typename"] == "ClosedEvent" else None
    moments = [created, *(e["createdAt"] for e in events)]
    node = issue(number, created, labels, closed_at)
    node["updatedAt"] = max(moments)  # a Projects field change does not update the issue
    node["timelineItems"] = events
    value = None
    if project_status:
        value = {
            "__typename": "ProjectV2ItemFieldSingleSelectValue",
            "name": project_status[0],
            "updatedAt": project_status[1],
        }
    node["projectItems"] = {"nodes": [{"fieldValueByName": value}] if value else []}
    return node


def workflow_run(run_id: int, sha: str, created: str, finished: str) -> Node:
    """A REST workflow run (GET /repos/{owner}/{repo}/actions/workflows/{id}/runs)."""
    return {
        "id": run_id,
        "name": "deploy",
        "head_branch": "main",
        "head_sha": sha,
        "run_number": run_id % 1000,
        "event": "push",
        "status": "completed",
        "conclusion": "success",
        "workflow_id": 161335,
        "created_at": created,
        "updated_at": finished,
        "run_started_at": created,
    }


def org_repository(org: str, name: str, *, topics: list[str] | None = None, **extra: Any) -> Node:
    """A REST repository object (GET /orgs/{org}/repos), trimmed to common fields."""
    return {
        "id": abs(hash((org, name))) % 10**8,
        "node_id": "R_kgDO" + name,
        "name": name,
        "full_name": f"{org}/{name}",
        "private": True,
        "owner": {"login": org, "type": "Organization"},
        "html_url": f"https://github.com/{org}/{name}",
        "fork": False,
        "archived": False,
        "disabled": False,
        "default_branch": "main",
        "topics": topics or [],
        "visibility": "private",
        "pushed_at": "2026-05-01T00:00:00Z",
        **extra,
    }


# --- the fake -------------------------------------------------------------------------------


@dataclass
class FakeRepo:
    full_name: str
    default_branch: str = "main"
    commits: list[Node] = field(default_factory=list)  # newest first, as history lists them
    pulls: list[Node] = field(default_factory=list)
    deployments: list[Node] = field(default_factory=list)
    releases: list[Node] = field(default_factory=list)
    tags: list[Node] = field(default_factory=list)
    issues: list[Node] = field(default_factory=list)
    runs: list[Node] = field(default_factory=list)
    gone: bool = False
    code_scanning: str = "none"  # analysed | none (404, no analysis found) | disabled (403)


def _cursor(index: int, prefix: str = "cursor:v2") -> str:
    return base64.b64encode(f"{prefix}:{index}".encode()).decode()


def _index(cursor: str | None) -> int:
    return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1]) if cursor else 0


def graphql_page(
    nodes: list[Node], after: str | None, size: int = PAGE, prefix: str = "cursor:v2"
) -> Node:
    """A GraphQL connection of ``size`` of ``nodes`` after the cursor ``after``: ``nodes``
    and ``pageInfo``, its opaque cursors ``{prefix}:{index}`` in base64."""
    start = _index(after)
    chunk = nodes[start : start + size]
    return {
        "pageInfo": {
            "hasNextPage": start + size < len(nodes),
            "endCursor": _cursor(start + len(chunk), prefix) if chunk else None,
        },
        "nodes": chunk,
    }


# REST field: GraphQL field, besides id (databaseId).
DEPLOYMENT_FIELDS = {"sha": "commitOid", "environment": "environment", "created_at": "createdAt"}
RELEASE_FIELDS = {"tag_name": "tagName", "draft": "isDraft", "published_at": "publishedAt"}


def _rest(nodes: list[Node], fields: dict[str, str]) -> list[Node]:
    """The REST list of GraphQL ``nodes``, newest created first: ``id`` is the node's
    ``databaseId``, and each other REST field of ``fields`` takes its GraphQL field's value."""
    newest = sorted(nodes, key=lambda node: node["createdAt"], reverse=True)
    return [
        {"id": node["databaseId"], **{rest: node[graphql] for rest, graphql in fields.items()}}
        for node in newest
    ]


def _rest_state(pull: Node) -> str:
    """REST has two states: a merged pull request is closed."""
    return "open" if pull["state"] == "OPEN" else "closed"


def _rest_user(author: Node | None) -> Node | None:
    """The REST ``user`` of a GraphQL author: a bot's login ends in ``[bot]``."""
    if author is None:
        return None
    is_bot = author.get("__typename") == "Bot"
    login = author["login"] + ("[bot]" if is_bot else "")
    return {"login": login, "type": "Bot" if is_bot else "User"}


def _name_key(name: str) -> list[tuple[int, int | str]]:
    """A tag name with its runs of digits compared as numbers (v1.10.0 after v1.9.0)."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]


def _tag_commit(node: Node) -> str:
    target = node["target"]
    return str((target.get("target") or target)["oid"])


def _tag_date(node: Node) -> str:
    target = node["target"]
    return str((target.get("target") or target)["committedDate"])


class FakeGitHub:
    def __init__(
        self, api: str = "https://api.github.com", clock: Callable[[], float] | None = None
    ) -> None:
        self.api = api.rstrip("/")
        self.graphql_url = graphql_url(self.api, None)
        self.repos: dict[str, FakeRepo] = {}
        self.orgs: dict[str, list[Node]] = {}
        self.clock = clock or (lambda: 0.0)
        self.token_lifetime = 3600.0
        self.installation_tokens: list[str] = []
        self.jwts: list[str] = []  # the JWT of every installation token request
        self.authorizations: list[str] = []  # Authorization header of every API request
        self.queries: list[Node] = []  # GraphQL request bodies
        self.calls: list[tuple[str, str, bool]] = []  # (method, URL, conditional) per request
        self.statuses: list[int] = []  # status of every API request answered
        self.on_request: Callable[[], None] | None = None  # e.g. to move a fake clock
        self._failures: list[tuple[str, re.Pattern[str], Answer]] = []
        self._lock = threading.Lock()

    def repo(self, full_name: str, **fields: Any) -> FakeRepo:
        self.repos[full_name] = FakeRepo(full_name, **fields)
        return self.repos[full_name]

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        body: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``method`` request whose path matches ``path`` (a regex) so."""
        self._failures.append((method, re.compile(path), (status, headers or {}, body)))

    def serve_at(self, api: str) -> None:
        """Answer under another REST root (a real server's ``http://127.0.0.1:PORT``)."""
        self.api = api.rstrip("/")
        self.graphql_url = graphql_url(self.api, None)

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[[Any], Answer]]]:
        """(method, URL pattern, handler) of every GitHub URL the fake answers."""
        api = re.escape(self.api)
        return [
            (responses.GET, re.compile(f"^{api}/.*"), self._answered(self._get)),
            (responses.POST, re.compile(f"^{api}/app/installations/.*"), self._token),
            (
                responses.POST,
                re.compile(f"^{re.escape(self.graphql_url)}$"),
                self._answered(self._graphql),
            ),
        ]

    def register_on(self, mock: responses.RequestsMock) -> None:
        """Serve every GitHub URL through ``mock``."""
        self.mock = mock
        for method, pattern, handler in self._routes():
            mock.add_callback(method, pattern, handler)

    def answer(self, request: Any) -> Answer:
        """Answer one request (``method``, ``url``, ``headers``, ``body``, as a prepared
        request of ``requests`` has them) the way ``register_on`` routes it: the entry point
        of a real server around the fake (tests/github_server.py)."""
        for method, pattern, handler in self._routes():
            if request.method == method and pattern.match(request.url):
                return handler(request)
        return self._json(404, {"message": "Not Found"})

    def reset_calls(self) -> None:
        self.calls.clear()
        self.statuses.clear()
        self.queries.clear()
        self.authorizations.clear()

    def _answered(self, handler: Callable[[Any], Answer]) -> Callable[[Any], Answer]:
        """Record each API request (not token requests) and the status it got."""

        def answer(request: Any) -> Answer:
            headers = request.headers
            conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
            self.authorizations.append(str(headers.get("Authorization", "")))
            if self.on_request is not None:
                self.on_request()
            result = handler(request)
            with self._lock:
                self.calls.append((request.method, request.url, conditional))
                self.statuses.append(result[0])
            return result

        return answer

    # --- plumbing ----------------------------------------------------------------------------

    def _failure(self, method: str, path: str) -> Answer | None:
        with self._lock:
            for index, (wanted, pattern, answer) in enumerate(self._failures):
                if wanted == method and pattern.search(path):
                    del self._failures[index]
                    return answer
        return None

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)

    # --- REST ---------------------------------------------------------------------------------

    def _get(self, request: Any) -> Answer:
        parts = urlsplit(request.url)
        path = parts.path[len(urlsplit(self.api).path) :]
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        failure = self._failure("GET", path)
        if failure is not None:
            return failure
        if match := re.fullmatch(r"/orgs/([^/]+)/repos", path):
            return self._listed(request, self.orgs.get(match.group(1), []), query)
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/(.+)", path)
        repo = self.repos.get(match.group(1)) if match else None
        if match is None or repo is None or repo.gone:
            return self._json(404, {"message": "Not Found", "status": "404"})
        kind = match.group(2)
        if kind == "pulls":
            wanted = query.get("state", "open")
            newest = sorted(repo.pulls, key=lambda p: p["updatedAt"], reverse=True)
            body: Any = [
                {
                    "number": p["number"],
                    "state": _rest_state(p),
                    "created_at": p["createdAt"],
                    "updated_at": p["updatedAt"],
                    "user": _rest_user(p["author"]),
                }
                for p in newest
                if wanted == "all" or _rest_state(p) == wanted
            ]
        elif kind == "code-scanning/alerts":
            if repo.code_scanning == "disabled":
                message = "Code scanning is not enabled for this repository."
                return self._json(403, {"message": message})
            if repo.code_scanning == "none":
                return self._json(404, {"message": "no analysis found"})
            body = []
        elif kind == "commits":
            if not repo.commits:
                return self._json(409, {"message": "Git Repository is empty."})
            body = [
                {"sha": c["oid"], "commit": {"committer": {"date": c["committedDate"]}}}
                for c in repo.commits
            ]
        elif kind == "deployments":
            body = _rest(repo.deployments, DEPLOYMENT_FIELDS)
        elif kind == "releases":
            body = _rest(repo.releases, RELEASE_FIELDS)
        elif kind == "tags":
            # GitHub lists tags by name, descending, numbers compared as numbers: not newest
            # first (a backport v1.4.3 tagged after v2.0.0 comes second).
            by_name = sorted(repo.tags, key=lambda t: _name_key(t["name"]), reverse=True)
            body = [{"name": t["name"], "commit": {"sha": _tag_commit(t)}} for t in by_name]
        elif kind == "git/matching-refs/tags":
            # Every tag ref, in ref name order, in one unpaged list.
            refs = sorted(repo.tags, key=lambda t: t["name"])
            objects = f"{self.api}/repos/{repo.full_name}/git"
            body = [
                {
                    "ref": f"refs/tags/{t['name']}",
                    "node_id": "REF_" + t["name"],
                    "url": f"{objects}/refs/tags/{t['name']}",
                    "object": {
                        "sha": t["target"]["oid"],
                        "type": "tag" if t["target"]["__typename"] == "Tag" else "commit",
                        "url": f"{objects}/commits/{t['target']['oid']}",
                    },
                }
                for t in refs
            ]
            return self._listed(request, body, {"per_page": str(len(body) or 1)})
        elif kind == "issues":
            # pull requests are issues too in REST: listed with a ``pull_request`` object
            items = [{"number": i["number"], "updated_at": i["updatedAt"]} for i in repo.issues]
            for p in repo.pulls:
                url = f"{self.api}/repos/{repo.full_name}/pulls/{p['number']}"
                items.append(
                    {
                        "number": p["number"],
                        "updated_at": p["updatedAt"],
                        "pull_request": {"url": url},
                    }
                )
            body = sorted(items, key=lambda i: i["updated_at"], reverse=True)
        elif re.fullmatch(r"actions/workflows/[^/]+/runs", kind):
            runs = sorted(repo.runs, key=lambda r: r["created_at"], reverse=True)
            return self._listed(request, runs, query, key="workflow_runs")
        else:
            return self._json(404, {"message": "Not Found"})
        return self._listed(request, body, query)

    def _listed(
        self, request: Any, items: list[Any], query: dict[str, str], key: str = ""
    ) -> Answer:
        """One page of a REST list, with a Link header and an ETag of the page."""
        per_page = int(query.get("per_page", "30"))
        page = int(query.get("page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        body: Any = {"total_count": len(items), key: chunk} if key else chunk
        text = json.dumps(body)
        etag = f'W/"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'
        headers = {"ETag": etag, "x-ratelimit-remaining": "4990"}
        if page * per_page < len(items):
            base = request.url.split("?")[0]
            following = {**query, "page": str(page + 1)}
            link = base + "?" + "&".join(f"{k}={v}" for k, v in sorted(following.items()))
            headers["Link"] = f'<{link}>; rel="next"'
        if request.headers.get("If-None-Match") == etag:
            return 304, headers, ""
        return 200, {"Content-Type": "application/json", **headers}, text

    # --- app tokens ---------------------------------------------------------------------------

    def _token(self, request: Any) -> Answer:
        failure = self._failure("POST", urlsplit(request.url).path)
        if failure is not None:
            return failure
        self.jwts.append(str(request.headers.get("Authorization", "")).removeprefix("Bearer "))
        token = f"ghs_installation{len(self.installation_tokens) + 1}"
        self.installation_tokens.append(token)
        expires = iso(self.clock() + self.token_lifetime)
        body = {
            "token": token,
            "expires_at": expires,
            "permissions": {"contents": "read"},
            "repository_selection": "all",
        }
        return self._json(201, body)

    # --- GraphQL ------------------------------------------------------------------------------

    def _graphql(self, request: Any) -> Answer:
        failure = self._failure("POST", "graphql")
        if failure is not None:
            return failure
        payload = json.loads(request.body)
        self.queries.append(payload)
        query, variables = payload["query"], payload["variables"]
        repo = self.repos.get(f"{variables['owner']}/{variables['name']}")
        if repo is None or repo.gone:
            name = f"{variables['owner']}/{variables['name']}"
            return self._json(
                200,
                {
                    "data": {"repository": None},
                    "errors": [
                        {
                            "type": "NOT_FOUND",
                            "path": ["repository"],
                            "locations": [{"line": 2, "column": 3}],
                            "message": f"Could not resolve to a Repository with the name '{name}'.",
                        }
                    ],
                },
            )
        if "timelineItems(" in query:
            return self._json(
                200, {"data": {"repository": self._work_issues(repo, query, variables)}}
            )
        data: Node = {"defaultBranchRef": {"name": repo.default_branch} if repo.commits else None}
        if "history(" in query and repo.commits:
            since = variables.get("historySince") or ""
            nodes = [c for c in repo.commits if c["committedDate"] >= since]
            data["defaultBranchRef"]["target"] = {
                "history": graphql_page(nodes, variables.get("historyAfter"))
            }
        if "pullRequests(" in query:
            nodes = sorted(repo.pulls, key=lambda p: p["updatedAt"], reverse=True)
            data["pullRequests"] = graphql_page(nodes, variables.get("pullRequestsAfter"))
        if "deployments(" in query:
            nodes = sorted(repo.deployments, key=lambda d: d["createdAt"], reverse=True)
            data["deployments"] = graphql_page(nodes, variables.get("deploymentsAfter"))
        if "releases(" in query:
            nodes = sorted(repo.releases, key=lambda r: r["createdAt"], reverse=True)
            data["releases"] = graphql_page(nodes, variables.get("releasesAfter"))
        if "refs(" in query:
            nodes = sorted(repo.tags, key=_tag_date, reverse=True)
            data["tags"] = graphql_page(nodes, variables.get("tagsAfter"))
        if "issues(" in query:
            since = variables.get("issuesSince") or ""
            wanted = {label.lower() for label in variables.get("issueLabels") or []}
            nodes = [
                i
                for i in sorted(repo.issues, key=lambda i: i["updatedAt"], reverse=True)
                if i["updatedAt"] >= since
                and (not wanted or wanted & {n["name"].lower() for n in i["labels"]["nodes"]})
            ]
            data["issues"] = graphql_page(nodes, variables.get("issuesAfter"))
        return self._json(200, {"data": {"repository": data}})

    def _work_issues(self, repo: FakeRepo, query: str, variables: dict[str, Any]) -> Node:
        """The issues of the GitHub Issues source's query (oldest update first, updated at or
        after ``since``, ``first`` a page, each with its first page of timeline events and,
        when asked, its Projects items), or one issue's further timeline events."""
        if "issue(number:" in query:
            found = next(i for i in repo.issues if i["number"] == variables["number"])
            events = graphql_page(found["timelineItems"], variables.get("after"))
            return {"issue": {"timelineItems": events}}
        since = variables.get("since") or ""
        size = int(re.search(r"issues\(first: (\d+)", query).group(1))  # type: ignore[union-attr]
        matching = [
            i for i in sorted(repo.issues, key=lambda i: i["updatedAt"]) if i["updatedAt"] >= since
        ]
        page = graphql_page(matching, variables.get("after"), size)
        nodes = []
        for found in page["nodes"]:
            node = {k: v for k, v in found.items() if k not in ("projectItems", "closedAt")}
            node["timelineItems"] = graphql_page(found["timelineItems"], None)
            if "projectItems(" in query:
                node["projectItems"] = found["projectItems"]
            nodes.append(node)
        return {"issues": {**page, "nodes": nodes}}
