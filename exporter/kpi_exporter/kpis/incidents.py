"""Incident KPIs: count, open incidents and the oldest one, time to restore, detect and
acknowledge."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Incident, IncidentLink
from .families import (
    INCIDENT_ACKNOWLEDGE_SECONDS,
    INCIDENT_DETECT_SECONDS,
    INCIDENT_RESTORE_SECONDS,
    INCIDENTS,
    INCIDENTS_OLDEST_OPEN_START_TIMESTAMP_SECONDS,
    INCIDENTS_OPEN,
    INCIDENTS_UNLINKED,
    WINDOW_INCIDENT_ACKNOWLEDGE_SECONDS,
    WINDOW_INCIDENT_DETECT_SECONDS,
    WINDOW_INCIDENT_RESTORE_SECONDS,
    WINDOW_INCIDENTS,
    WINDOW_INCIDENTS_UNLINKED,
)
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
    yield INCIDENTS.observe(labels, 1)
    if production:
        yield WINDOW_INCIDENTS.at(owner, incident.started_at)
    # Always observed (0 or 1), so that "no open incident" is a 0, not a missing series.
    is_open = incident.resolved_at is None
    yield INCIDENTS_OPEN.observe(labels, 1 if is_open else 0)
    yield INCIDENTS_OLDEST_OPEN_START_TIMESTAMP_SECONDS.since(
        labels,
        incident.started_at if is_open else None,
    )
    if incident.resolved_at is not None:
        restore = max(0.0, incident.resolved_at - incident.started_at)
        yield INCIDENT_RESTORE_SECONDS.observe(labels, restore)
        if production:
            yield WINDOW_INCIDENT_RESTORE_SECONDS.at(owner, incident.resolved_at, restore)
    if incident.impact_started_at is not None and incident.detected_at is not None:
        detect = max(0.0, incident.detected_at - incident.impact_started_at)
        yield INCIDENT_DETECT_SECONDS.observe(labels, detect)
        if production:
            yield WINDOW_INCIDENT_DETECT_SECONDS.at(owner, incident.detected_at, detect)
    if incident.acknowledged_at is not None:
        alerted = incident.detected_at if incident.detected_at is not None else incident.started_at
        acknowledge = max(0.0, incident.acknowledged_at - alerted)
        yield INCIDENT_ACKNOWLEDGE_SECONDS.observe(labels, acknowledge)
        if production:
            yield WINDOW_INCIDENT_ACKNOWLEDGE_SECONDS.at(
                owner,
                incident.acknowledged_at,
                acknowledge,
            )


def observe_link(link: IncidentLink, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """A production incident linked to no deployment counts, by its start."""
    if link.production and not link.deployment_key:
        owner = (link.app, link.team)
        yield INCIDENTS_UNLINKED.observe(owner, 1)
        yield WINDOW_INCIDENTS_UNLINKED.at(owner, link.started_at)
