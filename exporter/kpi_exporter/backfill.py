"""Backfill: the stored history as timestamped OpenMetrics, and from it TSDB blocks.

The stored events are replayed in time order into a fresh
:class:`~kpi_exporter.kpis.aggregate.Aggregate` (the configuration's KPI settings, its clock
set to each step) and the domain families (``kpi_*``, not the exporter's own health) are
sampled at every step from ``--start`` to ``--end``. Counters and histograms at a step are the
observations known at that step, so they rise monotonically and end where the live exporter,
which recomputes the same sums from the same store, continues them. A counter or histogram
series born after ``--start`` gets one extra sample, 0, at the step before its first event, so
that ``increase()`` over history counts that first event too.

When an observation becomes known: an event counts from its ``time``; three kinds carry a
later fact whose observation would otherwise land before it happened, and are replayed as two
versions instead (the later one replaces the earlier, as a poll would have):

- an incident resolved later is open from ``started_at`` (counted, open, the oldest open) and
  resolved at ``resolved_at``, where its time to restore is observed;
- a change deployed after its ``time`` (merge) counts as merged from then, and its lead time
  and deploy stage are observed at ``deployed_at``;
- a work item is replayed once per status it entered, each version with its history up to
  that status (inventory, then in progress, then completed at its done time).

Every other event is replayed as stored: its final version, from its ``time`` (a deployment
outcome assessed as failed later, for example, counts as failed from its deployment).

The windowed KPIs (``kpi_window_*``) are computed at every step as the live exporter computes
them at that instant, from the events replayed so far, so trend lines of the recorded
windows start on the first day of the history. Retractions are not replayed (the replay takes
each event's final version): the live counters continue from the backfilled ones plus the
retractions the store holds, a step up that ``increase()`` reads as new events once.

OpenMetrics wants the samples of a family under one header and the samples of a series in
increasing time, so the file is written family by family, series by series, after the replay.
Memory bound: the replay keeps, per series, only a change log - (step, values) each time the
series' values changed - and forward-fills it when writing. Counter and histogram series change
only at steps where events were applied, so the log is bounded by min(series x steps, event
versions x observations), never by series x steps; only the time-dependent gauges (open by
age, oldest open, SLA breached, cost month-to-date and forecast) can change at every step, and
they are few series. Events are read from the store in time order (SQLite sorts on disk);
the only per-event memory is a heap of the pending later versions (unresolved-yet incidents,
undeployed-yet changes at the current step). The file itself is streamed.

Every series carries the ``labels`` a scrape would add (``job="kpi-exporter"`` by default, so
that the recording rules, which select that job, read the history; set ``instance`` to the
live target's to make the live series continue the backfilled ones).

Blocks: promtool (2.42) cuts 2-hour blocks and reads its whole input once per block, which is
quadratic in the length of the history; so the file is split into one file per 2-hour block
and promtool runs on each, in parallel, and the blocks are gathered in one directory.
"""

from __future__ import annotations

import heapq
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import TextIO

from . import config_base
from .exposition import Family, _bucket_bounds, format_value, header, label_block
from .kpis import Aggregate, KpiSettings
from .kpis.cost import COST_DERIVATIONS, budget_samples
from .kpis.families import COST_BUDGET_MONTH, FAMILIES, FAMILY_BY_NAME, WINDOW_FAMILIES
from .kpis.live import DERIVATIONS
from .kpis.work import as_known_at
from .model import Change, Event, Incident, WorkItem
from .sources import times
from .store import Row, Store

log = logging.getLogger(__name__)

Labels = tuple[str, ...]
Values = tuple[float, ...]  # a scalar: (value,); a histogram: per-bucket counts..., sum


def parse_duration(text: str) -> float:
    """``30s``, ``15m``, ``1h``, ``1d``, ``1w`` in seconds: the configuration's grammar."""
    try:
        return config_base.parse_duration(text)
    except ValueError:
        raise ValueError(f"invalid duration {text!r} (use e.g. 15m, 1h, 1d)") from None


def parse_time(text: str, now: float) -> float:
    """``now``, ``<duration>-ago`` (``365d-ago``), or an ISO 8601 date or time (UTC if no
    offset is given) in epoch seconds."""
    text = text.strip()
    if text == "now":
        return now
    if text.endswith("-ago"):
        return now - parse_duration(text.removesuffix("-ago"))
    try:
        return times.parse_time(text)
    except ValueError:
        raise ValueError(f"invalid time {text!r} (use now, 365d-ago or 2026-01-31)") from None


def versions(event: Event) -> list[tuple[float, Event]]:
    """When each version of a stored event became known: (time, version), in time order."""
    if (
        isinstance(event, Incident)
        and event.resolved_at is not None
        and event.resolved_at > event.started_at
    ):
        return [(event.time, replace(event, resolved_at=None)), (event.resolved_at, event)]
    if (
        isinstance(event, Change)
        and event.deployed_at is not None
        and event.deployed_at > event.time
    ):
        undeployed = replace(event, deployed_at=None, deployed_environment="", deployment_key="")
        return [(event.time, undeployed), (event.deployed_at, event)]
    if isinstance(event, WorkItem):
        return [(at, version) for at, version in as_known_at(event)]
    return [(event.time, event)]


def _time_dependent(family: Family) -> bool:
    return family.name in DERIVATIONS or family.name in COST_DERIVATIONS


_WINDOW_NAMES = frozenset(family.name for family in WINDOW_FAMILIES)


def _changes_with_time(name: str) -> bool:
    return name in _WINDOW_NAMES or _time_dependent(FAMILY_BY_NAME[name])


def window_snapshot(aggregate: Aggregate, now: float) -> Iterator[tuple[str, Labels, Values]]:
    """The windowed KPIs at ``now``. A window series' labels depend on its level, so its
    key holds label names and values alternately: (name, value, name, value, ...)."""
    for name, names, values, value in aggregate.windows.samples(now):
        pairs = tuple(item for pair in zip(names, values, strict=True) for item in pair)
        yield name, pairs, (value,)


def snapshot(
    aggregate: Aggregate, now: float, families: tuple[Family, ...] = FAMILIES
) -> Iterator[tuple[str, Labels, Values]]:
    """The values of every series ``aggregate.exposition`` would show at ``now``."""
    for family in families:
        name = family.name
        if name in COST_DERIVATIONS:
            for labels, value in aggregate.spend.samples(name, now):
                yield name, labels, (value,)
        elif name == COST_BUDGET_MONTH.name:
            if aggregate.settings.budgets:
                for labels, value in budget_samples(aggregate.settings):
                    yield name, labels, (value,)
        elif name in DERIVATIONS:
            derive = DERIVATIONS[name]
            for labels, entry in aggregate.live.get(name, {}).items():
                for extra, value in derive(entry.since.values(), now):
                    yield name, (*labels, *extra), (value,)
        elif family.type == "histogram":
            for labels, histogram in aggregate.histograms.get(name, {}).items():
                if histogram.count:
                    yield name, labels, (*histogram.counts, histogram.sum_ms / 1000)
        else:
            for labels, value in aggregate.values.get(name, {}).items():
                if value or family.type == "gauge":
                    yield name, labels, (value,)


@dataclass(slots=True)
class Summary:
    steps: int
    series: int
    samples: int
    first: float
    last: float


# family -> labels -> change log [(step index, values or None when absent)]
History = dict[str, dict[Labels, list[tuple[int, Values | None]]]]


def steps_between(start: float, end: float, step: float) -> list[float]:
    """Step times: multiples of ``step`` (UTC-aligned) from ``start`` up to ``end``."""
    first = -(-start // step) * step
    count = int((end - first) // step) + 1 if end >= first else 0
    return [first + i * step for i in range(count)]


def _log_skipped(row: Row, problem: str) -> None:
    log.warning(
        "backfill: left out the stored %s %s/%s: %s", row.kind, row.source, row.key, problem
    )


def replay(
    store: Store,
    settings: KpiSettings,
    steps: list[float],
    skipped: Callable[[Row, str], None] = _log_skipped,
) -> History:
    """Replay the stored events over ``steps``; the change log of every series. Rows a
    start would quarantine are left out (see :meth:`Store.usable_events`)."""
    now = [steps[0] if steps else 0.0]
    aggregate = Aggregate(settings, lambda: now[0])
    history: History = {}
    last: dict[tuple[str, Labels], Values] = {}
    events = store.usable_events(skipped, ordered=True)
    upcoming = next(events, None)
    pending: list[tuple[float, int, Event, Event]] = []  # (at, order, before, after)
    order = 0
    steady = tuple(f for f in FAMILIES if not _time_dependent(f))
    changing = tuple(f for f in FAMILIES if _time_dependent(f))
    for index, at in enumerate(steps):
        now[0] = at
        applied = index == 0
        while upcoming is not None and upcoming.time <= at:
            chain = versions(upcoming)
            aggregate.add(chain[0][1])
            for (_, before), (later, after) in pairwise(chain):
                heapq.heappush(pending, (later, order, before, after))
                order += 1
            applied = True
            upcoming = next(events, None)
        while pending and pending[0][0] <= at:
            _, _, before, after = heapq.heappop(pending)
            aggregate.add(before, -1)
            aggregate.add(after, 1)
            applied = True
        current = {
            (name, labels): values
            for name, labels, values in snapshot(aggregate, at, steady if applied else ())
        }
        current.update(
            ((name, labels), values) for name, labels, values in snapshot(aggregate, at, changing)
        )
        current.update(
            ((name, labels), values) for name, labels, values in window_snapshot(aggregate, at)
        )
        for key, values in current.items():
            if last.get(key) != values:
                history.setdefault(key[0], {}).setdefault(key[1], []).append((index, values))
        for key in list(last):
            gone = key not in current and (applied or _changes_with_time(key[0]))
            if gone:
                history[key[0]][key[1]].append((index, None))
                del last[key]
            elif key not in current:
                current[key] = last[key]  # a steady family not re-read this step
        last.update(current)
    return history


SCRAPE_LABELS = {"job": "kpi-exporter"}  # the job the recording rules select
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def check_labels(labels: Mapping[str, str]) -> None:
    """Scrape labels must be valid, not reserved, and not a label of a family."""
    taken = {name for family in (*FAMILIES, *WINDOW_FAMILIES) for name in family.labels} | {"le"}
    for name in labels:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"--label {name}: not a label name (letters, digits, _)")
        if name in taken:
            raise ValueError(f"--label {name}: the exporter's own series carry that label")


def write(
    history: History,
    steps: list[float],
    out: TextIO,
    scrape_labels: Mapping[str, str] | None = None,
) -> Summary:
    """The history as OpenMetrics: family by family, series by series, samples in time
    order, each with its step's timestamp (seconds); then ``# EOF``. ``scrape_labels`` are
    added to every series, as a scrape adds ``job`` and ``instance``."""
    extra = dict(scrape_labels or {})
    extra_names, extra_values = tuple(extra), tuple(extra.values())
    stamps = [f" {int(at)}\n" if at == int(at) else f" {format_value(at)}\n" for at in steps]
    series = samples = 0
    for family in (*FAMILIES, *WINDOW_FAMILIES):
        logs = history.get(family.name)
        if not logs:
            continue
        out.write(header(family, openmetrics=True))
        bounds = _bucket_bounds(family) if family.type == "histogram" else ()
        for labels in sorted(logs):
            series += 1
            if family.name in _WINDOW_NAMES:
                names, label_values = labels[0::2], labels[1::2]
            else:
                names, label_values = family.labels, labels
            block = label_block(names + extra_names, label_values + extra_values)
            log = logs[labels]
            if family.type != "gauge" and log[0][0] > 0:
                # The count was 0 the step before the series' first event: without that
                # sample, increase() over history would miss each series' first event.
                zero = (0.0,) * (len(bounds) + 1) if bounds else (0.0,)
                log = [(log[0][0] - 1, zero), *log]
            for position, (index, values) in enumerate(log):
                if values is None:
                    continue
                until = log[position + 1][0] if position + 1 < len(log) else len(steps)
                lines = _lines(family, block, bounds, values)
                for step in range(index, until):
                    stamp = stamps[step]
                    out.write("".join(line + stamp for line in lines))
                samples += (until - index) * len(lines)
    out.write("# EOF\n")
    return Summary(len(steps), series, samples, steps[0] if steps else 0, steps[-1] if steps else 0)


def _lines(family: Family, block: str, bounds: tuple[str, ...], values: Values) -> list[str]:
    """The sample lines of one series' values, without their timestamp."""
    name = family.name
    if family.type != "histogram":
        return [f"{name}{{{block}}} {format_value(values[0])}"]
    prefix = f'{name}_bucket{{{block}{"," if block else ""}le="'
    lines, cumulative = [], 0
    for bound, count in zip(bounds, values[:-1], strict=True):
        cumulative += int(count)
        lines.append(f'{prefix}{bound}"}} {cumulative}')
    lines.append(f"{name}_count{{{block}}} {cumulative}")
    lines.append(f"{name}_sum{{{block}}} {format_value(values[-1])}")
    return lines


def backfill(
    store: Store,
    settings: KpiSettings,
    path: Path,
    start: float,
    end: float,
    step: float,
    labels: Mapping[str, str] | None = None,
    skipped: Callable[[Row, str], None] | None = None,
) -> Summary:
    """Write the OpenMetrics history of ``store`` from ``start`` to ``end`` to ``path``,
    every series with ``labels`` (default ``SCRAPE_LABELS``). A stored row that a start
    would quarantine is left out and passed to ``skipped`` (default: logged)."""
    labels = SCRAPE_LABELS if labels is None else labels
    check_labels(labels)
    end = min(end, time.time())  # no sample in the future
    steps = steps_between(start, end, step)
    history = replay(store, settings, steps, skipped or _log_skipped)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        return write(history, steps, out, labels)


class PromtoolMissing(RuntimeError):
    pass


BLOCK_SECONDS = 2 * 3600  # promtool's block duration, blocks aligned to multiples of it


def split_by_block(sources: Iterable[Iterable[str]], directory: Path) -> list[Path]:
    """The OpenMetrics lines of ``sources`` (each a whole exposition, ``# EOF`` included or
    not) as one file per 2-hour block under ``directory``, each with every family header;
    streamed. Returns the files in time order."""
    files: dict[int, TextIO] = {}
    headers: list[str] = []
    file_of: dict[str, TextIO] = {}  # timestamp text -> its block's file: few distinct stamps
    try:
        for source in sources:
            for line in source:
                if line[0] == "#":
                    if line != "# EOF\n":
                        headers.append(line)
                        for handle in files.values():
                            handle.write(line)
                    continue
                stamp = line[line.rindex(" ") + 1 :]
                chunk = file_of.get(stamp)
                if chunk is None:
                    block = int(float(stamp) // BLOCK_SECONDS)
                    chunk = files.get(block)
                    if chunk is None:
                        (directory / str(block)).mkdir(parents=True)
                        chunk = files[block] = (directory / str(block) / "history.om").open("w")
                        chunk.writelines(headers)
                    file_of[stamp] = chunk
                chunk.write(line)
    finally:
        for handle in files.values():
            handle.write("# EOF\n")
            handle.close()
    return [directory / str(block) / "history.om" for block in sorted(files)]


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        raise PromtoolMissing(
            "promtool not found on PATH: install Prometheus' promtool (Debian package "
            "`prometheus`) or run `promtool tsdb create-blocks-from openmetrics FILE DIR` where"
            " it is installed"
        )
    return promtool


def blocks_from_chunks(chunks: list[Path], blocks: Path, workers: int | None = None) -> list[str]:
    """promtool on every chunk (a file of one 2-hour block) in parallel, each into its own
    directory; the blocks moved into ``blocks``; their names."""
    promtool = _promtool()
    blocks.mkdir(parents=True, exist_ok=True)

    def one(chunk: Path) -> list[str]:
        result = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(chunk), str(chunk.parent)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"promtool failed ({result.returncode}):\n{result.stderr.strip()}")
        made = sorted(path for path in chunk.parent.iterdir() if path.is_dir())
        for block in made:
            shutil.move(block, blocks / block.name)
        return [block.name for block in made]

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        return sorted(name for names in pool.map(one, chunks) for name in names)


def create_blocks(openmetrics: Path, blocks: Path, workers: int | None = None) -> list[str]:
    """TSDB blocks of an OpenMetrics file in ``blocks`` (split per 2-hour block, promtool
    ``tsdb create-blocks-from openmetrics`` on each in parallel); the names of the blocks."""
    _promtool()
    blocks.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=blocks, prefix=".chunks-") as scratch:
        with openmetrics.open(encoding="utf-8") as lines:
            chunks = split_by_block([lines], Path(scratch))
        return blocks_from_chunks(chunks, blocks, workers)
