"""Which KPI functions observe which kind of event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .. import model
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
from .origin import observe_origin, observe_revert
from .quality import observe_defect
from .security import observe_security_coverage, observe_vulnerability
from .settings import KpiSettings
from .slo import observe_slo
from .work import observe_delivery, observe_work_item

Observer = Callable[[Any, KpiSettings], Iterator[Contribution]]

_OBSERVERS: dict[type[Any], tuple[Observer, ...]] = {
    model.Deployment: (observe_deployment,),
    model.Change: (observe_change, observe_flow, observe_origin),
    model.Incident: (observe_incident, observe_incident_component),
    model.DeploymentOutcome: (observe_outcome,),
    model.IncidentLink: (observe_link,),
    model.ChangeRevert: (observe_revert,),
    model.Defect: (observe_defect,),
    model.Coverage: (observe_coverage,),
    model.TestRun: (observe_test_run,),
    model.Gauge: (
        observe_sonarqube,
        observe_business,
        observe_survey,
        observe_slo,
        observe_security_coverage,
    ),
    model.CostLine: (observe_cost,),
    model.Vulnerability: (observe_vulnerability,),
    model.WorkItem: (observe_work_item,),
    model.WorkItemDelivery: (observe_delivery,),
}


def observe(event: model.Event, settings: KpiSettings) -> Iterator[Contribution]:
    """The contributions of one event (none for kinds without a KPI yet)."""
    for observer in _OBSERVERS.get(type(event), ()):
        yield from observer(event, settings)
