"""Poll-to-exposition time over stores of 10k, 100k and 1M events.

Each store is built fast with one bulk insert (rows exactly as ``Transaction.upsert`` writes
them, derived outcomes included, computed by the package's own linking), then opened by a
:class:`Pipeline` (the startup load is timed). A poll of 100 new events is then recorded and
the exposition refreshed, a few times with fresh events. Run alone with
``python -m benchmarks.refresh``.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from kpi_exporter.model import Event, to_json
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store

from .common import count_series, memory_line, ms, verdict
from .data import DAY, EVENTS_PER_DEPLOYMENT, SOURCE, START, YEAR, fresh_poll, history, make_apps
from .data import outcomes as derived_outcomes

SIZES = {10_000: 200, 100_000: 1_000, 1_000_000: 2_000}  # events -> apps
REPEATS = 5
POLL_APPS = 5
TARGET_SECONDS = 1.0  # record + refresh of a 100-event poll, at 1M stored events
INSERT = "INSERT INTO events (kind, source, key, app, time, payload) VALUES (?, ?, ?, ?, ?, ?)"

Row = tuple[str, str, str, str, float, str]


def rows(events: int, apps: int) -> Iterator[Row]:
    """About ``events`` stored rows over a year: every app's history and its outcomes."""
    rng = random.Random(events)
    deployments = max(1, round(events / apps / EVENTS_PER_DEPLOYMENT))
    for app in make_apps(apps):
        app_events: list[Event] = history(app, deployments, rng)
        app_events.extend(derived_outcomes(app_events))
        for event in app_events:
            yield (event.kind, event.source, event.key, event.app, event.time, to_json(event))


def build_store(path: Path, events: int, apps: int) -> int:
    """Create the schema through :class:`Store`, bulk-insert the rows; return the row count."""
    Store(path).close()
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        generated = rows(events, apps)
        with connection:
            while batch := list(islice(generated, 50_000)):
                connection.executemany(INSERT, batch)
        (count,) = connection.execute("SELECT count(*) FROM events").fetchone()
    finally:
        connection.close()
    return int(count)


def poll_once(pipeline: Pipeline, serial: int) -> tuple[float, float]:
    """Record 100 new events over ``POLL_APPS`` apps, then refresh; (record, refresh) seconds."""
    apps = make_apps(POLL_APPS, first=serial * 7)
    events = fresh_poll(apps, START + YEAR + serial * DAY, tag=f"p{serial}")
    started = time.perf_counter()
    pipeline.record(SOURCE, Poll(events=events, cursor=None))
    recorded = time.perf_counter()
    pipeline.refresh()
    return recorded - started, time.perf_counter() - recorded


def run_size(events: int, apps: int) -> None:
    print(f"refresh, {events:,} events target over {apps:,} apps")
    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
        path = Path(tmp) / "store.db"
        started = time.perf_counter()
        stored = build_store(path, events, apps)
        print(f"  bulk-built {stored:,} events in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        store = Store(path)
        pipeline = Pipeline(store)
        loaded = time.perf_counter() - started
        print(f"  Pipeline startup (load every event, first render): {ms(loaded).strip()}")
        series = count_series(pipeline.cache.current.text)
        print(f"  {series:,} series exported; after loading: {memory_line()}")
        timings = [poll_once(pipeline, serial) for serial in range(REPEATS)]
        store.close()
    totals = [record + refresh for record, refresh in timings]
    refresh_median = statistics.median(t[1] for t in timings)
    print(
        f"  record(100 events) + refresh(), {REPEATS} polls:"
        f" median {ms(statistics.median(totals)).strip()}, max {ms(max(totals)).strip()}"
        f" (record median {ms(statistics.median(t[0] for t in timings)).strip()},"
        f" refresh median {ms(refresh_median).strip()}"
        f" = {refresh_median / series * 1e6:.1f} us per series)"
    )
    met = verdict(max(totals) < TARGET_SECONDS)
    applies = "" if events == max(SIZES) else f" (the target is set at {max(SIZES):,} events)"
    print(f"  target max < {TARGET_SECONDS:.0f} s: {met}{applies}; after polls: {memory_line()}")


def main() -> None:
    started = time.perf_counter()
    for events, apps in SIZES.items():
        run_size(events, apps)
    print(f"refresh benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
