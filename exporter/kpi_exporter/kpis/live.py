"""Time-dependent series: derived from the live items of a series at exposition time.

A running sum cannot say how many changes are open for more than a day: that depends on when
the question is asked. So :class:`~kpi_exporter.kpis.aggregate.Aggregate` keeps, per series,
only the start time of each live item (see :class:`~kpi_exporter.kpis.observation.Since`),
and each time-dependent family derives its samples from those times and "now" with one of the
pure functions below. The cost is proportional to the live items, never to the store.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Collection, Iterator

from .families import (
    AGE_THRESHOLDS,
    CHANGES_OPEN_BY_AGE,
    DEPENDENCY_UPDATES_OPEN_BY_AGE,
    INCIDENTS_OLDEST_OPEN_START_TIMESTAMP_SECONDS,
    VULNERABILITIES_OLDEST_OPEN_CREATED_TIMESTAMP_SECONDS,
    VULNERABILITIES_SLA_BREACHED,
)

Labels = tuple[str, ...]
Derive = Callable[[Collection[float], float], Iterator[tuple[Labels, float]]]
"""(start times of the live items of one series, now) -> (added label values, value)."""


def older_than(starts: Collection[float], now: float) -> Iterator[tuple[Labels, float]]:
    """How many items are older than each threshold (age = now - start, strictly greater):
    cumulative counts, every threshold present, 0 when none."""
    ages = sorted(now - start for start in starts)
    for name, threshold in AGE_THRESHOLDS:
        yield (name,), len(ages) - bisect_right(ages, threshold)


def oldest(starts: Collection[float], now: float) -> Iterator[tuple[Labels, float]]:
    """The start time of the oldest live item; no sample when none is live. A start time,
    not an age, so an alert computes ``time() - x`` and the value does not depend on when
    the exposition was rendered."""
    if starts:
        yield (), min(starts)


def passed(deadlines: Collection[float], now: float) -> Iterator[tuple[Labels, float]]:
    """How many live items have a deadline (an SLA) already passed (strictly before now);
    0 when none."""
    yield (), sum(1 for deadline in deadlines if deadline < now)


DERIVATIONS: dict[str, Derive] = {
    CHANGES_OPEN_BY_AGE.name: older_than,
    DEPENDENCY_UPDATES_OPEN_BY_AGE.name: older_than,
    INCIDENTS_OLDEST_OPEN_START_TIMESTAMP_SECONDS.name: oldest,
    VULNERABILITIES_OLDEST_OPEN_CREATED_TIMESTAMP_SECONDS.name: oldest,
    VULNERABILITIES_SLA_BREACHED.name: passed,
}
"""Every time-dependent family and how its samples are derived."""
