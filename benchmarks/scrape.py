"""Scrape latency at 10k and 50k series: served from the cache vs rendered on every scrape.

Each size builds a pipeline over a temporary store (app histories recorded through
``Pipeline.record``, so deployment outcomes are linked as in production), starts the real
:class:`ExporterServer` on 127.0.0.1 and times sequential GETs of /metrics over one kept-alive
connection. Run alone with ``python -m benchmarks.scrape``.
"""

from __future__ import annotations

import http.client
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.store import Store

from .common import MIB, count_series, memory_line, ms, percentile, verdict
from .data import DAY, App, make_apps, record_histories

SIZES = (10_000, 50_000)
CACHED_SCRAPES = 200
RENDERED_SCRAPES = 40
AFTER_REFRESH = 10
TARGET_RATIO = 20.0  # at 50k series, p99 rendering on every scrape / p99 from the cache
APPS_PER_POLL = 50
DEPLOYMENTS_PER_APP = 12  # over 90 days
TEXT = {"Accept-Encoding": "identity"}
# What Prometheus sends: OpenMetrics preferred, gzip accepted (OpenMetrics + gzip is served).
PROMETHEUS = {
    "Accept": "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "Accept-Encoding": "gzip",
}


def record_apps(pipeline: Pipeline, apps: Sequence[App], rng: random.Random) -> int:
    """Record the histories of ``apps``, ``APPS_PER_POLL`` apps per poll; return the events."""
    return record_histories(
        pipeline, apps, rng, per_app=DEPLOYMENTS_PER_APP, per_poll=APPS_PER_POLL, span=90 * DAY
    )


def build(pipeline: Pipeline, target: int) -> tuple[int, int, int]:
    """Add apps until the exposition has about ``target`` series; return (series, apps,
    events). Each round sizes the next batch of apps from the series per app so far."""
    rng = random.Random(target)
    apps = events = series = 0
    while series < 0.98 * target:
        batch = round((target - series) * apps / series) if series else APPS_PER_POLL
        events += record_apps(pipeline, make_apps(max(1, batch), first=apps), rng)
        apps += max(1, batch)
        pipeline.refresh()
        series = count_series(pipeline.cache.current.text)
    return series, apps, events


def scrape(connection: http.client.HTTPConnection, headers: dict[str, str]) -> float:
    """Seconds for one GET /metrics, body read to the end."""
    started = time.perf_counter()
    connection.request("GET", "/metrics", headers=headers)
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"GET /metrics: HTTP {response.status}")
    return elapsed


def timed(runs: int, step: Callable[[], float]) -> list[float]:
    return [step() for _ in range(runs)]


def report(label: str, samples: Sequence[float]) -> None:
    print(
        f"  {label:<50} p50 {ms(percentile(samples, 50))}  p99 {ms(percentile(samples, 99))}"
        f"  ({len(samples)} scrapes)"
    )


def compare(
    pipeline: Pipeline, connection: http.client.HTTPConnection, label: str, headers: dict[str, str]
) -> float:
    """Scrapes with ``headers`` from the cache vs after rendering on every scrape; returns
    p99(rendered) / p99(cached). Rendering includes compressing when the headers ask gzip."""
    timed(5, lambda: scrape(connection, headers))
    cached = timed(CACHED_SCRAPES, lambda: scrape(connection, headers))

    def render_and_scrape() -> float:
        started = time.perf_counter()
        pipeline.refresh()  # also compresses the variants scrapes have asked for
        return time.perf_counter() - started + scrape(connection, headers)

    rendered = timed(RENDERED_SCRAPES, render_and_scrape)
    report(f"{label}, from the cache", cached)
    report(f"{label}, rendered on every scrape", rendered)
    return percentile(rendered, 99) / percentile(cached, 99)


def measure(pipeline: Pipeline, connection: http.client.HTTPConnection, target: int) -> None:
    applies = "" if target == max(SIZES) else f" (the target is set at {max(SIZES):,})"
    for label, headers in (("(a) text format", TEXT), ("(b) Prometheus headers", PROMETHEUS)):
        ratio = compare(pipeline, connection, label, headers)
        met = verdict(ratio >= TARGET_RATIO)
        print(
            f"  {label}: p99 rendered / p99 cached {ratio:.1f}x;"
            f" target >= {TARGET_RATIO:.0f}x: {met}{applies}"
        )

    def first_after_refresh() -> float:
        pipeline.refresh()
        return scrape(connection, PROMETHEUS)

    first = timed(AFTER_REFRESH, first_after_refresh)
    print(
        f"  (c) Prometheus headers, first scrape after a refresh:"
        f" median {ms(statistics.median(first)).strip()}, max {ms(max(first)).strip()}"
        f" ({AFTER_REFRESH} refreshes)"
    )


def run_size(target: int) -> None:
    print(f"scrape, about {target:,} series")
    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
        store = Store(Path(tmp) / "store.db")
        started = time.perf_counter()
        pipeline = Pipeline(store)
        series, apps, events = build(pipeline, target)
        rendered = pipeline.cache.current
        print(
            f"  built {series:,} series from {events:,} events of {apps:,} apps"
            f" in {time.perf_counter() - started:.1f} s;"
            f" text body {len(rendered.text) / MIB:.1f} MiB"
        )
        print(f"  after building: {memory_line()}")
        server = ExporterServer(("127.0.0.1", 0), pipeline)
        server.start()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            measure(pipeline, connection, target)
        finally:
            connection.close()
            server.stop()
            store.close()


def main() -> None:
    started = time.perf_counter()
    for target in SIZES:
        run_size(target)
    print(f"scrape benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
