"""Work-item flow KPIs: completed items by investment category, cycle and lead time, time in
each queue, active time (flow efficiency), work in progress and inventory per status.

The rule that turns a status history into those times lives here, once (:func:`flow_of`);
every tracker's source only maps its statuses to stages and its types to categories.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from ..model import (
    ACTIVE,
    DONE,
    WAITING,
    WorkItem,
    WorkItemDelivery,
)
from .families import (
    WINDOW_WORK_ITEM_CYCLE_TIME_BY_CATEGORY_SECONDS,
    WINDOW_WORK_ITEM_CYCLE_TIME_SECONDS,
    WINDOW_WORK_ITEM_LEAD_TIME_BY_CATEGORY_SECONDS,
    WINDOW_WORK_ITEM_LEAD_TIME_SECONDS,
    WINDOW_WORK_ITEM_TIME_TO_PRODUCTION_SECONDS,
    WINDOW_WORK_ITEMS_ACTIVE_SECONDS,
    WINDOW_WORK_ITEMS_COMPLETED,
    WINDOW_WORK_ITEMS_DELIVERED,
    WINDOW_WORK_ITEMS_LEAD_SECONDS,
    WINDOW_WORK_ITEMS_WAIT_SECONDS,
    WORK_ITEM_CYCLE_TIME_SECONDS,
    WORK_ITEM_LEAD_TIME_SECONDS,
    WORK_ITEM_TIME_TO_PRODUCTION_SECONDS,
    WORK_ITEM_WAIT_SECONDS,
    WORK_ITEMS_ACTIVE_SECONDS,
    WORK_ITEMS_COMPLETED,
    WORK_ITEMS_IN_PROGRESS,
    WORK_ITEMS_OPEN,
)
from .observation import Dated, Observation
from .settings import KpiSettings


@dataclass(frozen=True, slots=True)
class ItemFlow:
    """Where one item's time went, from its status history.

    ``done_at``: when it entered done for the last time (None while it is not done now);
    ``started_at``: when it first entered an active status before that (None: never active);
    ``active`` and ``waiting`` (per waiting status) add up the time spent in each stage from
    creation to ``done_at``; the time spent in a done status before a reopening is neither.
    ``status`` and ``stage`` are the current ones."""

    created_at: float
    status: str
    stage: str
    started_at: float | None = None
    done_at: float | None = None
    active: float = 0.0
    waiting: dict[str, float] = field(default_factory=dict)

    @property
    def lead_time(self) -> float | None:
        """Created to done."""
        return None if self.done_at is None else self.done_at - self.created_at

    @property
    def cycle_time(self) -> float | None:
        """First active to done; None for an item done without ever being active."""
        if self.done_at is None or self.started_at is None:
            return None
        return self.done_at - self.started_at


def flow_of(item: WorkItem) -> ItemFlow | None:
    """The flow of an item; None when it has no status history.

    A status entered before the item was created (clocks apart, an import) counts from the
    creation. An item done, reopened and done again is done at the last time; its first
    active moment stays the start of its cycle."""
    if not item.statuses:
        return None
    created = item.created_at
    history = sorted(
        ((max(created, at), status, stage) for at, status, stage in item.statuses),
        key=lambda entry: entry[0],
    )
    status, stage = history[-1][1], history[-1][2]
    done_at: float | None = None
    if stage == DONE:
        index = len(history) - 1
        while index > 0 and history[index - 1][2] == DONE:
            index -= 1
        done_at = history[index][0] if index > 0 else created
    end = done_at
    started: float | None = None
    active = 0.0
    waiting: dict[str, float] = {}
    for position, (at, name, kind) in enumerate(history):
        if end is not None and at >= end and position > 0:
            break
        if kind == ACTIVE and started is None:
            started = at
        if end is None:
            continue
        until = history[position + 1][0] if position + 1 < len(history) else end
        spent = max(0.0, min(until, end) - at)
        if kind == ACTIVE:
            active += spent
        elif kind == WAITING:
            waiting[name] = waiting.get(name, 0.0) + spent
    return ItemFlow(created, status, stage, started, done_at, active, waiting)


def as_known_at(item: WorkItem) -> list[tuple[float, WorkItem]]:
    """The versions of an item as the tracker showed them over time: (time, version), one
    per status it entered (for the backfill, which replays history step by step)."""
    ordered = sorted(item.statuses, key=lambda entry: entry[0])
    if len(ordered) < 2:
        return [(item.time, item)]
    return [
        (
            max(item.created_at, ordered[i][0]) if i else item.time,
            replace(item, statuses=tuple(ordered[: i + 1])),
        )
        for i in range(len(ordered))
    ]


def observe_work_item(item: WorkItem, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """The contributions of one work item.

    A completed item counts once, by the time it was done (in the windows too): its lead
    time, its cycle time when it was ever active, its active time (flow efficiency = active
    time / lead time) and its time in each waiting status it went through. An item not done
    is inventory: counted in its current status, and in progress once it was ever active.
    Reopening an item takes its completion back (published as a retraction) until it is done
    again."""
    flow = flow_of(item)
    if flow is None:
        return
    owner = (item.app, item.team)
    labels = (*owner, item.category)
    # Always observed (0 or 1), so that a team with nothing in progress shows 0.
    in_progress = flow.done_at is None and flow.started_at is not None
    yield WORK_ITEMS_IN_PROGRESS.observe(owner, 1 if in_progress else 0)
    if flow.done_at is None:
        yield WORK_ITEMS_OPEN.observe((*owner, flow.stage, flow.status), 1)
        return
    done_at = flow.done_at
    yield WORK_ITEMS_COMPLETED.observe(labels, 1)
    yield WINDOW_WORK_ITEMS_COMPLETED.at(labels, done_at)
    lead = done_at - flow.created_at
    yield WORK_ITEM_LEAD_TIME_SECONDS.observe(labels, lead)
    yield WINDOW_WORK_ITEM_LEAD_TIME_SECONDS.at(owner, done_at, lead)
    yield WINDOW_WORK_ITEM_LEAD_TIME_BY_CATEGORY_SECONDS.at(labels, done_at, lead)
    yield WINDOW_WORK_ITEMS_LEAD_SECONDS.at(labels, done_at, lead)
    cycle = flow.cycle_time
    if cycle is not None:
        yield WORK_ITEM_CYCLE_TIME_SECONDS.observe(labels, cycle)
        yield WINDOW_WORK_ITEM_CYCLE_TIME_SECONDS.at(owner, done_at, cycle)
        yield WINDOW_WORK_ITEM_CYCLE_TIME_BY_CATEGORY_SECONDS.at(labels, done_at, cycle)
    yield WORK_ITEMS_ACTIVE_SECONDS.observe(labels, flow.active)
    yield WINDOW_WORK_ITEMS_ACTIVE_SECONDS.at(labels, done_at, flow.active)
    for status, spent in sorted(flow.waiting.items()):
        yield WORK_ITEM_WAIT_SECONDS.observe((*owner, status), spent)
        yield WINDOW_WORK_ITEMS_WAIT_SECONDS.at((*owner, status), done_at, spent)


def observe_delivery(
    delivery: WorkItemDelivery, settings: KpiSettings
) -> Iterator[Observation | Dated]:
    """Time to market of a work item that reached production counts once, in the windows by
    the time of that first production deployment (0 when the change shipped before the
    discovery status was entered). A correction that takes the deployment back takes it
    back (a retraction) until a later deployment delivers the item."""
    if delivery.delivered_at is None:
        return
    spent = max(0.0, delivery.delivered_at - delivery.started_at)
    yield WORK_ITEM_TIME_TO_PRODUCTION_SECONDS.observe(
        (delivery.app, delivery.team, delivery.category), spent
    )
    owner = (delivery.app, delivery.team)
    yield WINDOW_WORK_ITEM_TIME_TO_PRODUCTION_SECONDS.at(owner, delivery.delivered_at, spent)
    yield WINDOW_WORK_ITEMS_DELIVERED.at(owner, delivery.delivered_at)
