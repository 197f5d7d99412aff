"""Quality KPIs: defects, those that escaped to production, those customers reported, and the
defects open now. Escape rate and customer-reported share are ratios of these counters."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Defect
from .observation import Dated, Observation
from .settings import KpiSettings


def observe_defect(defect: Defect, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """A defect counts once, by the time it was created; escaped when found in production."""
    labels = (defect.app, defect.team, defect.severity)
    owner = (defect.app, defect.team)
    yield Observation("kpi_defects_total", labels, 1)
    yield Dated("kpi_window_defects", owner, defect.created_at)
    if defect.found_in == "production":
        yield Observation("kpi_defects_escaped_total", labels, 1)
        yield Dated("kpi_window_defects_escaped", owner, defect.created_at)
    if defect.customer_reported:
        yield Observation("kpi_defects_customer_reported_total", labels, 1)
        yield Dated("kpi_window_defects_customer_reported", owner, defect.created_at)
    # Always observed (0 or 1), so that "no open defect" is a 0, not a missing series.
    yield Observation("kpi_defects_open", labels, 1 if defect.resolved_at is None else 0)
