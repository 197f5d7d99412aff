"""Running sums of observations: the only metric state the exporter keeps in memory.

Every stored event contributes observations (see :func:`kpi_exporter.kpis.observe`). When a
poll changes an event, its old contributions are taken out and its new ones put in, so the
series always equal what a full recomputation from the store would give, at the cost of the
changed events only. Histogram sums are kept in integer milliseconds so that adding and
removing the same observation returns exactly to the previous value.

Counters and histograms never go down: a correction that takes a contribution out (a
deployment re-sent as failed, a lead time moving to another bucket) is published as a
retraction, in a family of its own (``kpi_deployments_retracted_total``), and the counter
keeps every contribution ever made: stored now plus retracted. The retractions are kept in
the store with the events, so a restart continues both (see :func:`retractions`).

Windowed KPIs (dated observations) are kept by :class:`~kpi_exporter.kpis.windows.Windows`,
which computes every window exactly at the instant of rendering.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..cardinality import LabelValues
from ..exposition import (
    Family,
    SeriesLines,
    header,
    histogram_series_lines,
    scalar_line,
    scalar_lines,
)
from ..model import Event
from .cost import COST_DERIVATIONS, DailySpend, budget_samples
from .families import COST_BUDGET_MONTH, FAMILIES, FAMILY_BY_NAME, retracted_name
from .live import DERIVATIONS
from .observation import Contribution, Daily, Dated, Observation, Since
from .observe import observe
from .settings import KpiSettings
from .windows import Windows

Labels = tuple[str, ...]
Key = tuple[str, str, str]  # an event's natural key: (kind, source, key)
LARGEST = 1e300
"""The largest magnitude of a number the sums take (see :meth:`Aggregate.check`)."""


@dataclass(slots=True)
class Histogram:
    """Per-bucket (not cumulative) counts; the last slot is the +Inf overflow."""

    counts: list[int]
    sum_ms: int = 0

    @property
    def count(self) -> int:
        return sum(self.counts)

    def plus(self, other: Histogram | None) -> Histogram:
        if other is None:
            return self
        counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        return Histogram(counts, self.sum_ms + other.sum_ms)


def retractions(
    changes: Iterable[tuple[Event | None, Event]], settings: KpiSettings
) -> list[Observation]:
    """The counter and histogram contributions that the changed events no longer make: what
    each ``before`` contributed and its ``after`` does not (an unchanged contribution is
    neither retracted nor added again)."""
    retracted: list[Observation] = []
    for before, after in changes:
        if before is None:
            continue
        old = Counter(_monotonic(before, settings))
        old.subtract(_monotonic(after, settings))
        retracted.extend((+old).elements())
    return retracted


def _monotonic(event: Event, settings: KpiSettings) -> Iterator[Observation]:
    for observation in observe(event, settings):
        if isinstance(observation, Observation) and FAMILY_BY_NAME[observation.family].type in (
            "counter",
            "histogram",
        ):
            yield observation


def retraction_family(family: Family) -> Family:
    """The family publishing the retractions of a counter or histogram family."""
    return Family(
        retracted_name(family.name),
        family.type,
        f"Retractions of `{family.name}`: contributions a correction took out (an event"
        " re-sent or re-assessed). Net over a range = increase of the family minus increase"
        " of this one.",
        family.labels,
        family.buckets,
    )


RETRACTION_FAMILIES: dict[str, Family] = {
    family.name: retraction_family(family)
    for family in FAMILIES
    if family.type in ("counter", "histogram")
}
"""The retraction family of every counter and histogram family, by the family's name."""
RETRACTED_OF: dict[str, str] = {family.name: name for name, family in RETRACTION_FAMILIES.items()}
"""The family whose retractions each retraction family publishes, by its name."""


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
    # Stored events per app, team and environment value (the label limits read them).
    label_values: LabelValues = field(default_factory=LabelValues)
    # Spend per cost series and UTC day, for the month-to-date and forecast families.
    spend: DailySpend = field(default_factory=DailySpend)
    # Contributions taken out by corrections, per counter or histogram family and series.
    retracted_values: dict[str, dict[Labels, float]] = field(default_factory=dict)
    retracted_histograms: dict[str, dict[Labels, Histogram]] = field(default_factory=dict)
    # The levels above the app this process sees whole (see kpis.windows).
    exact_levels: tuple[str, ...] = ("team", "org")
    windows: Windows = field(init=False)
    # The instant of the last exposition (the KPI page shows the values of that instant).
    rendered_at: float | None = field(init=False, default=None)
    # The rendered lines of every summed family, per series, and the series changed since
    # they were rendered, by published family name (retraction families included).
    lines: dict[str, SeriesLines] = field(init=False, default_factory=dict, repr=False)
    changed: dict[str, set[Labels]] = field(init=False, default_factory=dict, repr=False)
    # The series of each time-dependent family with a live item: the only ones whose
    # samples move with the clock (a series with none renders the same at any instant).
    ticking: dict[str, set[Labels]] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.windows = Windows(self.settings.windows, self.settings.quantiles, self.exact_levels)

    def check(self, event: Event) -> list[Contribution]:
        """The contributions of ``event``; ValueError naming the family when one holds a
        number the sums cannot take, or the KPI functions' own error. Sums are kept in integer
        milliseconds (histograms) and millionths (spend): a number must stay within
        :data:`LARGEST`, finite once scaled by a million (1e308 seconds is not)."""
        contributions = list(observe(event, self.settings))
        for contribution in contributions:
            # Comparisons, not math.isfinite: on the path of every stored event at a start;
            # NaN compares false, and so is refused too.
            numbers: tuple[float | None, ...]
            if isinstance(contribution, Daily):
                family, numbers = "cost", (contribution.day, contribution.amount)
            else:
                family, numbers = contribution[0], contribution[2:]
            for number in numbers:
                if number is not None and not -LARGEST <= number <= LARGEST:
                    raise ValueError(
                        f"a contribution to {family} is too large a number for the sums"
                    )
        return contributions

    def add(self, event: Event, sign: int = 1) -> None:
        """Add (sign=1) or take out (sign=-1) the contributions of one event: all of them or,
        when one fails, none (:meth:`check` first, then those made are taken out again)."""
        self._contribute(self.check(event), (event.kind, event.source, event.key), sign)
        self.stored[(event.source, event.kind)] += sign
        self.label_values.add(event, sign)

    def _contribute(self, contributions: list[Contribution], key: Key, sign: int) -> None:
        done = 0
        try:
            for done, contribution in enumerate(contributions):  # noqa: B007 (read on error)
                if isinstance(contribution, Since):
                    self._track(contribution, key, sign)
                elif isinstance(contribution, Daily):
                    self.spend.add(contribution, sign, self.clock())
                elif isinstance(contribution, Dated):
                    self.windows.add(contribution, sign)
                else:
                    self._record(contribution, sign)
        except BaseException:
            self._contribute(contributions[done - 1 :: -1] if done else [], key, -sign)
            raise

    def apply(
        self,
        changes: Iterable[tuple[Event | None, Event]],
        retracted: Iterable[Observation] = (),
    ) -> None:
        """Apply the net changes of one store transaction and the retractions they made
        (see :func:`retractions`; stored in the same transaction)."""
        for before, after in changes:
            if before is not None:
                self.add(before, -1)
            self.add(after, 1)
        for observation in retracted:
            self.retract(observation)

    def retract(self, observation: Observation, times: float = 1) -> None:
        """Count a contribution taken out by a correction (``times`` over)."""
        family = FAMILY_BY_NAME[observation.family]
        if family.type == "histogram":
            self._observe(self.retracted_histograms, family, observation, int(times))
        else:
            series = self.retracted_values.setdefault(family.name, {})
            series[observation.labels] = (
                series.get(observation.labels, 0.0) + times * observation.value
            )
        self._changed(family.name, observation.labels)
        self._changed(RETRACTION_FAMILIES[family.name].name, observation.labels)

    def invalidate(self) -> None:
        """Forget every rendered line and window result: the next exposition renders every
        series again from the sums and timelines, as a computation from scratch would."""
        self.lines.clear()
        self.changed.clear()
        kept: tuple[Mapping[str, Mapping[Labels, object]], ...] = (
            self.values,
            self.histograms,
            self.live,
            self.retracted_values,
            self.retracted_histograms,
        )
        for by_family in kept:
            for name, series in by_family.items():
                self.changed.setdefault(name, set()).update(series)
        for retracted in kept[3:]:
            for name, series in retracted.items():
                self.changed.setdefault(RETRACTION_FAMILIES[name].name, set()).update(series)
        self.windows.invalidate()

    def _changed(self, name: str, labels: Labels) -> None:
        changed = self.changed.get(name)
        if changed is None:
            self.changed[name] = {labels}
        else:
            changed.add(labels)

    @staticmethod
    def _observe(
        histograms: dict[str, dict[Labels, Histogram]],
        family: Family,
        observation: Observation,
        sign: int,
    ) -> None:
        series = histograms.setdefault(family.name, {})
        histogram = series.get(observation.labels)
        if histogram is None:
            histogram = series[observation.labels] = Histogram([0] * (len(family.buckets) + 1))
        histogram.counts[bisect_left(family.buckets, observation.value)] += sign
        histogram.sum_ms += sign * round(observation.value * 1000)

    def _record(self, observation: Observation, sign: int) -> None:
        family = FAMILY_BY_NAME[observation.family]
        self._changed(family.name, observation.labels)
        if family.type == "histogram":
            self._observe(self.histograms, family, observation, sign)
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
        else:
            entry.since.pop(key, None)
            if entry.events == 0:
                # Dropped with its last event, as a computation from scratch would not have it.
                del series[since.labels]
        self._changed(since.family, since.labels)
        ticking = self.ticking.setdefault(since.family, set())
        if entry.since and entry.events:
            ticking.add(since.labels)
        else:
            ticking.discard(since.labels)

    def _live_lines(self, family: Family, now: float) -> SeriesLines:
        """The lines of a time-dependent family at ``now``: its changed series and those with
        a live item rendered again."""
        lines = self.lines.get(family.name)
        if lines is None:
            lines = self.lines[family.name] = SeriesLines()
        series = self.live.get(family.name, {})
        derive = DERIVATIONS[family.name]
        changed = self.changed.pop(family.name, set())
        for labels in changed.union(self.ticking.get(family.name, ())):
            entry = series.get(labels)
            samples = derive(entry.since.values(), now) if entry is not None else ()
            lines.set(
                labels,
                "".join(scalar_line(family, (*labels, *extra), value) for extra, value in samples),
            )
        return lines

    def exposition(self, openmetrics: bool) -> Iterator[str | bytes]:
        """Every family with at least one series, in catalogue order, series sorted; then
        the retraction families and the window families.

        A counter or histogram shows every contribution ever made: stored now plus
        retracted. One at 0 only exists because its events were re-assessed away before
        anything was published: it is left out, so the exposition equals a computation
        from scratch. Gauges keep their zeros ("no open incident" is 0, not a missing series)
        while any event contributes to the series.
        Time-dependent families and windows are derived at the aggregate's ``clock()``, read
        once. Summed and time-dependent families re-render only the series changed since the
        last call and those with a live item (see :class:`~kpi_exporter.exposition.SeriesLines`).
        """
        now = self.rendered_at = self.clock()
        for family in FAMILIES:
            if family.name in COST_DERIVATIONS:
                if cost := list(self.spend.samples(family.name, now)):
                    yield scalar_lines(family, cost, openmetrics)
            elif family.name == COST_BUDGET_MONTH.name:
                if self.settings.budgets:
                    yield scalar_lines(family, budget_samples(self.settings), openmetrics)
            elif family.name in DERIVATIONS:
                live = self._live_lines(family, now)
                if self.live.get(family.name):  # shown, maybe without samples, while any event
                    yield header(family, openmetrics)
                    yield live.text()
            elif summed := self._lines_of(family, self._series_lines):
                yield header(family, openmetrics)
                yield summed.text()
        for family in FAMILIES:
            if family.type in ("counter", "histogram") and (
                taken_out := self._lines_of(RETRACTION_FAMILIES[family.name], self._retracted_lines)
            ):
                yield header(RETRACTION_FAMILIES[family.name], openmetrics)
                yield taken_out.text()
        yield from self.windows.chunks(now, openmetrics)

    def _lines_of(
        self, family: Family, render: Callable[[Family, Labels], str]
    ) -> SeriesLines | None:
        """The lines of a summed family, its changed series rendered again."""
        lines = self.lines.get(family.name)
        changed = self.changed.pop(family.name, None)
        if changed:
            if lines is None:
                lines = self.lines[family.name] = SeriesLines()
            for labels in changed:
                lines.set(labels, render(family, labels))
        return lines

    def _series_lines(self, family: Family, labels: Labels) -> str:
        """The lines of one series of a summed family as published: a counter or histogram
        with its retracted contributions ("" at 0), a gauge while any event contributes."""
        name = family.name
        if family.type == "histogram":
            histogram = self.histograms.get(name, {}).get(labels)
            retracted = self.retracted_histograms.get(name, {}).get(labels)
            gross = histogram.plus(retracted) if histogram is not None else retracted
            if gross is None or not gross.count:
                return ""
            return histogram_series_lines(family, labels, gross.counts, gross.sum_ms / 1000)
        value = self.values.get(name, {}).get(labels)
        if family.type == "counter":
            taken_out = self.retracted_values.get(name, {}).get(labels)
            if taken_out is not None:
                value = (0.0 if value is None else value) + taken_out
            return scalar_line(family, labels, value) if value else ""
        return "" if value is None else scalar_line(family, labels, value)

    def _retracted_lines(self, family: Family, labels: Labels) -> str:
        """The lines of one series of a retraction family ("" at 0)."""
        name = RETRACTED_OF[family.name]  # the family it publishes the retractions of
        if family.type == "histogram":
            histogram = self.retracted_histograms.get(name, {}).get(labels)
            if histogram is None or not histogram.count:
                return ""
            return histogram_series_lines(family, labels, histogram.counts, histogram.sum_ms / 1000)
        value = self.retracted_values.get(name, {}).get(labels)
        return scalar_line(family, labels, value) if value else ""
