"""What finding reverts costs a poll (``kpi_exporter.reverts``): a first sync of 20,000 merged
changes over 10 apps, one in twenty a revert of an earlier one, then polls of 100 new changes.
Prints the CPU time of each poll and the part spent in ``mark_reverts``.

Run alone with ``python -m benchmarks.origin``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from kpi_exporter import pipeline as pipeline_module
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings
from kpi_exporter.model import Change, Event
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.reverts import mark_reverts
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store, Transaction

NOW = 2e9
APPS = 10
ORIGINS = ("human", "ai_agent", "bot")


def changes(first: int, last: int) -> list[Event]:
    """Changes ``first`` to ``last - 1``, a minute apart, ending before NOW; one in twenty
    reverts the change ``APPS`` before it (the same app)."""
    out: list[Event] = []
    for i in range(first, last):
        merged = NOW - 80 * 86400 + i * 60
        out.append(
            Change(
                "push",
                f"c{i}",
                f"app{i % APPS}",
                "team",
                merged - 3600,
                merged_at=merged,
                origin=ORIGINS[i % 3],
                reverts=f"c{i - APPS}" if i % 20 == 0 and i >= APPS else "",
            )
        )
    return out


def main() -> None:
    spent = [0.0]
    measured = mark_reverts

    def timed(tx: Transaction, changed: list[tuple[Event | None, Event]]) -> None:
        started = time.process_time()
        measured(tx, changed)
        spent[0] += time.process_time() - started

    pipeline_module.__dict__["mark_reverts"] = timed  # what Pipeline.record calls
    with tempfile.TemporaryDirectory() as directory:
        store = Store(Path(directory) / "kpi.db")
        pipeline = Pipeline(store, KpiSettings(), LinkSettings(), clock=lambda: NOW)
        size = 20_000
        for label, events in (
            (f"first sync of {size:,} changes", changes(0, size)),
            ("poll of 100 new changes", changes(size, size + 100)),
            ("poll of 100 new changes", changes(size + 100, size + 200)),
        ):
            spent[0] = 0.0
            started = time.process_time()
            pipeline.record("push", Poll(events, None))
            total = time.process_time() - started
            print(f"{label}: {total:.3f} s CPU, of which finding reverts {spent[0]:.3f} s")
        store.close()


if __name__ == "__main__":
    main()
