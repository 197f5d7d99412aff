"""From a poll to the cached exposition: store, link, aggregate, render.

``record`` writes one poll (events, cursor, validators and the re-derived deployment outcomes)
in one transaction, then applies the net changes to the running sums. ``refresh`` renders
the exposition once; scrapes serve that rendering until the next refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from . import snapshot
from .cardinality import LabelLimitError, LabelPolicy
from .exposition import ExpositionCache
from .health import Health
from .kpis import Aggregate, KpiSettings
from .kpis.aggregate import retractions
from .kpis.families import FAMILY_BY_NAME
from .linking import LinkSettings, relink
from .model import Change, Event
from .sharding import Shard
from .shipping import reship, store_change
from .sources import Poll
from .store import Store, Transaction

log = logging.getLogger(__name__)


def _skip_row(what: str, error: Exception) -> None:
    log.error("skipped a stored row that cannot be read (%s): %s", what, error)


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
        started = time.monotonic()
        loaded = self._load_snapshot()
        self.aggregate = loaded or self._replay()
        self.from_snapshot = loaded is not None
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
            if saved.changes != saved.store_changes:
                log.info("the store changed since the snapshot: replaying")
                return None
            loaded = snapshot.load(saved.state, self.kpi, self._clock, self.shard.exact_levels)
        except Exception:  # a corrupt snapshot costs a replay, never a start
            log.exception("the snapshot cannot be read: replaying every stored event")
            return None
        self._changes = self._saved = saved.changes
        return loaded

    def _replay(self) -> Aggregate:
        """The sums of every stored event and retraction. A row that cannot be read or
        observed is logged and skipped: it must not stop the start."""
        aggregate = Aggregate(self.kpi, self._clock, exact_levels=self.shard.exact_levels)
        before = self.store.change_count()
        for event in self.store.iter_events(unreadable=_skip_row):
            try:
                aggregate.add(event)
            except Exception as error:
                _skip_row(f"{event.kind} {event.source}/{event.key}", error)
        for observation, times in self.store.retractions(unreadable=_skip_row):
            if observation.family in FAMILY_BY_NAME:  # a family since renamed is not shown
                aggregate.retract(observation, times)
        after = self.store.change_count()
        self._changes = after if after == before else None
        return aggregate

    def _health_exposition(self, openmetrics: bool) -> Iterator[str]:
        return self.health.exposition(self.aggregate.stored, openmetrics)

    def record(self, source: str, poll: Poll, *, whole: bool = False) -> int:
        """Store one poll atomically; return how many stored events changed.

        Events bringing a new app, team or environment over its limit are refused: with
        ``whole`` (a push, all or nothing) by raising :class:`LabelLimitError` before
        anything is stored; otherwise they are left out, logged and counted."""
        with self._lock:
            kept = [event for event in poll.events if self.shard.keeps(event)]
            admitted, refusals, refused = self.labels.admit(kept, self.aggregate.label_values)
            if refusals:
                if whole:
                    raise LabelLimitError(refusals, refused)
                self.health.rejected(source, refused, "cardinality")
                log.warning(
                    "source %s: refused %d event(s): %s%s",
                    source,
                    refused,
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
                tx.set_cursor(source, poll.cursor)
                tx.set_validators(source, poll.validators)
                changes = tx.changes()
                retracted = retractions(changes, self.kpi)
                tx.add_retractions(retracted)
                after = self.store.change_count()
            self.aggregate.apply(changes, retracted)
            # A write by anyone else since the last one: the sums no longer match a counter.
            self._changes = after if self._changes == before else None
            if changes:
                self._last_change = time.monotonic()
        return len(changes)

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
        """Save the snapshot once no poll has changed the store for ``idle`` seconds."""
        if time.monotonic() - self._last_change < idle:
            return False
        return self.save_snapshot()

    def _merge(self, tx: Transaction, event: Event) -> Event:
        if isinstance(event, Change):
            return store_change(event, tx, self.kpi)
        return event

    def refresh(self) -> None:
        """Render the exposition once, from the running sums."""
        with self._lock:
            self.cache.refresh()
