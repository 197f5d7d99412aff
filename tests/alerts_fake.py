"""A fake of an Opsgenie-shaped alert list for ``responses``: Opsgenie's ``GET /v2/alerts``
and its successor's, Jira Service Management operations' ``GET /jsm/ops/api/{cloudId}/v1/alerts``.
Both answer the one query the source sends, sorted by ``updatedAt``, newest first, a page at
a time (offset and a page size); a subclass writes the answer as its vendor's reference does
(:meth:`FakeAlertList.body`). No validators: neither reference documents any. Queued replies
come first."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import responses

from tests.support import built_source, ts

# The scenario's clock and ownership, and the series labels of its apps.
NOW = ts("2026-03-10T00:00:00Z")
FLOOR_MS = int((NOW - 365 * 86400) * 1000)  # the default horizon: a year before NOW
MINUTE = 60.0
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, services: [checkout]}
  api: {team: platform}
"""
SHOP = {"app": "shop", "team": "payments", "environment": "production"}
API_APP = {"app": "api", "team": "platform", "environment": "production"}
UNKNOWN = {"app": "unknown", "team": "unassigned", "environment": "production"}


def alert(
    id_: str, created: str, updated: str | None = None, status: str = "open", **fields: Any
) -> dict[str, Any]:
    """An alert of the list, with the fields of Opsgenie's description."""
    item: dict[str, Any] = {
        "id": id_,
        "tinyId": id_[-2:],
        "alias": f"alias-{id_}",
        "message": f"Alert {id_}",
        "status": status,
        "acknowledged": False,
        "isSeen": True,
        "tags": [],
        "snoozed": False,
        "count": 1,
        "lastOccurredAt": created,
        "createdAt": created,
        "updatedAt": updated or created,
        "source": "prometheus",
        "owner": "alice@example.test",
        "priority": "P1",
        "responders": [{"type": "team", "id": "8418d193-2dab-4490-b331-8c02cdd196b7"}],
        "integration": {"id": "4513b7ea", "name": "Prometheus", "type": "Prometheus"},
        "report": {},
    }
    item.update(fields)
    return item


# The scenario both sources are tested on (tests/test_alert_lists.py):
# CHECKOUT: P1 on tag "checkout" (a service of shop), 03-05 12:00, acknowledged after 120,000
#   ms (2 min), closed after 2,700,000 ms (45 min), naming deployment #4711.
# API_OPEN: P2 tagged "App:api", 03-09 20:00, open, unacknowledged.
# UNMAPPED: P2 tagged "billing-db", a service nobody mapped, 03-08 06:00, closed without a
#   report (resolved at updatedAt, 08:30).
CHECKOUT = alert(
    "j1",
    "2026-03-05T12:00:00.000Z",
    "2026-03-05T12:45:00.000Z",
    status="closed",
    acknowledged=True,
    tags=["checkout", "prod"],
    message="Checkout errors after deployment #4711",
    report={"ackTime": 120000, "closeTime": 2700000, "acknowledgedBy": "x", "closedBy": "x"},
)
API_OPEN = alert("j2", "2026-03-09T20:00:00.000Z", priority="P2", tags=["App:api"])
UNMAPPED = alert(
    "j3",
    "2026-03-08T06:00:00.000Z",
    "2026-03-08T08:30:00.000Z",
    status="closed",
    priority="P2",
    tags=["billing-db"],
)


class FakeAlertList:
    """The list at ``url``; ``query`` is the one search it expects, ``size`` the name of its
    page size parameter; an answer names its next page in ``{next_field: {next: ...}}``, a
    link of ``next_base`` and the page's parameters."""

    size = "limit"
    values = "data"
    next_field = "paging"
    next_base = ""

    def __init__(self, url: str, query: str) -> None:
        self.url = url
        self.query = query
        self.alerts: dict[str, dict[str, Any]] = {}
        self.queued: list[tuple[int, dict[str, str], Any]] = []
        responses.add_callback(responses.GET, url, self.reply)

    def add(self, *items: dict[str, Any]) -> None:
        self.alerts.update((item["id"], item) for item in items)

    def reply(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if self.queued:
            status, headers, reply = self.queued.pop(0)
            return status, headers, (reply if isinstance(reply, str) else json.dumps(reply))
        params = dict(parse_qsl(urlsplit(request.url or "").query))
        wanted = (self.query, "updatedAt", "desc")
        assert (params["query"], params["sort"], params["order"]) == wanted
        offset, size = int(params["offset"]), int(params[self.size])
        items = sorted(self.alerts.values(), key=lambda a: a["updatedAt"], reverse=True)
        following = None
        if offset + size < len(items):
            following = {**params, "offset": str(offset + size)}
        body = self.body(items[offset : offset + size], len(items), following)
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def body(
        self, page: list[dict[str, Any]], total: int, following: dict[str, str] | None
    ) -> dict[str, Any]:
        """The answer holding ``page`` of ``total`` alerts, and the next page's parameters."""
        body: dict[str, Any] = {self.values: page, **self.envelope(total)}
        if following is not None:
            key, link = self.next_link(following)
            body[key] = {"next": link}
        return body

    def envelope(self, total: int) -> dict[str, Any]:
        """What an answer holds besides its alerts."""
        raise NotImplementedError

    def next_link(self, following: dict[str, str]) -> tuple[str, str]:
        """Where an answer names its next page, and how."""
        return self.next_field, f"{self.next_base}?{urlencode(following)}"


def offsets() -> list[int]:
    """The ``offset`` of every request made, in order."""
    return [
        int(dict(parse_qsl(urlsplit(str(c.request.url)).query))["offset"]) for c in responses.calls
    ]


FakeT = TypeVar("FakeT", bound=FakeAlertList)


def serving(
    monkeypatch: pytest.MonkeyPatch, secret_env: str, secret: str, make: Callable[[], FakeT]
) -> Iterator[FakeT]:
    """A fixture's body: the fake ``make`` builds, its routes on ``responses``' default mock
    while the test runs, with ``secret`` in the environment variable ``secret_env``."""
    monkeypatch.setenv(secret_env, secret)
    with responses.mock:
        yield make()


def alert_source(
    settings: dict[str, Any], api: str, slept: list[float] | None, **config: Any
) -> Any:
    """The alert list source of ``settings`` at ``api`` (``config`` over them) under
    ``CONFIG``, its clock at ``NOW``, its sleep appending to ``slept``."""
    return built_source(
        {**settings, "api_url": api, **config}, CONFIG, clock=lambda: NOW, slept=slept
    )
