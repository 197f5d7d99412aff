"""Which KPI function observes which kind of event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..model import Change, Deployment, DeploymentOutcome, Event, Incident
from .delivery import observe_change, observe_deployment, observe_outcome
from .incidents import observe_incident
from .observation import Observation
from .settings import KpiSettings

_OBSERVERS: dict[type[Any], Callable[[Any, KpiSettings], Iterator[Observation]]] = {
    Deployment: observe_deployment,
    Change: observe_change,
    Incident: observe_incident,
    DeploymentOutcome: observe_outcome,
}


def observe(event: Event, settings: KpiSettings) -> Iterator[Observation]:
    """The contributions of one event (none for kinds without a KPI yet)."""
    observer = _OBSERVERS.get(type(event))
    if observer is not None:
        yield from observer(event, settings)
