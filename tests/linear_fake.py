"""A stand-in for Linear's GraphQL API, served through ``responses`` at one ``POST`` URL:

- ``issues(first, after, filter: {updatedAt: {gte}}, orderBy: updatedAt)``: the issues
  updated at or after ``since``, most recently updated first, ``first`` a page with opaque
  cursors; each with its team, state, labels and the first page of its history (newest first);
- ``issue(id) { history(first: 100, after) }``: the further pages of an issue's history;
- the API key checked in ``Authorization`` (as it is; ``Bearer`` for OAuth tokens), 400 with
  an ``AUTHENTICATION_ERROR`` otherwise;
- Linear's rate-limit headers on every answer (``X-RateLimit-Requests-Limit``, ``-Remaining``,
  ``-Reset`` in epoch milliseconds, the same for ``Complexity``, and ``X-Complexity``), and
  ``rate_limit_next()``: the next answer is Linear's rate-limit rejection (HTTP 400, a
  ``RATELIMITED`` error, the requests budget at 0 until a reset).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
import responses

from tests.github_fake import graphql_page

Node = dict[str, Any]
STATES = {
    "Triage": "triage",
    "Backlog": "backlog",
    "Todo": "unstarted",
    "In Progress": "started",
    "In Review": "started",
    "Done": "completed",
    "Canceled": "canceled",
}


def state(name: str) -> Node:
    return {"name": name, "type": STATES[name]}


def moved(at: str, source: str | None, to: str) -> Node:
    """A history entry: the workflow state changed from ``source`` to ``to`` at ``at``."""
    return {
        "createdAt": at,
        "fromState": state(source) if source else None,
        "toState": state(to),
    }


def edited(at: str) -> Node:
    """A history entry that is no state change (a title, an assignee, a label)."""
    return {"createdAt": at, "fromState": None, "toState": None}


def moves(*entries: str) -> list[Node]:
    """History entries written an entry a string: ``"2026-03-02T10:00 Backlog -> In Progress"``
    (a state change at that UTC minute) or ``"2026-03-04T11:00 edited"`` (no state change)."""
    history = []
    for entry in entries:
        minute, _, change = entry.partition(" ")
        at = f"{minute}:00.000Z"
        source, arrow, to = change.partition(" -> ")
        history.append(moved(at, source, to) if arrow else edited(at))
    return history


def issue(
    identifier: str, created: str, labels: list[str], history: list[Node], **fields: Any
) -> Node:
    """An Issue ``identifier`` (``ENG-1``: its team's key, a number) with its own id: its state
    now is the last ``toState`` of its history (oldest first here), else ``Backlog``; updated
    at its last history entry."""
    team = identifier.split("-")[0]
    changes = [entry for entry in history if entry["toState"]]
    now = changes[-1]["toState"] if changes else state("Backlog")
    node = {
        "id": f"2f1b6a30-0000-4000-8000-{identifier.encode().hex()[-12:]:0>12}",
        "identifier": identifier,
        "createdAt": created,
        "updatedAt": max([created, *(entry["createdAt"] for entry in history)]),
        "team": {"key": team},
        "project": None,
        "state": now,
        "labels": {"nodes": [{"name": name} for name in labels]},
        "history": history,
    }
    node.update(fields)
    return node


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _page(nodes: list[Node], after: str | None, size: int) -> Node:
    return graphql_page(nodes, after, size, prefix="linear")


class FakeLinear:
    def __init__(self, url: str, key: str, clock: Callable[[], float]) -> None:
        self.url = url
        self.key = key
        self.clock = clock
        self.issues: list[Node] = []
        self.queries: list[dict[str, Any]] = []
        self.remaining = 5000
        self._rate_limited = 0

    def register_on(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, self.url, callback=self.answer)

    def rate_limit_next(self, times: int = 1) -> None:
        self._rate_limited += times

    def headers(self, complexity: int) -> dict[str, str]:
        reset = str(int((self.clock() + 3600) * 1000))
        return {
            "Content-Type": "application/json",
            "X-RateLimit-Requests-Limit": "5000",
            "X-RateLimit-Requests-Remaining": str(self.remaining),
            "X-RateLimit-Requests-Reset": reset,
            "X-RateLimit-Complexity-Limit": "3000000",
            "X-RateLimit-Complexity-Remaining": "2999000",
            "X-RateLimit-Complexity-Reset": reset,
            "X-Complexity": str(complexity),
        }

    def answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if request.headers.get("Authorization") not in (self.key, f"Bearer {self.key}"):
            error = {
                "message": "Authentication required",
                "extensions": {"code": "AUTHENTICATION_ERROR"},
            }
            return 400, {"Content-Type": "application/json"}, json.dumps({"errors": [error]})
        if self._rate_limited:
            self._rate_limited -= 1
            headers = {
                **self.headers(0),
                "X-RateLimit-Requests-Remaining": "0",
                "X-RateLimit-Requests-Reset": str(int((self.clock() + 30) * 1000)),
            }
            error = {
                "message": "Rate limit exceeded",
                "extensions": {"code": "RATELIMITED", "statusCode": 429},
            }
            return 400, headers, json.dumps({"errors": [error]})
        payload = json.loads(request.body or b"{}")
        self.queries.append(payload)
        self.remaining -= 1
        query, variables = payload["query"], payload["variables"]
        if "issue(id:" in query:
            found = next(i for i in self.issues if i["id"] == variables["id"])
            history = _page(list(reversed(found["history"])), variables.get("after"), 100)
            body: Node = {"data": {"issue": {"history": history}}}
            return 200, self.headers(100), json.dumps(body)
        size = int(re.search(r"issues\(first: (\d+)", query).group(1))  # type: ignore[union-attr]
        history_size = int(re.search(r"history\(first: (\d+)", query).group(1))  # type: ignore[union-attr]
        since = _time(variables["since"])
        matching = sorted(
            (found for found in self.issues if _time(found["updatedAt"]) >= since),
            key=lambda i: i["updatedAt"],
            reverse=True,
        )
        page = _page(matching, variables.get("after"), size)
        page["nodes"] = [
            {**found, "history": _page(list(reversed(found["history"])), None, history_size)}
            for found in page["nodes"]
        ]
        body = {"data": {"issues": page}}
        return 200, self.headers(size * history_size), json.dumps(body)
