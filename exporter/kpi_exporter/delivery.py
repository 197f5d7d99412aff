"""When a work item first reached production: one rule, applied when a work item or a change
that references one is stored (time to market).

A change references work items by their key (``Change.work_items``: ``PROJ-12`` in its
title, head branch or body, or as the event format gives them). A work item's reference is
its key without the tracker's prefix (``jira/PROJ-12`` -> ``PROJ-12``), upper-cased. The
store indexes both (table ``work_references``), and each work item that any change
references gets a derived :class:`~kpi_exporter.model.WorkItemDelivery`:

- it starts when the item was created, or first entered a configured discovery status
  (``KpiSettings.discovery_started``);
- it ends at the earliest production deployment of the changes that reference it, as
  :mod:`kpi_exporter.shipping` derives each change's deployment: a deployment re-sent as
  failed (or to another environment) releases its changes, so the item then ends at the next
  successful production deployment of a change naming it, or is not delivered any more;
- an item referenced by two changes deployed on different days ends at the first.

The answer does not depend on the order in which items, changes and deployments arrive.
"""

from __future__ import annotations

from .kpis import KpiSettings
from .model import Change, WorkItem, WorkItemDelivery
from .store import EventChange, Transaction


def reference(item: WorkItem) -> str:
    """The key changes name a work item by: its key without the tracker's prefix."""
    return item.key.split("/", 1)[-1].upper()


def _first_delivery(changes: list[Change], settings: KpiSettings) -> tuple[float, str] | None:
    """(deployed at, source/key) of the earliest production deployment of ``changes``."""
    deployed = [
        (change.deployed_at, f"{change.source}/{change.key}")
        for change in changes
        if change.deployed_at is not None and settings.is_production(change.deployed_environment)
    ]
    return min(deployed) if deployed else None


def deliver(item: WorkItem, changes: list[Change], settings: KpiSettings) -> WorkItemDelivery:
    """The delivery of ``item`` by the changes that reference it."""
    first = _first_delivery(changes, settings)
    return WorkItemDelivery(
        source=item.source,
        key=item.key,
        app=item.app,
        team=item.team,
        category=item.category,
        started_at=settings.discovery_started(item.created_at, item.statuses),
        delivered_at=first[0] if first else None,
        change=first[1] if first else "",
    )


def redeliver(tx: Transaction, changes: list[EventChange], settings: KpiSettings) -> None:
    """Index the references of the changed work items and changes, then derive again the
    delivery of every work item they (before or after the change) reference.

    A work item no change references has no delivery; one that had a delivery keeps it,
    with ``delivered_at`` None once nothing delivers it any more."""
    touched: set[str] = set()
    for before, after in changes:
        if isinstance(after, Change):
            old = before.work_items if isinstance(before, Change) else ()
            if before is None or old != after.work_items:
                tx.set_references("change", after.source, after.key, after.work_items)
            touched.update(old, after.work_items)
        elif isinstance(after, WorkItem):
            if before is None:
                tx.set_references("workitem", after.source, after.key, (reference(after),))
            touched.add(reference(after))
    for ref in sorted(touched):
        items = [e for e in tx.referencing("workitem", ref) if isinstance(e, WorkItem)]
        if not items:
            continue
        referring = [e for e in tx.referencing("change", ref) if isinstance(e, Change)]
        for item in items:
            delivery = deliver(item, referring, settings)
            stored = tx.get_kind(WorkItemDelivery.kind, item.source, item.key)
            if delivery.delivered_at is not None or stored is not None:
                tx.upsert(delivery)
