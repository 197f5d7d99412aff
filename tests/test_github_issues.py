"""GitHub Issues as work items, against the fake GitHub (``tests/github_fake.py``): status
histories from label, close and reopen events and the Projects status, categories by label,
owners by label or repository, pull requests left out, and the conditional, incremental next
polls. Every expectation is computed by hand in the test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from kpi_exporter.model import to_json
from kpi_exporter.sources.github_issues import GitHubIssues
from kpi_exporter.store import SourceState
from tests.github_fake import (
    FakeGitHub,
    closed,
    labeled,
    org_repository,
    reopened,
    work_issue,
)
from tests.support import (
    HOUR,
    SHOP,
    history,
    synced_items,
    tracker_source,
    ts,
    value,
    work_flow,
)

NOW = ts("2026-03-10T00:00:00Z")

# 1, an enhancement, reopened: Open 09:00-10:00 on 03-02, in progress to 03-03 10:00, closed a
# day, reopened (its in-progress label still on) 03-04 10:00 to 16:00, closed. Lead 2 d 7 h =
# 55 h, cycle 54 h, active 24 + 6 = 30 h, Open 1 h.
REOPENED = work_issue(
    1,
    "2026-03-02T09:00:00Z",
    ["enhancement", "in progress"],
    [
        labeled("2026-03-02T09:00:00Z", "enhancement"),
        labeled("2026-03-02T10:00:00Z", "in progress"),
        closed("2026-03-03T10:00:00Z"),
        reopened("2026-03-04T10:00:00Z"),
        closed("2026-03-04T16:00:00Z"),
    ],
)
# 2, a bug moved back to the queue: Open 08:00-09:00 on 03-03, in progress to 13:00, in review
# (the in-progress label removed at the same instant) to 03-04 09:00, the review label removed:
# Open to 03-05 09:00, in progress to 12:00, closed. Lead 52 h, cycle 51 h, active 4 + 3 = 7 h,
# Open 1 + 24 = 25 h, in review 20 h.
BACK_TO_QUEUE = work_issue(
    2,
    "2026-03-03T08:00:00Z",
    ["bug"],
    [
        labeled("2026-03-03T08:00:00Z", "bug"),
        labeled("2026-03-03T09:00:00Z", "in progress"),
        labeled("2026-03-03T13:00:00Z", "in review"),
        labeled("2026-03-03T13:00:00Z", "in progress", removed=True),
        labeled("2026-03-04T09:00:00Z", "in review", removed=True),
        labeled("2026-03-05T09:00:00Z", "in progress"),
        closed("2026-03-05T12:00:00Z"),
    ],
)
# 3, a question (a label nobody mapped), closed 3 h after it was opened by the stale bot:
# never active. Lead 3 h, no cycle time, Open 3 h.
NEVER_ACTIVE = work_issue(
    3,
    "2026-03-04T10:00:00Z",
    ["question"],
    [labeled("2026-03-04T10:00:00Z", "question"), closed("2026-03-04T13:00:00Z")],
)
# 4, tech debt, In Progress on the project board since 03-06 12:00: in progress now.
ON_THE_BOARD = work_issue(
    4,
    "2026-03-06T10:00:00Z",
    ["tech debt"],
    [labeled("2026-03-06T10:00:00Z", "tech debt")],
    project_status=("In Progress", "2026-03-06T12:00:00Z"),
)
# 5, opened by a dependency bot in the shop repository, labelled for the search app: closed
# 6 h later. Maintenance of search, lead 6 h, Open 6 h.
BOT_OPENED = work_issue(
    5,
    "2026-03-05T00:00:00Z",
    ["dependencies", "search"],
    [
        labeled("2026-03-05T00:00:00Z", "dependencies"),
        labeled("2026-03-05T00:00:00Z", "search"),
        closed("2026-03-05T06:00:00Z"),
    ],
)
# A pull request: /issues lists it, it is no work item.
PULL = {"number": 6, "state": "OPEN", "updatedAt": "2026-03-06T00:00:00Z"}


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        github = FakeGitHub(clock=lambda: NOW)
        github.register_on(mock)
        repo = github.repo("acme/shop")
        repo.issues = [REOPENED, BACK_TO_QUEUE, NEVER_ACTIVE, ON_THE_BOARD, BOT_OPENED]
        repo.pulls = [PULL]
        yield github


def source(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> GitHubIssues:
    settings: dict[str, Any] = {"type": "github_issues", "name": "issues", "token_env": "GH_TOKEN"}
    settings |= {"repos": ["acme/shop"], "project_field": "Status", **fields}
    built: GitHubIssues = tracker_source(monkeypatch, "ghp-issues-s3cret", NOW, settings)
    return built


def test_issues_become_work_items_with_their_status_history(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    poll, items, text = synced_items(source(monkeypatch), tmp_path, NOW)

    assert set(items) == {f"github/acme/shop#{n}" for n in (1, 2, 3, 4, 5)}
    assert items["github/acme/shop#1"].statuses == history(
        "2026-03-02T09:00 Open: waiting",
        "2026-03-02T10:00 in progress: active",
        "2026-03-03T10:00 Closed: done",
        "2026-03-04T10:00 in progress: active",
        "2026-03-04T16:00 Closed: done",
    )
    assert items["github/acme/shop#2"].statuses == history(
        "2026-03-03T08:00 Open: waiting",
        "2026-03-03T09:00 in progress: active",
        "2026-03-03T13:00 in review: waiting",
        "2026-03-04T09:00 Open: waiting",
        "2026-03-05T09:00 in progress: active",
        "2026-03-05T12:00 Closed: done",
    )
    assert items["github/acme/shop#4"].statuses == history(
        "2026-03-06T10:00 Open: waiting",
        "2026-03-06T12:00 In Progress: active",
    )
    bot = items["github/acme/shop#5"]
    assert (bot.app, bot.team, bot.category) == ("search", "discovery", "maintenance")
    # Nobody's login is asked for: no actor, author or creator in any query.
    sent = " ".join(query["query"] for query in fake.queries)
    assert not {"actor", "author", "creator", "login"} & set(sent.replace("{", " ").split())

    # completed: 1 new capability, 1 defect, 1 unmapped (shop); 1 maintenance (search)
    for category in ("new_capability", "defect", "unmapped"):
        assert value(text, "kpi_work_items_completed_total", **SHOP, category=category) == 1
    search = {"app": "search", "team": "discovery", "category": "maintenance"}
    assert value(text, "kpi_work_items_completed_total", **search) == 1
    new = {**SHOP, "category": "new_capability"}
    assert work_flow(text, **new) == (1, 55 * HOUR, 54 * HOUR, 30 * HOUR)
    defect = {**SHOP, "category": "defect"}
    assert work_flow(text, **defect) == (1, 52 * HOUR, 51 * HOUR, 7 * HOUR)
    # 51 h: above the 2-day bucket, within the 3-day one
    assert value(text, "kpi_work_item_cycle_time_seconds_bucket", **defect, le="172800.0") == 0
    assert value(text, "kpi_work_item_cycle_time_seconds_bucket", **defect, le="259200.0") == 1
    unmapped = {**SHOP, "category": "unmapped"}
    assert value(text, "kpi_work_item_lead_time_seconds_sum", **unmapped) == 3 * HOUR
    assert value(text, "kpi_work_item_cycle_time_seconds_count", **unmapped) == 0
    # Open: 1 h (#1) + 25 h (#2) + 3 h (#3) = 29 h over 3 items; in review 20 h (#2)
    assert value(text, "kpi_work_item_wait_seconds_sum", **SHOP, status="Open") == 29 * HOUR
    assert value(text, "kpi_work_item_wait_seconds_count", **SHOP, status="Open") == 3
    assert value(text, "kpi_work_item_wait_seconds_sum", **SHOP, status="in review") == 20 * HOUR
    assert value(text, "kpi_work_items_in_progress", **SHOP) == 1
    assert value(text, "kpi_work_items_open", **SHOP, stage="active", status="In Progress") == 1
    assert "acme/shop#6" not in json.dumps([to_json(event) for event in poll.events])
    # Exact windowed quantiles of the cycle times 51 h and 54 h, both done within 7 days of
    # 03-10: p50 52.5 h, p75 51 + 0.75 x 3 = 53.25 h, p90 51 + 0.9 x 3 = 53.7 h.
    cycle = "kpi_window_work_item_cycle_time_seconds"
    for percentile, hours in (("50", 52.5), ("75", 53.25), ("90", 53.7)):
        week = {**SHOP, "percentile": percentile, "window": "7d"}
        assert value(text, cycle, **week) == pytest.approx(hours * HOUR)
    week_new = {**new, "window": "7d"}
    assert value(text, "kpi_window_work_items_completed", **week_new) == 1


def test_the_next_polls_are_conditional_and_read_only_what_changed(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    issues = source(monkeypatch)
    first = issues.poll(SourceState())
    # 1 REST list + 1 GraphQL page (5 issues, 50 a page)
    assert [(method, url.split("?")[0].rsplit("/", 1)[-1]) for method, url, _ in fake.calls] == [
        ("GET", "issues"),
        ("POST", "graphql"),
    ]
    assert fake.queries[0]["variables"]["since"] == "2025-03-10T00:00:00Z"  # a year back
    fake.reset_calls()

    unchanged = issues.poll(SourceState(first.cursor, first.validators))

    assert unchanged.events == []
    assert fake.statuses == [304]  # the list, conditional: nothing else

    # Only the pull request moves: the list changed, but no issue in it did.
    PULL["updatedAt"] = "2026-03-09T00:00:00Z"
    fake.reset_calls()
    pulled = issues.poll(SourceState(unchanged.cursor, unchanged.validators))
    assert pulled.events == []
    assert fake.statuses == [200]

    # Issue 4 is moved to Done on the board: that alone updates the project item, not the
    # issue, so nothing is read (GitHub's list does not change either).
    done_on_board = ("Done", "2026-03-09T10:00:00Z")
    labels = [labeled("2026-03-06T10:00:00Z", "tech debt")]
    shop = fake.repos["acme/shop"]
    shop.issues[3] = work_issue(
        4, "2026-03-06T10:00:00Z", ["tech debt"], labels, project_status=done_on_board
    )
    fake.reset_calls()
    board = issues.poll(SourceState(pulled.cursor, pulled.validators))
    assert board.events == [] and fake.statuses == [304]

    # Then it is closed (11:00): read since the newest update read, #4's creation (03-06 10:00;
    # its first board move did not update it either), with its board status at 10:00.
    closing = [*labels, closed("2026-03-09T11:00:00Z")]
    shop.issues[3] = work_issue(
        4, "2026-03-06T10:00:00Z", ["tech debt"], closing, project_status=done_on_board
    )
    fake.reset_calls()
    moved = issues.poll(SourceState(board.cursor, board.validators))
    assert fake.queries[0]["variables"]["since"] == "2026-03-06T10:00:00Z"
    assert [event.key for event in moved.events] == ["github/acme/shop#4"]
    assert moved.events[0].statuses[-2:] == history(  # type: ignore[union-attr]
        "2026-03-09T10:00 Done: done",
        "2026-03-09T11:00 Closed: done",
    )


def test_an_issue_with_more_events_than_a_page_is_read_whole(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 250 label events flipping "blocked" on and off from 03-07 00:00, a minute apart, then
    # closed: 100 come with the issue, 2 more pages (100 + 50) are read. The last of the 250
    # (the 250th, index 249, odd: removed) leaves it Open at 03-07 04:09.
    flips = [
        labeled(f"2026-03-07T0{m // 60}:{m % 60:02d}:00Z", "blocked", removed=m % 2 == 1)
        for m in range(250)
    ]
    long = work_issue(7, "2026-03-07T00:00:00Z", [], [*flips, closed("2026-03-07T05:00:00Z")])
    fake.repos["acme/shop"].issues = [long]

    item = source(monkeypatch).poll(SourceState()).events[0]

    assert len(fake.queries) == 1 + 2
    assert len(item.statuses) == 1 + 250 + 1  # type: ignore[union-attr]
    assert item.statuses[-2] == (ts("2026-03-07T04:09:00Z"), "Open", "waiting")  # type: ignore[union-attr]
    assert item.statuses[-1] == (ts("2026-03-07T05:00:00Z"), "Closed", "done")  # type: ignore[union-attr]


def test_an_organisation_s_repositories_are_listed_and_a_304_keeps_the_list(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.orgs["acme"] = [org_repository("acme", "shop"), org_repository("acme", "search")]
    fake.repo("acme/search")
    issues = source(monkeypatch, repos=[], org="acme")
    first = issues.poll(SourceState())
    assert len(first.events) == 5
    fake.reset_calls()

    again = issues.poll(SourceState(first.cursor, first.validators))

    assert again.events == []
    assert fake.statuses == [304, 304, 304]  # the organisation's list, then each repository's


def test_a_repository_gone_is_a_problem_naming_it_and_the_others_still_count(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.repo("acme/gone").gone = True

    poll = source(monkeypatch, repos=["acme/gone", "acme/shop"]).poll(SourceState())

    assert len(poll.events) == 5
    assert len(poll.problems) == 1
    assert poll.problems[0].startswith("acme/gone: issues skipped: GET ")
    assert "HTTP 404" in poll.problems[0]
