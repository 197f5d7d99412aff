"""From a poll to the cached exposition: store, link, aggregate, render.

``record`` writes one poll (events, cursor, validators and the re-derived deployment outcomes)
in one transaction, then applies the net changes to the running sums. ``refresh`` renders
the exposition once; scrapes serve that rendering until the next refresh.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from . import page, snapshot
from .cardinality import LabelLimitError, LabelPolicy
from .delivery import redeliver
from .exposition import ExpositionCache
from .health import Health
from .kpis import Aggregate, KpiSettings
from .kpis.aggregate import retractions
from .kpis.families import FAMILY_BY_NAME
from .linking import LinkSettings, relink, relink_on_new_settings
from .model import Change, Event, event_problem
from .page import headlines
from .page.headlines import Headlines
from .reverts import mark_reverts
from .sharding import Shard
from .shipping import reship, store_change
from .sources import Poll
from .store import Row, Store, Transaction

log = logging.getLogger(__name__)


# A start applies the journal of writes since the snapshot when it holds at most this many
# (about 0.7 s at 23 us a write, on top of the snapshot's load); more replay every event. The
# snapshot is saved again once the journal holds this many, idle or not.
JOURNAL_LIMIT = 30_000


def _skip_retraction(family: str, error: Exception) -> None:
    log.error("skipped a stored retraction that cannot be read (%s): %s", family, error)


class Pipeline:
    def __init__(
        self,
        store: Store,
        kpi: KpiSettings | None = None,
        linking: LinkSettings | None = None,
        health: Health | None = None,
        clock: Callable[[], float] = time.time,
        shard: Shard | None = None,
        labels: LabelPolicy | None = None,
    ) -> None:
        """``clock`` is "now" for the time-dependent series (open changes by age), read at
        each refresh. ``shard``: only the events of its apps are stored (see sharding).
        ``labels``: the limits on new app, team and environment values (see cardinality).

        The running sums come from the snapshot saved in the store when it matches the
        store and this code and settings exactly, else from a replay of every stored event
        (see :mod:`kpi_exporter.snapshot`)."""
        self.store = store
        self.shard = shard or Shard()
        self.kpi = kpi or KpiSettings()
        self.linking = linking or LinkSettings()
        self.health = health or Health()
        self.labels = labels or LabelPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        dropped = store.claim_shard(self.shard.assignment, self.shard.owns)
        if dropped:
            log.warning(
                "the number of shards changed: dropped the events of %d app(s) now polled by"
                " other shards; every source reads its history again",
                len(dropped),
            )
        try:  # outcomes assessed with other linking settings are assessed again
            changed = relink_on_new_settings(store, self.kpi, self.linking)
            if changed:
                log.info(
                    "the linking settings changed: %d stored outcomes and links changed", changed
                )
        except sqlite3.Error as error:  # a read-only store keeps its outcomes
            log.warning("the stored outcomes were not assessed again: %s", error)
        try:
            self._fingerprint: str | None = snapshot.fingerprint(self.kpi, self.shard.exact_levels)
        except OSError as error:  # the package's source cannot be read: no snapshot
            log.warning("no snapshot of the sums: %s", error)
            self._fingerprint = None
        # The store's change counter the sums reflect (None: unknown, never saved), that of
        # the saved snapshot, and when a poll last changed the store.
        self._changes: int | None = None
        self._saved: int | None = None
        self._last_change = time.monotonic()
        self._unmoved: Counter[str] = Counter()  # rows that could not be quarantined
        started = time.monotonic()
        loaded = self._load_snapshot()
        self.aggregate = loaded or self._replay()
        self.from_snapshot = loaded is not None
        # Quarantined rows (those moved, and any a read-only store kept), counted either way.
        quarantined = Counter(self.store.quarantined())
        quarantined.update(self._unmoved)
        self.health.quarantined = quarantined
        self.cache = ExpositionCache(self.aggregate.exposition, self._health_exposition)
        try:
            self.cache.refresh()
        except Exception:
            if loaded is None:
                raise
            log.exception("rendering the snapshot's sums failed: replaying every stored event")
            self.aggregate = self._replay()
            self.cache = ExpositionCache(self.aggregate.exposition, self._health_exposition)
            self.cache.refresh()
            self.from_snapshot = False
        log.info(
            "loaded %d stored events (%s) and rendered them in %.1f s",
            sum(self.aggregate.stored.values()),
            "from the snapshot" if self.from_snapshot else "replayed",
            time.monotonic() - started,
        )

    def _load_snapshot(self) -> Aggregate | None:
        """The sums of the saved snapshot, when it matches exactly; None otherwise."""
        if self._fingerprint is None:
            return None
        try:
            saved = self.store.snapshot()
            if saved is None:
                return None
            if saved.fingerprint != self._fingerprint:
                log.info("the snapshot was saved by other code or settings: replaying")
                return None
            behind = saved.changes != saved.store_changes  # written to since it was saved
            journal = 0
            if behind:
                journal = self.store.journal_size()
                if journal > JOURNAL_LIMIT:
                    log.info(
                        "the store changed by %d writes since the snapshot, more than %d:"
                        " replaying",
                        journal,
                        JOURNAL_LIMIT,
                    )
                    return None
            loaded = snapshot.load(saved.state, self.kpi, self._clock, self.shard.exact_levels)
            if behind:
                before = self.store.change_count()
                self._apply_journal(loaded)
                log.info("applied the %d writes made since the snapshot", journal)
                if self.store.change_count() == before:
                    self._changes = before
                self._saved = saved.changes
                return loaded
        except Exception:  # a corrupt snapshot or journal costs a replay, never a start
            log.exception("the snapshot cannot be read: replaying every stored event")
            return None
        self._changes = self._saved = saved.changes
        return loaded

    def _apply_journal(self, aggregate: Aggregate) -> None:
        """Bring the snapshot's sums to the store as it stands: apply every write to the
        events since (a crash, or another writer), then count every stored retraction again,
        as a replay does. Raises on anything a replay would quarantine: the caller replays."""
        now = self._clock()
        for before, after in self.store.journal():
            if after is not None:
                problem = event_problem(after, now)
                if problem is not None:
                    raise ValueError(f"{after.kind} {after.source}/{after.key}: {problem}")
            if before is not None:
                aggregate.add(before, -1)
            if after is not None:
                aggregate.add(after)
        aggregate.retracted_values.clear()
        aggregate.retracted_histograms.clear()
        self._count_retractions(aggregate)
        aggregate.invalidate()

    def _count_retractions(self, aggregate: Aggregate) -> None:
        """Count every stored retraction into ``aggregate`` (one that cannot be read is
        logged and skipped; a family since renamed is not shown)."""
        for observation, times in self.store.retractions(unreadable=_skip_retraction):
            if observation.family in FAMILY_BY_NAME:
                aggregate.retract(observation, times)

    def _replay(self) -> Aggregate:
        """The sums of every stored event and retraction. A row that cannot be read, has a
        time outside 1970 to a year ahead or cannot be counted is quarantined: logged, moved
        out of the events (see :meth:`Store.quarantine`) and counted; it never stops the start."""
        aggregate = Aggregate(self.kpi, self._clock, exact_levels=self.shard.exact_levels)
        before = self.store.change_count()
        poisoned: list[tuple[Row, str]] = []

        def unreadable(row: Row, error: Exception) -> None:
            poisoned.append((row, f"cannot be read: {error}"))

        now = self._clock()
        for event in self.store.iter_events(unreadable=unreadable):
            problem = event_problem(event, now)
            if problem is None:
                try:
                    aggregate.add(event)  # all of its contributions or none
                except Exception as error:
                    problem = f"cannot be counted: {error}"
            if problem is not None:
                poisoned.append((Row(event.kind, event.source, event.key), problem))
        self._count_retractions(aggregate)
        unchanged = self.store.change_count() == before  # nobody else wrote meanwhile
        moved = self._quarantine(poisoned, now)
        self._changes = self.store.change_count() if unchanged and moved else None
        return aggregate

    def _quarantine(self, rows: list[tuple[Row, str]], now: float) -> bool:
        """Log, move to the quarantine table and count the stored rows a start skipped;
        False when they could not be moved (they stay where they are, skipped)."""
        moved = True
        for row, reason in rows:
            log.error("quarantined the stored %s %s/%s: %s", row.kind, row.source, row.key, reason)
        if rows:
            try:
                self.store.quarantine(rows, now)
            except sqlite3.Error as error:  # a read-only store: skipped, still counted
                log.error("cannot move %d row(s) to the quarantine table: %s", len(rows), error)
                self.health.store_error(error)
                self._unmoved.update(row.kind for row, _ in rows)
                moved = False
        return moved

    def _health_exposition(self, openmetrics: bool) -> Iterator[str]:
        return self.health.exposition(self.aggregate.stored, openmetrics)

    def record(self, source: str, poll: Poll, *, whole: bool = False) -> int:
        """Store one poll atomically; return how many stored events changed.

        An event with a time out of bounds is refused, logged and counted, the rest stored.
        Events bringing a new app, team or environment over its limit are refused: with
        ``whole`` (a push, all or nothing) by raising :class:`LabelLimitError` before
        anything is stored; otherwise they are left out, logged and counted."""
        refused = 0
        with self._lock, self._store_errors():
            now = self._clock()
            valid = []
            for event in poll.events:
                if not self.shard.keeps(event):
                    continue
                problem = event_problem(event, now)
                if problem is not None:  # one bad event must not spoil the poll
                    log.warning("%s: refused %s %s: %s", source, event.kind, event.key, problem)
                    refused += 1
                    continue
                valid.append(event)
            admitted, refusals, over = self.labels.admit(valid, self.aggregate.label_values)
            if refusals:
                if whole:
                    raise LabelLimitError(refusals, over)
                self.health.rejected(source, over, "cardinality")
                log.warning(
                    "source %s: refused %d event(s): %s%s",
                    source,
                    over,
                    refusals[0],
                    f" (and {len(refusals) - 1} more new values)" if len(refusals) > 1 else "",
                )
            with self.store.transaction() as tx:
                before = self.store.change_count()
                for event in admitted:
                    tx.upsert(self._merge(tx, event))
                touched = [e for pair in tx.changes() for e in pair if e is not None]
                reship(touched, tx, self.kpi)
                relink(tx, touched, self.kpi, self.linking)
                mark_reverts(tx, tx.changes())
                redeliver(tx, tx.changes(), self.kpi)
                tx.set_cursor(source, poll.cursor)
                tx.set_validators(source, poll.validators)
                changes = tx.changes()
                for _, new in changes:  # nothing committed that the sums cannot take
                    self.aggregate.check(new)
                retracted = retractions(changes, self.kpi)
                tx.add_retractions(retracted)
                after = self.store.change_count()
            self.aggregate.apply(changes, retracted)
            # A write by anyone else since the last one: the sums no longer match a counter.
            self._changes = after if self._changes == before else None
            if changes:
                self._last_change = time.monotonic()
        if refused:
            self.health.rejected(source, refused)
        return len(changes)

    @contextmanager
    def _store_errors(self) -> Iterator[None]:
        """Count a write the store refuses (full, read-only, deleted) and report not ready
        until one succeeds again; the error goes on (nothing was committed)."""
        try:
            yield
        except sqlite3.Error as error:
            reason = self.health.store_error(error)
            log.error("the store refused a write (%s): %s", reason, error)
            raise
        self.health.store_ok()

    def save_snapshot(self) -> bool:
        """Save the sums into the store (see :mod:`kpi_exporter.snapshot`), unless they are
        saved already or do not match the store's change counter; True when saved."""
        with self._lock:
            changes = self._changes
            if changes is None or changes == self._saved or self._fingerprint is None:
                return False
            started = time.monotonic()
            state = snapshot.dump(self.aggregate)
            if not self.store.save_snapshot(changes, self._fingerprint, state):
                self._changes = None
                return False
            self._saved = changes
        log.info(
            "saved a snapshot of the sums (%.1f MiB) in %.1f s",
            len(state) / 2**20,
            time.monotonic() - started,
        )
        return True

    def save_snapshot_when_idle(self, idle: float) -> bool:
        """Save the snapshot once no poll has changed the store for ``idle`` seconds, or
        once the journal of writes since the last one holds :data:`JOURNAL_LIMIT`, so that a
        start after a crash applies a bounded journal rather than replaying every event."""
        busy = time.monotonic() - self._last_change < idle
        if busy and self.store.journal_size() < JOURNAL_LIMIT:
            return False
        return self.save_snapshot()

    def _merge(self, tx: Transaction, event: Event) -> Event:
        if isinstance(event, Change):
            return store_change(event, tx, self.kpi)
        return event

    def headlines(self) -> Headlines:
        """The KPI page's numbers at the instant of the last rendering of /metrics, so both
        show the same values."""
        with self._lock:
            now = self.aggregate.rendered_at
            if now is None:
                now = self._clock()
            return headlines.compute(
                self.aggregate, now, page.thresholds(), exact=not self.shard.sharded
            )

    def refresh(self) -> None:
        """Render the exposition once, from the running sums."""
        with self._lock:
            self.cache.refresh()
