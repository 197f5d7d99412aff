"""Incident KPIs: count, open incidents and the oldest one, time to restore, detect and
acknowledge."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Incident, IncidentLink
from .observation import Dated, Observation, Since
from .settings import KpiSettings


def observe_incident(
    incident: Incident, settings: KpiSettings
) -> Iterator[Observation | Since | Dated]:
    """Every incident counts in the raw families, by environment and severity; the windows
    hold the production incidents only (``KpiSettings.is_production_incident``): their
    count by start, and each time by the moment it ended (resolved, detected, acknowledged)."""
    labels = (incident.app, incident.team, incident.environment, incident.severity)
    owner = (incident.app, incident.team)
    production = settings.is_production_incident(incident.environment, incident.severity)
    yield Observation("kpi_incidents_total", labels, 1)
    if production:
        yield Dated("kpi_window_incidents", owner, incident.started_at)
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
        if production:
            yield Dated("kpi_window_incident_restore_seconds", owner, incident.resolved_at, restore)
    if incident.impact_started_at is not None and incident.detected_at is not None:
        detect = max(0.0, incident.detected_at - incident.impact_started_at)
        yield Observation("kpi_incident_detect_seconds", labels, detect)
        if production:
            yield Dated("kpi_window_incident_detect_seconds", owner, incident.detected_at, detect)
    if incident.acknowledged_at is not None:
        alerted = incident.detected_at if incident.detected_at is not None else incident.started_at
        acknowledge = max(0.0, incident.acknowledged_at - alerted)
        yield Observation("kpi_incident_acknowledge_seconds", labels, acknowledge)
        if production:
            yield Dated(
                "kpi_window_incident_acknowledge_seconds",
                owner,
                incident.acknowledged_at,
                acknowledge,
            )


def observe_link(link: IncidentLink, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """A production incident linked to no deployment counts, by its start."""
    if link.production and not link.deployment_key:
        owner = (link.app, link.team)
        yield Observation("kpi_incidents_unlinked_total", owner, 1)
        yield Dated("kpi_window_incidents_unlinked", owner, link.started_at)
