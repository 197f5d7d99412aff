"""End to end: the real ``kpi-exporter run`` process polls a fake GitHub served over HTTP on
127.0.0.1 (tests/github_server.py: the same answers as tests/github_fake.py, with ETags,
304s, GraphQL paging, GitHub's primary rate-limit headers and a little latency).

The organisation, relative to the start of the test (every time within the horizon):

- acme/shop (app shop): 120 pull requests, #i squash-merged as commit i at S + 2i h, its first
  commit 3 h and its opening 2 h before. Deployment k (1..12) ships commit 10k to production
  at S + 20k h + 30 min; then a failed production deployment and a staging one. 120 pull
  requests and 121 commits read in 2 GraphQL pages each.
  Lead time of #i shipped by deployment k = ceil(i/10): (10k - i) * 2 h + 30 min + 3 h; the sum
  over 12 blocks of j = 0..9: 12 * (2 h * 45 + 3.5 h * 10) = 1500 h.
- acme/search (app search): #1 and #2 merged, deployed together; #3 merged, deployed to
  staging only; #4 open. One incident (issue labelled ``incident``), resolved in 2 h.
- acme/docs (app docs): two commits, nothing else.

First sync: 4 conditional REST checks per repository (pulls, commits, deployments, issues),
all 200 (nothing stored yet), then GraphQL: 2 queries for shop, 1 each for search and docs:
16 requests, all 200. Every later poll (interval 1 s), nothing having changed: the 12 checks,
all 304, none counted against the rate limit.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.github_fake import FakeGitHub, FakeRepo, commit, deployment, iso, issue, pull, review
from tests.github_server import CORE, GRAPHQL, FakeGitHubServer
from tests.process import Exporter
from tests.support import samples, value

HOUR = 3600.0
MINUTE = 60.0
DAY = 86400.0
TOKEN = "ghp_e2eDummyToken0123456789abcdef"
TOKEN_ENV = "KPI_E2E_GITHUB_TOKEN"
CHECKS = 4 * 3  # REST checks per poll: 4 per repository
FIRST_SYNC = CHECKS + 2 + 1 + 1  # and the GraphQL queries
RATE_LIMIT = 5000


def sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def merged_chain(
    repo: FakeRepo,
    oids: list[str],
    at: list[float],
    coded: float,
    opened: float,
    approved: float | None = None,
) -> None:
    """A linear main branch of ``oids`` committed at ``at``: each commit after the first
    merges pull request number i, first committed ``coded`` and opened ``opened`` seconds
    before its merge, approved by bob ``approved`` seconds before it when given."""
    repo.commits = [commit(oids[0], iso(at[0]))]
    for i in range(1, len(oids)):
        repo.commits.insert(0, commit(oids[i], iso(at[i]), oids[i - 1]))
        approval = None if approved is None else review("bob", "APPROVED", iso(at[i] - approved))
        repo.pulls.append(
            pull(
                i,
                first_commit=iso(at[i] - coded),
                created=iso(at[i] - opened),
                merged=iso(at[i]),
                merge_commit=oids[i],
                reviews=None if approval is None else [approval],
            )
        )


def shop(fake: FakeGitHub, start: float) -> None:
    repo = fake.repo("acme/shop")
    oids = [sha(f"shop-{i}") for i in range(121)]
    merged = [start + 2 * HOUR * i for i in range(121)]
    merged_chain(repo, oids, merged, coded=3 * HOUR, opened=2 * HOUR, approved=HOUR)
    for k in range(1, 13):
        at = merged[10 * k]
        repo.deployments.append(
            deployment(
                1000 + k,
                oids[10 * k],
                iso(at + 20 * MINUTE),
                ("IN_PROGRESS", iso(at + 25 * MINUTE)),
                ("SUCCESS", iso(at + 30 * MINUTE)),
            )
        )
    last = merged[120]
    repo.deployments += [
        deployment(1013, oids[120], iso(last + HOUR), ("FAILURE", iso(last + 70 * MINUTE))),
        deployment(
            1014,
            oids[120],
            iso(last + 2 * HOUR),
            ("SUCCESS", iso(last + 130 * MINUTE)),
            environment="staging",
        ),
    ]


def search(fake: FakeGitHub, start: float) -> None:
    repo = fake.repo("acme/search")
    oids = [sha(f"search-{i}") for i in range(4)]
    at = [start, start + HOUR, start + 2 * HOUR, start + 5 * HOUR]
    merged_chain(repo, oids, at, coded=4 * HOUR, opened=3 * HOUR)
    repo.pulls.append(pull(4, first_commit=iso(at[3]), created=iso(at[3] + HOUR)))
    repo.deployments = [
        deployment(2001, oids[2], iso(at[2] + HOUR), ("SUCCESS", iso(at[2] + 70 * MINUTE))),
        deployment(
            2002,
            oids[3],
            iso(at[3] + HOUR),
            ("SUCCESS", iso(at[3] + 70 * MINUTE)),
            environment="staging",
        ),
    ]
    repo.issues = [
        issue(7, iso(at[2] + 3 * HOUR), ["incident", "sev2"], closed=iso(at[2] + 5 * HOUR))
    ]


def docs(fake: FakeGitHub, start: float) -> None:
    repo = fake.repo("acme/docs")
    repo.commits = [
        commit(sha("docs-1"), iso(start + HOUR), sha("docs-0")),
        commit(sha("docs-0"), iso(start)),
    ]


def write_config(path: Path, api_url: str) -> None:
    path.write_text(
        "store: {path: kpi.db}\n"
        "apps:\n"
        "  shop: {team: payments, repos: [acme/shop]}\n"
        "  search: {team: discovery, repos: [acme/search]}\n"
        "  docs: {team: platform, repos: [acme/docs]}\n"
        "sources:\n"
        "  - type: github\n"
        "    name: gh\n"
        "    interval: 1s\n"
        f"    api_url: {api_url}\n"
        f"    token_env: {TOKEN_ENV}\n"
        "    repos: [acme/shop, acme/search, acme/docs]\n"
    )


def requests_by_code(text: str) -> dict[str, int]:
    return {
        dict(labels)["code"]: int(count)
        for (name, labels), count in samples(text).items()
        if name == "kpi_exporter_api_requests_total" and ("source", "gh") in labels
    }


def polls(text: str) -> int:
    return int(value(text, "kpi_exporter_source_polls_total", source="gh", result="success"))


def wait_for(exporter: Exporter, done: Callable[[str], bool], timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = exporter.metrics()
        if done(text):
            return text
        if time.monotonic() > deadline:
            log = exporter.log.read_text(errors="replace")
            raise AssertionError(f"timed out; last exposition:\n{text}\nlog:\n{log}")
        time.sleep(0.05)


@pytest.mark.timeout(60)
def test_the_exporter_process_syncs_a_fake_github_then_costs_only_304s(tmp_path: Path) -> None:
    now = time.time()
    with FakeGitHubServer(latency=0.005, rate_limit=RATE_LIMIT) as server:
        shop(server.fake, now - 20 * DAY)
        search(server.fake, now - 10 * DAY)
        docs(server.fake, now - 5 * DAY)
        config = tmp_path / "kpi.yaml"
        write_config(config, server.url)
        with Exporter(config, tmp_path, env={TOKEN_ENV: TOKEN}) as exporter:
            exporter.wait_ready(timeout=20)
            first = wait_for(exporter, lambda text: polls(text) >= 1)
            n = polls(first)
            # the first sync, then n - 1 polls where nothing changed
            expected = {"200": FIRST_SYNC, "304": CHECKS * (n - 1)}
            assert requests_by_code(first) == {k: v for k, v in expected.items() if v}
            assert value(first, "kpi_exporter_source_up", source="gh") == 1
            assert value(first, "kpi_deployments_total", app="shop") == 12
            assert value(first, "kpi_change_lead_time_seconds_count", app="shop") == 120
            assert value(first, "kpi_change_lead_time_seconds_sum", app="shop") == 1500 * HOUR
            assert value(first, "kpi_deployments_total", app="search") == 1
            assert value(first, "kpi_change_lead_time_seconds_count", app="search") == 2
            assert value(first, "kpi_incidents_total", app="search") == 1
            assert value(first, "kpi_incident_restore_seconds_sum", app="search") == 2 * HOUR
            assert value(first, "kpi_deployments_total", app="docs") == 0
            # GitHub's two limits, each under its own resource label
            for resource in (CORE, GRAPHQL):
                labels = frozenset({("source", "gh"), ("resource", resource)})
                assert ("kpi_exporter_api_rate_limit_remaining", labels) in samples(first)

            second = wait_for(exporter, lambda text: polls(text) >= n + 1)
            page = exporter.get("/").text
        # The steady-state polls between the two scrapes: only the checks, all 304.
        before, after = requests_by_code(first), requests_by_code(second)
        steady = {
            code: count - before.get(code, 0)
            for code, count in after.items()
            if count != before.get(code, 0)
        }
        assert steady == {"304": CHECKS * (polls(second) - n)}
        # The server saw the same: after the first sync, only conditional requests, all
        # answered 304 and not counted against the primary rate limit.
        later = server.since(FIRST_SYNC)
        assert len(later) >= CHECKS * (polls(second) - 1)
        assert all(s.conditional and s.status == 304 and not s.charged for s in later)
        assert server.counts(0)[200] == FIRST_SYNC
        assert server.remaining(CORE) == RATE_LIMIT - CHECKS
        assert server.remaining(GRAPHQL) == RATE_LIMIT - (FIRST_SYNC - CHECKS)
        # each limit's gauge shows what the server has left of it
        remaining = "kpi_exporter_api_rate_limit_remaining"
        assert value(second, remaining, source="gh", resource=CORE) == RATE_LIMIT - CHECKS
        assert value(second, remaining, source="gh", resource=GRAPHQL) == (
            RATE_LIMIT - (FIRST_SYNC - CHECKS)
        )
        assert set(server.fake.authorizations) == {f"Bearer {TOKEN}"}
    assert TOKEN not in second + page + exporter.log.read_text(errors="replace")


def test_the_fake_server_limits_like_github_and_stops_with_a_connection_open() -> None:
    with FakeGitHubServer(rate_limit=3) as server:
        server.fake.repo("acme/docs").commits = [commit("c0", "2026-01-01T00:00:00Z")]
        session = requests.Session()  # keeps its connection open: stop must not wait for it
        url = f"{server.url}/repos/acme/docs/commits?per_page=1"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        first = session.get(url, headers=auth, timeout=5)
        etag = first.headers["ETag"]
        again = session.get(url, headers={**auth, "If-None-Match": etag}, timeout=5)
        anonymous = session.get(url, headers={"If-None-Match": etag}, timeout=5)
        graphql = session.post(
            server.fake.graphql_url,
            json={"query": "{}", "variables": {"owner": "acme", "name": "docs"}},
            headers=auth,
            timeout=5,
        )
        last = session.get(url, headers=auth, timeout=5)
        refused = session.get(url, headers=auth, timeout=5)
        began = time.monotonic()
    assert time.monotonic() - began < 2
    statuses = [r.status_code for r in (first, again, anonymous, graphql, last, refused)]
    assert statuses == [200, 304, 304, 200, 200, 403]
    # an authorized 304 is free; an anonymous one is not; GraphQL has its own limit
    remaining = [r.headers["x-ratelimit-remaining"] for r in (first, again, anonymous, last)]
    assert remaining == ["2", "2", "1", "0"]
    assert graphql.headers["x-ratelimit-resource"] == "graphql"
    assert graphql.headers["x-ratelimit-remaining"] == "4999"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert "rate limit exceeded" in refused.json()["message"]
    assert int(refused.headers["x-ratelimit-reset"]) > time.time()
    assert server.counts() == {200: 3, 304: 2, 403: 1}
    assert [s.charged for s in server.served] == [True, False, True, True, True, False]
