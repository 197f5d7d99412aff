"""Which KPI functions observe which kind of event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..model import (
    Change,
    CostLine,
    Coverage,
    Defect,
    Deployment,
    DeploymentOutcome,
    Event,
    Gauge,
    Incident,
    IncidentLink,
    TestRun,
    Vulnerability,
)
from .business import observe_business, observe_survey
from .code_quality import (
    observe_coverage,
    observe_incident_component,
    observe_sonarqube,
    observe_test_run,
)
from .cost import observe_cost
from .delivery import observe_change, observe_deployment, observe_outcome
from .flow import observe_flow
from .incidents import observe_incident, observe_link
from .observation import Contribution
from .quality import observe_defect
from .security import observe_vulnerability
from .settings import KpiSettings
from .slo import observe_slo

Observer = Callable[[Any, KpiSettings], Iterator[Contribution]]

_OBSERVERS: dict[type[Any], tuple[Observer, ...]] = {
    Deployment: (observe_deployment,),
    Change: (observe_change, observe_flow),
    Incident: (observe_incident, observe_incident_component),
    DeploymentOutcome: (observe_outcome,),
    IncidentLink: (observe_link,),
    Defect: (observe_defect,),
    Coverage: (observe_coverage,),
    TestRun: (observe_test_run,),
    Gauge: (observe_sonarqube, observe_business, observe_survey, observe_slo),
    CostLine: (observe_cost,),
    Vulnerability: (observe_vulnerability,),
}


def observe(event: Event, settings: KpiSettings) -> Iterator[Contribution]:
    """The contributions of one event (none for kinds without a KPI yet)."""
    for observer in _OBSERVERS.get(type(event), ()):
        yield from observer(event, settings)
