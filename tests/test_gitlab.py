"""The GitLab source against a fake GitLab (``responses``) whose payloads follow the REST API v4
reference: deployments, merge requests and their commits, notes, approvals and diffs, issues,
repository commits and group projects. Every test names the endpoints it serves; every
expectation is computed by hand in the test (lead-time buckets: ..., 8h, 1d, 2d, 4d, 1w, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

import pytest
import requests
import responses

from kpi_exporter.model import Change, Defect, Deployment, Identity, Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.scheduler import Scheduler
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.gitlab import GitLab
from kpi_exporter.store import SourceState, Store
from tests.gitlab_fake import (
    ALICE,
    API,
    BOB,
    DETAIL_ENDPOINTS,
    Details,
    FakeGitLab,
    approvals,
    at,
    commit,
    deployment,
    diff,
    issue,
    list_params,
    merge_request,
    note,
    project_path,
    serve_details,
    serve_history,
    serve_lists,
)
from tests.support import HOUR, built_source, by_key, poll_into, served, ts, value

TOKEN = "glpat-s3cret-token-value"
NOW = ts("2026-03-10T00:00:00Z")
SHOP = {"app": "shop", "team": "payments", "environment": "production"}
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, repos: [acme/shop]}
  api: {team: platform, repos: [acme/platform/api]}
"""
# --- the shop: a hand-computed history -----------------------------------------------------
#
# default branch:  c0 - f1a - f1b - m1 (merge of !1) - s2 (squash of !2) - f3a - m3 (merge of !3)
#
# !1  first commit 03-02 08:00, opened 10:00, Bob comments 12:00, approves 14:00, merged 16:00
#     as m1; +3 -1 lines. Deployed by D101 (production, m1) at 18:00: lead time 10 h (<= 1 d).
# !2  first commit 03-03 09:00, opened 10:00, only the author comments, merged 03-04 10:00 as
#     squash commit s2, label "Hotfix"; +10 -5. D102 ships s2 to staging (not production) at
#     03-04 11:00; D103 ships it to production at 03-05 10:00: lead time 49 h (2 d < 49 h <= 4 d),
#     and D103 is a hotfix deployment.
# !3  first commit 03-05 20:00, merged 03-06 10:00 as m3; approved by Bob on a GitLab without
#     approved_at: the 09:00 system note tells when. No deployment contains it yet.
# !4  open since 03-07 10:00, first commit 03-07 09:00.
# #5  incident, HIGH, 03-05 12:00 -> 14:00: after D103, so D103 failed. #6 a bug, #7 neither.

MR1 = merge_request(
    1,
    at("2026-03-02T10:00"),
    merged_at=at("2026-03-02T16:00"),
    merge_commit_sha="m1",
    sha="f1b",
)
MR2 = merge_request(
    2,
    at("2026-03-03T10:00"),
    merged_at=at("2026-03-04T10:00"),
    squash_commit_sha="s2",
    squash=True,
    sha="f2a",
    labels=["Hotfix"],
)
MR3 = merge_request(
    3, at("2026-03-05T21:00"), merged_at=at("2026-03-06T10:00"), merge_commit_sha="m3", sha="f3a"
)
MR4 = merge_request(4, at("2026-03-07T10:00"), state="opened", sha="f4a")
DETAILS = {
    1: Details(
        commits=[
            commit("f1b", at("2026-03-02T09:00"), ["f1a"]),
            commit("f1a", at("2026-03-02T08:00"), ["c0"]),
        ],
        notes=[
            note(11, ALICE, at("2026-03-02T10:30"), "Ready for review"),
            note(12, BOB, at("2026-03-02T11:00"), "requested review from @bob", system=True),
            note(13, BOB, at("2026-03-02T12:00"), "Looks good, one question"),
            note(14, BOB, at("2026-03-02T14:00"), "approved this merge request", system=True),
        ],
        approvals=approvals({"user": BOB, "approved_at": at("2026-03-02T14:00")}),
        diffs=[diff(2, 1), diff(1, 0, "README.md")],
    ),
    2: Details(
        commits=[commit("f2a", at("2026-03-03T09:30"), ["m1"], authored=at("2026-03-03T09:00"))],
        notes=[note(21, ALICE, at("2026-03-03T11:00"), "Self-merging the hotfix")],
        diffs=[diff(10, 5)],
    ),
    3: Details(
        commits=[commit("f3a", at("2026-03-05T20:00"), ["s2"])],
        notes=[note(31, BOB, at("2026-03-06T09:00"), "approved this merge request", system=True)],
        approvals=approvals({"user": BOB}),
        diffs=[diff(1, 0)],
    ),
    4: Details(commits=[commit("f4a", at("2026-03-07T09:00"), ["m3"])], diffs=[diff(2, 2)]),
}
D101 = deployment(101, "m1", at("2026-03-02T18:00"))
D102 = deployment(102, "s2", at("2026-03-04T11:00"), environment="staging")
D103 = deployment(103, "s2", at("2026-03-05T10:00"))
ISSUES = [
    issue(7, at("2026-03-06T09:00"), labels=["docs"]),
    issue(6, at("2026-03-06T08:00"), labels=["bug"]),
    issue(
        5,
        at("2026-03-05T12:00"),
        issue_type="incident",
        type="INCIDENT",
        severity="HIGH",
        state="closed",
        closed_at=at("2026-03-05T14:00"),
    ),
]
HISTORY = [  # since 03-01 16:00: !1 merged 03-02 16:00, less a day
    commit("m3", at("2026-03-06T10:00"), ["s2", "f3a"]),
    commit("f3a", at("2026-03-05T20:00"), ["s2"]),
    commit("s2", at("2026-03-04T10:00"), ["m1"]),
    commit("m1", at("2026-03-02T16:00"), ["c0", "f1b"]),
    commit("f1b", at("2026-03-02T09:00"), ["f1a"]),
    commit("f1a", at("2026-03-02T08:00"), ["c0"]),
]


def serve_shop(fake: FakeGitLab) -> None:
    serve_lists(fake, "acme/shop", [D103, D102, D101], [MR4, MR3, MR2, MR1], ISSUES)
    for iid, details in DETAILS.items():
        serve_details(fake, "acme/shop", iid, details)
    serve_history(fake, "acme/shop", "2026-03-01T16:00:00Z", HISTORY)


# --- running the source --------------------------------------------------------------------


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterable[FakeGitLab]:
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    with responses.mock:  # any request without a route fails: nothing leaves the test
        yield FakeGitLab()


def gitlab(slept: list[float] | None = None, **config: Any) -> GitLab:
    settings: dict[str, Any] = {"type": "gitlab", "name": "gl", "token_env": "GITLAB_TOKEN"}
    settings.update(api_url=API, projects=["acme/shop"])
    settings.update(config)
    source: GitLab = built_source(settings, CONFIG, clock=lambda: NOW, slept=slept)
    return source


def calls() -> list[tuple[requests.PreparedRequest, requests.Response]]:
    """Every (request, response) so far, in order."""
    return [(call.request, cast(requests.Response, call.response)) for call in responses.calls]


def requested() -> list[str]:
    """Path and query of every request so far, in order (the API root left out)."""
    return [str(request.url).removeprefix(API) for request, _ in calls()]


def statuses() -> list[int]:
    return [response.status_code for _, response in calls()]


# --- tests ---------------------------------------------------------------------------------


def test_first_sync_gives_hand_computed_deployments_changes_flow_and_incidents(fake, tmp_path):
    """Endpoints: deployments, merge_requests (+ commits, notes, approvals, diffs), issues,
    repository/commits."""
    serve_shop(fake)
    pipeline = Pipeline(Store(tmp_path / "s.db"))

    poll = poll_into(pipeline, gitlab())

    assert poll.problems == []
    events = by_key(poll.events)
    assert set(events) == {
        ("deployment", "gitlab/acme/shop/deployment/101"),
        ("deployment", "gitlab/acme/shop/deployment/103"),
        ("change", "gitlab/acme/shop!1"),
        ("change", "gitlab/acme/shop!2"),
        ("change", "gitlab/acme/shop!3"),
        ("change", "gitlab/acme/shop!4"),
        ("incident", "gitlab/acme/shop#5"),
        ("defect", "gitlab/acme/shop#6"),
    }
    d101 = events[("deployment", "gitlab/acme/shop/deployment/101")]
    assert d101 == Deployment(
        **Identity(source="gl", key="gitlab/acme/shop/deployment/101", app="shop", team="payments"),
        environment="production",
        finished_at=ts("2026-03-02T18:00:00Z"),
        started_at=ts("2026-03-02T17:55:00Z"),
        commit="m1",
        change_type="normal",
    )
    d103 = events[("deployment", "gitlab/acme/shop/deployment/103")]
    assert isinstance(d103, Deployment) and d103.change_type == "hotfix" and d103.commit == "s2"

    assert events[("change", "gitlab/acme/shop!1")] == Change(
        **Identity(source="gl", key="gitlab/acme/shop!1", app="shop", team="payments"),
        first_commit_at=ts("2026-03-02T08:00:00Z"),
        opened_at=ts("2026-03-02T10:00:00Z"),
        first_review_at=ts("2026-03-02T12:00:00Z"),  # Bob's comment; the author's is no review
        approved_at=ts("2026-03-02T14:00:00Z"),
        merged_at=ts("2026-03-02T16:00:00Z"),
        size_lines=4,  # +2 -1 and +1
        reviewed=True,
        deployed_environment="production",
        deployed_at=ts("2026-03-02T18:00:00Z"),
        deployment_key="gitlab/acme/shop/deployment/101",
        state="merged",
    )
    mr2 = events[("change", "gitlab/acme/shop!2")]
    assert isinstance(mr2, Change)
    assert (mr2.first_commit_at, mr2.first_review_at, mr2.approved_at, mr2.reviewed) == (
        ts("2026-03-03T09:00:00Z"),
        None,
        None,
        False,
    )
    assert (mr2.size_lines, mr2.labels, mr2.deployment_key, mr2.deployed_at) == (
        15,
        ("Hotfix",),
        "gitlab/acme/shop/deployment/103",  # not D102: staging is not production
        ts("2026-03-05T10:00:00Z"),
    )
    mr3 = events[("change", "gitlab/acme/shop!3")]
    assert isinstance(mr3, Change)
    assert mr3.approved_at == mr3.first_review_at == ts("2026-03-06T09:00:00Z")
    assert (mr3.state, mr3.deployed_at, mr3.deployment_key) == ("merged", None, "")
    mr4 = events[("change", "gitlab/acme/shop!4")]
    assert isinstance(mr4, Change)
    assert (mr4.state, mr4.merged_at, mr4.first_commit_at, mr4.size_lines) == (
        "open",
        None,
        ts("2026-03-07T09:00:00Z"),
        4,
    )
    assert events[("incident", "gitlab/acme/shop#5")] == Incident(
        **Identity(source="gl", key="gitlab/acme/shop#5", app="shop", team="payments"),
        severity="high",
        started_at=ts("2026-03-05T12:00:00Z"),
        resolved_at=ts("2026-03-05T14:00:00Z"),
    )
    assert events[("defect", "gitlab/acme/shop#6")] == Defect(
        **Identity(source="gl", key="gitlab/acme/shop#6", app="shop", team="payments"),
        created_at=ts("2026-03-06T08:00:00Z"),
    )

    text = served(pipeline)
    assert value(text, "kpi_deployments_total", **SHOP) == 2
    # !1: 10 h, in the 1 d bucket; !2: 49 h, in the 4 d bucket.
    lead = "kpi_change_lead_time_seconds"
    assert value(text, f"{lead}_bucket", **SHOP, le=str(8 * HOUR)) == 0
    assert value(text, f"{lead}_bucket", **SHOP, le=str(24 * HOUR)) == 1
    assert value(text, f"{lead}_bucket", **SHOP, le=str(48 * HOUR)) == 1
    assert value(text, f"{lead}_bucket", **SHOP, le=str(96 * HOUR)) == 2
    assert value(text, f"{lead}_count", **SHOP) == 2
    assert value(text, f"{lead}_sum", **SHOP) == 59 * HOUR
    # D103 is a hotfix (rework), and incident #5 started after it: failed.
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 1
    assert value(text, "kpi_deployments_failed_total", **SHOP) == 1
    assert value(text, "kpi_incidents_total", **SHOP, severity="high") == 1

    # 3 lists + 4 requests for each of the 4 MRs + the default-branch history, once each.
    assert len(responses.calls) == 3 + 4 * 4 + 1
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in responses.calls)


def test_steady_state_costs_three_conditional_requests_answered_304(fake, tmp_path):
    """Endpoints: deployments, merge_requests, issues (first pages, If-None-Match)."""
    serve_shop(fake)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    source = gitlab()
    poll_into(pipeline, source)
    etags = {request.url: response.headers["ETag"] for request, response in calls()}
    responses.calls.reset()

    again = poll_into(pipeline, source)

    shop = project_path("acme/shop")
    assert [url.split("?")[0] for url in requested()] == [
        f"{shop}/deployments",
        f"{shop}/merge_requests",
        f"{shop}/issues",
    ]
    for request, response in calls():
        assert response.status_code == 304
        assert request.headers["If-None-Match"] == etags[request.url]
    assert again.events == [] and source.health.api_requests[("gl", "304")] == 3
    assert value(served(pipeline), "kpi_deployments_total", **SHOP) == 2  # nothing lost


def test_a_merged_mr_never_deployed_waits_and_a_later_deployment_ships_it_without_rereading(
    fake, tmp_path
):
    """Endpoints: deployments (changed first page), repository/commits; merge_requests and
    issues answer 304 and no MR detail is requested again."""
    serve_shop(fake)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    source = gitlab()
    first = poll_into(pipeline, source)
    mr3 = by_key(first.events)[("change", "gitlab/acme/shop!3")]
    assert isinstance(mr3, Change) and mr3.deployed_at is None  # merged, never deployed (yet)
    responses.calls.reset()

    # D104 ships m3 to production on 03-08 10:00.
    d104 = deployment(104, "m3", at("2026-03-08T10:00"))
    serve_lists(fake, "acme/shop", [d104, D103, D102, D101], [MR4, MR3, MR2, MR1], ISSUES)
    # !3 merged 03-06 10:00 less a day: the history is read from 03-05 10:00.
    serve_history(fake, "acme/shop", "2026-03-05T10:00:00Z", HISTORY[:2])
    second = poll_into(pipeline, source)

    shop = project_path("acme/shop")
    assert [
        (u.split("?")[0], status) for u, status in zip(requested(), statuses(), strict=True)
    ] == [
        (f"{shop}/deployments", 200),
        (f"{shop}/merge_requests", 304),
        (f"{shop}/issues", 304),
        (f"{shop}/repository/commits", 200),
    ]
    events = by_key(second.events)
    assert set(events) == {
        ("deployment", "gitlab/acme/shop/deployment/104"),
        ("change", "gitlab/acme/shop!3"),
    }
    shipped = events[("change", "gitlab/acme/shop!3")]
    assert shipped == replace(
        mr3,
        deployed_environment="production",
        deployed_at=ts("2026-03-08T10:00:00Z"),
        deployment_key="gitlab/acme/shop/deployment/104",
    )
    # 03-05 20:00 -> 03-08 10:00 = 62 h: a third change in the 4 d bucket.
    text = served(pipeline)
    lead = "kpi_change_lead_time_seconds"
    assert value(text, f"{lead}_bucket", **SHOP, le=str(96 * HOUR)) == 3
    assert value(text, f"{lead}_sum", **SHOP) == (59 + 62) * HOUR
    assert value(text, "kpi_deployments_total", **SHOP) == 3


def test_a_squash_merge_is_found_through_its_squash_commit(fake):
    """Endpoints: deployments, merge_requests (+ details), issues, repository/commits. The MR's
    own commits (f9a, f9b) never reach the default branch; its squash commit s9 does, and the
    deployment of a later commit (x10, child of s9) contains it."""
    mr = merge_request(
        9,
        at("2026-03-03T10:00"),
        merged_at=at("2026-03-03T12:00"),
        squash_commit_sha="s9",
        squash=True,
        merge_commit_sha=None,
        sha="f9b",
    )
    serve_lists(fake, "acme/shop", [deployment(110, "x10", at("2026-03-03T15:00"))], [mr])
    serve_details(
        fake,
        "acme/shop",
        9,
        Details(
            commits=[
                commit("f9b", at("2026-03-02T11:00"), ["f9a"]),
                commit("f9a", at("2026-03-02T10:00"), ["c0"]),
            ],
            diffs=[diff(3, 3)],
        ),
    )
    serve_history(
        fake,
        "acme/shop",
        "2026-03-02T12:00:00Z",
        [
            commit("x10", at("2026-03-03T14:00"), ["s9"]),
            commit("s9", at("2026-03-03T12:00"), ["c0"]),
        ],
    )

    change = by_key(gitlab().poll(SourceState()).events)[("change", "gitlab/acme/shop!9")]

    assert isinstance(change, Change)
    assert change.first_commit_at == ts("2026-03-02T10:00:00Z")
    assert change.deployment_key == "gitlab/acme/shop/deployment/110"
    assert change.deployed_at == ts("2026-03-03T15:00:00Z")  # lead time 29 h
    assert change.size_lines == 6


def test_list_pages_are_followed_on_first_sync_and_only_while_new_afterwards(fake):
    """Endpoint: merge_requests over three pages (Link rel="next"), open MRs and their details."""
    shop_mrs = f"{project_path('acme/shop')}/merge_requests"
    params = list_params("merge_requests")
    mrs = [  # updated newest first: !1 at 22:00 ... !5 at 18:00
        merge_request(
            n, at("2026-03-01T10:00"), state="opened", updated_at=at(f"2026-03-09T{23 - n}:00")
        )
        for n in range(1, 6)
    ]
    serve_lists(fake, "acme/shop")
    fake.pages(shop_mrs, [mrs[:2], mrs[2:4], mrs[4:]], **params)
    for n in range(1, 7):
        serve_details(fake, "acme/shop", n, Details([commit(f"f{n}", at("2026-03-01T09:00"), [])]))
    source = gitlab()

    first = source.poll(SourceState())

    assert sorted(e.key for e in first.events) == [f"gitlab/acme/shop!{n}" for n in range(1, 6)]
    assert sum(1 for u in requested() if u.startswith(f"{shop_mrs}?")) == 3

    # !6 is new and !2 was updated. The changed first page goes on to !1 (read before) and
    # !3 (older than the cursor): page 2 is not requested, nor any detail of !1, !3, !4, !5.
    responses.calls.reset()
    mr6 = merge_request(6, at("2026-03-09T23:10"), state="opened")
    mr2 = {**mrs[1], "updated_at": at("2026-03-09T23:20"), "labels": ["backend"]}
    fake.pages(shop_mrs, [[mr6, mr2, mrs[0], mrs[2]], mrs[3:]], **params)

    second = source.poll(SourceState(first.cursor, dict(first.validators)))

    assert sorted(e.key for e in second.events) == ["gitlab/acme/shop!2", "gitlab/acme/shop!6"]
    assert sorted(u.split("?")[0] for u in requested() if u.startswith(shop_mrs)) == [
        shop_mrs,
        *(f"{shop_mrs}/{n}/{what}" for n in (2, 6) for what in DETAIL_ENDPOINTS),
    ]


def test_a_429_waits_for_retry_after_through_the_injected_sleep(fake):
    """Endpoint: deployments answers 429 with Retry-After, then the list."""
    serve_lists(fake, "acme/shop")
    fake.queue(
        f"{project_path('acme/shop')}/deployments",
        429,
        {"Retry-After": "17", "RateLimit-Remaining": "0"},
        {"message": "429 Too Many Requests"},
        **list_params("deployments"),
    )
    slept: list[float] = []
    source = gitlab(slept)

    poll = source.poll(SourceState())

    assert poll.problems == [] and slept == [17.0]
    assert source.health.api_requests[("gl", "429")] == 1
    assert source.health.api_requests[("gl", "200")] == 3


def test_a_5xx_is_retried_then_succeeds(fake):
    """Endpoint: issues answers 502, then 503, then the list."""
    serve_lists(fake, "acme/shop", issues=[issue(5, at("2026-03-05T12:00"), issue_type="incident")])
    for status in (502, 503):
        fake.queue(
            f"{project_path('acme/shop')}/issues",
            status,
            {},
            "Bad gateway",
            **list_params("issues"),
        )
    slept: list[float] = []

    poll = gitlab(slept).poll(SourceState())

    assert [e.key for e in poll.events] == ["gitlab/acme/shop#5"]
    assert len(slept) == 2  # jittered backoff, 1 s then 2 s, each x0.5..1.5
    assert 0.5 <= slept[0] <= 1.5 and 1.0 <= slept[1] <= 3.0


def test_malformed_json_fails_the_poll_and_the_stored_data_stays(fake, tmp_path):
    """Endpoint: merge_requests answers a truncated JSON body on the second poll."""
    serve_shop(fake)
    pipeline = Pipeline(Store(tmp_path / "s.db"))
    source = gitlab()
    pipeline.health.register(source.name, "gitlab")
    scheduler = Scheduler(pipeline, [source])
    assert scheduler.poll_once(source)
    before = served(pipeline)
    state = pipeline.store.state("gl")
    # A changed first page, whose body is cut short.
    fake.route(
        f"{project_path('acme/shop')}/merge_requests",
        '[{"iid": 5, "updated_at": ',
        **list_params("merge_requests"),
    )

    with pytest.raises(SourceError, match="merge_requests: response is not valid JSON"):
        source.poll(state)
    assert not scheduler.poll_once(source)

    after = served(pipeline)
    assert value(after, "kpi_deployments_total", **SHOP) == 2
    assert value(after, "kpi_change_lead_time_seconds_count", **SHOP) == 2
    assert pipeline.store.state("gl") == state  # cursor and validators untouched
    assert value(after, "kpi_exporter_source_up", source="gl") == 0
    assert before != after


def test_json_of_an_unexpected_shape_fails_the_poll_clearly(fake):
    """Endpoint: merge_requests answers items without ``iid`` (not what the reference says)."""
    serve_lists(fake, "acme/shop", merge_requests=[{"id": 1, "updated_at": at("2026-03-09T10:00")}])

    with pytest.raises(SourceError, match=r"unexpected GitLab response \(KeyError: 'iid'\)"):
        gitlab().poll(SourceState())


def test_a_project_answering_404_is_a_problem_and_the_others_still_count(fake):
    """Endpoints: deployments of acme/gone answer 404; acme/shop is served."""
    serve_lists(fake, "acme/shop", [D101])
    fake.queue(
        f"{project_path('acme/gone')}/deployments",
        404,
        {},
        {"message": "404 Project Not Found"},
        **list_params("deployments"),
    )
    source = gitlab(projects=["acme/gone", "acme/shop"])

    poll = source.poll(SourceState())

    gone = f"{API}/projects/acme%2Fgone/deployments"
    assert poll.problems == [f"project acme/gone: GET {gone}: HTTP 404 (404 Project Not Found)"]
    assert [e.key for e in poll.events] == ["gitlab/acme/shop/deployment/101"]
    assert poll.cursor is not None and list(json.loads(poll.cursor)["projects"]) == ["acme/shop"]


def test_only_missing_projects_fail_the_poll(fake):
    fake.queue(
        f"{project_path('acme/gone')}/deployments",
        404,
        {},
        {"message": "404 Project Not Found"},
        **list_params("deployments"),
    )
    with pytest.raises(SourceError, match="project acme/gone"):
        gitlab(projects=["acme/gone"]).poll(SourceState())


GROUP_PARAMS = {
    "include_subgroups": "true",
    "archived": "false",
    "with_shared": "false",
    "order_by": "id",
    "sort": "desc",
    "per_page": 100,
}


def group_project(id_: int, path: str) -> dict[str, Any]:
    """``GET /groups/:id/projects`` item."""
    namespace, _, name = path.rpartition("/")
    return {
        "id": id_,
        "name": name,
        "path": name,
        "path_with_namespace": path,
        "default_branch": "main",
        "archived": False,
        "namespace": {"id": id_ + 100, "kind": "group", "full_path": namespace},
    }


def test_group_discovery_includes_subgroups_and_reuses_the_list_while_unchanged(fake):
    """Endpoints: groups/acme/projects (include_subgroups), then each project's lists."""
    projects = [group_project(12, "acme/platform/api"), group_project(3, "acme/shop")]
    fake.route("/groups/acme/projects", projects, **GROUP_PARAMS)
    serve_lists(fake, "acme/shop", [D101])
    serve_lists(fake, "acme/platform/api", [deployment(201, "a1", at("2026-03-04T09:00"))])
    source = gitlab(projects=[], group="acme")

    first = source.poll(SourceState())

    assert sorted((e.app, e.team, e.key) for e in first.events) == [
        ("api", "platform", "gitlab/acme/platform/api/deployment/201"),
        ("shop", "payments", "gitlab/acme/shop/deployment/101"),
    ]
    responses.calls.reset()

    second = source.poll(SourceState(first.cursor, dict(first.validators)))

    assert second.events == [] and len(responses.calls) == 1 + 2 * 3
    assert set(statuses()) == {304}


def test_a_discovered_project_gone_is_a_problem_and_the_group_is_listed_again(fake):
    """Endpoints: groups/acme/projects; acme/old's deployments answer 404 once it is deleted."""
    fake.route("/groups/acme/projects", [group_project(5, "acme/old")], **GROUP_PARAMS)
    serve_lists(fake, "acme/old")
    serve_lists(fake, "acme/shop", [D101])
    source = gitlab(projects=["acme/shop"], group="acme")
    first = source.poll(SourceState())
    validators = dict(first.validators)
    fake.queue(
        f"{project_path('acme/old')}/deployments",
        404,
        {},
        {"message": "404 Project Not Found"},
        **list_params("deployments"),
    )

    second = source.poll(SourceState(first.cursor, validators))

    assert [p.split(":")[0] for p in second.problems] == ["project acme/old"]
    # The group's first page was unchanged (304), but the next poll lists it in full.
    fake.route("/groups/acme/projects", [], **GROUP_PARAMS)  # the same page would still do
    responses.calls.reset()
    third = source.poll(SourceState(second.cursor, {**validators, **second.validators}))

    group, _ = calls()[0]
    assert requested()[0].startswith("/groups/acme/projects?")
    assert "If-None-Match" not in group.headers
    assert third.problems == [] and third.cursor is not None
    assert list(json.loads(third.cursor)["projects"]) == ["acme/shop"]


def test_a_self_managed_api_url_is_used_for_every_request(fake):
    """Endpoints: deployments, merge_requests, issues under a self-managed root."""
    own = FakeGitLab("https://git.corp.test/gitlab/api/v4")
    serve_lists(own, "acme/shop", [D101])
    source = gitlab(api_url="https://git.corp.test/gitlab/api/v4/")

    poll = source.poll(SourceState())

    assert [e.key for e in poll.events] == ["gitlab/acme/shop/deployment/101"]
    assert len(responses.calls) == 3
    root = "https://git.corp.test/gitlab/api/v4/projects/acme%2Fshop/"
    assert all(str(request.url).startswith(root) for request, _ in calls())


def test_a_deployment_finishes_when_its_job_finishes_else_at_its_last_update(fake):
    """Endpoint: deployments. GitLab's Deployment entity has no finished_at. D401's job
    (``deployable``) finished at 10:05 and the deployment was updated at 10:09 (its status
    synced later): it finished at the job's 10:05. D402 was created through the API, with no
    job: its last update, 11:30, when it was set to success. A top-level ``finished_at`` (not
    GitLab's) is ignored."""
    d401 = deployment(401, "a", at("2026-03-04T10:05"), updated_at=at("2026-03-04T10:09"))
    d401["finished_at"] = at("2026-03-04T23:59")  # not a GitLab field: must not be read
    d402 = deployment(402, "b", at("2026-03-04T11:30"), deployable=None)
    serve_lists(fake, "acme/shop", [d402, d401])

    events = gitlab().poll(SourceState()).events

    finished = {e.key: e.finished_at for e in events if isinstance(e, Deployment)}
    assert finished == {
        "gitlab/acme/shop/deployment/401": ts("2026-03-04T10:05:00Z"),
        "gitlab/acme/shop/deployment/402": ts("2026-03-04T11:30:00Z"),
    }


def test_a_rollback_redeploys_an_older_commit(fake):
    """Endpoint: deployments: D301 (a), D302 (b), then D303 redeploys a: GitLab's Rollback."""
    serve_lists(
        fake,
        "acme/shop",
        [
            deployment(303, "a", at("2026-03-04T12:00")),
            deployment(302, "b", at("2026-03-04T10:00")),
            deployment(301, "a", at("2026-03-03T10:00")),
        ],
    )

    events = gitlab().poll(SourceState()).events

    types = {e.key: e.change_type for e in events if isinstance(e, Deployment)}
    assert types == {
        "gitlab/acme/shop/deployment/301": "normal",
        "gitlab/acme/shop/deployment/302": "normal",
        "gitlab/acme/shop/deployment/303": "rollback",
    }
