"""GitLab issues as work items, against the fake GitLab (``tests/gitlab_fake.py``): status
histories from scoped ``workflow::`` labels and state events, categories by label and issue
type, owners by label or project, and the conditional, incremental next polls. Every
expectation is computed by hand in the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from kpi_exporter.model import to_json
from kpi_exporter.sources.gitlab_issues import GitLabIssues
from kpi_exporter.store import SourceState
from tests.gitlab_fake import (
    API,
    FakeGitLab,
    at,
    issue,
    label_event,
    list_params,
    project_path,
    serve_issue_events,
    state_event,
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
    work_items,
)

NOW = ts("2026-03-10T00:00:00Z")
PATH = "acme/shop"


def item(iid: int, created: str, updated: str, labels: list[str], **fields: Any) -> dict[str, Any]:
    return issue(iid, at(created), updated_at=at(updated), labels=labels, **fields)


# 1, a feature, reopened: opened 09:00-10:00 on 03-02, in dev to 03-03 10:00, in review to
# 03-04 10:00, closed a day, reopened (in review still on) to 03-05 12:00, in dev to 16:00,
# closed. Lead 3 d 7 h = 79 h, cycle 78 h, active 24 + 4 = 28 h, opened 1 h, in review 24 + 2 h.
FEATURE = item(1, "2026-03-02T09:00", "2026-03-05T16:00", ["type::feature"], state="closed")
FEATURE_LABELS = [
    label_event(101, at("2026-03-02T09:00"), "type::feature"),
    label_event(102, at("2026-03-02T10:00"), "workflow::in dev"),
    label_event(103, at("2026-03-03T10:00"), "workflow::in review"),
    label_event(104, at("2026-03-03T10:00"), "workflow::in dev", "remove"),
    label_event(105, at("2026-03-05T12:00"), "workflow::in dev"),
    label_event(106, at("2026-03-05T12:00"), "workflow::in review", "remove"),
]
FEATURE_STATES = [
    state_event(101, at("2026-03-04T10:00"), "closed"),
    state_event(102, at("2026-03-05T10:00"), "reopened"),
    state_event(103, at("2026-03-05T16:00"), "closed"),
]
# 2, a question (nobody mapped it or its type), closed 2 h after it was opened: never active.
QUESTION = item(2, "2026-03-03T08:00", "2026-03-03T10:00", ["question"], state="closed")
# 3, an incident moved back to the queue: opened 00:00-06:00 on 03-04, in dev to 12:00, ready for
# development to 03-05 00:00, in dev to 06:00, closed. Lead 30 h, cycle 24 h, active 6 + 6 h,
# opened 6 h, ready for development 12 h.
INCIDENT = item(
    3, "2026-03-04T00:00", "2026-03-05T06:00", [], state="closed", issue_type="incident"
)
INCIDENT_LABELS = [
    label_event(301, at("2026-03-04T06:00"), "workflow::in dev"),
    label_event(302, at("2026-03-04T12:00"), "workflow::ready for development"),
    label_event(303, at("2026-03-04T12:00"), "workflow::in dev", "remove"),
    label_event(304, at("2026-03-05T00:00"), "workflow::in dev"),
    label_event(305, at("2026-03-05T00:00"), "workflow::ready for development", "remove"),
]
# 4, labelled for the search app and moved to doing by the triage bot: in progress now.
SEARCH = item(4, "2026-03-06T00:00", "2026-03-06T01:00", ["search", "workflow::doing"])
SEARCH_LABELS = [
    label_event(401, at("2026-03-06T00:00"), "search"),
    label_event(403, at("2026-03-06T01:00"), "workflow::doing"),
]


def serve(fake: FakeGitLab, issues: list[dict[str, Any]]) -> None:
    newest_first = sorted(issues, key=lambda i: i["updated_at"], reverse=True)
    fake.route(f"{project_path(PATH)}/issues", newest_first, **list_params("issues"))


@pytest.fixture
def fake() -> Iterator[FakeGitLab]:
    with responses.mock:  # the fake registers its routes on the default mock
        gitlab = FakeGitLab()
        serve(gitlab, [FEATURE, QUESTION, INCIDENT, SEARCH])
        serve_issue_events(gitlab, PATH, 1, FEATURE_LABELS, FEATURE_STATES)
        question_closed = [state_event(201, at("2026-03-03T10:00"), "closed")]
        serve_issue_events(gitlab, PATH, 2, [], question_closed)
        serve_issue_events(
            gitlab, PATH, 3, INCIDENT_LABELS, [state_event(301, at("2026-03-05T06:00"), "closed")]
        )
        serve_issue_events(gitlab, PATH, 4, SEARCH_LABELS, [])
        yield gitlab


def source(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> GitLabIssues:
    settings: dict[str, Any] = {"type": "gitlab_issues", "name": "issues", "token_env": "GL_TOKEN"}
    settings |= {"api_url": API, "projects": [PATH], **fields}
    built: GitLabIssues = tracker_source(monkeypatch, "glpat-issues-s3cret", NOW, settings)
    return built


def test_issues_become_work_items_with_their_workflow_history(
    fake: FakeGitLab, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    poll, items, text = synced_items(source(monkeypatch), tmp_path, NOW)

    assert items["gitlab/acme/shop#1"].statuses == history(
        "2026-03-02T09:00 opened: waiting",
        "2026-03-02T10:00 in dev: active",
        "2026-03-03T10:00 in review: waiting",
        "2026-03-04T10:00 closed: done",
        "2026-03-05T10:00 in review: waiting",
        "2026-03-05T12:00 in dev: active",
        "2026-03-05T16:00 closed: done",
    )
    incident = items["gitlab/acme/shop#3"]
    assert incident.category == "defect"
    assert [s[1] for s in incident.statuses] == [
        "opened",
        "in dev",
        "ready for development",
        "in dev",
        "closed",
    ]
    search = items["gitlab/acme/shop#4"]
    assert (search.app, search.team) == ("search", "discovery")
    # Nobody's account reaches the store: not the bot's, not the author's.
    stored = " ".join(to_json(event) for event in poll.events)
    assert "bot" not in stored and "alice" not in stored

    for category in ("new_capability", "defect", "unmapped"):
        assert value(text, "kpi_work_items_completed_total", **SHOP, category=category) == 1
    new = {**SHOP, "category": "new_capability"}
    assert work_flow(text, **new) == (1, 79 * HOUR, 78 * HOUR, 28 * HOUR)
    defect = {**SHOP, "category": "defect"}
    assert work_flow(text, **defect) == (1, 30 * HOUR, 24 * HOUR, 12 * HOUR)
    unmapped = {**SHOP, "category": "unmapped"}
    assert value(text, "kpi_work_item_lead_time_seconds_sum", **unmapped) == 2 * HOUR
    assert value(text, "kpi_work_item_cycle_time_seconds_count", **unmapped) == 0
    # opened: 1 h (#1) + 2 h (#2) + 6 h (#3) = 9 h over 3 items
    assert value(text, "kpi_work_item_wait_seconds_sum", **SHOP, status="opened") == 9 * HOUR
    assert value(text, "kpi_work_item_wait_seconds_count", **SHOP, status="opened") == 3
    assert value(text, "kpi_work_item_wait_seconds_sum", **SHOP, status="in review") == 26 * HOUR
    ready = {**SHOP, "status": "ready for development"}
    assert value(text, "kpi_work_item_wait_seconds_sum", **ready) == 12 * HOUR
    searching = {"app": "search", "team": "discovery"}
    assert value(text, "kpi_work_items_in_progress", **searching) == 1
    assert value(text, "kpi_work_items_open", **searching, stage="active", status="doing") == 1
    assert value(text, "kpi_work_items_in_progress", **SHOP) == 0
    # Exact windowed quantiles of the cycle times 24 h and 78 h (done 03-05, within 7 days of
    # 03-10): p50 51 h, p90 24 + 0.9 x 54 = 72.6 h.
    cycle = "kpi_window_work_item_cycle_time_seconds"
    for percentile, hours in (("50", 51.0), ("90", 72.6)):
        week = {**SHOP, "percentile": percentile, "window": "7d"}
        assert value(text, cycle, **week) == pytest.approx(hours * HOUR)


def test_the_next_polls_are_conditional_and_read_only_the_updated_issues(
    fake: FakeGitLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    issues = source(monkeypatch)
    requests_made = issues.health.api_requests
    first = issues.poll(SourceState())
    # 1 list + 2 event lists for each of 4 issues
    assert sum(requests_made.values()) == 1 + 2 * 4
    requests_made.clear()

    unchanged = issues.poll(SourceState(first.cursor, first.validators))

    assert unchanged.events == []
    assert dict(requests_made) == {("issues", "304"): 1}

    # #4 is closed on 03-09: the list changes, only #4 is read again.
    closed_search = {**SEARCH, "state": "closed", "updated_at": at("2026-03-09T00:00")}
    serve(fake, [FEATURE, QUESTION, INCIDENT, closed_search])
    serve_issue_events(
        fake, PATH, 4, SEARCH_LABELS, [state_event(401, at("2026-03-09T00:00"), "closed")]
    )
    requests_made.clear()
    again = issues.poll(SourceState(unchanged.cursor, unchanged.validators))
    assert [event.key for event in again.events] == ["gitlab/acme/shop#4"]
    assert again.events[0].statuses[-1] == (ts("2026-03-09T00:00:00Z"), "closed", "done")  # type: ignore[union-attr]
    assert dict(requests_made) == {("issues", "200"): 3}


def test_other_scopes_and_named_labels_can_hold_the_status(
    fake: FakeGitLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # status_scope "status" and an unscoped board label "Doing" named in stages: #4's
    # workflow::doing is a plain label now, and "search" no status.
    labels = [*SEARCH_LABELS, label_event(405, at("2026-03-06T02:00"), "status::triage")]
    serve_issue_events(fake, PATH, 4, labels, [])
    work = {"stages": {"opened": "waiting", "triage": "waiting", "doing": "active"}}
    issues = source(monkeypatch, status_scope="status", work=work)
    items = work_items(issues.poll(SourceState()).events)
    assert items["gitlab/acme/shop#4"].statuses == history(
        "2026-03-06T00:00 opened: waiting",
        "2026-03-06T02:00 triage: waiting",
    )
    # workflow:: labels hold no status now: #1 is opened until it is closed.
    feature = items["gitlab/acme/shop#1"]
    assert feature.statuses[1] == (ts("2026-03-04T10:00:00Z"), "closed", "done")


def test_a_project_gone_is_a_problem_naming_it_and_the_others_still_count(
    fake: FakeGitLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = f"{project_path('acme/gone')}/issues"
    fake.queue(gone, 404, {}, {"message": "404 Project Not Found"}, **list_params("issues"))

    poll = source(monkeypatch, projects=["acme/gone", PATH]).poll(SourceState())

    assert len(poll.events) == 4
    assert len(poll.problems) == 1
    assert poll.problems[0].startswith("acme/gone: issues skipped: GET ")
    assert "HTTP 404" in poll.problems[0]
