"""Service levels kept outside Prometheus (Datadog, Azure Monitor): the values their sources
read.

The sources produce Gauge events already named after their family, with the SLO's name and
window (or the component's name and window, or the monitor's state) in ``Gauge.labels``, one
per SLO (component, monitor) and family, updated in place; so the summed series is the latest
value (for monitors: how many are in each state). The recording rules put them next to the
Prometheus SLOs (``slo:*``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Gauge
from .families import (
    COMPONENT_AVAILABILITY,
    COMPONENT_FAILED_REQUESTS,
    COMPONENT_RESPONSE_TIME,
    MONITORS,
    SLO_ERROR_BUDGET_REMAINING,
    SLO_OBJECTIVE,
    SLO_SLI,
    KpiFamily,
)
from .observation import Observation
from .settings import KpiSettings

SLO_FAMILIES: dict[str, KpiFamily] = {
    family.name: family for family in (SLO_OBJECTIVE, SLO_SLI, SLO_ERROR_BUDGET_REMAINING)
}
COMPONENT_FAMILIES: dict[str, KpiFamily] = {
    family.name: family
    for family in (COMPONENT_AVAILABILITY, COMPONENT_FAILED_REQUESTS, COMPONENT_RESPONSE_TIME)
}


def observe_slo(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """An SLO's objective, SLI or error budget left, per app, team, SLO and window; a
    component's availability, failed request rate or response time percentile, per app,
    team, component and window (and percentile); a monitor in its state, per app, team and
    state."""
    extra = dict(gauge.labels)
    owner = (gauge.app, gauge.team)
    family = SLO_FAMILIES.get(gauge.name)
    if family is not None:
        yield family.observe((*owner, extra.get("slo", ""), extra.get("window", "")), gauge.value)
    family = COMPONENT_FAMILIES.get(gauge.name)
    if family is not None:
        # Each family's own labels after the app and team: component, window (, percentile).
        labels = tuple(extra.get(label, "") for label in family.labels[2:])
        yield family.observe((*owner, *labels), gauge.value)
    if gauge.name == MONITORS.name:
        yield MONITORS.observe((gauge.app, gauge.team, extra.get("state", "")), gauge.value)
