"""Background polling: one thread per source, each on its own interval.

A poll that fails backs off exponentially (with jitter) and never stops the other sources;
their stored data, and so their metrics, stay as they were. ``stop`` lets a poll in progress
finish its write before the threads end.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from .pipeline import Pipeline
from .sources import Poll, Source
from .store import SourceState

log = logging.getLogger(__name__)

MAX_BACKOFF = 3600.0
# The snapshot of the sums (see kpi_exporter.snapshot) is saved once no poll has changed the
# store for this long, so that a restart, even after a crash, need not replay every event.
SNAPSHOT_IDLE = 600.0


def next_delay(interval: float, failures: int, rng: random.Random) -> float:
    """Seconds until the next poll: the interval +-10 % after a success; after ``failures``
    failures in a row, interval/4 doubled per failure, capped at max(interval, 1 h)."""
    if failures == 0:
        return interval * rng.uniform(0.9, 1.1)
    base = max(1.0, interval / 4)
    ceiling = max(interval, MAX_BACKOFF)
    return float(min(ceiling, base * 2.0 ** (failures - 1)) * rng.uniform(0.8, 1.2))


class Scheduler:
    """``refresh_interval``: how often the exposition is rendered again with no poll, so that
    the windowed KPIs move on with time (a window slides even without new events)."""

    def __init__(
        self, pipeline: Pipeline, sources: Sequence[Source], refresh_interval: float = 60.0
    ) -> None:
        self.pipeline = pipeline
        self.sources = list(sources)
        self.refresh_interval = refresh_interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for source in self.sources:
            thread = threading.Thread(
                target=self._run, args=(source,), name=f"poll-{source.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        ticker = threading.Thread(target=self._tick, name="windows", daemon=True)
        ticker.start()
        self._threads.append(ticker)

    def _tick(self) -> None:
        while not self._stop.wait(self.refresh_interval):
            try:
                self.pipeline.refresh()
            except Exception as error:  # the next tick or poll tries again
                log.warning("refreshing the windows failed: %s", error)
            try:
                self.pipeline.save_snapshot_when_idle(SNAPSHOT_IDLE)
            except Exception as error:  # a restart replays instead
                log.warning("saving the snapshot failed: %s", error)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every poll loop to end, and wait for polls in progress to finish writing."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("source thread %s did not stop in time", thread.name)

    def poll_once(self, source: Source) -> bool:
        """Poll one source and record the result; True on success. A source that reads in
        parts (``poll_parts``) has each part stored as it comes: what a failure part-way
        leaves unread is read by the next poll."""
        problems: list[str] = []
        health = self.pipeline.health
        started = time.monotonic()
        events, changed = 0, 0
        try:
            for poll in _parts(source, self.pipeline.store.state(source.name)):
                changed += self.pipeline.record(source.name, poll)
                events += len(poll.events)
                problems.extend(poll.problems)
        except Exception as error:  # one failing source must never stop the others
            duration = time.monotonic() - started
            health.failure(source.name, duration, str(error))
            log.warning("source %s: poll failed: %s", source.name, error)
            self.pipeline.refresh()
            return False
        for problem in problems:
            log.warning("source %s: skipped: %s", source.name, problem)
        duration = time.monotonic() - started
        health.success(source.name, duration, rejected=len(problems))
        log.info(
            "source %s: polled in %.2f s, %d events read, %d changed",
            source.name,
            duration,
            events,
            changed,
        )
        self.pipeline.refresh()
        return True

    def _run(self, source: Source) -> None:
        rng = random.Random()
        failures = 0
        while not self._stop.is_set():
            failures = 0 if self.poll_once(source) else failures + 1
            self._stop.wait(next_delay(source.interval, failures, rng))


def _parts(source: Source, state: SourceState) -> Iterator[Poll]:
    """The polls to store: the parts of a source that reads in parts, else its one poll."""
    parts: Callable[[SourceState], Iterator[Poll]] | None = getattr(source, "poll_parts", None)
    if parts is None:
        yield source.poll(state)
    else:
        yield from parts(state)
