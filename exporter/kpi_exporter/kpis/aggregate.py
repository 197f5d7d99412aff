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

from ..exposition import histogram_lines, scalar_lines
from ..model import Event
from .families import FAMILIES, FAMILY_BY_NAME
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

    def exposition(self, openmetrics: bool) -> Iterator[str]:
        """Every family with at least one series, in catalogue order, series sorted.

        A counter at 0 or an empty histogram only exists because its events were re-assessed
        away (late data): it is left out, so the exposition equals a computation from scratch.
        Gauges keep their zeros ("no open incident" is 0, not a missing series).
        """
        for family in FAMILIES:
            if family.type == "histogram":
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
            elif family.name in self.values:
                values = self.values[family.name]
                yield scalar_lines(
                    family,
                    (
                        (labels, value)
                        for labels, value in sorted(values.items())
                        if value or family.type == "gauge"
                    ),
                    openmetrics,
                )
