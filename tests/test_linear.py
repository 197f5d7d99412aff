"""Linear issues as work items, against the fake Linear (``tests/linear_fake.py``): status
histories from the workflow state changes of the issue history (read whole), stages by state
type and configuration, categories by label, owners by label or team, the incremental next
poll and Linear's rate limit. Every expectation is computed by hand in the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from kpi_exporter.model import to_json
from kpi_exporter.sources.linear import Linear
from kpi_exporter.store import SourceState
from tests.linear_fake import FakeLinear, issue, moved, moves
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
URL = "https://linear.test/graphql"
KEY = "lin_api_s3cretkeyvalue"


def t(text: str) -> str:
    """Linear's time format: ``2026-03-02T09:00`` -> ``2026-03-02T09:00:00.000Z``."""
    return f"{text}:00.000Z"


# L1, a feature, reopened: Backlog 09:00-10:00 on 03-02, In Progress to 03-03 10:00, Done a day,
# In Progress again 03-04 10:00 to 16:00 (a title edit between), Done. Lead 55 h, cycle 54 h,
# active 24 + 6 = 30 h, Backlog 1 h.
REOPENED = issue(
    "ENG-1",
    t("2026-03-02T09:00"),
    ["Feature"],
    moves(
        "2026-03-02T10:00 Backlog -> In Progress",
        "2026-03-03T10:00 In Progress -> Done",
        "2026-03-04T10:00 Done -> In Progress",
        "2026-03-04T11:00 edited",
        "2026-03-04T16:00 In Progress -> Done",
    ),
)
# L2, a bug moved back to the queue: Todo 08:00-09:00 on 03-03, In Progress to 13:00, In Review
# (a queue by configuration) to 03-04 09:00, Todo again to 03-05 09:00, In Progress to 12:00,
# Done. Lead 52 h, cycle 51 h, active 4 + 3 = 7 h, Todo 1 + 24 = 25 h, In Review 20 h.
BACK_TO_QUEUE = issue(
    "ENG-2",
    t("2026-03-03T08:00"),
    ["Bug"],
    moves(
        "2026-03-03T09:00 Todo -> In Progress",
        "2026-03-03T13:00 In Progress -> In Review",
        "2026-03-04T09:00 In Review -> Todo",
        "2026-03-05T09:00 Todo -> In Progress",
        "2026-03-05T12:00 In Progress -> Done",
    ),
)
# L3, a question nobody mapped, canceled from Triage 3 h later by an integration: never active.
CANCELED = issue(
    "ENG-3",
    t("2026-03-04T10:00"),
    ["Question"],
    [moved(t("2026-03-04T13:00"), "Triage", "Canceled")],
)
# L4, tech debt labelled for search: Todo 10:00-12:00 on 03-06, In Progress since.
IN_PROGRESS = issue(
    "ENG-4",
    t("2026-03-06T10:00"),
    ["Tech Debt", "search"],
    [moved(t("2026-03-06T12:00"), "Todo", "In Progress")],
)


@pytest.fixture
def fake() -> Iterator[FakeLinear]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        linear = FakeLinear(URL, KEY, lambda: NOW)
        linear.register_on(mock)
        linear.issues = [REOPENED, BACK_TO_QUEUE, CANCELED, IN_PROGRESS]
        yield linear


def source(
    monkeypatch: pytest.MonkeyPatch, slept: list[float] | None = None, **fields: Any
) -> Linear:
    settings: dict[str, Any] = {"type": "linear", "name": "linear", "token_env": "LINEAR_KEY"}
    settings |= {"api_url": URL, "work": {"stages": {"In Review": "waiting"}}, **fields}
    built: Linear = tracker_source(monkeypatch, KEY, NOW, settings, slept)
    return built


def test_issues_become_work_items_with_their_state_history(
    fake: FakeLinear, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    poll, items, text = synced_items(source(monkeypatch), tmp_path, NOW)

    assert set(items) == {f"linear/ENG-{n}" for n in (1, 2, 3, 4)}
    assert items["linear/ENG-1"].statuses == history(
        "2026-03-02T09:00 Backlog: waiting",
        "2026-03-02T10:00 In Progress: active",
        "2026-03-03T10:00 Done: done",
        "2026-03-04T10:00 In Progress: active",
        "2026-03-04T16:00 Done: done",
    )
    assert [s[1:] for s in items["linear/ENG-2"].statuses] == [
        ("Todo", "waiting"),
        ("In Progress", "active"),
        ("In Review", "waiting"),
        ("Todo", "waiting"),
        ("In Progress", "active"),
        ("Done", "done"),
    ]
    debt = items["linear/ENG-4"]
    assert (debt.app, debt.team, debt.category) == ("search", "discovery", "tech_debt")
    # Who moved an issue is never asked for; the key is never sent anywhere but Linear.
    sent = " ".join(query["query"] for query in fake.queries)
    assert not {"actor", "botActor", "creator", "assignee"} & set(sent.replace("{", " ").split())
    assert KEY not in " ".join(to_json(event) for event in poll.events)

    for category in ("new_capability", "defect", "unmapped"):
        assert value(text, "kpi_work_items_completed_total", **SHOP, category=category) == 1
    new = {**SHOP, "category": "new_capability"}
    assert work_flow(text, **new) == (1, 55 * HOUR, 54 * HOUR, 30 * HOUR)
    defect = {**SHOP, "category": "defect"}
    assert work_flow(text, **defect) == (1, 52 * HOUR, 51 * HOUR, 7 * HOUR)
    # L3, canceled from Triage: done, lead 3 h, never active so no cycle time
    unmapped = {**SHOP, "category": "unmapped"}
    assert value(text, "kpi_work_item_lead_time_seconds_sum", **unmapped) == 3 * HOUR
    assert value(text, "kpi_work_item_cycle_time_seconds_count", **unmapped) == 0
    for status, hours in (("Backlog", 1), ("Todo", 25), ("In Review", 20), ("Triage", 3)):
        assert value(text, "kpi_work_item_wait_seconds_sum", **SHOP, status=status) == hours * HOUR
    searching = {"app": "search", "team": "discovery"}
    assert value(text, "kpi_work_items_in_progress", **searching) == 1
    doing = {**searching, "stage": "active", "status": "In Progress"}
    assert value(text, "kpi_work_items_open", **doing) == 1
    # Exact windowed quantile of the cycle times 51 h and 54 h: p50 52.5 h over 30 days; the
    # lead times 3 h, 52 h and 55 h: p50 52 h.
    month = {**SHOP, "percentile": "50", "window": "30d"}
    assert value(text, "kpi_window_work_item_cycle_time_seconds", **month) == 52.5 * HOUR
    assert value(text, "kpi_window_work_item_lead_time_seconds", **month) == 52 * HOUR


def test_the_next_poll_reads_the_issues_updated_since_the_newest_read(
    fake: FakeLinear, monkeypatch: pytest.MonkeyPatch
) -> None:
    linear = source(monkeypatch)
    first = linear.poll(SourceState())
    assert [q["variables"]["since"] for q in fake.queries] == ["2025-03-10T00:00:00Z"]
    fake.queries.clear()

    again = linear.poll(SourceState(first.cursor, first.validators))

    # The newest update read: L4's move to In Progress, 03-06 12:00; it is read again.
    assert [q["variables"]["since"] for q in fake.queries] == ["2026-03-06T12:00:00Z"]
    assert [event.key for event in again.events] == ["linear/ENG-4"]
    assert linear.health.api_requests[("linear", "200")] == 2


def test_a_long_history_is_read_whole(fake: FakeLinear, monkeypatch: pytest.MonkeyPatch) -> None:
    # 120 state changes, a minute apart from 03-07 00:00, flipping In Progress and In Review:
    # 50 come with the issue, the other 70 in one more page of 100.
    flips = [
        moved(
            t(f"2026-03-07T0{m // 60}:{m % 60:02d}"),
            "In Review" if m % 2 else "In Progress",
            "In Progress" if m % 2 else "In Review",
        )
        for m in range(120)
    ]
    fake.issues = [issue("ENG-5", t("2026-03-06T23:00"), [], flips)]

    item = source(monkeypatch).poll(SourceState()).events[0]

    assert len(fake.queries) == 2
    assert len(item.statuses) == 1 + 120  # type: ignore[union-attr]
    # created In Progress (the first change's fromState), the last change (m = 119) at 01:59
    assert item.statuses[0] == (ts("2026-03-06T23:00:00Z"), "In Progress", "active")  # type: ignore[union-attr]
    assert item.statuses[-1] == (ts("2026-03-07T01:59:00Z"), "In Progress", "active")  # type: ignore[union-attr]


def test_linear_s_rate_limit_answer_is_waited_out_until_its_reset(
    fake: FakeLinear, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Linear answers 400 with a RATELIMITED error and the requests budget at 0 until
    # now + 30 s (epoch ms): the client waits 30 s + 1 s, then reads.
    slept: list[float] = []
    fake.rate_limit_next()

    linear = source(monkeypatch, slept)
    poll = linear.poll(SourceState())

    assert slept == [31.0]
    assert len(poll.events) == 4
    # The requests left, from X-RateLimit-Requests-Remaining: 5000 less the one page answered.
    assert linear.health.rate_limit_remaining[("linear", "")] == 4999


def test_an_oauth_token_goes_as_a_bearer_and_a_bad_key_fails_the_poll(
    fake: FakeLinear, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(source(monkeypatch, oauth=True).poll(SourceState()).events) == 4
    fake.key = "lin_api_another"
    with pytest.raises(Exception, match=r"POST https://linear.test/graphql: HTTP 400"):
        source(monkeypatch).poll(SourceState())


def test_an_issue_s_project_names_its_app_before_its_team(
    fake: FakeLinear, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ENG-6 of team ENG (shop) in the project "search": the project names the app.
    in_project = issue("ENG-6", t("2026-03-07T09:00"), [], [], project={"name": "search"})
    fake.issues = [in_project, CANCELED]

    items = work_items(source(monkeypatch).poll(SourceState()).events)

    owners = {key: (item.app, item.team) for key, item in items.items()}
    assert owners == {"linear/ENG-6": ("search", "discovery"), "linear/ENG-3": ("shop", "payments")}
