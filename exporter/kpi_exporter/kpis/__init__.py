"""KPI functions: pure functions from stored events to metric observations and families.

``observe(event, settings)`` says what one event contributes; :class:`Aggregate` sums the
contributions. ``families(events, settings)`` is the whole computation in one call, for tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric

from ..model import Event
from .aggregate import Aggregate
from .observation import Observation
from .observe import observe
from .settings import KpiSettings

__all__ = ["Aggregate", "KpiSettings", "Observation", "families", "observe"]


def families(events: Iterable[Event], settings: KpiSettings | None = None) -> list[Metric]:
    """Metric families computed from scratch from ``events``."""
    aggregate = Aggregate(settings or KpiSettings())
    for event in events:
        aggregate.add(event)
    return list(aggregate.metric_families())
