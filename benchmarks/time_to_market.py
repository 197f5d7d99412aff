"""Time to market: what deriving work item deliveries costs a poll.

10,000 work items created over the last year, and 10,000 merged changes that name them (every
item once, every 10th a second time in a later change), shipped by 2,000 production
deployments (5 changes each), are recorded through the pipeline into a SQLite store in polls
of 1,000 events (items first, then deployments with their changes), as a first sync would.
Then a steady-state poll: one deployment re-sent as failed (its 5 changes, and the items they
name, move to their next deployment) and 100 new changes naming known items. Figures: wall and
CPU time per poll (median and max), the same polls without any reference (the cost of
``delivery.redeliver``), the deliveries stored, RSS. Run alone with
``python -m benchmarks.time_to_market``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from kpi_exporter.kpis import KpiSettings
from kpi_exporter.model import Change, Deployment, Event, WorkItem, WorkItemDelivery
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store

from .common import memory_line, ms

ITEMS = 10_000
PER_DEPLOYMENT = 5
POLL = 1_000
DAY = 86400.0
NOW = time.time()
START = NOW - 365 * DAY


def item(i: int) -> WorkItem:
    created = START + i * (330 * DAY / ITEMS)
    return WorkItem(
        "jira",
        f"jira/SHOP-{i + 1}",
        f"app-{i % 20}",
        f"team-{i % 5}",
        ("new_capability", "defect", "tech_debt", "maintenance")[i % 4],
        created,
        ((created, "To Do", "waiting"), (created + DAY, "In Progress", "active")),
    )


def changes(references: bool) -> Iterator[Event]:
    """Deployments, each followed by the changes it ships: change i names item i, and every
    10th change also names item i - 50 (a follow-up deployed later)."""
    for d in range(ITEMS // PER_DEPLOYMENT):
        first = d * PER_DEPLOYMENT
        at = START + first * (330 * DAY / ITEMS) + 3 * DAY
        app, team = f"app-{first % 20}", f"team-{first % 5}"
        deployment = Deployment("ci", f"D{d}", app, team, "production", at, version=f"1.{d}.0")
        yield deployment
        for i in range(first, first + PER_DEPLOYMENT):
            keys = (f"SHOP-{i + 1}",) + ((f"SHOP-{i - 49}",) if i % 10 == 0 and i >= 50 else ())
            yield Change(
                "ci",
                f"PR-{i}",
                app,
                team,
                first_commit_at=at - 2 * DAY,
                merged_at=at - DAY,
                deployed_environment="production",
                deployed_at=at,
                deployment_key=deployment.key,
                work_items=keys if references else (),
            )


def polls(events: list[Event]) -> Iterator[list[Event]]:
    for start in range(0, len(events), POLL):
        yield events[start : start + POLL]


def run(references: bool, directory: Path) -> None:
    store = Store(directory / f"kpi-{references}.db")
    pipeline = Pipeline(store, KpiSettings(), clock=time.time)
    events: list[Event] = [item(i) for i in range(ITEMS)]
    events += list(changes(references))
    walls, cpus = [], []
    for batch in polls(events):
        wall, cpu = time.perf_counter(), time.process_time()
        pipeline.record("ci", Poll(events=batch, cursor=None))
        pipeline.refresh()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    label = "with references" if references else "no references  "
    print(
        f"{label}: first sync {len(events):,} events in {len(walls)} polls:"
        f" {sum(walls):.1f} s wall, {sum(cpus):.1f} s CPU; per poll median"
        f" {ms(statistics.median(walls))}, max {ms(max(walls))}"
    )
    # Steady state: deployment D1000 re-sent as failed; its changes move to no deployment
    # (none other ships them), and 100 new changes name known items.
    failed = replace(
        next(e for e in events if isinstance(e, Deployment) and e.key == "D1000"),
        status="failure",
    )
    late = [
        Change(
            "ci",
            f"PR-late-{i}",
            "app-0",
            "team-0",
            first_commit_at=NOW - 2 * DAY,
            merged_at=NOW - DAY,
            deployed_environment="production",
            deployed_at=NOW - 3600,
            deployment_key="D-late",
            work_items=(f"SHOP-{i * 97 + 1}",) if references else (),
        )
        for i in range(100)
    ]
    wall, cpu = time.perf_counter(), time.process_time()
    changed = pipeline.record("ci", Poll(events=[failed, *late], cursor=None))
    pipeline.refresh()
    print(
        f"{label}: steady-state poll (1 correction + 100 changes, {changed} stored events"
        f" changed): {ms(time.perf_counter() - wall)} wall,"
        f" {ms(time.process_time() - cpu)} CPU"
    )
    deliveries = sum(1 for e in store.iter_events() if isinstance(e, WorkItemDelivery))
    print(f"{label}: deliveries stored {deliveries:,}; {memory_line()}")
    store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        for references in (False, True):
            run(references, Path(directory))


if __name__ == "__main__":
    main()
