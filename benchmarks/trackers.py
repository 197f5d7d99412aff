"""GitHub Issues, GitLab issues and Linear work items: the first sync of 10,000 items and one
steady-state poll, over HTTP.

Each tracker's fake (``tests/github_fake.py``, ``tests/linear_fake.py``, and the GitLab issue
list and events below, shaped as in GitLab's REST reference) is served by a real HTTP server
on 127.0.0.1, in a child process (so that the CPU time and RSS measured are the exporter's
alone), with 20 ms of latency per request.

The data: 10,000 issues created over the last year, one every ~53 minutes, in one repository,
project or workspace; each goes to in progress a day after its creation, to review (a queue)
a day later, and is closed or done a day after that, as far as "now" allows; 1 in 100 also
flips a status 150 times while in review, so its events or history are longer than a page.

The source is built from a configuration by ``build_sources`` and polled as the exporter polls
it (``Scheduler.poll_once``: poll, record into a SQLite store, render). Figures: requests by
kind and status, wall time and CPU time of the first sync, items stored, RSS; then one more
poll, with nothing changed. ``python -m benchmarks.trackers`` runs the three, each in
a process of its own (its RSS is the process's); ``python -m benchmarks.trackers gitlab`` one.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict
from tests.local_fake import write_answer

from benchmarks.common import memory_line, verdict
from kpi_exporter.cli import build_sources
from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.scheduler import Scheduler
from kpi_exporter.store import Store

ITEMS = 10_000
LONG_EVERY = 100
FLIPS = 150
LATENCY = 0.020
DAY = 86400.0
TOKEN_ENV = "KPI_BENCH_TRACKER_TOKEN"
TRACKERS = ("github", "gitlab", "linear")
Answer = tuple[int, dict[str, str], str]


def at(seconds: float, millis: bool = False) -> str:
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".000Z" if millis else "Z")


def moves(n: int, now: float) -> tuple[float, list[tuple[float, str]]]:
    """The creation of issue ``n`` and its moves (time, to): in progress, review (with 150
    flips between review and blocked for 1 in 100), done; those before ``now``."""
    created = now - 365 * DAY + n * 365 * DAY / ITEMS
    steps = [(created + DAY, "in progress"), (created + 2 * DAY, "in review")]
    if n % LONG_EVERY == 0:
        for flip in range(FLIPS):
            steps.append((created + 2 * DAY + (flip + 1) * 60, ("blocked", "in review")[flip % 2]))
    steps.append((created + 3 * DAY, "done"))
    return created, [step for step in steps if step[0] <= now]


# --- the three trackers' data and answers ----------------------------------------------------


def github_fake(now: float) -> Any:
    from tests.github_fake import FakeGitHub, closed, labeled, work_issue

    fake = FakeGitHub()
    issues = []
    for n in range(ITEMS):
        created, steps = moves(n, now)
        events = [labeled(at(created), "enhancement")]
        status = ""
        for moment, to in steps:
            if to == "done":
                events.append(closed(at(moment)))
                continue
            events.append(labeled(at(moment), to))
            if status:
                events.append(labeled(at(moment), status, removed=True))
            status = to
        labels = ["enhancement", *([status] if status else [])]
        issues.append(work_issue(n + 1, at(created), labels, events))
    fake.repo("acme/shop").issues = issues
    return fake


class FakeGitLabIssues:
    """``GET /projects/:id/issues`` (newest update first, ``updated_after``, ``page`` and
    ``per_page`` with ``Link`` headers, a weak ETag over the page and ``304`` on a match) and
    each issue's ``resource_label_events`` and ``resource_state_events`` (``page`` and
    ``per_page``), as GitLab's REST reference describes them."""

    def __init__(self, now: float) -> None:
        self.api = ""
        self.issues: list[dict[str, Any]] = []
        self.labels: dict[int, list[dict[str, Any]]] = {}
        self.states: dict[int, list[dict[str, Any]]] = {}
        for n in range(ITEMS):
            created, steps = moves(n, now)
            iid = n + 1
            label_events: list[dict[str, Any]] = []
            states: list[dict[str, Any]] = []
            status = ""
            for moment, to in steps:
                if to == "done":
                    states.append(_state_event(len(states) + 1, moment, "closed"))
                    continue
                label_events.append(_label_event(len(label_events), moment, f"workflow::{to}"))
                if status:
                    removed = _label_event(len(label_events), moment, f"workflow::{status}")
                    label_events.append({**removed, "action": "remove"})
                status = to
            updated = steps[-1][0] if steps else created
            closed = bool(steps) and steps[-1][1] == "done"
            self.issues.append(
                {
                    "id": 10_000 + iid,
                    "iid": iid,
                    "project_id": 3,
                    "title": f"Issue {iid}",
                    "state": "closed" if closed else "opened",
                    "created_at": at(created, True),
                    "updated_at": at(updated, True),
                    "closed_at": at(updated, True) if closed else None,
                    "labels": ["type::feature", *([f"workflow::{status}"] if status else [])],
                    "issue_type": "issue",
                }
            )
            self.labels[iid], self.states[iid] = label_events, states
        self.issues.sort(key=lambda issue: issue["updated_at"], reverse=True)

    def serve_at(self, url: str) -> None:
        self.api = url + "/api/v4"

    def answer(self, request: Any) -> Answer:
        parts = urlsplit(request.url)
        query = dict(parse_qsl(parts.query))
        path = parts.path.removeprefix("/api/v4/projects/acme%2Fshop/issues")
        if path == "":
            floor = query.get("updated_after", "")
            items = [issue for issue in self.issues if issue["updated_at"] >= floor]
        else:
            iid, kind = path.strip("/").split("/")
            items = (self.labels if kind == "resource_label_events" else self.states)[int(iid)]
        size, page = int(query.get("per_page", 20)), int(query.get("page", 1))
        text = json.dumps(items[(page - 1) * size : page * size])
        headers = {"Content-Type": "application/json"}
        if page * size < len(items):
            following = {**query, "page": str(page + 1)}
            link = "&".join(f"{k}={v}" for k, v in sorted(following.items()))
            headers["Link"] = f'<{request.url.split("?")[0]}?{link}>; rel="next"'
        if path == "":
            headers["ETag"] = f'W/"{hash(text) & 0xFFFFFFFF:08x}"'
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return 304, {"ETag": headers["ETag"]}, ""
        return 200, headers, text


def _event(id_: int, moment: float, **fields: Any) -> dict[str, Any]:
    """A resource label or state event of an issue, with ``fields`` (its label and action,
    or its state)."""
    return {
        "id": id_,
        "user": {"id": 42, "username": "triage-bot"},
        "created_at": at(moment, True),
        "resource_type": "Issue",
        "resource_id": 1,
        **fields,
    }


def _label_event(id_: int, moment: float, name: str) -> dict[str, Any]:
    label = {"id": 1, "name": name, "color": "#428BCA", "description": None}
    return _event(id_, moment, label=label, action="add")


def _state_event(id_: int, moment: float, state: str) -> dict[str, Any]:
    return _event(id_, moment, state=state)


def linear_fake(now: float) -> Any:
    from tests.linear_fake import FakeLinear, issue, moved

    names = {"in progress": "In Progress", "in review": "In Review", "blocked": "Todo"}
    fake = FakeLinear("", "lin_api_benchmark", time.time)
    for n in range(ITEMS):
        created, steps = moves(n, now)
        history = []
        status = "Backlog"
        for moment, to in steps:
            target = "Done" if to == "done" else names[to]
            history.append(moved(at(moment, True), status, target))
            status = target
        fake.issues.append(issue(f"SHOP-{n + 1}", at(created, True), ["Feature"], history))
    return fake


# --- serving a fake in a child process ------------------------------------------------------


def kind_of(tracker: str, method: str, target: str) -> str:
    path = urlsplit(target).path
    if method == "POST":
        return "graphql"
    return path.rsplit("/", 1)[-1] if tracker == "gitlab" else "issues"


def serve(tracker: str, now: float, ready: Any) -> None:
    """In the child: build the fake, serve it on a free port, put the URL in ``ready``."""
    from tests.github_server import Request

    fake = {"github": github_fake, "gitlab": FakeGitLabIssues, "linear": linear_fake}[tracker](now)
    served: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self.handle_request()

        def do_POST(self) -> None:
            self.handle_request()

        def handle_request(self) -> None:
            if self.path == "/__served":
                with lock:
                    text = json.dumps(served)
                    served.clear()
                return self.reply(200, {"Content-Type": "application/json"}, text)
            time.sleep(LATENCY)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = CaseInsensitiveDict(dict(self.headers.items()))
            request = Request(self.command, url + self.path, headers, body)
            status, answer_headers, text = fake.answer(request)
            with lock:
                served[f"{kind_of(tracker, self.command, self.path)} {status}"] += 1
            self.reply(status, answer_headers, text)

        def reply(self, status: int, headers: dict[str, str], text: str) -> None:
            write_answer(self, status, headers, b"" if status == 304 else text.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}"
    if tracker == "linear":
        fake.url = url + "/graphql"
        fake.key = "lin_api_benchmark"
    else:
        fake.serve_at(url)
    ready.put(url)
    server.serve_forever()


def config_text(tracker: str, url: str, store: Path) -> str:
    entry = {
        "github": f"{{type: github_issues, name: issues, token_env: {TOKEN_ENV},"
        f" api_url: '{url}', repos: [acme/shop]}}",
        "gitlab": f"{{type: gitlab_issues, name: issues, token_env: {TOKEN_ENV},"
        f" api_url: '{url}/api/v4', projects: [acme/shop], concurrency: 4}}",
        "linear": f"{{type: linear, name: issues, token_env: {TOKEN_ENV},"
        f" api_url: '{url}/graphql', work: {{stages: {{In Review: waiting}}}}}}",
    }[tracker]
    return f"""
store: {{path: {store}}}
apps:
  shop: {{team: payments, repos: [acme/shop], services: [SHOP]}}
sources:
  - {entry}
"""


def pages_to_read(tracker: str, now: float) -> int:
    """The requests a first sync cannot do without, counted from the data: an issue's label
    events are one per move to a status, plus one for the status label taken off."""
    needed = 0
    for n in range(ITEMS):
        steps = moves(n, now)[1]
        statuses = [to for _, to in steps if to != "done"]
        labels = 2 * len(statuses) - (1 if statuses else 0)
        if tracker == "github":  # 100 events come with the issue, pages of 100 after
            events = 1 + labels + (len(steps) - len(statuses))
            needed += max(0, math.ceil((events - 100) / 100))
        elif tracker == "gitlab":  # two event lists, pages of 100, at least one each
            needed += max(1, math.ceil(labels / 100)) + 1
        else:  # 50 history entries come with the issue, pages of 100 after
            needed += max(0, math.ceil((len(steps) - 50) / 100))
    if tracker == "github":
        return needed + 1 + math.ceil(ITEMS / 50)  # the REST list, 50 issues a query
    if tracker == "gitlab":
        return needed + math.ceil(ITEMS / 100)  # list pages of 100
    return needed + math.ceil(ITEMS / 50)


def served_counts(url: str) -> Counter[str]:
    with urllib.request.urlopen(url + "/__served") as answer:
        return Counter(json.loads(answer.read()))


def run(tracker: str) -> None:
    started = time.perf_counter()
    now = time.time()
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    child = context.Process(target=serve, args=(tracker, now, ready), daemon=True)
    child.start()
    url = ready.get(timeout=600)
    print(f"{tracker} work items: {ITEMS:,} issues, {LATENCY * 1000:.0f} ms latency per request")
    os.environ[TOKEN_ENV] = "lin_api_benchmark"
    try:
        with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
            config = parse_config(config_text(tracker, url, Path(tmp) / "kpi.db"))
            health = Health()
            (source,), _ = build_sources(config, Ownership(config), health)
            health.register(source.name, tracker)
            store = Store(Path(tmp) / "kpi.db")
            pipeline = Pipeline(store, config.kpi_settings(), config.link_settings(), health)
            scheduler = Scheduler(pipeline, [source])
            poll: Callable[[], bool] = lambda: scheduler.poll_once(source)  # noqa: E731

            began, cpu = time.perf_counter(), time.process_time()
            if not poll():
                raise SystemExit(f"the first sync failed: {health.snapshot()[0].last_error}")
            first_wall, first_cpu = time.perf_counter() - began, time.process_time() - cpu
            first = served_counts(url)
            completed = sum(pipeline.aggregate.values["kpi_work_items_completed_total"].values())
            print(
                f"  first sync: {sum(first.values()):,} requests ({dict(sorted(first.items()))})"
                f" in {first_wall:.1f} s wall, {first_cpu:.1f} s CPU of the exporter"
            )
            print(
                f"  work items stored: {store.count():,}; completed: {completed:,.0f};"
                f" {memory_line()}"
            )
            began = time.perf_counter()
            if not poll():
                raise SystemExit(f"the steady poll failed: {health.snapshot()[0].last_error}")
            steady_wall = time.perf_counter() - began
            steady = served_counts(url)
            print(
                f"  steady-state poll: {sum(steady.values()):,} requests"
                f" ({dict(sorted(steady.items()))}) in {steady_wall:.2f} s"
            )
            store.close()
    finally:
        child.terminate()
        child.join(10)
    needed = pages_to_read(tracker, now)
    print(
        f"  target first sync requests <= pages to read ({sum(first.values()):,} <= {needed:,}):"
        f" {verdict(sum(first.values()) <= needed)}"
    )
    print(f"{tracker} work items benchmark: {time.perf_counter() - started:.0f} s")


def main(names: list[str]) -> int:
    """The named trackers in this process; none named: each of the three in a process of its
    own, so that the RSS of one does not include the other's."""
    for name in names:
        if name not in TRACKERS:
            raise SystemExit(f"unknown tracker {name!r}: {', '.join(TRACKERS)}")
        run(name)
    if not names:
        for name in TRACKERS:
            command = [sys.executable, "-m", "benchmarks.trackers", name]
            if subprocess.run(command, check=False).returncode != 0:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
