"""Running sums of observations: the only metric state the exporter keeps in memory.

Every stored event contributes observations (see :func:`kpi_exporter.kpis.observe`). When a
poll changes an event, its old contributions are taken out and its new ones put in, so the
series always equal what a full recomputation from the store would give, at the cost of the
changed events only. Histogram sums are kept in integer milliseconds so that adding and
removing the same observation returns exactly to the previous value.

Series that depend on "now" (open changes by age, the oldest open incident) cannot be sums.
For those the aggregate keeps, per series, the start time of each live item by natural key,
updated by the same add and take-out; the samples are derived from them when the exposition
is rendered, with the aggregate's clock (see :mod:`kpi_exporter.kpis.live`). Memory and
rendering time grow with the live items (and series), never with the stored events.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ..exposition import Family, histogram_lines, scalar_lines
from ..model import Event
from .cost import COST_DERIVATIONS, DailySpend, budget_samples
from .families import FAMILIES, FAMILY_BY_NAME
from .live import DERIVATIONS
from .observation import Daily, Observation, Since
from .observe import observe
from .settings import KpiSettings

Labels = tuple[str, ...]
Key = tuple[str, str, str]  # an event's natural key: (kind, source, key)


@dataclass(slots=True)
class Histogram:
    """Per-bucket (not cumulative) counts; the last slot is the +Inf overflow."""

    counts: list[int]
    sum_ms: int = 0

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(slots=True)
class LiveSeries:
    """One series of a time-dependent family: how many events belong to it (it is shown while
    any does), and the start time of each live one by natural key."""

    events: int = 0
    since: dict[Key, float] = field(default_factory=dict)


@dataclass(slots=True)
class Aggregate:
    """Sums of the observations of every event added, per family and label set, and the
    live items of the time-dependent families. ``clock`` says what "now" is when the
    exposition is rendered."""

    settings: KpiSettings = field(default_factory=KpiSettings)
    clock: Callable[[], float] = field(default=time.time)
    values: dict[str, dict[Labels, float]] = field(default_factory=dict)
    histograms: dict[str, dict[Labels, Histogram]] = field(default_factory=dict)
    live: dict[str, dict[Labels, LiveSeries]] = field(default_factory=dict)
    # Events contributing to each gauge series: a gauge at 0 is shown while any event does.
    gauge_events: dict[str, Counter[Labels]] = field(default_factory=dict)
    stored: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Spend per cost series and UTC day, for the month-to-date and forecast families.
    spend: DailySpend = field(default_factory=DailySpend)

    def add(self, event: Event, sign: int = 1) -> None:
        """Add (sign=1) or take out (sign=-1) the contributions of one event."""
        self.stored[(event.source, event.kind)] += sign
        for observation in observe(event, self.settings):
            if isinstance(observation, Since):
                self._track(observation, (event.kind, event.source, event.key), sign)
            elif isinstance(observation, Daily):
                self.spend.add(observation, sign, self.clock())
            else:
                self._record(observation, sign)

    def apply(self, changes: Iterable[tuple[Event | None, Event]]) -> None:
        """Apply the net changes of one store transaction."""
        for before, after in changes:
            if before is not None:
                self.add(before, -1)
            self.add(after, 1)

    def _record(self, observation: Observation, sign: int) -> None:
        family = FAMILY_BY_NAME[observation.family]
        if family.type == "histogram":
            series = self.histograms.setdefault(family.name, {})
            histogram = series.get(observation.labels)
            if histogram is None:
                histogram = series[observation.labels] = Histogram([0] * (len(family.buckets) + 1))
            histogram.counts[bisect_left(family.buckets, observation.value)] += sign
            histogram.sum_ms += sign * round(observation.value * 1000)
        else:
            series_values = self.values.setdefault(family.name, {})
            series_values[observation.labels] = (
                series_values.get(observation.labels, 0.0) + sign * observation.value
            )
            if family.type == "gauge":
                events = self.gauge_events.setdefault(family.name, Counter())
                events[observation.labels] += sign
                if not events[observation.labels]:
                    # The series' last event moved away (to another team, say): drop it, as
                    # a computation from scratch would not have it.
                    del events[observation.labels], series_values[observation.labels]

    def _track(self, since: Since, key: Key, sign: int) -> None:
        series = self.live.setdefault(since.family, {})
        entry = series.get(since.labels)
        if entry is None:
            entry = series[since.labels] = LiveSeries()
        entry.events += sign
        if sign > 0:
            if since.at is not None:
                entry.since[key] = since.at
            return
        entry.since.pop(key, None)
        if entry.events == 0:
            # Dropped with its last event, as a computation from scratch would not have it.
            del series[since.labels]

    def _derived(self, family: Family, now: float) -> Iterator[tuple[Labels, float]]:
        """The samples of a time-dependent family at ``now``, series in label order."""
        derive = DERIVATIONS[family.name]
        for labels, entry in sorted(self.live.get(family.name, {}).items()):
            for extra, value in derive(entry.since.values(), now):
                yield (*labels, *extra), value

    def exposition(self, openmetrics: bool) -> Iterator[str]:
        """Every family with at least one series, in catalogue order, series sorted.

        A counter at 0 or an empty histogram only exists because its events were re-assessed
        away (late data): it is left out, so the exposition equals a computation from scratch.
        Gauges keep their zeros ("no open incident" is 0, not a missing series) while any
        event contributes to the series.
        Time-dependent families are derived at the aggregate's ``clock()``, read once.
        """
        now = self.clock()
        for family in FAMILIES:
            if family.name in COST_DERIVATIONS:
                if cost := list(self.spend.samples(family.name, now)):
                    yield scalar_lines(family, cost, openmetrics)
            elif family.name == "kpi_cost_budget_month":
                if self.settings.budgets:
                    yield scalar_lines(family, budget_samples(self.settings), openmetrics)
            elif family.name in DERIVATIONS:
                if self.live.get(family.name):
                    yield scalar_lines(family, self._derived(family, now), openmetrics)
            elif family.type == "histogram":
                histograms = self.histograms.get(family.name)
                if histograms:
                    yield histogram_lines(
                        family,
                        (
                            (labels, h.counts, h.sum_ms / 1000)
                            for labels, h in sorted(histograms.items())
                            if h.count
                        ),
                        openmetrics,
                    )
            elif values := self.values.get(family.name):
                yield scalar_lines(
                    family,
                    (
                        (labels, value)
                        for labels, value in sorted(values.items())
                        if value or family.type == "gauge"
                    ),
                    openmetrics,
                )
