"""A snapshot of the running sums, so that a start need not replay every stored event.

At 1M stored events, replaying them (decode, observe, sum) takes tens of seconds. The
pipeline saves the state of its :class:`~kpi_exporter.kpis.Aggregate` (running sums,
histograms, live items, gauge events, daily spend, retractions and the window timelines)
into the store at a clean shutdown and when idle, with the store's change counter at that
moment and a fingerprint of what produced it: the code of this package, the Python version
and the KPI settings. A start loads it only when the fingerprint matches exactly, then applies
the store's journal of the writes made since (a crash after the last save, another writer);
anything else (another version, other settings, a journal too long or unreadable, a corrupt
snapshot) replays every event, which stays the reference.

The state is pickled as plain built-in values only (dicts, tuples, lists, strings, numbers,
bytes) and read back by an unpickler that refuses every global, so a snapshot cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cardinality import LabelValues
from .kpis import Aggregate, KpiSettings
from .kpis.aggregate import Histogram, LiveSeries
from .kpis.cost import DailySpend
from .kpis.windows import Timeline, group

FORMAT = 1  # bump when the layout below changes
PACKAGE = Path(__file__).resolve().parent


def fingerprint(settings: KpiSettings, exact_levels: tuple[str, ...]) -> str:
    """What produced a state: every source file of the package, the Python version, the
    snapshot format, the byte order, the KPI settings and the exact levels. Any difference
    replays."""
    digest = hashlib.sha256()
    # Timelines are saved as the platform's raw doubles: its byte order is part of it.
    head = f"{FORMAT}\0{sys.version}\0{sys.byteorder}\0{settings!r}\0{exact_levels!r}\0"
    digest.update(head.encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def dump(aggregate: Aggregate) -> bytes:
    """The state of ``aggregate`` as bytes (plain built-in values, pickled)."""
    windows = {
        name: {labels: (t.times.tobytes(), t.values.tobytes()) for labels, t in s.timelines.items()}
        for name, s in aggregate.windows.families.items()
    }
    state = {
        "values": aggregate.values,
        "histograms": _histograms(aggregate.histograms),
        "live": {
            name: {labels: (entry.events, entry.since) for labels, entry in series.items()}
            for name, series in aggregate.live.items()
        },
        "gauge_events": {name: dict(events) for name, events in aggregate.gauge_events.items()},
        "stored": dict(aggregate.stored),
        "label_values": {label: dict(c) for label, c in aggregate.label_values.counts.items()},
        "spend": aggregate.spend.series,
        "retracted_values": aggregate.retracted_values,
        "retracted_histograms": _histograms(aggregate.retracted_histograms),
        "windows": windows,
    }
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def load(
    data: bytes,
    settings: KpiSettings,
    clock: Callable[[], float],
    exact_levels: tuple[str, ...],
) -> Aggregate:
    """An aggregate with the state of ``data`` (from :func:`dump`), every series to render.
    Raises on anything unexpected: the caller replays the store instead."""
    state = _Unpickler(io.BytesIO(data)).load()
    if not isinstance(state, dict):
        raise ValueError("a snapshot holds a dict")
    aggregate = Aggregate(settings, clock, exact_levels=exact_levels)
    aggregate.values = state["values"]
    aggregate.histograms = _from_histograms(state["histograms"])
    aggregate.live = {
        name: {labels: LiveSeries(events, since) for labels, (events, since) in series.items()}
        for name, series in state["live"].items()
    }
    aggregate.ticking = {
        name: {labels for labels, entry in series.items() if entry.since and entry.events}
        for name, series in aggregate.live.items()
    }
    gauge_events = state["gauge_events"]
    aggregate.gauge_events = {name: Counter(events) for name, events in gauge_events.items()}
    aggregate.stored = Counter(state["stored"])
    aggregate.label_values = LabelValues(
        {label: Counter(counts) for label, counts in state["label_values"].items()}
    )
    aggregate.spend = DailySpend(state["spend"])
    aggregate.retracted_values = state["retracted_values"]
    aggregate.retracted_histograms = _from_histograms(state["retracted_histograms"])
    for name, timelines in state["windows"].items():
        family = aggregate.windows.families[name]
        for labels, (times, values) in timelines.items():
            timeline = family.timelines[labels] = Timeline()
            timeline.times.frombytes(times)
            timeline.values.frombytes(values)
            if len(timeline.times) != len(timeline.values):
                raise ValueError(f"{name}{labels}: times and values differ in length")
            family.teams.setdefault(group(labels), set()).add(labels)
    aggregate.invalidate()
    return aggregate


def _histograms(histograms: dict[str, dict[tuple[str, ...], Histogram]]) -> dict[str, Any]:
    return {
        name: {labels: (h.counts, h.sum_ms) for labels, h in series.items()}
        for name, series in histograms.items()
    }


def _from_histograms(state: dict[str, Any]) -> dict[str, dict[tuple[str, ...], Histogram]]:
    return {
        name: {labels: Histogram(counts, sum_ms) for labels, (counts, sum_ms) in series.items()}
        for name, series in state.items()
    }


class _Unpickler(pickle.Unpickler):
    """Built-in values only: no class nor function may be named in a snapshot."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a snapshot names {module}.{name}: refused")
