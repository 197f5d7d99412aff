"""Jira work items: the first sync of 10,000 work items and one steady-state poll, over HTTP.

A fake Jira Cloud (the operations the source calls, shaped as in the REST v3 description of
``../shared/real-data/api-specs/jira-cloud-v3-subset.json``) is served by a real HTTP server on
127.0.0.1 with 20 ms of latency per request: ``GET /rest/api/3/status`` with an ETag (``304``
on a match), ``POST /rest/api/3/search/jql`` (``nextPageToken`` pages of ``maxResults``
issues, ``updated >=`` honoured, at most 100 histories of a changelog per issue as Jira
returns them) and ``GET /rest/api/3/issue/{key}/changelog`` (``startAt`` pages of 100).

The data: 10,000 issues created over the last year, one every ~53 minutes; each goes To Do ->
In Progress (1 day later) -> In Review (a queue, 2 days) -> Done (3 days) as far as "now"
allows; 1 in 100 also flips between In Progress and In Review 150 times, so its changelog is
longer than a search returns and is read from the changelog endpoint (2 pages).

The Jira source is built from a configuration by ``build_sources`` and polled as the exporter
polls it (``Scheduler.poll_once``: poll, record into a SQLite store, render). Figures:
requests and wall time of the first sync, events stored, RSS; then one poll a minute later
with nothing changed. Pages to read: 1 status list + ceil(N / 100) searches + 2 changelog
pages per long issue. Run alone with ``python -m benchmarks.jira_work``.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from benchmarks.common import memory_line, verdict
from kpi_exporter.cli import build_sources
from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.scheduler import Scheduler
from kpi_exporter.store import Store

ITEMS = 10_000
LONG_EVERY = 100  # one issue in LONG_EVERY has a changelog of 153 histories
FLIPS = 150
LATENCY = 0.020
DAY = 86400.0
STATUSES = [
    {"id": "1", "name": "To Do", "statusCategory": {"key": "new"}},
    {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
    {"id": "10003", "name": "In Review", "statusCategory": {"key": "indeterminate"}},
    {"id": "10001", "name": "Done", "statusCategory": {"key": "done"}},
]
NAMES = {status["id"]: status["name"] for status in STATUSES}
TOKEN_ENV = "KPI_BENCH_JIRA_TOKEN"


def jira_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def history(at: float, source: str, to: str) -> dict[str, Any]:
    item = {"field": "status", "from": source, "fromString": NAMES[source], "to": to}
    return {"created": jira_time(at), "items": [{**item, "toString": NAMES[to]}]}


def make_issues(now: float) -> list[dict[str, Any]]:
    issues = []
    step = 365 * DAY / ITEMS
    for n in range(ITEMS):
        created = now - 365 * DAY + n * step
        moves = [(created + DAY, "1", "3"), (created + 2 * DAY, "3", "10003")]
        if n % LONG_EVERY == 0:
            for flip in range(FLIPS):
                at = created + 2 * DAY + (flip + 1) * 60
                moves.append((at, "10003", "3") if flip % 2 == 0 else (at, "3", "10003"))
        moves.append((created + 3 * DAY, "10003", "10001"))
        moves = [move for move in moves if move[0] <= now]
        status = moves[-1][2] if moves else "1"
        histories = [history(*move) for move in moves]
        updated = moves[-1][0] if moves else created
        issues.append(
            {
                "key": f"SHOP-{n + 1}",
                "updated_at": updated,
                "histories": histories,
                "fields": {
                    "created": jira_time(created),
                    "updated": jira_time(updated),
                    "status": {
                        "id": status,
                        "name": NAMES[status],
                        "statusCategory": next(
                            s["statusCategory"] for s in STATUSES if s["id"] == status
                        ),
                    },
                    "project": {"key": "SHOP"},
                    "components": [],
                    "issuetype": {"name": ("Story", "Bug", "Task")[n % 3]},
                    "labels": ["tech-debt"] if n % 5 == 0 else [],
                },
            }
        )
    issues.sort(key=lambda issue: (issue["updated_at"], issue["key"]))
    return issues


class FakeJira(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.issues = issues
        self.by_key = {issue["key"]: issue for issue in issues}
        self.served: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, what: str) -> None:
        with self.lock:
            self.served[what] += 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeJira

    def log_message(self, format: str, *args: Any) -> None:
        return

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if status == 304 else json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        time.sleep(LATENCY)
        parts = urlsplit(self.path)
        if parts.path == "/rest/api/3/status":
            if self.headers.get("If-None-Match") == '"s1"':
                self.server.count("status 304")
                return self.answer(304, None, {"ETag": '"s1"'})
            self.server.count("status 200")
            return self.answer(200, STATUSES, {"ETag": '"s1"'})
        found = re.fullmatch(r"/rest/api/3/issue/([^/]+)/changelog", parts.path)
        if found:
            self.server.count("changelog 200")
            histories = self.server.by_key[found.group(1)]["histories"]
            query = dict(parse_qsl(parts.query))
            start, size = int(query.get("startAt", 0)), min(100, int(query.get("maxResults", 100)))
            page = histories[start : start + size]
            return self.answer(
                200,
                {
                    "startAt": start,
                    "maxResults": size,
                    "total": len(histories),
                    "isLast": start + size >= len(histories),
                    "values": page,
                },
            )
        self.answer(404, {"errorMessages": ["not found"]})

    def do_POST(self) -> None:
        time.sleep(LATENCY)
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.count("search 200")
        since_text = re.search(r'updated >= "([^"]+)"', payload["jql"])
        since = (
            datetime.strptime(since_text.group(1), "%Y/%m/%d %H:%M").replace(tzinfo=UTC).timestamp()
            if since_text
            else 0.0
        )
        matching = [issue for issue in self.server.issues if issue["updated_at"] >= since]
        start = int(payload.get("nextPageToken") or 0)
        size = int(payload.get("maxResults", 50))
        page = []
        for issue in matching[start : start + size]:
            histories = issue["histories"]
            changelog = {"startAt": 0, "maxResults": 100, "total": len(histories)}
            page.append(
                {
                    "key": issue["key"],
                    "fields": issue["fields"],
                    "changelog": {**changelog, "histories": histories[:100]},
                }
            )
        body: dict[str, Any] = {"issues": page}
        if start + size < len(matching):
            body["nextPageToken"] = str(start + size)
        else:
            body["isLast"] = True
        self.answer(200, body)


def config_text(url: str, store: Path) -> str:
    return f"""
store: {{path: {store}}}
apps:
  shop: {{team: payments, services: [SHOP]}}
sources:
  - type: jira
    name: jira
    api_url: {url}
    email: kpi@acme.test
    token_env: {TOKEN_ENV}
    work_jql: project = SHOP
    work:
      category_labels: {{tech-debt: tech_debt}}
      stages: {{In Review: waiting}}
"""


def main() -> None:
    started = time.perf_counter()
    now = time.time()
    issues = make_issues(now)
    long_issues = sum(1 for issue in issues if len(issue["histories"]) > 100)
    needed = 1 + math.ceil(len(issues) / 100) + 2 * long_issues
    print(
        f"jira work items: {len(issues):,} issues, {long_issues} with more than 100 histories;"
        f" {LATENCY * 1000:.0f} ms latency per request"
    )
    os.environ[TOKEN_ENV] = "jira-benchmark-dummy-token"
    server = FakeJira(issues)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
            config = parse_config(config_text(server.url, Path(tmp) / "kpi.db"))
            health = Health()
            (source,), _ = build_sources(config, Ownership(config), health)
            health.register(source.name, "jira")
            store = Store(Path(tmp) / "kpi.db")
            pipeline = Pipeline(store, config.kpi_settings(), config.link_settings(), health)
            scheduler = Scheduler(pipeline, [source])

            began = time.perf_counter()
            cpu = time.process_time()
            if not scheduler.poll_once(source):
                raise SystemExit(f"the first sync failed: {health.snapshot()[0].last_error}")
            first_wall, first_cpu = time.perf_counter() - began, time.process_time() - cpu
            first = Counter(server.served)
            completed = sum(pipeline.aggregate.values["kpi_work_items_completed_total"].values())
            print(
                f"  first sync: {sum(first.values()):,} requests ({dict(sorted(first.items()))})"
                f" in {first_wall:.1f} s wall, {first_cpu:.1f} s CPU of this process (the fake"
                f" server's JSON included); pages to read {needed:,}"
            )
            print(
                f"  work items stored: {store.count():,}; completed: {completed:,.0f};"
                f" {memory_line()}"
            )

            server.served.clear()
            began = time.perf_counter()
            if not scheduler.poll_once(source):
                raise SystemExit(f"the steady poll failed: {health.snapshot()[0].last_error}")
            steady_wall = time.perf_counter() - began
            steady = Counter(server.served)
            print(
                f"  steady-state poll: {sum(steady.values()):,} requests"
                f" ({dict(sorted(steady.items()))}) in {steady_wall:.2f} s"
            )
            store.close()
    finally:
        server.shutdown()
    print(
        f"  target first sync requests <= pages to read ({sum(first.values()):,} <= {needed:,}):"
        f" {verdict(sum(first.values()) <= needed)}"
    )
    print(f"jira work items benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
