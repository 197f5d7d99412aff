"""Which merged changes were reverted: the derived :class:`~kpi_exporter.model.ChangeRevert`.

A merged change that names another change of the same source in ``reverts`` (GitHub's and
GitLab's Revert buttons, or ``reverts`` in the event format) reverts it, when that one was
merged. The reverted change gets a ``ChangeRevert`` (its key, app, team, origin and merge
time; the revert's merge time and key), written in the poll's transaction like the
deployment outcomes, so that the revert rate of AI-agent changes can be set against the
others' per team. The events can arrive in any order: a revert stored before the change it
reverts is found when that change arrives. A revert that no longer reverts (re-sent without
``reverts``, or not merged) takes its ``ChangeRevert`` back (``reverted_by`` empty).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .model import Change, ChangeRevert, Event
from .store import Transaction


def _revert(reverted: Change, by: Change | None) -> ChangeRevert | None:
    """The record of ``reverted`` reverted by ``by`` (None when ``reverted`` was not merged);
    ``by`` None: no longer reverted."""
    if reverted.state != "merged" or reverted.merged_at is None:
        return None
    return ChangeRevert(
        **reverted.identity(),
        merged_at=reverted.merged_at,
        reverted_at=by.time if by is not None else reverted.merged_at,
        origin=reverted.origin,
        reverted_by=by.key if by is not None else "",
    )


def _reverts(change: Change | None) -> str:
    """The key ``change`` reverts, once merged ("" otherwise)."""
    if change is None or change.state != "merged" or change.merged_at is None:
        return ""
    return change.reverts


def mark_reverts(tx: Transaction, changed: Iterable[tuple[Event | None, Event]]) -> None:
    """Write the ``ChangeRevert`` records that the ``changed`` (before, after) events of this
    transaction make, take out those they undo."""
    since_by_app: dict[str, float] = {}
    reverted: dict[tuple[str, str], Change] = {}  # touched changes, by (source, key)
    for before, after in changed:
        if not isinstance(after, Change):
            continue
        old = _reverts(before if isinstance(before, Change) else None)
        new = _reverts(after)
        if new:
            target = tx.get_change(after.source, new)
            record = _revert(target, after) if target is not None else None
            if record is not None:
                tx.upsert(record)
        if old and old != new:
            target = tx.get_change(after.source, old)
            undone = _revert(target, None) if target is not None else None
            stored = tx.get(undone) if undone is not None else None
            if (
                undone is not None
                and isinstance(stored, ChangeRevert)
                and stored.reverted_by == after.key
            ):
                tx.upsert(undone)
        if after.state == "merged" and after.merged_at is not None:
            reverted[(after.source, after.key)] = after
            since = since_by_app.get(after.app, after.merged_at)
            since_by_app[after.app] = min(since, after.merged_at)
    # A change stored after its revert, or whose origin changed: find the reverts naming it
    # among the app's changes merged since (a revert is merged after what it reverts).
    for app, since in sorted(since_by_app.items()):
        by_target: dict[tuple[str, str], list[Change]] = defaultdict(list)
        for event in tx.events("change", app, since):
            if isinstance(event, Change) and _reverts(event):
                by_target[(event.source, event.reverts)].append(event)
        for natural_key, reverts in sorted(by_target.items()):
            target = reverted.get(natural_key)
            if target is None:
                continue
            first = min(reverts, key=lambda c: (c.time, c.key))
            record = _revert(target, first)
            if record is not None:
                tx.upsert(record)
