"""Service level objectives kept outside Prometheus (Datadog): the values their source reads.

The source produces Gauge events already named after their family with the SLO's name and
window in ``Gauge.labels``, one per SLO and family, updated in place; so the summed series is
the latest value. The recording rules put them next to the Prometheus SLOs (``slo:*``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Gauge
from .observation import Observation
from .settings import KpiSettings

SLO_FAMILIES = (
    "kpi_slo_objective_ratio",
    "kpi_slo_sli_ratio",
    "kpi_slo_error_budget_remaining_ratio",
)


def observe_slo(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """An SLO's objective, SLI or error budget left, per app, team, SLO and window."""
    if gauge.name in SLO_FAMILIES:
        extra = dict(gauge.labels)
        labels = (gauge.app, gauge.team, extra.get("slo", ""), extra.get("window", ""))
        yield Observation(gauge.name, labels, gauge.value)
