"""A start after the linking settings changed (``linking.rework`` from ``declared`` to
``incident_follow_up``): every stored outcome and incident link is assessed again, once, in
one transaction, with its retractions, before the replay of the store.

Stores of 100k and 1M events are built as ``benchmarks.refresh`` builds them (one bulk insert,
outcomes derived by the package's own linking); ``relink_on_new_settings`` is timed alone
(wall and CPU), then with the same settings again (nothing to do). Run alone with
``python -m benchmarks.relink`` (``--sizes 100000`` runs one size).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings, relink_on_new_settings
from kpi_exporter.store import Store

from .refresh import build_store

APPS_PER_EVENTS = 500  # one app per 500 events, as benchmarks.refresh


def run_size(events: int) -> None:
    apps = max(1, events // APPS_PER_EVENTS)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "kpi.db"
        stored = build_store(path, events, apps)
        store = Store(path)
        kpi = KpiSettings()
        # The store's outcomes were derived with the defaults: remember those first.
        relink_on_new_settings(store, kpi, LinkSettings())
        follow_up = LinkSettings(rework="incident_follow_up")
        wall, cpu = time.perf_counter(), time.process_time()
        changed = relink_on_new_settings(store, kpi, follow_up)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        again = time.perf_counter()
        unchanged = relink_on_new_settings(store, kpi, follow_up)
        again = time.perf_counter() - again
        store.close()
    print(
        f"{stored:>9,} stored events, {apps:,} apps: relink after a changed rework definition"
        f" {wall:.1f} s wall, {cpu:.1f} s CPU, {changed:,} outcomes and links changed;"
        f" same settings again {again * 1000:.1f} ms ({unchanged} changed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    for size in parser.parse_args().sizes:
        run_size(size)


if __name__ == "__main__":
    main()
