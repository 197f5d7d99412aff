"""Which deployment first shipped a change: one rule, applied when a change or a deployment
is stored.

A source says which deployment contains a change (``Change.deployed_at``,
``deployment_key``). Every such statement is kept as a *shipment* (store table
``shipments``), and the change's deployment is derived from them: the earliest shipment
that still counts, that is to a production environment by a deployment that is not stored as
failed or as a deployment to another environment (a shipment naming no stored deployment
counts: the source's word is all there is). So

- a later deployment that lists the change again does not move its lead time;
- a deployment re-sent as failed, or to a non-production environment, releases its changes,
  which then count from the next shipment that does count, or wait undeployed;
- the answer does not depend on the order in which changes and deployments arrive.

Without any production shipment, a change keeps its earliest shipment to another
environment (shown, never counted for lead time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .kpis import KpiSettings
from .model import Change, Deployment, Event
from .store import Shipment, Transaction


def counts(shipment: Shipment, tx: Transaction, settings: KpiSettings) -> bool:
    """Whether a shipment can be the change's deployment for lead time."""
    if not settings.is_production(shipment.environment):
        return False
    if not shipment.deployment_key:
        return True
    stored = tx.deployment(shipment.source, shipment.deployment_key)
    return stored is None or (
        stored.status == "success" and settings.is_production(stored.environment)
    )


def shipped(change: Change, tx: Transaction, settings: KpiSettings) -> Change:
    """``change`` with the deployment its shipments say first shipped it."""
    shipments = tx.shipments(change.source, change.key)
    first = next((s for s in shipments if counts(s, tx, settings)), None)
    if first is None:
        first = next((s for s in shipments if not settings.is_production(s.environment)), None)
    if first is None:
        return replace(change, deployed_at=None, deployed_environment="", deployment_key="")
    return replace(
        change,
        deployed_at=first.deployed_at,
        deployed_environment=first.environment,
        deployment_key=first.deployment_key,
    )


def store_change(change: Change, tx: Transaction, settings: KpiSettings) -> Change:
    """Keep the change's shipment, if it names one, and return the change as it is stored."""
    if change.deployed_at is not None:
        tx.add_shipment(
            Shipment(
                change.source,
                change.key,
                change.deployment_key,
                change.deployed_environment,
                change.deployed_at,
            )
        )
    return shipped(change, tx, settings)


def reship(touched: Iterable[Event], tx: Transaction, settings: KpiSettings) -> None:
    """Re-derive the deployment of the changes that the touched deployments shipped."""
    for event in touched:
        if not isinstance(event, Deployment):
            continue
        for change_key in tx.shipped_by(event.source, event.key):
            stored = tx.get_change(event.source, change_key)
            if stored is not None:
                tx.upsert(shipped(stored, tx, settings))
