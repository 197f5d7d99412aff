"""Work-item cycle and lead time per investment category: exact windowed quantiles at app,
team and organisation level, each category apart. The items are those of test_work_items
(times in hours after T0) and one more; every expected value is computed by hand."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.model import WorkItem
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import HOUR, samples
from tests.test_work_items import ITEMS, NOW, SETTINGS, T0, exact, item

LEAD = "kpi_window_work_item_lead_time_by_category_seconds"
CYCLE = "kpi_window_work_item_cycle_time_by_category_seconds"
# CART-3, a second new capability of team a in another app: to do 0-30, in progress 30-90,
# done at 90: lead 90 h, cycle 60 h.
CART_3 = item(
    "CART-3", "cart", "a", "new_capability", (0, "To Do"), (30, "In Progress"), (90, "Done")
)


def text(tmp_path: Path) -> str:
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), SETTINGS, clock=lambda: NOW)
    pipeline.record("jira", Poll(events=[*ITEMS, CART_3], cursor=None))
    pipeline.refresh()
    return pipeline.cache.current.text.decode()


def test_quantiles_per_category_are_exact_at_every_level(tmp_path: Path) -> None:
    exposition = text(tmp_path)

    def at(name: str, window: str, percentile: str, **labels: str) -> float | None:
        return exact(exposition, name, **labels, window=window, percentile=percentile)

    new = {"category": "new_capability"}
    # Completed (done at): SHOP-1 72 h (lead 72, cycle 48), CART-3 90 h (lead 90, cycle 60),
    # SHOP-2 defect 70 h (lead 46, cycle 40), SHOP-3 tech_debt 50 h (lead 50, cycle 40),
    # CART-1 unmapped 110 h (lead 10, never active), BILL-1 maintenance 26 h (lead 26,
    # cycle 24, team b). The 30d window holds them all.
    # Team a, new capabilities: lead 72 and 90 -> median 81 h, p90 72 + 0.9 x 18 = 88.2 h;
    # cycle 48 and 60 -> median 54 h.
    assert at(LEAD, "30d", "50", team="a", **new) == 81 * HOUR
    assert at(LEAD, "30d", "90", team="a", **new) == 88.2 * HOUR
    assert at(CYCLE, "30d", "50", team="a", **new) == 54 * HOUR
    # The same category at the app level: shop's one item, cart's one item.
    assert at(LEAD, "30d", "50", app="shop", team="a", **new) == 72 * HOUR
    assert at(LEAD, "30d", "50", app="cart", team="a", **new) == 90 * HOUR
    # The organisation per category: team b has no new capability, so 81 h again; its
    # maintenance item is the organisation's maintenance median, 26 h.
    assert at(LEAD, "30d", "50", **new) == 81 * HOUR
    assert at(LEAD, "30d", "50", category="maintenance") == 26 * HOUR
    assert at(CYCLE, "30d", "50", category="maintenance") == 24 * HOUR
    # Team a's defect (46 h) is not mixed with its new capabilities.
    assert at(LEAD, "30d", "50", team="a", category="defect") == 46 * HOUR
    # The 7d window (84 h, 252 h] holds CART-3 (90 h) and CART-1 (110 h): team a's new
    # capability 90 h, unmapped 10 h; CART-1 was never active: no cycle time series.
    assert at(LEAD, "7d", "50", team="a", **new) == 90 * HOUR
    assert at(LEAD, "7d", "50", team="a", category="unmapped") == 10 * HOUR
    assert at(CYCLE, "7d", "50", team="a", category="unmapped") is None
    assert at(LEAD, "7d", "50", team="a", category="defect") is None

    # Bounded: one series per (level, category, window, percentile) that holds an item.
    # Lead time: app level shop 3 categories (new, defect, debt) + cart 2 (new, unmapped) +
    # billing 1 = 6 in 30d, cart 2 in 7d; team a 4 + team b 1 = 5 in 30d, team a 2 in 7d;
    # the organisation 5 categories in 30d, 2 in 7d. (6 + 2 + 5 + 2 + 5 + 2) x 2 percentiles.
    lead = [key for key in samples(exposition) if key[0] == LEAD]
    assert len(lead) == (6 + 2 + 5 + 2 + 5 + 2) * 2
    # Every category together is still published as before: team a's 30d lead median over
    # 72, 46, 50, 10, 90 is 50 h.
    assert (
        exact(
            exposition,
            "kpi_window_work_item_lead_time_seconds",
            team="a",
            window="30d",
            percentile="50",
        )
        == 50 * HOUR
    )


def test_work_item_categories_statuses_and_stages_are_bounded_by_label_limits(
    tmp_path: Path,
) -> None:
    """A tracker sending a category, status or stage per item (a SHA, a free text) cannot
    flood Prometheus: past label_limits, an item bringing a new value is refused."""
    config = parse_config("label_limits: {category: 1, status: 4, stage: 1}\n")
    health = Health()
    health.register("jira", "jira")
    pipeline = Pipeline(
        Store(tmp_path / "kpi.db"), SETTINGS, health=health, labels=config.label_policy()
    )
    # The five built-in categories and the three stages never count. SHOP-1 brings statuses
    # To Do, In Progress, In Review, Done (4: at the limit of 4, admitted).
    first = [item_ for item_ in ITEMS if item_.key == "SHOP-1"]
    # "spike" is the one category allowed besides the built-in ones; "research" is over.
    spike = item("SHOP-8", "shop", "a", "spike", (0, "To Do"), (5, "Done"))
    research = item("SHOP-9", "shop", "a", "research", (0, "To Do"), (5, "Done"))
    # A fifth status is over the limit of 4; a fourth stage over its limit of 1 extra.
    blocked = replace(
        item("SHOP-10", "shop", "a", "defect", (0, "To Do")),
        statuses=((T0, "Blocked by sha-1f2e", "waiting"),),
    )
    staged = replace(
        item("SHOP-11", "shop", "a", "defect", (0, "To Do")),
        statuses=((T0, "To Do", "parked"), (T0 + HOUR, "Done", "frozen")),
    )
    pipeline.record("jira", Poll(events=[*first, spike, research, blocked, staged], cursor=None))
    stored = {e.key for e in pipeline.store.iter_events() if isinstance(e, WorkItem)}
    # SHOP-11 brings two new stages at once: "parked" (1 allowed) and "frozen" (over): the
    # whole item is refused, as an event with any value over its limit is.
    assert stored == {"SHOP-1", "SHOP-8"}
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    rejected = samples(text)[
        (
            "kpi_exporter_events_rejected_total",
            frozenset({"source": "jira", "reason": "cardinality"}.items()),
        )
    ]
    assert rejected == 3  # SHOP-9, SHOP-10, SHOP-11
