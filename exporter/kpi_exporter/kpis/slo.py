"""Service level objectives kept outside Prometheus (Datadog): the values their source reads.

The source produces Gauge events already named after their family with the SLO's name and
window in ``Gauge.labels``, one per SLO and family, updated in place; so the summed series is
the latest value. The recording rules put them next to the Prometheus SLOs (``slo:*``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Gauge
from .families import SLO_ERROR_BUDGET_REMAINING, SLO_OBJECTIVE, SLO_SLI, KpiFamily
from .observation import Observation
from .settings import KpiSettings

SLO_FAMILIES: dict[str, KpiFamily] = {
    family.name: family for family in (SLO_OBJECTIVE, SLO_SLI, SLO_ERROR_BUDGET_REMAINING)
}


def observe_slo(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """An SLO's objective, SLI or error budget left, per app, team, SLO and window."""
    family = SLO_FAMILIES.get(gauge.name)
    if family is not None:
        extra = dict(gauge.labels)
        labels = (gauge.app, gauge.team, extra.get("slo", ""), extra.get("window", ""))
        yield family.observe(labels, gauge.value)
