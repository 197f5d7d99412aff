"""GitHub: the first sync of 200 repositories and one steady-state poll, over HTTP.

A fake GitHub API (tests/github_fake.py) is served by a real HTTP server on 127.0.0.1
(tests/github_server.py) with 20 ms of latency per request and GitHub's primary rate-limit
headers. It holds 200 repositories with a year of history each: 300 pull requests (270
merged, 15 closed, 15 open), a default branch consistent with them (a squash commit, or a
merge commit of the branch's own commit, per merged pull request), 150 production
deployments of the branch's head at their time (1 in 25 failed), and 4 incidents.

The GitHub source is built from a configuration by ``build_sources`` and polled as the
exporter polls it (``Scheduler.poll_once``: poll, record into a SQLite store, render), in
this process. Figures: requests and wall time of the first sync by status code, the pages it
had to read, events stored; then one poll with nothing changed, its requests by status code
and those counted against the primary rate limit. Run alone with
``python -m benchmarks.github_sync``.

Pages to read, per repository, from the data: one per conditional REST check (pulls,
commits, deployments, issues), plus ceil(n / 100) GraphQL pages of each connection of n
nodes within the horizon, at least one (an empty connection still answers): pull requests,
default-branch history, deployments, issues. The source reads the connections of a
repository together, so it needs only the checks plus its longest connection's pages.

The server shares this process with the source: its own work (JSON answers) counts in the
wall time, which is therefore an upper bound of what the exporter alone would take.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.github_fake import (
    PAGE,
    FakeGitHub,
    comment,
    commit,
    deployment,
    iso,
    issue,
    pull,
    review,
)
from tests.github_server import FakeGitHubServer, Served

from kpi_exporter.cli import build_sources
from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.scheduler import Scheduler
from kpi_exporter.sources import Poll
from kpi_exporter.sources.github import GitHub
from kpi_exporter.store import SourceState, Store

from .common import memory_line, memory_mib, reset_peak, verdict

REPOS = int(os.environ.get("KPI_BENCH_GITHUB_REPOS", "200"))  # the organisation synced
PULLS = 300
DEPLOYMENTS = 150
INCIDENTS = 4
LATENCY = 0.020
HORIZON_DAYS = 365
TARGET_FIRST_SYNC = 600.0  # seconds
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
TOKEN_ENV = "KPI_BENCH_GITHUB_TOKEN"
CHECKS = ("pulls", "commits", "deployments", "issues")
LOGINS = ("alice", "bob", "carol", "dave", "erin")


@dataclass(slots=True)
class Expected:
    """What one repository's data asks of a first sync."""

    pages: dict[str, int]  # GraphQL pages per connection
    lead_times: int  # merged pull requests a successful deployment shipped


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _pages(nodes: int) -> int:
    return max(1, math.ceil(nodes / PAGE))


def make_repo(fake: FakeGitHub, name: str, now: float, rng: random.Random) -> Expected:
    """One repository's year: pull requests, the default branch they made, deployments."""
    repo = fake.repo(name)
    start = now - 350 * DAY
    span = 345 * DAY
    root = _sha(f"{name}/root")
    main: list[tuple[float, str]] = [(start - 30 * DAY, root)]  # (committed, oid), oldest first
    commits = [commit(root, iso(main[0][0]))]
    merged_at: list[float] = []
    for number in range(1, PULLS + 1):
        merged = start + (number - 1 + rng.uniform(0.1, 0.9)) * span / PULLS
        lead = min(rng.lognormvariate(math.log(DAY), 1.0), 20 * DAY)
        first = merged - lead
        created = first + 0.3 * lead
        author, reviewer = rng.sample(LOGINS, 2)
        reviews = [review(reviewer, "APPROVED", iso(created + 0.5 * (merged - created)))]
        comments = [comment(reviewer, iso(created + 0.2 * (merged - created)))]
        fields: dict[str, Any] = {
            "first_commit": iso(first),
            "created": iso(created),
            "author": author,
            "reviews": reviews,
            "comments": comments,
            "additions": rng.randint(1, 400),
            "deletions": rng.randint(0, 100),
        }
        kind = number % 20
        if kind == 7:  # closed without merging
            repo.pulls.append(pull(number, closed=iso(merged), **fields))
            continue
        if kind == 13:  # still open
            repo.pulls.append(pull(number, **fields))
            continue
        head = main[-1][1]
        oid = _sha(f"{name}/pr/{number}")
        if number % 2:  # squash merge: one commit on the branch
            commits.append(commit(oid, iso(merged), head))
        else:  # merge commit of the pull request's own commit, branched off then
            branch_point = main[max(0, bisect.bisect_right(main, (first, "")) - 1)][1]
            feature = _sha(f"{name}/pr/{number}/feature")
            commits.append(commit(feature, iso(first), branch_point))
            commits.append(commit(oid, iso(merged), head, feature))
        main.append((merged, oid))
        merged_at.append(merged)
        repo.pulls.append(pull(number, merged=iso(merged), merge_commit=oid, **fields))
    commits.sort(key=lambda node: str(node["committedDate"]), reverse=True)
    repo.commits = commits
    shipped_until = 0.0  # merge time of the newest commit a successful deployment shipped
    for index in range(DEPLOYMENTS):
        created = start + (index + 0.5) * span / DEPLOYMENTS
        at, oid = main[bisect.bisect_right(main, (created, "")) - 1]
        state = "FAILURE" if index % 25 == 24 else "SUCCESS"
        repo.deployments.append(
            deployment(
                10_000 + index,
                oid,
                iso(created),
                ("IN_PROGRESS", iso(created + 2 * MINUTE)),
                (state, iso(created + 8 * MINUTE)),
            )
        )
        if state == "SUCCESS":
            shipped_until = max(shipped_until, at)
    for number in range(INCIDENTS):
        opened = start + (number + 0.5) * span / INCIDENTS
        labels = ["incident", rng.choice(("sev1", "sev2", "sev3"))]
        repo.issues.append(
            issue(PULLS + 1 + number, iso(opened), labels, closed=iso(opened + 2 * HOUR))
        )
    horizon = iso(now - HORIZON_DAYS * DAY)
    history = sum(1 for node in commits if node["committedDate"] >= horizon)
    pages = {
        "pullRequests": _pages(len(repo.pulls)),
        "history": _pages(history),
        "deployments": _pages(len(repo.deployments)),
        "issues": _pages(len(repo.issues)),
    }
    return Expected(pages, sum(1 for merged in merged_at if merged <= shipped_until))


def build(fake: FakeGitHub, now: float) -> dict[str, Expected]:
    rng = random.Random(2026)
    return {
        f"acme/svc-{index:03d}": make_repo(fake, f"acme/svc-{index:03d}", now, rng)
        for index in range(REPOS)
    }


def config_text(api_url: str, repos: list[str], store: Path) -> str:
    """The configuration (JSON is YAML): an app per repository, a team per 8 apps."""
    apps = {
        repo.split("/")[1]: {"team": f"team-{index // 8:02d}", "repos": [repo]}
        for index, repo in enumerate(repos)
    }
    source = {
        "type": "github",
        "name": "gh",
        "api_url": api_url,
        "token_env": TOKEN_ENV,
        "repos": repos,
        "interval": "5m",
    }
    return json.dumps({"store": {"path": str(store)}, "apps": apps, "sources": [source]})


class Timed:
    """The source as the scheduler sees it (its parts stored one by one), timing its reading
    apart from the store writes."""

    def __init__(self, source: GitHub) -> None:
        self.source = source
        self.name = source.name
        self.interval = source.interval
        self.seconds = 0.0

    def poll(self, state: SourceState) -> Poll:
        return self.source.poll(state)

    def poll_parts(self, state: SourceState) -> Iterator[Poll]:
        self.seconds = 0.0
        parts = self.source.poll_parts(state)
        while True:
            began = time.perf_counter()
            part = next(parts, None)
            self.seconds += time.perf_counter() - began
            if part is None:
                return
            yield part


def by_code(served: list[Served]) -> str:
    counts = Counter(s.status for s in served)
    return ", ".join(f"{status}: {count:,}" for status, count in sorted(counts.items()))


def main() -> None:
    started = time.perf_counter()
    now = time.time()
    fake = FakeGitHub()
    expected = build(fake, now)
    nodes = sum(len(r.pulls) + len(r.commits) + len(r.deployments) for r in fake.repos.values())
    print(
        f"github sync: {REPOS} repositories, each {PULLS} pull requests,"
        f" {DEPLOYMENTS} deployments, {INCIDENTS} incidents over a year"
        f" ({nodes:,} GraphQL nodes) generated in {time.perf_counter() - started:.1f} s"
    )
    pages = {name: sum(e.pages.values()) + len(CHECKS) for name, e in expected.items()}
    needed = sum(pages.values())
    batched = sum(max(e.pages.values()) + len(CHECKS) for e in expected.values())
    per_connection = Counter[str]()
    for e in expected.values():
        per_connection.update(e.pages)
    os.environ[TOKEN_ENV] = "ghp_benchmarkDummyToken0123456789"
    with (
        FakeGitHubServer(fake, latency=LATENCY, lifetime=1800) as server,
        tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp,
    ):
        config = parse_config(config_text(server.url, sorted(expected), Path(tmp) / "kpi.db"))
        health = Health()
        (source,), _ = build_sources(config, Ownership(config), health)
        assert isinstance(source, GitHub)
        health.register(source.name, "github")
        store = Store(Path(tmp) / "kpi.db")
        pipeline = Pipeline(store, config.kpi_settings(), config.link_settings(), health)
        timed = Timed(source)
        scheduler = Scheduler(pipeline, [timed])
        concurrency = source.config.concurrency
        print(
            f"  served on {server.url} with {LATENCY * 1000:.0f} ms latency per request;"
            f" source concurrency {concurrency}"
        )

        # --- first sync -------------------------------------------------------------------
        # The fake GitHub's data and server live in this process: the exporter's own memory
        # is what the first sync adds to them.
        reset_peak()
        baseline, _ = memory_mib()
        print(f"  before the first sync (the fake GitHub's data and server): {memory_line()}")
        mark = server.mark()
        began = time.perf_counter()
        ok = scheduler.poll_once(timed)
        first_wall = time.perf_counter() - began
        if not ok:
            raise SystemExit(f"the first sync failed: {health.snapshot()[0].last_error}")
        first = server.since(mark)
        poll_seconds = timed.seconds
        gauges = {
            resource: value
            for (name, resource), value in health.rate_limit_remaining.items()
            if name == source.name
        }
        shown = ", ".join(f"{r or '(none)'} {v:,.0f}" for r, v in sorted(gauges.items()))
        stored = store.count()
        kinds = Counter[str]()
        for (_, kind), count in pipeline.aggregate.stored.items():
            kinds[kind] += count
        counted = Counter({code: n for (_, code), n in health.api_requests.items()})
        lead_times = sum(e.lead_times for e in expected.values())
        text = pipeline.cache.current.text.decode()
        observed = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("kpi_change_lead_time_seconds_count{")
        )
        print(
            f"  first sync: {len(first):,} requests ({by_code(first)}) in {first_wall:.1f} s"
            f" (source poll {poll_seconds:.1f} s, store write and render"
            f" {first_wall - poll_seconds:.1f} s); counted by the exporter:"
            f" {', '.join(f'{code}: {n:,}' for code, n in sorted(counted.items()))}"
        )
        print(
            f"  pages to read: {needed:,} = {len(CHECKS)} REST checks x {REPOS}"
            + "".join(f" + {n:,} {name}" for name, n in sorted(per_connection.items()))
            + f" GraphQL pages; read together per repository: {batched:,} requests at least"
        )
        print(
            f"  events stored: {stored:,} ("
            + ", ".join(f"{kind} {n:,}" for kind, n in sorted(kinds.items()))
            + f"); changes with a lead time: {observed:,.0f} (expected from the data:"
            f" {lead_times:,})"
        )
        print(
            f"  rate limit after the first sync: remaining core {server.remaining('core'):,},"
            f" graphql {server.remaining('graphql'):,}; the exporter's"
            f" kpi_exporter_api_rate_limit_remaining shows {shown or 'nothing'}"
        )
        print(f"  after the first sync: {memory_line()}")
        rss, peak = memory_mib()
        print(
            f"  the exporter's share: {rss - baseline:,.0f} MiB after the first sync, peak"
            f" {peak - baseline:,.0f} MiB above what the fake GitHub holds"
        )

        # --- steady state: nothing changed -----------------------------------------------
        mark = server.mark()
        began = time.perf_counter()
        ok = scheduler.poll_once(timed)
        steady_wall = time.perf_counter() - began
        steady = server.since(mark)
        if not ok:
            raise SystemExit(f"the steady-state poll failed: {health.snapshot()[0].last_error}")
        charged = sum(1 for s in steady if s.charged)
        unconditional = sum(1 for s in steady if not s.conditional)
        print(
            f"  steady-state poll: {len(steady):,} requests ({by_code(steady)}) in"
            f" {steady_wall:.1f} s; unconditional: {unconditional:,}; counted against the"
            f" primary rate limit: {charged:,} (remaining: core {server.remaining('core'):,},"
            f" graphql {server.remaining('graphql'):,})"
        )
        store.close()

    only_304 = bool(steady) and all(s.conditional and s.status == 304 for s in steady)
    print(
        "  target steady state only conditional requests, all 304, none counted against the"
        f" primary limit: {verdict(only_304 and charged == 0)}"
    )
    print(
        f"  target first sync requests <= pages to read ({len(first):,} <= {needed:,}):"
        f" {verdict(len(first) <= needed)}"
    )
    print(
        f"  target first sync within {TARGET_FIRST_SYNC / 60:.0f} min at"
        f" {LATENCY * 1000:.0f} ms latency ({first_wall:.1f} s):"
        f" {verdict(first_wall <= TARGET_FIRST_SYNC)}"
    )
    print(f"github sync benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
