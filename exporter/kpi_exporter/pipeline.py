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


class Pipeline:
    def __init__(
        self,
        store: Store,
        kpi: KpiSettings | None = None,
        linking: LinkSettings | None = None,
        health: Health | None = None,
        clock: Callable[[], float] = time.time,
        shard: Shard | None = None,
    ) -> None:
        """``clock`` is "now" for the time-dependent series (open changes by age), read at
        each refresh. ``shard``: only the events of its apps are stored (see sharding)."""
        self.store = store
        self.shard = shard or Shard()
        self.kpi = kpi or KpiSettings()
        self.linking = linking or LinkSettings()
        self.health = health or Health()
        self.aggregate = Aggregate(self.kpi, clock, exact_levels=self.shard.exact_levels)
        self._lock = threading.Lock()
        dropped = store.claim_shard(self.shard.assignment, self.shard.owns)
        if dropped:
            log.warning(
                "the number of shards changed: dropped the events of %d app(s) now polled by"
                " other shards; every source reads its history again",
                len(dropped),
            )
        started = time.monotonic()
        for event in store.iter_events():
            self.aggregate.add(event)
        for observation, times in store.retractions():
            if observation.family in FAMILY_BY_NAME:  # a family since renamed is not shown
                self.aggregate.retract(observation, times)
        log.info(
            "loaded %d stored events in %.1f s",
            sum(self.aggregate.stored.values()),
            time.monotonic() - started,
        )
        self.cache = ExpositionCache(self.aggregate.exposition, self._health_exposition)
        self.cache.refresh()

    def _health_exposition(self, openmetrics: bool) -> Iterator[str]:
        return self.health.exposition(self.aggregate.stored, openmetrics)

    def record(self, source: str, poll: Poll) -> int:
        """Store one poll atomically; return how many stored events changed."""
        with self._lock:
            with self.store.transaction() as tx:
                for event in poll.events:
                    if self.shard.keeps(event):
                        tx.upsert(self._merge(tx, event))
                touched = [e for pair in tx.changes() for e in pair if e is not None]
                reship(touched, tx, self.kpi)
                relink(tx, touched, self.kpi, self.linking)
                tx.set_cursor(source, poll.cursor)
                tx.set_validators(source, poll.validators)
                changes = tx.changes()
                retracted = retractions(changes, self.kpi)
                tx.add_retractions(retracted)
            self.aggregate.apply(changes, retracted)
        return len(changes)

    def _merge(self, tx: Transaction, event: Event) -> Event:
        if isinstance(event, Change):
            return store_change(event, tx, self.kpi)
        return event

    def refresh(self) -> None:
        """Render the exposition once, from the running sums."""
        with self._lock:
            self.cache.refresh()
