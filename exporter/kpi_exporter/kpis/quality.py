"""Quality KPIs: defects, those that escaped to production, those customers reported, and the
defects open now. Escape rate and customer-reported share are ratios of these counters."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Defect
from .families import (
    DEFECTS,
    DEFECTS_CUSTOMER_REPORTED,
    DEFECTS_ESCAPED,
    DEFECTS_ESCAPED_BY_PHASE,
    DEFECTS_OPEN,
    ESCAPE_PHASES,
    WINDOW_DEFECTS,
    WINDOW_DEFECTS_CUSTOMER_REPORTED,
    WINDOW_DEFECTS_ESCAPED,
    WINDOW_DEFECTS_ESCAPED_BY_PHASE,
)
from .observation import Dated, Observation
from .settings import KpiSettings


def observe_defect(defect: Defect, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """A defect counts once, by the time it was created; escaped when found in production,
    then also by the phase that should have caught it."""
    labels = (defect.app, defect.team, defect.severity)
    owner = (defect.app, defect.team)
    yield DEFECTS.observe(labels, 1)
    yield WINDOW_DEFECTS.at(owner, defect.created_at)
    if defect.found_in == "production":
        yield DEFECTS_ESCAPED.observe(labels, 1)
        yield WINDOW_DEFECTS_ESCAPED.at(owner, defect.created_at)
        # Bounded: a phase no source should send counts as unknown.
        phase = defect.escape_phase if defect.escape_phase in ESCAPE_PHASES else "unknown"
        yield DEFECTS_ESCAPED_BY_PHASE.observe((*owner, phase), 1)
        yield WINDOW_DEFECTS_ESCAPED_BY_PHASE.at((*owner, phase), defect.created_at)
    if defect.customer_reported:
        yield DEFECTS_CUSTOMER_REPORTED.observe(labels, 1)
        yield WINDOW_DEFECTS_CUSTOMER_REPORTED.at(owner, defect.created_at)
    # Always observed (0 or 1), so that "no open defect" is a 0, not a missing series.
    yield DEFECTS_OPEN.observe(labels, 1 if defect.resolved_at is None else 0)
