"""A stand-in for GitLab's REST API v4, served through ``responses``: routes matched on path
and exact query, weak ETags and ``304`` answers as GitLab gives them, ``Link: rel="next"``
pages, queued one-off replies (errors, rate limits); and builders of the payloads the API
reference describes (deployments, merge requests and their commits, notes, approvals and
diffs, issues, repository commits).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests
import responses

API = "https://gitlab.example.test/api/v4"
# The first sync's updated_after: the tests' NOW (2026-03-10) less the default horizon (365 d).
FLOOR = "2025-03-10T00:00:00Z"

ALICE = {"id": 7, "username": "alice", "name": "Alice Author", "state": "active"}
BOB = {"id": 9, "username": "bob", "name": "Bob Reviewer", "state": "active"}


def at(text: str) -> str:
    """GitLab's time format: ``2026-03-02T08:00`` -> ``2026-03-02T08:00:00.000Z``."""
    return f"{text}:00.000Z"


def earlier(text: str, minutes: int) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) - timedelta(minutes=minutes)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- a fake GitLab -------------------------------------------------------------------------


Reply = tuple[int, dict[str, str], Any]


class FakeGitLab:
    """GET routes matched on path AND exact query. A body answers 200 with a weak ETag over
    its content, or 304 when the request's If-None-Match matches it (as GitLab does); queued
    replies (errors, rate limits) come first."""

    def __init__(self, api: str = API) -> None:
        self.api = api
        self.bodies: dict[str, dict[tuple[tuple[str, str], ...], Reply]] = {}
        self.queued: dict[tuple[str, tuple[tuple[str, str], ...]], list[Reply]] = {}

    def route(
        self, path: str, body: Any, headers: dict[str, str] | None = None, **params: Any
    ) -> str:
        """Serve ``body`` at ``path`` with ``params``; returns the full URL."""
        url = self._register(path)
        query = tuple(sorted((k, str(v)) for k, v in params.items()))
        self.bodies[url][query] = (200, headers or {}, body)
        return url + ("?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query) if query else "")

    def queue(
        self, path: str, status: int, headers: dict[str, str], body: Any, /, **params: Any
    ) -> None:
        """Answer the next request to ``path`` with ``params`` this way, once."""
        url = self._register(path)
        query = tuple(sorted((k, str(v)) for k, v in params.items()))
        self.queued.setdefault((url, query), []).append((status, headers, body))

    def _register(self, path: str) -> str:
        url = self.api + path
        if url not in self.bodies:
            self.bodies[url] = {}
            responses.add_callback(responses.GET, url, callback=self._reply(url))
        return url

    def pages(self, path: str, pages: list[list[Any]], **params: Any) -> None:
        """A list over several pages, linked with ``Link: <...>; rel="next"`` like GitLab."""
        for number, items in enumerate(pages, start=1):
            extra = {} if number == 1 else {"page": number}
            headers = {}
            if number < len(pages):
                following = self.route(path, [], **params, page=number + 1)
                headers["Link"] = f'<{following}>; rel="next"'
            self.route(path, items, headers, **params, **extra)

    def _reply(self, url: str) -> Any:
        def reply(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            query = tuple(sorted(_query(request.url or "")))
            waiting = self.queued.get((url, query))
            if waiting:
                status, headers, body = waiting.pop(0)
                text = body if isinstance(body, str) else json.dumps(body)
                return status, headers, text
            if query not in self.bodies[url]:
                return 404, {}, json.dumps({"message": "404 Not Found"})
            status, headers, body = self.bodies[url][query]
            text = body if isinstance(body, str) else json.dumps(body)
            etag = 'W/"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'
            if request.headers.get("If-None-Match") == etag:
                return 304, {"ETag": etag}, ""
            return status, {"ETag": etag, "Content-Type": "application/json", **headers}, text

        return reply


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def project_path(path: str) -> str:
    return f"/projects/{quote(path, safe='')}"


def list_params(name: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        "order_by": "updated_at",
        "sort": "desc",
        "updated_after": FLOOR,
        "per_page": 100,
    }
    if name == "deployments":
        params["status"] = "success"
    elif name == "merge_requests":
        params["state"] = "all"
    return params


# --- payloads, shaped as in the REST reference ---------------------------------------------


def deployment(
    id_: int, sha: str, finished: str, environment: str = "production", **fields: Any
) -> dict[str, Any]:
    """``GET /projects/:id/deployments`` item: the fields of GitLab's Deployment entity (id,
    iid, ref, sha, created_at, updated_at, user, environment, deployable, status; no
    finished_at), the job's own times in ``deployable``."""
    started = earlier(finished, 5)
    item = {
        "id": id_,
        "iid": id_ - 100,
        "ref": "main",
        "sha": sha,
        "created_at": started,
        "updated_at": finished,
        "status": "success",
        "user": {"id": 1, "name": "Administrator", "username": "root", "state": "active"},
        "environment": {"id": 9, "name": environment, "external_url": "https://shop.test"},
        "deployable": {
            "id": id_ + 500,
            "status": "success",
            "stage": "deploy",
            "name": f"deploy-{environment}",
            "ref": "main",
            "tag": False,
            "created_at": started,
            "started_at": started,
            "finished_at": finished,
            "duration": 300.0,
            "commit": {"id": sha, "short_id": sha[:8], "title": "Deploy"},
            "pipeline": {"id": id_ + 900, "sha": sha, "ref": "main", "status": "success"},
        },
    }
    item.update(fields)
    return item


def merge_request(iid: int, created: str, state: str = "merged", **fields: Any) -> dict[str, Any]:
    """``GET /projects/:id/merge_requests`` item."""
    merged = fields.pop("merged_at", None)
    item = {
        "id": 2000 + iid,
        "iid": iid,
        "project_id": 3,
        "title": f"Change {iid}",
        "description": "",
        "state": state,
        "created_at": created,
        "updated_at": fields.pop("updated_at", merged or created),
        "merged_at": merged,
        "closed_at": None,
        "target_branch": "main",
        "source_branch": f"feature-{iid}",
        "author": ALICE,
        "assignees": [],
        "reviewers": [BOB],
        "labels": [],
        "draft": False,
        "sha": f"head{iid}",
        "merge_commit_sha": None,
        "squash_commit_sha": None,
        "squash": False,
        "changes_count": "1",
        "web_url": f"https://gitlab.example.test/acme/shop/-/merge_requests/{iid}",
    }
    item.update(fields)
    return item


def issue(iid: int, created: str, **fields: Any) -> dict[str, Any]:
    """``GET /projects/:id/issues`` item."""
    item = {
        "id": 3000 + iid,
        "iid": iid,
        "project_id": 3,
        "title": f"Issue {iid}",
        "state": "opened",
        "created_at": created,
        "updated_at": fields.get("closed_at") or created,
        "closed_at": None,
        "labels": [],
        "issue_type": "issue",
        "type": "ISSUE",
        "severity": "UNKNOWN",
        "author": ALICE,
        "assignees": [BOB],
    }
    item.update(fields)
    return item


def commit(
    sha: str, committed: str, parents: Iterable[str], authored: str | None = None
) -> dict[str, Any]:
    """``GET /projects/:id/repository/commits`` (and MR commits) item."""
    return {
        "id": sha,
        "short_id": sha[:8],
        "title": f"Commit {sha}",
        "message": f"Commit {sha}\n",
        "author_name": "Alice Author",
        "author_email": "alice@example.test",
        "authored_date": authored or committed,
        "committer_name": "GitLab",
        "committer_email": "noreply@gitlab.example.test",
        "committed_date": committed,
        "created_at": committed,
        "parent_ids": list(parents),
        "web_url": f"https://gitlab.example.test/acme/shop/-/commit/{sha}",
    }


def note(
    note_id: int, author: dict[str, Any], created: str, body: str, system: bool = False
) -> dict[str, Any]:
    """``GET /projects/:id/merge_requests/:iid/notes`` item."""
    return {
        "id": note_id,
        "type": None if system else "DiscussionNote",
        "body": body,
        "author": author,
        "created_at": created,
        "updated_at": created,
        "system": system,
        "noteable_id": 2000,
        "noteable_type": "MergeRequest",
        "resolvable": False,
        "confidential": False,
    }


def approvals(*approved_by: dict[str, Any]) -> dict[str, Any]:
    """``GET /projects/:id/merge_requests/:iid/approvals``."""
    return {
        "id": 2000,
        "iid": 1,
        "project_id": 3,
        "state": "merged",
        "approved": bool(approved_by),
        "approvals_required": 1,
        "approvals_left": 0 if approved_by else 1,
        "approved_by": list(approved_by),
    }


def diff(added: int, removed: int, path: str = "app/main.py") -> dict[str, Any]:
    """``GET /projects/:id/merge_requests/:iid/diffs`` item."""
    text = (
        f"@@ -1,{removed + 1} +1,{added + 1} @@\n context\n" + "-old\n" * removed + "+new\n" * added
    )
    return {
        "old_path": path,
        "new_path": path,
        "a_mode": "100644",
        "b_mode": "100644",
        "diff": text,
        "new_file": False,
        "renamed_file": False,
        "deleted_file": False,
        "generated_file": False,
    }


DETAIL_ENDPOINTS = ("approvals", "commits", "diffs", "notes")


@dataclass
class Details:
    commits: list[dict[str, Any]]
    notes: list[dict[str, Any]] = field(default_factory=list)
    approvals: dict[str, Any] = field(default_factory=approvals)
    diffs: list[dict[str, Any]] = field(default_factory=list)


def serve_details(fake: FakeGitLab, path: str, iid: int, details: Details) -> None:
    base = f"{project_path(path)}/merge_requests/{iid}"
    fake.route(f"{base}/commits", details.commits, per_page=100)
    fake.route(f"{base}/notes", details.notes, sort="asc", order_by="created_at", per_page=100)
    fake.route(f"{base}/approvals", details.approvals)
    fake.route(f"{base}/diffs", details.diffs, per_page=100)


def serve_lists(
    fake: FakeGitLab,
    path: str,
    deployments: list[Any] | None = None,
    merge_requests: list[Any] | None = None,
    issues: list[Any] | None = None,
) -> None:
    for name, items in (
        ("deployments", deployments),
        ("merge_requests", merge_requests),
        ("issues", issues),
    ):
        fake.route(f"{project_path(path)}/{name}", items or [], **list_params(name))


def serve_history(fake: FakeGitLab, path: str, since: str, commits: list[Any]) -> None:
    """``GET /projects/:id/repository/commits?since=...``: the default branch, newest first."""
    fake.route(f"{project_path(path)}/repository/commits", commits, since=since, per_page=100)


# --- issue events (the work items of ``gitlab_issues``) --------------------------------------

BOT_USER = {"id": 42, "username": "project_3_bot_5f1c", "name": "triage bot", "state": "active"}


def label_event(id_: int, created: str, name: str, action: str = "add") -> dict[str, Any]:
    """``GET /projects/:id/issues/:issue_iid/resource_label_events`` item."""
    return {
        "id": id_,
        "user": BOT_USER if id_ % 2 else ALICE,
        "created_at": created,
        "resource_type": "Issue",
        "resource_id": 3000 + id_ // 100,
        "label": {
            "id": abs(hash(name)) % 1000,
            "name": name,
            "color": "#428BCA",
            "description": None,
        },
        "action": action,
    }


def state_event(id_: int, created: str, state: str) -> dict[str, Any]:
    """``GET /projects/:id/issues/:issue_iid/resource_state_events`` item."""
    return {
        "id": id_,
        "user": BOT_USER,
        "created_at": created,
        "resource_type": "Issue",
        "resource_id": 3000 + id_ // 100,
        "source_commit": None,
        "source_merge_request_id": None,
        "state": state,
    }


def serve_issue_events(
    fake: FakeGitLab,
    path: str,
    iid: int,
    labels: list[dict[str, Any]],
    states: list[dict[str, Any]],
) -> None:
    base = f"{project_path(path)}/issues/{iid}"
    fake.route(f"{base}/resource_label_events", labels, per_page=100)
    fake.route(f"{base}/resource_state_events", states, per_page=100)
