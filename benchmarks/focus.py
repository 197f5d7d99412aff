"""Ingest a 1,000,000-row FOCUS cost export: rows per second and peak memory.

A plain CSV (about 200 MB, so reading it whole would break the memory target) is written to a
temporary directory, row by row, then polled by the FOCUS source and recorded by a
:class:`Pipeline` (store, aggregate, exposition). Target: peak RSS under 300 MB, which only a
streaming read meets. Run alone with ``python -m benchmarks.focus``.
"""

from __future__ import annotations

import csv
import json
import random
import tempfile
import time
from pathlib import Path

from kpi_exporter.config import parse_config
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources.focus import FocusFiles, FocusSource
from kpi_exporter.store import SourceState, Store

from .common import count_series, memory_line, memory_mib, verdict

ROWS = 1_000_000
BAD_EVERY = 100_000  # one row in so many has a non-numeric cost
TARGET_PEAK_MIB = 300.0
START = 1_790_812_800  # 2026-10-01T00:00:00Z: 45 days span a month boundary
DAYS = 45
PROVIDERS = ("AWS", "Microsoft", "Google Cloud")
CATEGORIES = ("Usage",) * 17 + ("Tax", "Credit", "Purchase")
HEADER = [
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "ServiceName",
    "SubAccountId",
    "Tags",
]


def write_export(path: Path, rows: int) -> None:
    """A FOCUS export of ``rows`` rows over 40 apps, 3 providers and 2 currencies."""
    rng = random.Random(rows)
    tags = [
        json.dumps({"app": f"app-{i}", "team": f"team-{i % 8}", "env": "prod"}) for i in range(40)
    ]
    days = [
        time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(START + d * 86400)) for d in range(DAYS)
    ]
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for number in range(rows):
            category = rng.choice(CATEGORIES)
            cost = round(rng.uniform(0.001, 20.0), 6) * (-1 if category == "Credit" else 1)
            day = rng.randrange(DAYS)
            writer.writerow(
                [
                    "n/a" if number % BAD_EVERY == 0 else cost,
                    cost,
                    "EUR" if number % 10 == 0 else "USD",
                    category,
                    days[day],
                    days[min(day + 1, DAYS - 1)],
                    rng.choice(PROVIDERS),
                    f"service-{rng.randrange(30)}",
                    f"{rng.randrange(10**11, 10**12)}",
                    rng.choice(tags),
                ]
            )


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        path = root / "focus.csv"
        started = time.perf_counter()
        write_export(path, ROWS)
        size_mib = path.stat().st_size / 1024 / 1024
        print(f"wrote {ROWS:,} rows ({size_mib:,.0f} MiB) in {time.perf_counter() - started:.1f} s")
        _, peak_before = memory_mib()
        config = FocusSource(type="focus", name="focus", paths=[str(path)])
        source = FocusFiles(config, root, Ownership(parse_config("{}")))
        pipeline = Pipeline(Store(root / "store.db"), clock=lambda: START + 40 * 86400.0)
        started = time.perf_counter()
        poll = source.poll(SourceState())
        read = time.perf_counter() - started
        pipeline.record("focus", poll)
        pipeline.refresh()
        total = time.perf_counter() - started
        _, peak = memory_mib()
        print(f"read: {ROWS / read:,.0f} rows/s ({read:.1f} s); {len(poll.problems)} bad rows")
        print(
            f"read + record + refresh: {ROWS / total:,.0f} rows/s ({total:.1f} s); "
            f"{len(poll.events):,} daily cost lines, "
            f"{count_series(pipeline.cache.current.text):,} series"
        )
        print(memory_line() + f" (before ingest {peak_before:,.0f} MiB)")
        print(
            f"peak RSS {peak:,.0f} MiB, target < {TARGET_PEAK_MIB:.0f} MiB: "
            f"{verdict(peak < TARGET_PEAK_MIB)}"
        )
        pipeline.store.close()


if __name__ == "__main__":
    main()
