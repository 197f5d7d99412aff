"""KPI functions: pure functions from stored events to metric observations and families.

``observe(event, settings)`` says what one event contributes; :class:`Aggregate` sums the
contributions. ``aggregate(events, settings)`` is the whole computation in one call, for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ..model import Event
from .aggregate import Aggregate
from .observation import Observation
from .observe import observe
from .settings import KpiSettings

__all__ = ["Aggregate", "KpiSettings", "Observation", "aggregate", "observe"]


def aggregate(
    events: Iterable[Event],
    settings: KpiSettings | None = None,
    clock: Callable[[], float] = time.time,
    retracted: Iterable[tuple[Observation, int]] = (),
) -> Aggregate:
    """The sums computed from scratch from ``events`` and the ``retracted`` contributions
    (as the store keeps them); render with ``exposition.render(result.exposition)``
    (time-dependent series and windows at ``clock()``)."""
    result = Aggregate(settings or KpiSettings(), clock)
    for event in events:
        result.add(event)
    for observation, times in retracted:
        result.retract(observation, times)
    return result
