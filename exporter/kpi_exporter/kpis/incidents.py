"""Incident KPIs: count, open incidents, time to restore, detect and acknowledge."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Incident
from .observation import Observation
from .settings import KpiSettings


def observe_incident(incident: Incident, settings: KpiSettings) -> Iterator[Observation]:
    labels = (incident.app, incident.team, incident.environment, incident.severity)
    yield Observation("kpi_incidents_total", labels, 1)
    # Always observed (0 or 1), so that "no open incident" is a 0, not a missing series.
    yield Observation("kpi_incidents_open", labels, 1 if incident.resolved_at is None else 0)
    if incident.resolved_at is not None:
        restore = max(0.0, incident.resolved_at - incident.started_at)
        yield Observation("kpi_incident_restore_seconds", labels, restore)
    if incident.impact_started_at is not None and incident.detected_at is not None:
        detect = max(0.0, incident.detected_at - incident.impact_started_at)
        yield Observation("kpi_incident_detect_seconds", labels, detect)
    if incident.acknowledged_at is not None:
        alerted = incident.detected_at if incident.detected_at is not None else incident.started_at
        acknowledge = max(0.0, incident.acknowledged_at - alerted)
        yield Observation("kpi_incident_acknowledge_seconds", labels, acknowledge)
