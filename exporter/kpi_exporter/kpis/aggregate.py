"""Running sums of observations: the only metric state the exporter keeps in memory.

Every stored event contributes observations (see :func:`kpi_exporter.kpis.observe`). When a
poll changes an event, its old contributions are taken out and its new ones put in, so the
series always equal what a full recomputation from the store would give, at the cost of the
changed events only. Histogram sums are kept in integer milliseconds so that adding and
removing the same observation returns exactly to the previous value.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from ..gofloat import go_float
from ..model import Event
from .families import FAMILIES, FAMILY_BY_NAME, Family
from .observation import Observation
from .observe import observe
from .settings import KpiSettings

Labels = tuple[str, ...]


@dataclass(slots=True)
class Histogram:
    """Per-bucket (not cumulative) counts; the last slot is the +Inf overflow."""

    counts: list[int]
    sum_ms: int = 0

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(slots=True)
class Aggregate:
    """Sums of the observations of every event added, per family and label set."""

    settings: KpiSettings = field(default_factory=KpiSettings)
    values: dict[str, dict[Labels, float]] = field(default_factory=dict)
    histograms: dict[str, dict[Labels, Histogram]] = field(default_factory=dict)
    stored: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, event: Event, sign: int = 1) -> None:
        """Add (sign=1) or take out (sign=-1) the contributions of one event."""
        self.stored[(event.source, event.kind)] += sign
        for observation in observe(event, self.settings):
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

    def metric_families(self) -> Iterator[Metric]:
        """Every family that has at least one series, in catalogue order."""
        for family in FAMILIES:
            if family.type == "histogram":
                if family.name in self.histograms:
                    yield _histogram_family(family, self.histograms[family.name])
            elif family.name in self.values:
                yield _scalar_family(family, self.values[family.name])


def _scalar_family(family: Family, series: dict[Labels, float]) -> Metric:
    metric: CounterMetricFamily | GaugeMetricFamily
    if family.type == "counter":
        metric = CounterMetricFamily(family.name, family.help, labels=family.labels)
    else:
        metric = GaugeMetricFamily(family.name, family.help, labels=family.labels)
    for labels in sorted(series):
        # A counter at 0 only exists because its events were re-assessed away (late data):
        # leave it out, so the exposition equals a computation from scratch.
        if family.type == "counter" and series[labels] == 0:
            continue
        metric.add_metric(labels, series[labels])
    return metric


def _histogram_family(family: Family, series: dict[Labels, Histogram]) -> Metric:
    metric = HistogramMetricFamily(family.name, family.help, labels=family.labels)
    bounds = [go_float(bound) for bound in family.buckets] + ["+Inf"]
    for labels in sorted(series):
        histogram = series[labels]
        if histogram.count == 0:
            continue  # as for counters: only late re-assessment empties a histogram
        cumulative, buckets = 0, []
        for bound, count in zip(bounds, histogram.counts, strict=True):
            cumulative += count
            buckets.append((bound, float(cumulative)))
        metric.add_metric(labels, buckets, histogram.sum_ms / 1000)
    return metric
