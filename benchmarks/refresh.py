"""Startup, poll-to-exposition and timer refresh over stores of 10k, 100k and 1M events.

Each store is built fast with one bulk insert (rows exactly as ``Transaction.upsert`` writes
them, derived outcomes included, computed by the package's own linking), then opened by a
:class:`Pipeline` (the startup load is timed). The pipeline's clock stands at the end of the
synthetic year, so the 7d, 30d and 90d windows hold observations. A poll of 100 new events is
then recorded and the exposition refreshed, a few times with fresh events; then the timer's
refresh with no poll is timed with the clock moved on a minute at a time, and a day later.
Then the snapshot of the sums is saved and the store opened again from it (the startup of
a restart), and its exposition compared with the running one. Last, polls add events until
the journal of writes since the snapshot nears its limit, and the store is opened again
without a clean shutdown (the startup after a crash: the snapshot and its journal).
Run alone with ``python -m benchmarks.refresh`` (``--profile`` prints where the startup goes
at the largest size, ``--sizes 10000`` runs one size).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from kpi_exporter.model import Event, to_json
from kpi_exporter.pipeline import JOURNAL_LIMIT, Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store

from .common import count_series, memory_line, ms, verdict
from .data import (
    DAY,
    EVENTS_PER_DEPLOYMENT_WITH_FINDINGS,
    MINUTE,
    SOURCE,
    START,
    YEAR,
    fresh_poll,
    history,
    make_apps,
)
from .data import outcomes as derived_outcomes

SIZES = {10_000: 200, 100_000: 1_000, 1_000_000: 2_000}  # events -> apps
REPEATS = 5
TICKS = 5
POLL_APPS = 5
TARGET_SECONDS = 1.0  # record + refresh of a 100-event poll, and a timer refresh, at 1M events
STARTUP_TARGET_SECONDS = 5.0
NOW = START + YEAR  # the end of the synthetic history: the windows hold its last 90 days
INSERT = "INSERT INTO events (kind, source, key, app, time, payload) VALUES (?, ?, ?, ?, ?, ?)"

Row = tuple[str, str, str, str, float, str]


class Clock:
    """The pipeline's "now", moved by the benchmark."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rows(events: int, apps: int) -> Iterator[Row]:
    """About ``events`` stored rows over a year: every app's history and its outcomes."""
    rng = random.Random(events)
    deployments = max(1, round(events / apps / EVENTS_PER_DEPLOYMENT_WITH_FINDINGS))
    for app in make_apps(apps):
        app_events: list[Event] = history(app, deployments, rng, findings=True)
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


def poll_once(pipeline: Pipeline, clock: Clock, serial: int) -> tuple[float, float, float]:
    """Record 100 new events over ``POLL_APPS`` apps (within the last day), then refresh;
    (record, refresh, CPU of both) seconds."""
    apps = make_apps(POLL_APPS, first=serial * 7)
    events = fresh_poll(apps, clock.now - DAY + serial * MINUTE, tag=f"p{serial}")
    cpu = time.process_time()
    started = time.perf_counter()
    pipeline.record(SOURCE, Poll(events=events, cursor=None))
    recorded = time.perf_counter()
    pipeline.refresh()
    return recorded - started, time.perf_counter() - recorded, time.process_time() - cpu


def tick(pipeline: Pipeline, clock: Clock, seconds: float) -> tuple[float, float]:
    """The timer's refresh with no poll, the clock moved on ``seconds``; (wall, CPU)
    seconds taken."""
    clock.now += seconds
    cpu = time.process_time()
    started = time.perf_counter()
    pipeline.refresh()
    return time.perf_counter() - started, time.process_time() - cpu


def figures(wall: list[float], cpu: list[float]) -> str:
    """Median and max wall time, and the median CPU time (the machine may be shared)."""
    return (
        f"median {ms(statistics.median(wall)).strip()}, max {ms(max(wall)).strip()}"
        f" (CPU median {ms(statistics.median(cpu)).strip()})"
    )


def observations(pipeline: Pipeline, now: float) -> tuple[int, int]:
    """(dated window observations kept, those in the widest window at ``now``)."""
    windows = pipeline.aggregate.windows
    widest = max(width for _, width in windows.durations)
    return windows.observations(), windows.observations(after=now - widest, until=now)


def open_pipeline(path: Path, clock: Clock, profile: bool) -> tuple[Store, Pipeline, float, float]:
    """Open the store and start a pipeline on it; (store, pipeline, wall and CPU seconds)."""
    profiler = cProfile.Profile() if profile else None
    cpu = time.process_time()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    store = Store(path)
    pipeline = Pipeline(store, clock=clock)
    if profiler is not None:
        profiler.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print("  startup profile (cProfile, by own time; timings inflated by the profiler):")
        print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))
    return store, pipeline, seconds, cpu


def run_size(events: int, apps: int, profile: bool) -> None:
    print(f"refresh, {events:,} events target over {apps:,} apps")
    clock = Clock(NOW)
    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
        path = Path(tmp) / "store.db"
        started = time.perf_counter()
        stored = build_store(path, events, apps)
        print(f"  bulk-built {stored:,} events in {time.perf_counter() - started:.1f} s")
        store, pipeline, loaded, loaded_cpu = open_pipeline(path, clock, profile)
        print(
            f"  Pipeline startup (replay every stored event, first render): {ms(loaded).strip()}"
            f" (CPU {ms(loaded_cpu).strip()})"
        )
        series = count_series(pipeline.cache.current.text)
        kept, in_window = observations(pipeline, clock.now)
        print(
            f"  {series:,} series exported; {kept:,} dated window observations"
            f" ({in_window:,} in the last 90 days); after loading: {memory_line()}"
        )
        # A scrape asked for the text format: every refresh then joins that body ahead.
        pipeline.cache.body("text/plain", "")
        timings = [poll_once(pipeline, clock, serial) for serial in range(REPEATS)]
        totals = [record + refresh for record, refresh, _ in timings]
        refresh_median = statistics.median(t[1] for t in timings)
        print(
            f"  record(100 events) + refresh(), {REPEATS} polls:"
            f" {figures(totals, [t[2] for t in timings])}"
            f" (record median {ms(statistics.median(t[0] for t in timings)).strip()},"
            f" refresh median {ms(refresh_median).strip()})"
        )
        # Prometheus asks for gzip: every refresh then also compresses that variant ahead.
        pipeline.cache.body("application/openmetrics-text; version=1.0.0", "gzip")
        gzipped = [poll_once(pipeline, clock, serial) for serial in range(REPEATS, 2 * REPEATS)]
        gzip_totals = [record + refresh for record, refresh, _ in gzipped]
        print(
            f"  the same once a scrape also asked for gzipped OpenMetrics (both built ahead):"
            f" {figures(gzip_totals, [t[2] for t in gzipped])}"
        )
        ticks = [tick(pipeline, clock, 60.0) for _ in range(TICKS)]
        minutes = [wall for wall, _ in ticks]
        day_later, day_cpu = tick(pipeline, clock, DAY)
        print(
            f"  timer refresh, no poll (both asked): clock +1 min, {TICKS} ticks:"
            f" {figures(minutes, [c for _, c in ticks])};"
            f" clock +1 day: {ms(day_later).strip()} (CPU {ms(day_cpu).strip()})"
        )
        exposition = pipeline.cache.current
        series = count_series(exposition.text)
        print(f"  {series:,} series exported; after polls and ticks: {memory_line()}")
        started = time.perf_counter()
        pipeline.save_snapshot()
        saved = time.perf_counter() - started
        size = snapshot_bytes(path)
        store.close()
        del pipeline, store
        gc.collect()
        store, restarted, reloaded, reloaded_cpu = open_pipeline(path, clock, False)
        identical = (
            restarted.cache.current.text == exposition.text
            and restarted.cache.current.openmetrics == exposition.openmetrics
        )
        print(
            f"  snapshot saved in {ms(saved).strip()} ({size / 2**20:,.1f} MiB);"
            f" startup from it (load, first render): {ms(reloaded).strip()}"
            f" (CPU {ms(reloaded_cpu).strip()}),"
            f" from the snapshot: {restarted.from_snapshot}, exposition identical: {identical};"
            f" {memory_line()}"
        )
        crashed, journal, crash_cpu, crash_same = crash_restart(path, store, restarted, clock)
        print(
            f"  a crash after {journal:,} writes since the snapshot (the journal's limit is"
            f" {JOURNAL_LIMIT:,}): startup from the snapshot and its journal:"
            f" {ms(crashed).strip()} (CPU {ms(crash_cpu).strip()}),"
            f" exposition identical: {crash_same}; {memory_line()}"
        )
    applies = "" if events == max(SIZES) else f" (the targets are set at {max(SIZES):,} events)"
    worst = max(*totals, *gzip_totals, *minutes, day_later)
    print(
        f"  targets: refresh max < {TARGET_SECONDS:.0f} s: {verdict(worst < TARGET_SECONDS)};"
        f" startup < {STARTUP_TARGET_SECONDS:.0f} s: from the snapshot"
        f" {verdict(reloaded < STARTUP_TARGET_SECONDS)}, after a crash"
        f" {verdict(crashed < STARTUP_TARGET_SECONDS)}, replaying (after an upgrade)"
        f" {verdict(loaded < STARTUP_TARGET_SECONDS)}{applies}"
    )


def crash_restart(
    path: Path, store: Store, running: Pipeline, clock: Clock
) -> tuple[float, int, float, bool]:
    """Polls of 2,000 new events until the journal of writes since the snapshot nears its
    limit, then a start without a clean shutdown (nothing saved); (startup wall seconds,
    journal writes, CPU seconds, whether it renders what the running process rendered)."""
    serial = 100
    while True:
        before = store.journal_size()
        if before and before * (serial - 99) / (serial - 100) > JOURNAL_LIMIT:
            break  # one more poll would take the journal over the limit
        apps = make_apps(100, first=(serial * 37) % 900)
        events = fresh_poll(apps, clock.now - DAY + serial * MINUTE, tag=f"j{serial}")
        running.record(SOURCE, Poll(events=events, cursor=None))
        serial += 1
    running.refresh()
    expected = running.cache.current
    journal = store.journal_size()
    store.close()  # the process dies: nothing saved
    del running, store
    gc.collect()
    store, started, seconds, cpu = open_pipeline(path, clock, False)
    same = (
        started.from_snapshot
        and started.cache.current.text == expected.text
        and started.cache.current.openmetrics == expected.openmetrics
    )
    store.close()
    return seconds, journal, cpu, same


def snapshot_bytes(path: Path) -> int:
    """The size of the snapshot saved in the store at ``path`` (0 when none)."""
    connection = sqlite3.connect(path)
    try:
        row = connection.execute("SELECT length(state) FROM snapshot").fetchone()
    finally:
        connection.close()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--profile", action="store_true", help="profile the largest startup")
    args = parser.parse_args()
    started = time.perf_counter()
    sizes = sorted(args.sizes)
    for events in sizes:
        run_size(events, SIZES[events], args.profile and events == sizes[-1])
    print(f"refresh benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
