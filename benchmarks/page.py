"""The KPI page at / over many apps: how long computing its numbers and rendering it take.

The store of ``benchmarks.refresh`` (a year of synthetic history, 8 apps to a team) is opened
by a pipeline whose clock stands at the end of the year; the page is then computed (every
team's and the organisation's headlines, the windows before and the 13-point charts) and
rendered a few times. Figures, not assertions: a page is a person's request, so it should take
about as long as a timer refresh, not more.
Run alone with ``python -m benchmarks.page`` (``--sizes 100000`` runs one size).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kpi_exporter import page
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.store import Store

from .common import memory_line, ms
from .refresh import NOW, SIZES, Clock, build_store

REPEATS = 3


def run_size(events: int, apps: int) -> None:
    print(f"page, {events:,} events target over {apps:,} apps")
    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
        path = Path(tmp) / "kpi.db"
        stored = build_store(path, events, apps)
        store = Store(path)
        try:
            pipeline = Pipeline(store, clock=Clock(NOW))
            compute, render, cpu = [], [], []
            size = 0
            for _ in range(REPEATS):
                started_cpu = time.process_time()
                started = time.perf_counter()
                headlines = pipeline.headlines()
                computed = time.perf_counter()
                html = page.render(headlines, pipeline.health)
                render.append(time.perf_counter() - computed)
                compute.append(computed - started)
                cpu.append(time.process_time() - started_cpu)
                size = len(html.encode())
            scopes = len(headlines.scopes)
        finally:
            store.close()
    print(f"  {stored:,} stored events, {scopes:,} scopes (the organisation and the teams)")
    print(
        f"  numbers: median {ms(statistics.median(compute)).strip()},"
        f" max {ms(max(compute)).strip()}; HTML: median {ms(statistics.median(render)).strip()};"
        f" CPU of both, median {ms(statistics.median(cpu)).strip()}; page {size / 1024:,.0f} KiB"
    )
    print(f"  {memory_line()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=sorted(SIZES)[1:])
    args = parser.parse_args()
    for events in args.sizes:
        run_size(events, SIZES.get(events, max(1, events // 500)))


if __name__ == "__main__":
    main()
