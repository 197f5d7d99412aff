"""Incident KPIs: count, open incidents and the oldest one, time to restore, detect and
acknowledge."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Incident
from .observation import Observation, Since
from .settings import KpiSettings


def observe_incident(incident: Incident, settings: KpiSettings) -> Iterator[Observation | Since]:
    labels = (incident.app, incident.team, incident.environment, incident.severity)
    yield Observation("kpi_incidents_total", labels, 1)
    # Always observed (0 or 1), so that "no open incident" is a 0, not a missing series.
    is_open = incident.resolved_at is None
    yield Observation("kpi_incidents_open", labels, 1 if is_open else 0)
    yield Since(
        "kpi_incidents_oldest_open_start_timestamp_seconds",
        labels,
        incident.started_at if is_open else None,
    )
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
