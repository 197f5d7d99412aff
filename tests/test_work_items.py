"""Work-item flow: completed items by category, cycle and lead time, queues, active time,
work in progress and inventory, computed from status histories. Every expected value is
computed by hand in the test (times in hours after T0)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_exporter.backfill import versions
from kpi_exporter.exposition import render
from kpi_exporter.kpis import KpiSettings, aggregate
from kpi_exporter.kpis.work import flow_of
from kpi_exporter.model import WorkItem, event_problem, from_json, time_problem, to_json
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.store import Store
from tests.support import DAY, HOUR, samples, served_after_each, ts

T0 = ts("2026-11-20T00:00:00Z")
NOW = T0 + 252 * HOUR  # 2026-11-30T12:00Z: the 7d window holds (T0 + 84 h, T0 + 252 h]
SETTINGS = KpiSettings(windows=(("7d", 7 * DAY), ("30d", 30 * DAY)), quantiles=(0.5, 0.9))
STAGE = {"To Do": "waiting", "In Progress": "active", "In Review": "waiting", "Done": "done"}


def item(key: str, app: str, team: str, category: str, *moves: tuple[float, str]) -> WorkItem:
    """An item created at its first move (hours after T0), then in each status in turn."""
    return WorkItem(
        source="jira",
        key=key,
        app=app,
        team=team,
        category=category,
        created_at=T0 + moves[0][0] * HOUR,
        statuses=tuple((T0 + h * HOUR, status, STAGE[status]) for h, status in moves),
    )


# SHOP-1: to do 0-24, in progress 24-48, in review 48-60, in progress 60-72, done at 72.
SHOP_1 = item(
    "SHOP-1",
    "shop",
    "a",
    "new_capability",
    (0, "To Do"),
    (24, "In Progress"),
    (48, "In Review"),
    (60, "In Progress"),
    (72, "Done"),
)
# SHOP-2, reopened: created 24, in progress 30-40, done 40-50, reopened 50-70, done at 70.
SHOP_2 = item(
    "SHOP-2",
    "shop",
    "a",
    "defect",
    (24, "To Do"),
    (30, "In Progress"),
    (40, "Done"),
    (50, "In Progress"),
    (70, "Done"),
)
# SHOP-3, moved back to a queue: to do 0-10, in progress 10-20, in review 20-30, back to
# to do 30-40, in progress 40-50, done at 50.
SHOP_3 = item(
    "SHOP-3",
    "shop",
    "a",
    "tech_debt",
    (0, "To Do"),
    (10, "In Progress"),
    (20, "In Review"),
    (30, "To Do"),
    (40, "In Progress"),
    (50, "Done"),
)
# CART-1, done without ever being active, in a category nobody mapped: to do 100-110.
CART_1 = item("CART-1", "cart", "a", "unmapped", (100, "To Do"), (110, "Done"))
# BILL-1: to do 0-2, in progress 2-26, done at 26.
BILL_1 = item(
    "BILL-1", "billing", "b", "maintenance", (0, "To Do"), (2, "In Progress"), (26, "Done")
)
# Not done: SHOP-4 started and waits in review (in progress, inventory), CART-2 never started.
SHOP_4 = item(
    "SHOP-4",
    "shop",
    "a",
    "new_capability",
    (200, "To Do"),
    (210, "In Progress"),
    (220, "In Review"),
)
CART_2 = item("CART-2", "cart", "a", "defect", (5, "To Do"))
ITEMS = [SHOP_1, SHOP_2, SHOP_3, CART_1, BILL_1, SHOP_4, CART_2]


def text_at(events: list[WorkItem], now: float = NOW) -> str:
    return render(aggregate(events, SETTINGS, clock=lambda: now).exposition).text.decode()


def exact(text: str, name: str, **labels: str) -> float | None:
    """The value of the one series called ``name`` with exactly these labels, or None."""
    wanted = frozenset(labels.items())
    found = [v for (sample, got), v in samples(text).items() if sample == name and got == wanted]
    assert len(found) <= 1
    return found[0] if found else None


@pytest.mark.parametrize(
    ("work_item", "lead", "cycle", "active", "waiting"),
    [
        (SHOP_1, 72, 72 - 24, (48 - 24) + (72 - 60), {"To Do": 24, "In Review": 60 - 48}),
        # reopened: done at the last time; the 10 h done before the reopening is neither
        (SHOP_2, 70 - 24, 70 - 30, (40 - 30) + (70 - 50), {"To Do": 30 - 24}),
        # moved back to the queue: both visits of To Do add up
        (SHOP_3, 50, 50 - 10, 10 + 10, {"To Do": 10 + 10, "In Review": 10}),
        (CART_1, 10, None, 0, {"To Do": 10}),  # never active: no cycle time
        (BILL_1, 26, 24, 24, {"To Do": 2}),
    ],
)
def test_the_flow_of_a_completed_item_from_its_status_history(
    work_item: WorkItem, lead: float, cycle: float | None, active: float, waiting: dict[str, float]
) -> None:
    flow = flow_of(work_item)
    assert flow is not None
    assert flow.lead_time == lead * HOUR
    assert flow.cycle_time == (None if cycle is None else cycle * HOUR)
    assert flow.active == active * HOUR
    assert flow.waiting == {status: hours * HOUR for status, hours in waiting.items()}


def test_an_item_not_done_has_no_times_and_a_transition_before_creation_counts_from_it() -> None:
    flow = flow_of(SHOP_4)
    assert flow is not None
    assert (flow.stage, flow.status, flow.done_at) == ("waiting", "In Review", None)
    assert flow.started_at == T0 + 210 * HOUR
    early = WorkItem(
        "jira",
        "X-1",
        "shop",
        "a",
        "defect",
        T0,
        ((T0 - HOUR, "In Progress", "active"), (T0 + 5 * HOUR, "Done", "done")),
    )
    assert flow_of(early).cycle_time == 5 * HOUR  # type: ignore[union-attr]
    assert flow_of(WorkItem("jira", "X-2", "shop", "a", "defect", T0)) is None


def test_completed_items_by_category_and_their_histograms() -> None:
    text = text_at(ITEMS)
    completed = {
        ("shop", "a", "new_capability"): 1,
        ("shop", "a", "defect"): 1,
        ("shop", "a", "tech_debt"): 1,
        ("cart", "a", "unmapped"): 1,
        ("billing", "b", "maintenance"): 1,
    }
    for (app, team, category), count in completed.items():
        labels = {"app": app, "team": team, "category": category}
        assert exact(text, "kpi_work_items_completed_total", **labels) == count
    shop_new = {"app": "shop", "team": "a", "category": "new_capability"}
    # SHOP-1's cycle time, 48 h, is the 2-day bound: in the bucket le=172800, not le=86400.
    cycle = "kpi_work_item_cycle_time_seconds"
    assert exact(text, cycle + "_bucket", **shop_new, le="86400.0") == 0
    assert exact(text, cycle + "_bucket", **shop_new, le="172800.0") == 1
    assert exact(text, cycle + "_sum", **shop_new) == 48 * HOUR
    # CART-1 was never active: a lead time, no cycle time.
    cart = {"app": "cart", "team": "a", "category": "unmapped"}
    assert exact(text, "kpi_work_item_lead_time_seconds_count", **cart) == 1
    assert exact(text, cycle + "_count", **cart) is None
    # Active time: SHOP-1 36 h, SHOP-2 30 h, SHOP-3 20 h; CART-1's 0 is no sample.
    active = "kpi_work_items_active_seconds_total"
    assert exact(text, active, **shop_new) == 36 * HOUR
    assert exact(text, active, app="shop", team="a", category="defect") == 30 * HOUR
    assert exact(text, active, app="shop", team="a", category="tech_debt") == 20 * HOUR
    assert exact(text, active, **cart) is None
    # Waits per status of shop: To Do 24 + 6 + 20 h (three items), In Review 12 + 10 h.
    wait = "kpi_work_item_wait_seconds"
    to_do = {"app": "shop", "team": "a", "status": "To Do"}
    assert exact(text, wait + "_count", **to_do) == 3
    assert exact(text, wait + "_sum", **to_do) == (24 + 6 + 20) * HOUR
    # 6 h <= 1 day, 20 h <= 1 day, 24 h <= 1 day: all three in le=86400; none under 4 h.
    assert exact(text, wait + "_bucket", **to_do, le="14400.0") == 0
    assert exact(text, wait + "_bucket", **to_do, le="86400.0") == 3
    review = {"app": "shop", "team": "a", "status": "In Review"}
    assert exact(text, wait + "_sum", **review) == (12 + 10) * HOUR


def test_work_in_progress_and_inventory_per_status() -> None:
    text = text_at(ITEMS)
    # SHOP-4 was active and now waits in review: in progress. CART-2 never started: not.
    assert exact(text, "kpi_work_items_in_progress", app="shop", team="a") == 1
    assert exact(text, "kpi_work_items_in_progress", app="cart", team="a") == 0
    assert exact(text, "kpi_work_items_in_progress", app="billing", team="b") == 0
    inventory = "kpi_work_items_open"
    assert exact(text, inventory, app="shop", team="a", stage="waiting", status="In Review") == 1
    assert exact(text, inventory, app="cart", team="a", stage="waiting", status="To Do") == 1
    assert exact(text, inventory, app="billing", team="b", stage="waiting", status="To Do") is None


def test_windows_count_by_done_time_and_quantiles_are_exact_at_every_level() -> None:
    text = text_at(ITEMS)
    completed = "kpi_window_work_items_completed"
    # Done at 72, 70, 50 (shop), 110 (cart), 26 h (billing): only CART-1 after T0 + 84 h.
    assert exact(text, completed, app="shop", team="a", category="defect", window="7d") == 0
    assert exact(text, completed, app="shop", team="a", category="defect", window="30d") == 1
    assert exact(text, completed, app="cart", team="a", category="unmapped", window="7d") == 1
    # Flow efficiency of team a over 30d: active (36 + 30 + 20 + 0) / lead (72 + 46 + 50 + 10).
    active = sum(
        v
        for (name, labels), v in samples(text).items()
        if name == "kpi_window_work_items_active_seconds" and ("window", "30d") in labels
        if ("team", "a") in labels
    )
    lead = sum(
        v
        for (name, labels), v in samples(text).items()
        if name == "kpi_window_work_items_lead_seconds" and ("window", "30d") in labels
        if ("team", "a") in labels
    )
    assert (active, lead) == ((36 + 30 + 20) * HOUR, (72 + 46 + 50 + 10) * HOUR)
    wait = "kpi_window_work_items_wait_seconds"
    assert exact(text, wait, app="shop", team="a", status="To Do", window="30d") == 50 * HOUR
    assert exact(text, wait, app="shop", team="a", status="To Do", window="7d") == 0
    # Cycle times over 30d: team a [40, 40, 48] h: p50 40 h, p90 at rank 1.8: 40 + 0.8 * 8.
    cycle = "kpi_window_work_item_cycle_time_seconds"
    assert exact(text, cycle, team="a", window="30d", percentile="50") == 40 * HOUR
    assert exact(text, cycle, team="a", window="30d", percentile="90") == pytest.approx(46.4 * HOUR)
    # The organisation adds billing's 24 h: [24, 40, 40, 48]: p50 40 h, p90 (rank 2.7) 45.6 h.
    assert exact(text, cycle, window="30d", percentile="50") == 40 * HOUR
    assert exact(text, cycle, window="30d", percentile="90") == pytest.approx(45.6 * HOUR)
    assert exact(text, cycle, app="billing", team="b", window="30d", percentile="50") == 24 * HOUR
    # No cycle time in the 7d window (CART-1 was never active): no sample.
    assert exact(text, cycle, team="a", window="7d", percentile="50") is None
    # Lead times over 30d: team a [10, 46, 50, 72] h: p50 (rank 1.5) 48 h, p90 (2.7) 65.4 h;
    # the organisation [10, 26, 46, 50, 72]: p50 46 h, p90 (rank 3.6) 50 + 0.6 * 22 = 63.2 h.
    lead_q = "kpi_window_work_item_lead_time_seconds"
    assert exact(text, lead_q, team="a", window="30d", percentile="50") == 48 * HOUR
    assert exact(text, lead_q, team="a", window="30d", percentile="90") == pytest.approx(
        65.4 * HOUR
    )
    assert exact(text, lead_q, window="30d", percentile="50") == 46 * HOUR
    assert exact(text, lead_q, window="30d", percentile="90") == pytest.approx(63.2 * HOUR)
    assert exact(text, lead_q, window="7d", percentile="50") == 10 * HOUR
    # A day later CART-1 (done at 110 h) is still in the 7d window; 3 days later it left.
    later = text_at(ITEMS, NOW + 3 * DAY)
    assert exact(later, lead_q, window="7d", percentile="50") is None


def test_a_reopened_item_is_taken_back_then_counted_again_and_no_counter_goes_down(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, SETTINGS, clock=lambda: NOW)
    labels = {"app": "shop", "team": "a", "category": "defect"}
    moves = [(24.0, "To Do"), (30.0, "In Progress"), (40.0, "Done"), (50.0, "In Progress")]
    done_first = item("SHOP-2", "shop", "a", "defect", *moves[:3])
    reopened = item("SHOP-2", "shop", "a", "defect", *moves)
    first, open_again, done_again = served_after_each(
        pipeline, "jira", (done_first, reopened, SHOP_2)
    )
    # Done at 40 h: completed 1, lead 40 - 24 = 16 h; in progress 0.
    assert exact(first, "kpi_work_items_completed_total", **labels) == 1
    assert exact(first, "kpi_work_item_lead_time_seconds_sum", **labels) == 16 * HOUR
    assert exact(first, "kpi_work_items_in_progress", app="shop", team="a") == 0
    # Reopened at 50 h: the completion is retracted (the counter stays at 1), in progress 1,
    # inventory In Progress 1, and the window no longer counts it.
    assert exact(open_again, "kpi_work_items_completed_total", **labels) == 1
    assert exact(open_again, "kpi_work_items_completed_retracted_total", **labels) == 1
    assert exact(open_again, "kpi_work_item_lead_time_retracted_seconds_sum", **labels) == (
        16 * HOUR
    )
    assert exact(open_again, "kpi_work_items_in_progress", app="shop", team="a") == 1
    assert (
        exact(
            open_again,
            "kpi_work_items_open",
            app="shop",
            team="a",
            stage="active",
            status="In Progress",
        )
        == 1
    )
    window = {**labels, "window": "30d"}
    assert exact(open_again, "kpi_window_work_items_completed", **window) is None
    # Done again at 70 h: 2 contributions ever, 1 retracted; lead 46 h; the window counts 1.
    assert exact(done_again, "kpi_work_items_completed_total", **labels) == 2
    assert exact(done_again, "kpi_work_items_completed_retracted_total", **labels) == 1
    assert exact(done_again, "kpi_work_item_lead_time_seconds_sum", **labels) == (16 + 46) * HOUR
    assert exact(done_again, "kpi_window_work_items_completed", **window) == 1
    assert exact(done_again, "kpi_work_items_in_progress", app="shop", team="a") == 0
    store.close()
    # The stored item is the last one sent, and a restart publishes the same counters.
    store = Store(tmp_path / "kpi.db")
    restarted = Pipeline(store, SETTINGS, clock=lambda: NOW).cache.current.text.decode()
    assert [e for e in store.iter_events() if isinstance(e, WorkItem)] == [SHOP_2]
    store.close()
    assert samples(restarted) == samples(done_again)


def test_a_work_item_survives_the_store_and_the_backfill_replays_each_status() -> None:
    assert from_json("workitem", to_json(SHOP_3)) == SHOP_3
    replayed = versions(SHOP_3)
    # One version per status entered, each known from that moment, the last the item itself.
    assert [at for at, _ in replayed] == [T0 + h * HOUR for h in (0, 10, 20, 30, 40, 50)]
    assert [len(v.statuses) for _, v in replayed] == [1, 2, 3, 4, 5, 6]  # type: ignore[union-attr]
    assert replayed[-1][1] == SHOP_3


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.sampled_from(["To Do", "In Progress", "In Review"])),
        max_size=12,
    ),
    st.integers(0, 600),
)
def test_without_a_reopening_active_and_waiting_time_add_up_to_the_lead_time(
    moves: list[tuple[int, str]], done: int
) -> None:
    """Every hour from creation to done is in exactly one status, active or waiting."""
    ordered = sorted(moves)
    history = [(0, "To Do"), *ordered, (max([done, *(h for h, _ in ordered)]), "Done")]
    flow = flow_of(item("X-1", "shop", "a", "defect", *history))
    assert flow is not None and flow.lead_time is not None
    assert flow.active + sum(flow.waiting.values()) == pytest.approx(flow.lead_time)
    started = [h for h, status in history if status == "In Progress"]
    expected = None if not started else (history[-1][0] - started[0]) * HOUR
    # Active only from the moment it was done (or never): no cycle time.
    assert flow.cycle_time == (None if expected == 0 else expected)


def test_a_status_time_out_of_bounds_is_refused_naming_it() -> None:
    """The times inside the status history are bounded like every other time (1970 to a year
    ahead): a poll skips such an item and counts it, a start quarantines it."""
    now = T0 + 100 * DAY
    good = item("SHOP-9", "shop", "a", "defect", (0, "To Do"), (24, "Done"))
    assert event_problem(good, now) is None
    broken = dataclasses.replace(good, statuses=(good.statuses[0], (1e308, "Done", "done")))
    problem = time_problem(1e308, now)
    assert problem is not None
    assert event_problem(broken, now) == f"field 'statuses[1]': {problem}"
