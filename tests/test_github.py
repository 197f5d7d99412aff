"""The GitHub source against a fake GitHub (tests/github_fake.py, served by ``responses``: no
network). Endpoints used, from the GitHub REST and GraphQL references:

- REST change detection, conditional: ``GET /repos/{owner}/{repo}/pulls?state=all&sort=updated
  &direction=desc&per_page=1``, ``GET /repos/{owner}/{repo}/commits?per_page=1``,
  ``GET /repos/{owner}/{repo}/deployments?per_page=1`` (or ``/releases``, ``/tags``,
  ``/actions/workflows/{workflow}/runs``), ``GET /repos/{owner}/{repo}/issues?...&per_page=1``;
- REST lists: ``GET /orgs/{org}/repos``, ``GET /repos/{owner}/{repo}/actions/workflows/{id}/runs``;
- GraphQL ``POST /graphql``: ``repository { pullRequests, defaultBranchRef { target { history } },
  deployments, releases, refs, issues }``;
- ``POST /app/installations/{installation_id}/access_tokens``.

Every expectation is computed by hand in the test. Lead-time buckets (LEAD_TIME_BUCKETS):
5m 15m 30m 1h 2h 4h 8h 1d 2d 4d 1w 2w 30d 60d 90d ...
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings
from kpi_exporter.model import Change, Defect, Deployment, Event, Incident, to_json
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.scheduler import Scheduler
from kpi_exporter.sources import Poll, SourceError
from kpi_exporter.sources.github import GitHub
from kpi_exporter.sources.github.config import GitHubSource
from kpi_exporter.store import SourceState, Store
from tests.github_fake import (
    FakeGitHub,
    bot,
    comment,
    commit,
    deployment,
    iso,
    issue,
    org_repository,
    pull,
    release,
    review,
    tag,
    workflow_run,
)
from tests.support import samples, ts, value

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
NOW = ts("2026-06-01T00:00:00Z")
TOKEN = "ghp_kpiTestSecretToken0123456789"
TOKEN_ENV = "KPI_TEST_GITHUB_TOKEN"
KEY_ENV = "KPI_TEST_GITHUB_APP_KEY"
CONFIG = """
apps:
  shop: {team: payments, repos: [acme/shop]}
  search: {team: discovery, repos: [acme/search]}
"""
SHOP = {"app": "shop", "team": "payments"}
SEARCH = {"app": "search", "team": "discovery"}
LOGINS = ("alice", "bob", "carol", "dave", "erin", "codecov")


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        github = FakeGitHub(clock=clock)
        github.register_on(mock)
        yield github


def source(
    fake: FakeGitHub,
    clock: Clock,
    slept: list[float] | None = None,
    kpi: KpiSettings | None = None,
    **settings: Any,
) -> GitHub:
    """A GitHub source on the fake: token auth unless ``app`` is given, the two fixture
    repositories unless ``repos`` or ``org`` is, the fake's clock, the KPI settings ``kpi``
    (defaults), and a ``sleep`` that records (``slept``) or refuses to wait."""
    data: dict[str, Any] = {"type": "github", "name": "gh"}
    if "app" not in settings:
        data["token_env"] = TOKEN_ENV
    data.update(settings)
    data.setdefault("repos", [] if "org" in settings else ["acme/shop", "acme/search"])
    data.setdefault("api_url", fake.api)
    config = GitHubSource.model_validate(data)

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"unexpected sleep of {seconds} s")

    return GitHub(
        config,
        Ownership(parse_config(CONFIG)),
        kpi or KpiSettings(),
        Health(),
        clock=clock,
        sleep=slept.append if slept is not None else no_sleep,
    )


def app_key() -> rsa.RSAPrivateKey:
    """A fresh RSA private key for a GitHub App."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pkcs8(key: rsa.RSAPrivateKey) -> str:
    """The key as PEM (PKCS#8), as GitHub hands it out."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def of(events: list[Event], kind: type[Any]) -> dict[str, Any]:
    return {event.key: event for event in events if isinstance(event, kind)}


def buckets(text: str, family: str, **labels: str) -> dict[float, int]:
    """Observations per bucket upper bound (not cumulative, empty buckets left out)."""
    cumulative = sorted(
        (float(dict(sample_labels)["le"]), count)
        for (name, sample_labels), count in samples(text).items()
        if name == f"{family}_bucket" and set(labels.items()) <= sample_labels
    )
    per_bucket, previous = {}, 0.0
    for bound, count in cumulative:
        if count != previous:
            per_bucket[bound] = int(count - previous)
        previous = count
    return per_bucket


def exposition(pipeline: Pipeline) -> str:
    pipeline.refresh()
    return pipeline.cache.current.text.decode()


def record(pipeline: Pipeline, github: GitHub) -> Poll:
    poll = github.poll(pipeline.store.state(github.name))
    pipeline.record(github.name, poll)
    return poll


def pipeline_for(health: Health | None = None) -> Pipeline:
    return Pipeline(Store(":memory:"), KpiSettings(), LinkSettings(), health or Health())


# --- the fixture organisation ------------------------------------------------------------------
#
# acme/shop (app shop, team payments), default branch main:
#   c0 03-01 09:00 <- f1 03-02 09:00 (feature) ; m1 03-02 12:00 merges c0 + f1   (PR #1, merge)
#   s2 03-03 15:00 (PR #2, squash) <- s3 03-04 10:00 (PR #3, hotfix) <- s4 03-05 10:00 (PR #4)
# Deployments: D101 m1 production   success 03-02 13:20 (then INACTIVE)
#              D102 s2 staging      success 03-03 15:40 (not production: no event)
#              D103 s2 "Production" success 03-03 16:30
#              D104 s3 production   success 03-04 10:45 (ships the hotfix PR #3)
#              D105 s3 production   FAILURE 03-04 11:10
#              D106 s4 production   IN_PROGRESS since 03-05 (never final: no event)
# acme/search (app search, team discovery):
#   a1 04-01 09:00 <- a2 04-02 09:00 (PR #10, squash of a branch started 03-25)
#   D201 a2 production success 04-03 09:30; issue #11 incident sev2 04-03 12:00 -> 14:00;
#   issue #12 bug found in staging.


def shop_and_search(fake: FakeGitHub) -> None:
    shop = fake.repo("acme/shop")
    shop.commits = [
        commit("s4", "2026-03-05T10:00:00Z", "s3"),
        commit("s3", "2026-03-04T10:00:00Z", "s2"),
        commit("s2", "2026-03-03T15:00:00Z", "m1"),
        commit("m1", "2026-03-02T12:00:00Z", "c0", "f1"),
        commit("f1", "2026-03-02T09:00:00Z", "c0"),
        commit("c0", "2026-03-01T09:00:00Z"),
    ]
    shop.pulls = [
        pull(
            1,
            author="alice",
            first_commit="2026-03-01T10:00:00Z",
            created="2026-03-01T12:00:00Z",
            merged="2026-03-02T12:00:00Z",
            merge_commit="m1",
            reviews=[
                review("alice", "COMMENTED", "2026-03-01T12:30:00Z"),  # the author: ignored
                review("bob", "APPROVED", "2026-03-02T09:30:00Z"),
                review("dave", "PENDING", None),  # not submitted: ignored
            ],
            comments=[
                comment(bot("codecov"), "2026-03-01T12:05:00Z"),  # a bot: ignored
                comment("bob", "2026-03-01T13:00:00Z"),  # the first look by someone else
            ],
            labels=["Feature"],
            additions=120,
            deletions=30,
        ),
        pull(
            2,
            author="carol",
            first_commit="2026-03-02T14:00:00Z",  # squashed into s2 at the merge
            created="2026-03-02T16:00:00Z",
            merged="2026-03-03T15:00:00Z",
            merge_commit="s2",
            reviews=[review("dave", "APPROVED", "2026-03-03T10:00:00Z")],
            additions=40,
            deletions=10,
        ),
        pull(
            3,
            author="alice",
            first_commit="2026-03-04T08:00:00Z",
            created="2026-03-04T08:30:00Z",
            merged="2026-03-04T10:00:00Z",
            merge_commit="s3",
            reviews=[review("bob", "APPROVED", "2026-03-04T09:00:00Z")],
            labels=["hotfix"],
            additions=3,
            deletions=1,
        ),
        pull(
            4,
            author="bob",
            first_commit="2026-03-05T08:00:00Z",
            created="2026-03-05T09:00:00Z",
            merged="2026-03-05T10:00:00Z",
            merge_commit="s4",
            reviews=[review("bob", "COMMENTED", "2026-03-05T09:30:00Z")],  # only the author
        ),
        pull(
            5,
            author="carol",
            first_commit="2026-03-06T08:00:00Z",
            created="2026-03-06T09:00:00Z",
            comments=[comment("alice", "2026-03-06T11:00:00Z")],
        ),
        pull(
            6,
            author="dave",
            first_commit="2026-03-01T08:00:00Z",
            created="2026-03-01T09:00:00Z",
            closed="2026-03-02T09:00:00Z",
        ),
        pull(
            7,
            author="dave",
            first_commit="2026-03-02T08:00:00Z",
            created="2026-03-02T09:00:00Z",
            merged="2026-03-02T10:00:00Z",
            merge_commit="r7",
            base="release/1.x",  # not the default branch: not a change
        ),
    ]
    shop.deployments = [
        deployment(
            101,
            "m1",
            "2026-03-02T13:00:00Z",
            ("IN_PROGRESS", "2026-03-02T13:05:00Z"),
            ("SUCCESS", "2026-03-02T13:20:00Z"),
            ("INACTIVE", "2026-03-03T16:30:00Z"),
        ),
        deployment(
            102,
            "s2",
            "2026-03-03T15:30:00Z",
            ("SUCCESS", "2026-03-03T15:40:00Z"),
            environment="staging",
        ),
        deployment(
            103,
            "s2",
            "2026-03-03T16:00:00Z",
            ("SUCCESS", "2026-03-03T16:30:00Z"),
            ("INACTIVE", "2026-03-04T10:45:00Z"),
            environment="Production",
        ),
        deployment(104, "s3", "2026-03-04T10:30:00Z", ("SUCCESS", "2026-03-04T10:45:00Z")),
        deployment(105, "s3", "2026-03-04T11:00:00Z", ("FAILURE", "2026-03-04T11:10:00Z")),
        deployment(106, "s4", "2026-03-05T11:00:00Z", ("IN_PROGRESS", "2026-03-05T11:01:00Z")),
    ]
    search = fake.repo("acme/search")
    search.commits = [
        commit("a2", "2026-04-02T09:00:00Z", "a1"),
        commit("a1", "2026-04-01T09:00:00Z"),
    ]
    search.pulls = [
        pull(
            10,
            author="erin",
            first_commit="2026-03-25T09:00:00Z",
            created="2026-03-30T09:00:00Z",
            merged="2026-04-02T09:00:00Z",
            merge_commit="a2",
            reviews=[review("carol", "APPROVED", "2026-04-01T09:00:00Z")],
        )
    ]
    search.deployments = [
        deployment(201, "a2", "2026-04-03T09:00:00Z", ("SUCCESS", "2026-04-03T09:30:00Z"))
    ]
    search.issues = [
        issue(11, "2026-04-03T12:00:00Z", ["incident", "sev2"], closed="2026-04-03T14:00:00Z"),
        issue(12, "2026-04-04T12:00:00Z", ["bug", "found-in: staging", "customer"]),
    ]


def test_first_sync_of_a_small_org_gives_hand_computed_events_and_kpis(fake, clock, caplog):
    # The 4 REST checks per repository, then POST /graphql: pullRequests, history,
    # deployments and issues of each repository in one query.
    shop_and_search(fake)
    github = source(fake, clock, concurrency=1)
    health = Health()
    pipeline = pipeline_for(health)

    with caplog.at_level("INFO", logger="kpi_exporter.sources.github"):
        poll = record(pipeline, github)

    assert poll.problems == []
    deployments = of(poll.events, Deployment)
    assert {
        key: (d.environment, d.status, d.finished_at, d.commit, d.change_type)
        for key, d in deployments.items()
    } == {
        "github/acme/shop/deployment/101": (
            "production",
            "success",
            ts("2026-03-02T13:20:00Z"),
            "m1",
            "normal",
        ),
        # environment names are lowercased: "Production" matches the production pattern
        "github/acme/shop/deployment/103": (
            "production",
            "success",
            ts("2026-03-03T16:30:00Z"),
            "s2",
            "normal",
        ),
        "github/acme/shop/deployment/104": (
            "production",
            "success",
            ts("2026-03-04T10:45:00Z"),
            "s3",
            "hotfix",
        ),
        "github/acme/shop/deployment/105": (
            "production",
            "failure",
            ts("2026-03-04T11:10:00Z"),
            "s3",
            "normal",
        ),
        "github/acme/search/deployment/201": (
            "production",
            "success",
            ts("2026-04-03T09:30:00Z"),
            "a2",
            "normal",
        ),
    }
    assert deployments["github/acme/shop/deployment/101"].started_at == ts("2026-03-02T13:00:00Z")
    assert all(
        (d.app, d.team) == ("shop", "payments") for k, d in deployments.items() if "shop" in k
    )

    changes = of(poll.events, Change)
    assert set(changes) == {
        *(f"github/acme/shop#{n}" for n in (1, 2, 3, 4, 5, 6)),  # not #7: into release/1.x
        "github/acme/search#10",
    }
    one, two, three, four = (changes[f"github/acme/shop#{n}"] for n in (1, 2, 3, 4))
    # PR #1: coding 10:00 -> 12:00, pickup -> 13:00 (bob's comment: the author's own review
    # and the bot's comment do not count), review -> 03-02 12:00, deploy -> D101 13:20.
    assert (one.first_commit_at, one.opened_at, one.first_review_at, one.approved_at) == (
        ts("2026-03-01T10:00:00Z"),
        ts("2026-03-01T12:00:00Z"),
        ts("2026-03-01T13:00:00Z"),
        ts("2026-03-02T09:30:00Z"),
    )
    assert (one.merged_at, one.deployed_at, one.deployment_key) == (
        ts("2026-03-02T12:00:00Z"),
        ts("2026-03-02T13:20:00Z"),
        "github/acme/shop/deployment/101",
    )
    assert (one.size_lines, one.reviewed, one.labels, one.state) == (
        150,
        True,
        ("feature",),
        "merged",
    )
    # PR #2 (squash merge): first commit is the PR's first commit, not the squash commit s2.
    assert (two.first_commit_at, two.first_review_at, two.merged_at, two.deployed_at) == (
        ts("2026-03-02T14:00:00Z"),
        ts("2026-03-03T10:00:00Z"),
        ts("2026-03-03T15:00:00Z"),
        ts("2026-03-03T16:30:00Z"),  # D102 went to staging first; D103 is production
    )
    assert (two.deployed_environment, two.size_lines) == ("production", 50)
    assert three.deployment_key == "github/acme/shop/deployment/104"
    # PR #4: merged, never deployed (D106 never finished), reviewed by its author only.
    assert (four.deployed_at, four.deployment_key, four.reviewed, four.first_review_at) == (
        None,
        "",
        False,
        None,
    )
    five, six = changes["github/acme/shop#5"], changes["github/acme/shop#6"]
    assert (five.state, five.merged_at, five.first_review_at) == (
        "open",
        None,
        ts("2026-03-06T11:00:00Z"),
    )
    assert (six.state, six.merged_at, six.deployed_at) == ("closed", None, None)
    ten = changes["github/acme/search#10"]
    assert (ten.app, ten.team, ten.first_commit_at, ten.deployed_at) == (
        "search",
        "discovery",
        ts("2026-03-25T09:00:00Z"),
        ts("2026-04-03T09:30:00Z"),
    )

    incidents, defects = of(poll.events, Incident), of(poll.events, Defect)
    assert {k: (i.severity, i.started_at, i.resolved_at) for k, i in incidents.items()} == {
        "github/acme/search#11": ("sev2", ts("2026-04-03T12:00:00Z"), ts("2026-04-03T14:00:00Z"))
    }
    assert {k: (d.found_in, d.customer_reported, d.resolved_at) for k, d in defects.items()} == {
        "github/acme/search#12": ("pre-production", True, None)
    }

    text = exposition(pipeline)
    assert value(text, "kpi_deployments_total", **SHOP) == 3  # D101, D103, D104
    assert value(text, "kpi_deployments_total", **SEARCH) == 1
    # D103 is followed by the hotfix D104 within 48 h; D201 by incident #11 (last before it).
    assert value(text, "kpi_deployments_failed_total", **SHOP) == 1
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 1  # the hotfix
    assert value(text, "kpi_deployments_failed_total", **SEARCH) == 1
    # Lead times, first commit -> first production deployment that contains the change:
    # #1: 03-01 10:00 -> 03-02 13:20 = 27 h 20 m = 98400 s -> le 2d (1d = 86400 < 98400)
    # #2: 03-02 14:00 -> 03-03 16:30 = 26 h 30 m = 95400 s -> le 2d
    # #3: 03-04 08:00 -> 03-04 10:45 =  2 h 45 m =  9900 s -> le 4h (2h = 7200 < 9900)
    # #4: never deployed, no lead time. Search #10: 03-25 09:00 -> 04-03 09:30 = 9 d 30 m
    #     = 779400 s -> le 2w (1w = 604800 < 779400)
    assert buckets(text, "kpi_change_lead_time_seconds", **SHOP) == {2 * DAY: 2, 4 * HOUR: 1}
    assert value(text, "kpi_change_lead_time_seconds_sum", **SHOP) == 98400 + 95400 + 9900
    assert buckets(text, "kpi_change_lead_time_seconds", **SEARCH) == {2 * WEEK: 1}
    assert value(text, "kpi_incidents_total", **SEARCH, severity="sev2") == 1
    # Flow stages of the merged shop PRs (kpis/flow.py):
    # coding:  #1 2 h, #2 2 h, #3 30 m, #4 1 h      -> le 30m: 1, le 1h: 1, le 2h: 2
    # pickup:  #1 1 h, #2 18 h, #3 30 m (#4 none)    -> le 30m: 1, le 1h: 1, le 1d: 1
    # review:  #1 23 h, #2 5 h, #3 1 h               -> le 1h: 1, le 8h: 1, le 1d: 1
    # deploy:  #1 1 h 20 m, #2 1 h 30 m, #3 45 m     -> le 1h: 1, le 2h: 2
    assert buckets(text, "kpi_change_coding_seconds", **SHOP) == {
        30 * 60: 1,
        HOUR: 1,
        2 * HOUR: 2,
    }
    assert buckets(text, "kpi_change_pickup_seconds", **SHOP) == {
        30 * 60: 1,
        HOUR: 1,
        DAY: 1,
    }
    assert buckets(text, "kpi_change_review_seconds", **SHOP) == {
        HOUR: 1,
        8 * HOUR: 1,
        DAY: 1,
    }
    assert buckets(text, "kpi_change_deploy_seconds", **SHOP) == {HOUR: 1, 2 * HOUR: 2}
    assert value(text, "kpi_changes_merged_unreviewed_total", **SHOP) == 1  # #4
    assert value(text, "kpi_changes_open", **SHOP) == 1  # #5

    # Requests: per repository 4 conditional checks (nothing stored yet: answered 200) and ONE
    # GraphQL query for everything; no request per pull request or deployment.
    sent = fake.calls
    assert sorted(
        (method, url.split("?")[0].rsplit("/", 1)[-1]) for method, url, _ in sent
    ) == sorted(
        [("GET", kind) for kind in ("pulls", "commits", "deployments", "issues") for _ in (1, 2)]
        + [("POST", "graphql")] * 2
    )
    assert github.health.api_requests == {("gh", "200"): 10}

    # Progress of the first sync, one line per repository. shop has no issue: its /issues
    # lists pull requests only, so its issues are not read.
    assert [r.getMessage() for r in caplog.records if "first sync" in r.getMessage()] == [
        "gh: acme/shop (first sync): commits=6 pull_requests=7 deployments=6 (1 of 2)",
        "gh: acme/search (first sync): commits=2 pull_requests=1 deployments=1 issues=2 (2 of 2)",
    ]

    # No person is stored: not in events, not in the cursor.
    stored = (poll.cursor or "") + "".join(to_json(event) for event in poll.events)
    assert not [login for login in LOGINS if login in stored]
    assert TOKEN not in stored


def test_an_unchanged_org_costs_only_conditional_requests_answered_304(fake, clock):
    # The same REST checks sent again with If-None-Match: every ETag matches, every answer is
    # 304 (inspected in responses' own record of the calls), and no GraphQL query follows.
    shop_and_search(fake)
    github = source(fake, clock)
    pipeline = pipeline_for()
    record(pipeline, github)
    stored = pipeline.store.count()
    cursor = pipeline.store.state("gh").cursor
    first_sync = len(fake.mock.calls)

    poll = record(pipeline, github)

    sent = fake.mock.calls[first_sync:]
    assert len(sent) == 8  # 4 checks x 2 repositories, nothing else
    assert [call.request.method for call in sent] == ["GET"] * 8
    assert all("If-None-Match" in call.request.headers for call in sent)
    assert [call.response.status_code for call in sent] == [304] * 8
    assert poll.events == [] and poll.validators == {} and poll.problems == []
    assert pipeline.store.count() == stored
    assert pipeline.store.state("gh").cursor == cursor


def test_new_work_is_read_incrementally_and_ships_what_waited(fake, clock):
    # pulls, commits and deployments checks answer 200 with new ETags; POST /graphql reads
    # pullRequests (back to the last read), history(since: ...) and deployments.
    shop_and_search(fake)
    github = source(fake, clock)
    pipeline = pipeline_for()
    record(pipeline, github)
    shop = fake.repos["acme/shop"]
    shop.commits.insert(0, commit("s5", "2026-05-20T10:00:00Z", "s4"))
    shop.pulls.append(
        pull(
            8,
            author="carol",
            first_commit="2026-05-20T07:00:00Z",
            created="2026-05-20T07:30:00Z",
            merged="2026-05-20T10:00:00Z",
            merge_commit="s5",
            reviews=[review("alice", "APPROVED", "2026-05-20T09:00:00Z")],
        )
    )
    shop.deployments.append(
        deployment(107, "s5", "2026-05-20T10:10:00Z", ("SUCCESS", "2026-05-20T10:20:00Z"))
    )
    fake.reset_calls()

    poll = record(pipeline, github)

    # search: 4 checks, all 304. shop: issues 304; pulls, commits and deployments changed:
    # ONE GraphQL query reads the three.
    sent = fake.calls
    assert len(sent) == 9
    assert [q["variables"].get("historySince") for q in fake.queries] == [
        "2026-03-04T10:00:00Z"  # a day before the known head s4 (03-05 10:00)
    ]
    query = fake.queries[0]["query"]
    assert "pullRequests(" in query and "history(" in query and "deployments(" in query
    assert "issues(" not in query
    # Only what changed is sent again: the new PR, the new deployment, and PR #4, which
    # waited for a deployment since 03-05 and ships with D107 (s5's parent is s4). PR #5 was
    # the newest read last time: reading resumes at its update time, inclusive (it comes
    # back unchanged, and the store ignores it).
    assert sorted(e.key for e in poll.events) == [
        "github/acme/shop#4",
        "github/acme/shop#5",
        "github/acme/shop#8",
        "github/acme/shop/deployment/107",
    ]
    changes = of(poll.events, Change)
    assert changes["github/acme/shop#4"].deployed_at == ts("2026-05-20T10:20:00Z")
    text = exposition(pipeline)
    # #8: 05-20 07:00 -> 10:20 = 3 h 20 m = 12000 s -> le 4h
    # #4: 03-05 08:00 -> 05-20 10:20 = 76 d 2 h 20 m = 6574800 s -> le 90d (60d < it)
    assert buckets(text, "kpi_change_lead_time_seconds", **SHOP) == {
        4 * HOUR: 2,
        2 * DAY: 2,
        90 * DAY: 1,
    }
    assert value(text, "kpi_deployments_total", **SHOP) == 4


def test_new_settings_or_an_unreadable_cursor_read_everything_again(fake, clock):
    # The REST checks go out without If-None-Match, then POST /graphql reads everything.
    shop_and_search(fake)
    first = source(fake, clock, repos=["acme/shop"]).poll(SourceState())
    cursor = json.loads(first.cursor or "{}")
    cursor["repos"]["acme/shop"] = {"app": "shop"}  # a state this version cannot read
    for github, text in [
        (source(fake, clock, repos=["acme/shop"]), json.dumps(cursor)),
        (source(fake, clock, repos=["acme/shop"], labels={"hotfix": ["urgent"]}), first.cursor),
    ]:
        fake.reset_calls()
        poll = github.poll(SourceState(text, first.validators))
        # The stored validators are not sent: a 304 would skip what must be read again.
        assert [conditional for _, _, conditional in fake.calls] == [False] * 5
        assert len(of(poll.events, Deployment)) == 4  # 101, 103, 104 and the failed 105


# --- failure modes -----------------------------------------------------------------------------


def test_a_secondary_rate_limit_403_waits_for_retry_after(fake, clock):
    # GET /repos/{owner}/{repo}/pulls answers 403 with Retry-After (secondary rate limit).
    shop_and_search(fake)
    fake.fail(
        "GET",
        r"/repos/acme/shop/pulls$",
        403,
        json.dumps({"message": "You have exceeded a secondary rate limit. Please wait."}),
        {"Retry-After": "7", "Content-Type": "application/json"},
    )
    slept: list[float] = []
    github = source(fake, clock, slept)

    poll = github.poll(SourceState())

    assert slept == [7.0]
    assert "github/acme/shop/deployment/101" in of(poll.events, Deployment)
    assert github.health.api_requests[("gh", "403")] == 1


def test_a_5xx_is_retried_and_the_poll_succeeds(fake, clock):
    # POST /graphql answers 502 once (GitHub's timeout of a heavy query), then succeeds.
    shop_and_search(fake)
    fake.fail("POST", "graphql", 502, "<html>Bad Gateway</html>")
    slept: list[float] = []
    github = source(fake, clock, slept)

    poll = github.poll(SourceState())

    assert len(slept) == 1 and 0.5 <= slept[0] <= 1.5  # one jittered backoff of ~1 s
    assert len(of(poll.events, Deployment)) == 5
    assert github.health.api_requests[("gh", "502")] == 1


GRAPHQL = "POST https://api.github.com/graphql"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            '{"data": {"repository": {"defaultBranchRef": {"name": "ma',
            f"{GRAPHQL}: response is not valid JSON (Unterminated string starting at: line 1"
            " column 55 (char 54))",
        ),
        (
            '{"data": {"repository": {"pullRequests": {"nodes": [{"number": 1}], '
            '"pageInfo": {"hasNextPage": false, "endCursor": null}}}}}',
            "acme/shop: unexpected pull request in the answer",
        ),
        (
            json.dumps(
                {
                    "data": None,
                    "errors": [
                        {
                            "type": "RATE_LIMITED",
                            "message": "API rate limit exceeded for installation ID 1.",
                        }
                    ],
                }
            ),
            f"{GRAPHQL}: GraphQL errors: API rate limit exceeded for installation ID 1.",
        ),
    ],
    ids=["truncated", "malformed", "graphql-errors"],
)
def test_a_bad_answer_fails_the_poll_and_keeps_what_was_stored(fake, clock, body, error):
    # POST /graphql answers 200 with a truncated body, an object missing its fields, or an
    # errors array: the poll fails as a whole, nothing of it is stored, the source is down.
    shop_and_search(fake)
    github = source(fake, clock)
    health = Health()
    health.register("gh", "github")
    pipeline = pipeline_for(health)
    scheduler = Scheduler(pipeline, [github])
    assert scheduler.poll_once(github)
    before = (pipeline.store.count(), pipeline.store.state("gh"), exposition(pipeline))
    fake.repos["acme/shop"].pulls.append(
        pull(9, first_commit="2026-05-30T08:00:00Z", created="2026-05-30T09:00:00Z")
    )
    fake.fail("POST", "graphql", 200, body)

    assert not scheduler.poll_once(github)

    (status,) = health.snapshot()
    assert (status.up, status.last_error) == (False, error)
    assert TOKEN not in status.last_error
    after = (pipeline.store.count(), pipeline.store.state("gh"), exposition(pipeline))
    assert after[:2] == before[:2]
    assert value(after[2], "kpi_deployments_total", **SHOP) == 3
    # The next poll reads what the failed one missed: its validators were not kept.
    assert scheduler.poll_once(github)
    assert pipeline.store.count() == before[0] + 1


def test_a_truncated_rest_answer_fails_the_poll(fake, clock):
    # GET /repos/{owner}/{repo}/commits?per_page=1 answers 200 with half a JSON array.
    shop_and_search(fake)
    fake.fail("GET", r"/repos/acme/search/commits$", 200, '[{"sha": "a2", "comm')
    with pytest.raises(SourceError, match="not valid JSON"):
        source(fake, clock).poll(SourceState())


def test_a_deleted_repository_is_a_problem_and_the_others_still_count(fake, clock):
    # GET /repos/acme/gone/pulls answers 404: the repository was deleted or renamed.
    shop_and_search(fake)
    fake.repo("acme/gone", gone=True)
    github = source(fake, clock, repos=["acme/shop", "acme/gone", "acme/search"])
    pipeline = pipeline_for()

    poll = record(pipeline, github)

    assert poll.problems == [
        "acme/gone: skipped: GET https://api.github.com/repos/acme/gone/pulls: HTTP 404 (Not Found)"
    ]
    assert len(of(poll.events, Deployment)) == 5
    assert "acme/gone" not in json.loads(poll.cursor or "{}")["repos"]
    assert not [url for url in poll.validators if "acme/gone" in url]


def test_a_repository_graphql_cannot_resolve_is_a_problem_too(fake, clock):
    # REST still answers for the old name, GraphQL answers NOT_FOUND (renamed meanwhile).
    shop_and_search(fake)
    fake.fail(
        "POST",
        "graphql",
        200,
        json.dumps(
            {
                "data": {"repository": None},
                "errors": [
                    {
                        "type": "NOT_FOUND",
                        "path": ["repository"],
                        "message": "Could not resolve to a Repository with the name 'acme/shop'.",
                    }
                ],
            }
        ),
    )
    poll = source(fake, clock, repos=["acme/shop"]).poll(SourceState())
    assert poll.problems == [
        "acme/shop: skipped: POST https://api.github.com/graphql: Could not resolve to a"
        " Repository with the name 'acme/shop'."
    ]
    assert poll.events == [] and poll.validators == {}


def test_a_revoked_token_fails_the_poll_without_naming_the_token(fake, clock):
    # One repository's request fails the poll; the other thread stops at its next request
    # ("poll abandoned"), and the error reported is the cause.
    shop_and_search(fake)
    fake.fail("GET", r"/acme/search/pulls$", 401, json.dumps({"message": "Bad credentials"}))
    with pytest.raises(SourceError) as raised:
        source(fake, clock).poll(SourceState())
    assert str(raised.value) == (
        f"GET {fake.api}/repos/acme/search/pulls: HTTP 401 (Bad credentials)"
    )
    assert TOKEN not in str(raised.value)
    assert fake.authorizations[0] == f"Bearer {TOKEN}"


# --- changes and deployments -------------------------------------------------------------------


def small_repo(fake: FakeGitHub, name: str = "acme/shop") -> Any:
    repo = fake.repo(name)
    repo.commits = [commit("x1", "2026-05-01T10:00:00Z")]
    return repo


def two_commits(fake: FakeGitHub) -> Any:
    """The small acme/shop with x2 (05-02 10:00) on x1 (05-01 10:00)."""
    repo = small_repo(fake)
    repo.commits.insert(0, commit("x2", "2026-05-02T10:00:00Z", "x1"))
    return repo


def shop_recorded(fake: FakeGitHub, clock: Clock) -> tuple[Pipeline, Poll]:
    """A pipeline that recorded one poll of acme/shop, and that poll."""
    pipeline = pipeline_for()
    return pipeline, record(pipeline, source(fake, clock, repos=["acme/shop"]))


def test_a_merged_pull_request_never_deployed_has_no_lead_time(fake, clock):
    # POST /graphql: pullRequests (PR #1 merged as x2) and deployments (only x1 deployed).
    repo = two_commits(fake)
    repo.pulls = [
        pull(
            1,
            first_commit="2026-05-02T08:00:00Z",
            created="2026-05-02T09:00:00Z",
            merged="2026-05-02T10:00:00Z",
            merge_commit="x2",
        ),
    ]
    repo.deployments = [  # deploys x1 only, before the merge
        deployment(1, "x1", "2026-05-01T11:00:00Z", ("SUCCESS", "2026-05-01T11:05:00Z"))
    ]
    pipeline, poll = shop_recorded(fake, clock)

    change = of(poll.events, Change)["github/acme/shop#1"]
    assert (change.state, change.deployed_at, change.deployment_key) == ("merged", None, "")
    text = exposition(pipeline)
    assert value(text, "kpi_deployments_total", **SHOP) == 1
    assert value(text, "kpi_change_lead_time_seconds_count", **SHOP) == 0


def test_a_squash_merge_starts_its_lead_time_at_the_pull_requests_first_commit(fake, clock):
    # The PR's three commits (first authored 04-28 09:00) were squashed into x2 on 05-02.
    repo = two_commits(fake)
    repo.pulls = [
        pull(
            1,
            first_commit="2026-04-28T09:00:00Z",
            created="2026-04-29T09:00:00Z",
            merged="2026-05-02T10:00:00Z",
            merge_commit="x2",
        )
    ]
    repo.deployments = [
        deployment(2, "x2", "2026-05-02T11:00:00Z", ("SUCCESS", "2026-05-02T11:00:00Z"))
    ]
    pipeline, poll = shop_recorded(fake, clock)

    change = of(poll.events, Change)["github/acme/shop#1"]
    assert change.first_commit_at == ts("2026-04-28T09:00:00Z")
    # 04-28 09:00 -> 05-02 11:00 = 4 d 2 h = 352800 s -> le 1w (4d = 345600 < it)
    text = exposition(pipeline)
    assert buckets(text, "kpi_change_lead_time_seconds", **SHOP) == {WEEK: 1}
    assert value(text, "kpi_change_lead_time_seconds_sum", **SHOP) == 352800


def test_a_revert_deployment_is_a_rollback_and_fails_the_deployment_before(fake, clock):
    # x2 ships PR #1; PR #2 'Revert "Add search"' (GitHub's revert button) reverts it as x3.
    repo = small_repo(fake)
    repo.commits[:0] = [
        commit("x3", "2026-05-02T12:00:00Z", "x2"),
        commit("x2", "2026-05-02T10:00:00Z", "x1"),
    ]
    repo.pulls = [
        pull(
            1,
            first_commit="2026-05-02T08:00:00Z",
            created="2026-05-02T09:00:00Z",
            merged="2026-05-02T10:00:00Z",
            merge_commit="x2",
            title="Add search",
        ),
        pull(
            2,
            first_commit="2026-05-02T11:30:00Z",
            created="2026-05-02T11:40:00Z",
            merged="2026-05-02T12:00:00Z",
            merge_commit="x3",
            title='Revert "Add search"',
        ),
    ]
    repo.deployments = [
        deployment(1, "x2", "2026-05-02T10:30:00Z", ("SUCCESS", "2026-05-02T10:40:00Z")),
        deployment(2, "x3", "2026-05-02T12:10:00Z", ("SUCCESS", "2026-05-02T12:20:00Z")),
    ]
    pipeline, poll = shop_recorded(fake, clock)

    deployments = of(poll.events, Deployment)
    assert deployments["github/acme/shop/deployment/1"].change_type == "normal"
    assert deployments["github/acme/shop/deployment/2"].change_type == "rollback"
    text = exposition(pipeline)
    assert value(text, "kpi_deployments_total", **SHOP) == 2
    assert value(text, "kpi_deployments_failed_total", **SHOP) == 1  # the first: rolled back
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 1


def test_redeploying_an_older_commit_is_a_rollback(fake, clock):
    # POST /graphql deployments: x1, x2, then x1 again (a rollback), then x1 once more.
    repo = two_commits(fake)
    repo.deployments = [
        deployment(1, "x1", "2026-05-01T11:00:00Z", ("SUCCESS", "2026-05-01T11:00:00Z")),
        deployment(2, "x2", "2026-05-02T11:00:00Z", ("SUCCESS", "2026-05-02T11:00:00Z")),
        deployment(3, "x1", "2026-05-02T12:00:00Z", ("SUCCESS", "2026-05-02T12:00:00Z")),
        deployment(4, "x1", "2026-05-02T13:00:00Z", ("SUCCESS", "2026-05-02T13:00:00Z")),
    ]
    poll = source(fake, clock, repos=["acme/shop"]).poll(SourceState())
    assert {k.rsplit("/", 1)[1]: d.change_type for k, d in of(poll.events, Deployment).items()} == {
        "1": "normal",
        "2": "normal",
        "3": "rollback",  # back to x1
        "4": "normal",  # x1 again: a re-run of what runs there, no rollback
    }


def test_a_force_pushed_branch_is_read_again_within_the_horizon(fake, clock):
    # POST /graphql defaultBranchRef.target.history(since: ...): the known head is gone.
    repo = small_repo(fake)
    repo.commits[:0] = [
        commit("x3", "2026-05-03T10:00:00Z", "x2"),
        commit("x2", "2026-05-02T10:00:00Z", "x1"),
    ]
    github = source(fake, clock, repos=["acme/shop"])
    pipeline = pipeline_for()
    record(pipeline, github)
    # main is rewritten: x2 and x3 are replaced by y2 and y3; PR #1 merges as y3, deployed.
    repo.commits = [
        commit("y3", "2026-05-04T10:00:00Z", "y2"),
        commit("y2", "2026-05-03T12:00:00Z", "x1"),
        commit("x1", "2026-05-01T10:00:00Z"),
    ]
    repo.pulls = [
        pull(
            1,
            first_commit="2026-05-04T08:00:00Z",
            created="2026-05-04T09:00:00Z",
            merged="2026-05-04T10:00:00Z",
            merge_commit="y3",
        )
    ]
    repo.deployments = [
        deployment(1, "y3", "2026-05-04T10:30:00Z", ("SUCCESS", "2026-05-04T11:00:00Z"))
    ]
    fake.queries.clear()

    poll = record(pipeline, github)

    # First the usual read from a day before the head x3 (finds y3, y2 but not x3), then the
    # history within the horizon again.
    assert [q["variables"].get("historySince") for q in fake.queries] == [
        "2026-05-02T10:00:00Z",
        iso(NOW - 365 * DAY),
    ]
    change = of(poll.events, Change)["github/acme/shop#1"]
    assert change.deployment_key == "github/acme/shop/deployment/1"
    cursor = json.loads(pipeline.store.state("gh").cursor or "{}")
    assert cursor["repos"]["acme/shop"]["head"] == "y3"
    assert set(cursor["repos"]["acme/shop"]["commits"]) == {"y3", "y2", "x1"}


def test_a_pending_deployment_is_read_again_until_it_succeeds(fake, clock):
    # GET /repos/{o}/{r}/deployments?per_page=1 does not change when a status is added, so
    # a deployment seen pending is re-read (GraphQL) while it is young.
    repo = small_repo(fake)
    repo.pulls = [
        pull(
            1,
            first_commit="2026-05-31T20:00:00Z",
            created="2026-05-31T21:00:00Z",
            merged="2026-05-31T22:00:00Z",
            merge_commit="x1",
            updated="2026-05-31T22:00:00Z",
        )
    ]
    repo.commits = [commit("x1", "2026-05-31T22:00:00Z")]
    repo.deployments = [
        deployment(5, "x1", "2026-05-31T23:00:00Z", ("IN_PROGRESS", "2026-05-31T23:01:00Z"))
    ]
    github = source(fake, clock, repos=["acme/shop"])
    pipeline = pipeline_for()
    assert of(record(pipeline, github).events, Deployment) == {}
    repo.deployments[0] = deployment(
        5,
        "x1",
        "2026-05-31T23:00:00Z",
        ("IN_PROGRESS", "2026-05-31T23:01:00Z"),
        ("SUCCESS", "2026-05-31T23:30:00Z"),
    )
    fake.reset_calls()

    poll = record(pipeline, github)

    assert [status for status in fake.statuses].count(304) == 4  # every check unchanged
    assert "deployments(" in fake.queries[-1]["query"]
    assert set(of(poll.events, Deployment)) == {"github/acme/shop/deployment/5"}
    assert of(poll.events, Change)["github/acme/shop#1"].deployed_at == ts("2026-05-31T23:30:00Z")
    fake.reset_calls()
    assert record(pipeline, github).events == []
    assert fake.statuses == [304] * 4


# --- other deployment signals ------------------------------------------------------------------


def test_releases_are_deployments_once_published(fake, clock):
    # GET /repos/{o}/{r}/releases?per_page=1 (check), POST /graphql releases(...).
    repo = two_commits(fake)
    repo.releases = [
        release(1, "v1.0.0", "x1", "2026-05-01T12:00:00Z", "2026-05-01T12:30:00Z"),
        release(2, "v1.1.0", "x2", "2026-05-02T12:00:00Z", None, draft=True),
    ]
    github = source(fake, clock, repos=["acme/shop"], deploy_signal="releases")
    pipeline = pipeline_for()
    poll = record(pipeline, github)
    assert {k: (d.version, d.finished_at) for k, d in of(poll.events, Deployment).items()} == {
        "github/acme/shop/release/1": ("v1.0.0", ts("2026-05-01T12:30:00Z"))
    }
    # The draft is published: the releases list changes, the draft (created before the
    # newest release read) is read again and deploys x2.
    repo.releases[1] = release(2, "v1.1.0", "x2", "2026-05-02T12:00:00Z", "2026-05-03T08:00:00Z")
    poll = record(pipeline, github)
    assert {k: d.commit for k, d in of(poll.events, Deployment).items()} == {
        "github/acme/shop/release/2": "x2"
    }


def test_tags_matching_the_pattern_are_deployments_at_their_tag_date(fake, clock):
    # GET /repos/{o}/{r}/git/matching-refs/tags (check), POST /graphql refs(refPrefix:
    # "refs/tags/").
    repo = two_commits(fake)
    repo.tags = [
        tag("v1.0.0", "x1", "2026-05-01T10:00:00Z"),  # lightweight: the commit's date
        tag("v1.1.0", "x2", "2026-05-02T10:00:00Z", tagged="2026-05-03T09:00:00Z"),
        tag("nightly", "x2", "2026-05-02T10:00:00Z"),
    ]
    poll = source(fake, clock, repos=["acme/shop"], deploy_signal="tags").poll(SourceState())
    assert {k: d.finished_at for k, d in of(poll.events, Deployment).items()} == {
        "github/acme/shop/tag/v1.0.0": ts("2026-05-01T10:00:00Z"),
        "github/acme/shop/tag/v1.1.0": ts("2026-05-03T09:00:00Z"),
    }


def test_any_new_tag_is_seen_whatever_its_place_in_name_order(fake, clock):
    # GitHub's /tags sorts by name (numbers as numbers): its first entry is v1.9.0 and then
    # v1.10.0 (seen), but v2.0.0 stays first when the backport v1.4.3 comes after it. The
    # check lists every tag ref, so each new tag changes it.
    repo = small_repo(fake)
    github = source(fake, clock, repos=["acme/shop"], deploy_signal="tags")
    state = SourceState()
    pushed = [
        ("v1.9.0", "c1", "2026-05-10T10:00:00Z"),
        ("v1.10.0", "c2", "2026-05-11T10:00:00Z"),
        ("v2.0.0", "c3", "2026-05-12T10:00:00Z"),
        ("v1.4.3", "c4", "2026-05-13T10:00:00Z"),  # a backport, tagged last
    ]
    first_by_name = []
    for name, oid, at in pushed:
        repo.commits.insert(0, commit(oid, at, repo.commits[0]["oid"]))
        repo.tags.append(tag(name, oid, at))
        clock.now = ts(at) + HOUR
        fake.reset_calls()
        poll = github.poll(state)
        state = SourceState(cursor=poll.cursor, validators=poll.validators)
        # one deployment per poll: the tag just pushed, at its commit's date (lightweight)
        assert {k: d.finished_at for k, d in of(poll.events, Deployment).items()} == {
            f"github/acme/shop/tag/{name}": ts(at)
        }
        listed = requests.get(f"{fake.api}/repos/acme/shop/tags?per_page=1", timeout=5)
        first_by_name.append(listed.json()[0]["name"])
    assert first_by_name == ["v1.9.0", "v1.10.0", "v2.0.0", "v2.0.0"]

    fake.reset_calls()
    assert github.poll(state).events == []  # no new tag: the list of tag refs answers 304
    refs = f"{fake.api}/repos/acme/shop/git/matching-refs/tags"
    assert [(c, s) for c, s in zip(fake.calls, fake.statuses, strict=True) if c[1] == refs] == [
        (("GET", refs, True), 304)
    ]


def test_a_pull_request_update_alone_does_not_read_the_issues(fake, clock):
    # GET /issues lists pull requests too (each with a ``pull_request`` object): the check
    # reads its first 100 entries and the issues are read (GraphQL ``issues(``) only when one
    # that is not a pull request was updated after the newest issue read.
    repo = small_repo(fake)
    repo.issues = [issue(5, "2026-05-20T08:00:00Z", ["incident"])]
    repo.pulls = [pull(7, created="2026-05-20T09:00:00Z", first_commit="2026-05-20T08:30:00Z")]
    github = source(fake, clock, repos=["acme/shop"])

    def polled(state: SourceState) -> tuple[SourceState, bool]:
        fake.reset_calls()
        poll = github.poll(state)
        read = any("issues(" in q["query"] for q in fake.queries)
        return SourceState(cursor=poll.cursor, validators=poll.validators), read

    state, read = polled(SourceState())
    assert read  # first sync
    repo.pulls[0]["updatedAt"] = "2026-05-25T10:00:00Z"  # a review, a push: the PR only
    state, read = polled(state)
    assert not read
    assert any("pullRequests(" in q["query"] for q in fake.queries)
    repo.issues[0]["updatedAt"] = "2026-05-26T10:00:00Z"  # the incident is updated
    state, read = polled(state)
    assert read


def test_workflow_runs_are_read_in_pages_following_the_link_header(fake, clock):
    # GET /repos/{o}/{r}/actions/workflows/deploy.yml/runs?status=success&per_page=100:
    # 150 runs in two pages linked by Link: <...&page=2>; rel="next".
    repo = small_repo(fake)
    repo.runs = [
        workflow_run(
            1000 + i,
            "x1",
            iso(ts("2026-05-01T11:00:00Z") + i * 60),
            iso(ts("2026-05-01T11:05:00Z") + i * 60),
        )
        for i in range(150)
    ]
    github = source(
        fake, clock, repos=["acme/shop"], deploy_signal="workflow_runs", workflow="deploy.yml"
    )
    poll = github.poll(SourceState())

    assert len(of(poll.events, Deployment)) == 150
    runs = [url for _, url, _ in fake.calls if "/runs" in url]
    assert runs == [
        f"{fake.api}/repos/acme/shop/actions/workflows/deploy.yml/runs?per_page=1&status=success",
        f"{fake.api}/repos/acme/shop/actions/workflows/deploy.yml/runs?per_page=100&status=success",
        f"{fake.api}/repos/acme/shop/actions/workflows/deploy.yml/runs?page=2&per_page=100&status=success",
    ]


def test_every_connection_is_paged_in_the_same_queries(fake, clock):
    # 150 pull requests, 250 commits, 120 deployments: 2, 3 and 2 pages of 100. Read
    # together, that is 3 GraphQL requests (the longest connection), not 7.
    repo = fake.repo("acme/shop")
    start = ts("2026-01-01T00:00:00Z")
    repo.commits = [
        commit(f"c{i}", iso(start + i * HOUR), *([f"c{i - 1}"] if i else []))
        for i in reversed(range(250))
    ]
    repo.pulls = [
        pull(
            n,
            first_commit=iso(start + n * HOUR - 1800),
            created=iso(start + n * HOUR - 900),
            merged=iso(start + n * HOUR),
            merge_commit=f"c{n}",
        )
        for n in range(1, 151)
    ]
    repo.deployments = [
        deployment(
            n,
            f"c{2 * n}",
            iso(start + 2 * n * HOUR + 60),
            ("SUCCESS", iso(start + 2 * n * HOUR + 600)),
        )
        for n in range(1, 121)
    ]
    poll = source(fake, clock, repos=["acme/shop"]).poll(SourceState())

    assert len(fake.queries) == 3
    assert [
        sorted(k for k, v in q["variables"].items() if k.endswith("After") and v)
        for q in fake.queries
    ] == [
        [],
        ["deploymentsAfter", "historyAfter", "pullRequestsAfter"],
        ["historyAfter"],
    ]
    changes = of(poll.events, Change)
    assert len(changes) == 150 and len(of(poll.events, Deployment)) == 120
    # PR n merges as c{n} at start + n h; deployment m ships c{2m} 10 minutes after it, so
    # an odd PR waits one hour more: lead times 30 m + 10 m (even n) or 1 h 40 m (odd n).
    assert changes["github/acme/shop#2"].deployed_at == start + 2 * HOUR + 600
    assert changes["github/acme/shop#3"].deployed_at == start + 4 * HOUR + 600


# --- authentication ----------------------------------------------------------------------------


def test_an_app_token_expiring_mid_sync_is_renewed_and_the_sync_completes(fake, clock, monkeypatch):
    # POST /app/installations/{id}/access_tokens with an RS256 JWT; the installation token
    # lives an hour. Every API request here takes 10 minutes of the fake clock, so the
    # token is renewed (5 minutes before it expires) in the middle of the sync.
    key = app_key()
    monkeypatch.setenv(KEY_ENV, pkcs8(key))
    shop_and_search(fake)

    def advance() -> None:
        clock.now += 600

    fake.on_request = advance
    github = source(
        fake,
        clock,
        app={"app_id": 12345, "installation_id": 678, "private_key_env": KEY_ENV},
        concurrency=1,
    )

    poll = github.poll(SourceState())

    assert len(of(poll.events, Deployment)) == 5
    # 10 API requests at +0, +600, ... +5400 s; token 1 (expires +3600) serves until +3000,
    # the request at +3600 renews it (token 2 expires +7200).
    assert fake.installation_tokens == ["ghs_installation1", "ghs_installation2"]
    assert (
        fake.authorizations == ["Bearer ghs_installation1"] * 6 + ["Bearer ghs_installation2"] * 4
    )
    jwt = fake.jwts[0]
    header, claims, signature = jwt.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(decode(header)) == {"alg": "RS256", "typ": "JWT"}
    assert json.loads(decode(claims)) == {
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 540,
        "iss": "12345",
    }
    key.public_key().verify(  # raises if the signature is wrong
        decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    stored = (poll.cursor or "") + "".join(to_json(e) for e in poll.events)
    assert "ghs_installation" not in stored and "BEGIN" not in stored


def test_an_installation_the_app_cannot_reach_fails_the_poll(fake, clock, monkeypatch):
    # POST /app/installations/{id}/access_tokens answers 404 (app uninstalled): no
    # repository can be read, so the poll fails instead of skipping every repository.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    monkeypatch.setenv(KEY_ENV, pem)
    shop_and_search(fake)
    fake.fail("POST", r"/access_tokens$", 404, json.dumps({"message": "Not Found"}))
    github = source(
        fake, clock, app={"app_id": 1, "installation_id": 2, "private_key_env": KEY_ENV}
    )
    with pytest.raises(SourceError) as raised:
        github.poll(SourceState())
    assert str(raised.value) == (
        "github.app: no installation token: POST"
        f" {fake.api}/app/installations/2/access_tokens: HTTP 404 (Not Found)"
    )
    assert fake.calls == []  # no API request went out without a token


def test_an_unreadable_app_key_is_reported_without_its_content(fake, clock, monkeypatch):
    # No request at all: the key is read and parsed before POST /app/installations/...
    monkeypatch.setenv(KEY_ENV, "-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----")
    github = source(
        fake, clock, app={"app_id": 1, "installation_id": 2, "private_key_env": KEY_ENV}
    )
    with pytest.raises(SourceError) as raised:
        github.poll(SourceState())
    assert str(raised.value) == "github.app: the private key is not a readable PEM private key"


# --- discovery and endpoints -------------------------------------------------------------------


def test_org_discovery_filters_by_name_pattern_and_topics_and_skips_archived(fake, clock):
    # GET /orgs/acme/repos?per_page=100: 125 repositories in two pages (Link rel="next").
    listed = [org_repository("acme", f"tool-{i:03}", topics=["kpi"]) for i in range(120)]
    listed += [
        org_repository("acme", "shop", topics=["kpi", "payments"]),
        org_repository("acme", "search", topics=["KPI"]),
        org_repository("acme", "shop-old", topics=["kpi"], archived=True),
        org_repository("acme", "shop-tools", topics=["payments"]),  # no kpi topic
        org_repository("acme", "docs"),
    ]
    fake.orgs["acme"] = listed
    small_repo(fake, "acme/shop")
    small_repo(fake, "acme/search")
    github = source(fake, clock, org="acme", repo_pattern="^(shop|search)", topics=["kpi"])
    pipeline = pipeline_for()

    poll = record(pipeline, github)

    assert poll.problems == []
    assert sorted(json.loads(poll.cursor or "{}")["repos"]) == ["acme/search", "acme/shop"]
    listing = [url for _, url, _ in fake.calls if "/orgs/" in url]
    assert listing == [
        f"{fake.api}/orgs/acme/repos?per_page=100",
        f"{fake.api}/orgs/acme/repos?page=2&per_page=100",
    ]
    fake.reset_calls()
    record(pipeline, github)  # the listing answers 304: the same repositories
    assert fake.statuses == [304] * 9  # the listing, and 4 checks x 2 repositories
    # New filters read the listing again, unconditionally, but not the repositories kept.
    fake.reset_calls()
    narrower = source(fake, clock, org="acme", repo_pattern="^shop$", topics=["kpi"])
    poll = record(pipeline, narrower)
    assert sorted(json.loads(poll.cursor or "{}")["repos"]) == ["acme/shop"]
    assert fake.statuses == [200, 200] + [304] * 4


def test_github_enterprise_server_answers_under_api_v3_and_api_graphql(clock, monkeypatch):
    # GHES: REST under https://HOST/api/v3/..., GraphQL at POST https://HOST/api/graphql.
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeGitHub("https://ghe.example.test/api/v3", clock=clock)
        fake.register_on(mock)
        assert fake.graphql_url == "https://ghe.example.test/api/graphql"
        shop_and_search(fake)
        poll = source(fake, clock).poll(SourceState())
        assert len(of(poll.events, Deployment)) == 5
        urls = {url.split("?")[0] for _, url, _ in fake.calls}
        assert "https://ghe.example.test/api/graphql" in urls
        assert "https://ghe.example.test/api/v3/repos/acme/shop/pulls" in urls


# --- registration --------------------------------------------------------------------------------
