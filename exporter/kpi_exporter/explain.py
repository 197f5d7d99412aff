"""Why a production deployment counts as failed, or not: ``kpi-exporter explain``.

Reads stored events only (no polling). For each deployment it prints the judgement and the
reasons of the stored :class:`~kpi_exporter.model.DeploymentOutcome` (written by
:mod:`kpi_exporter.linking`), then the evidence: each linked incident and HOW it was linked
(recomputed with :func:`kpi_exporter.linking.link_incident` over the app's stored deployments
and incidents, so the answer is the one the exporter computes), the deployment that followed it
(rollback, hotfix or a normal one) and the recovery time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .kpis.settings import KpiSettings
from .linking import LinkSettings, followed_incidents, link_incident
from .model import Deployment, DeploymentOutcome, Event, Incident

NaturalKey = tuple[str, str]


def when(seconds: float) -> str:
    """``2026-11-02 10:00Z``."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%MZ")


def duration(seconds: float) -> str:
    """``47h``, ``2h 30m``, ``3d 4h``, ``15m``, ``40s``."""
    seconds = round(max(0.0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days >= 3:
        parts = [f"{days}d", f"{hours}h" if hours else ""]
    elif days or hours:
        parts = [f"{days * 24 + hours}h", f"{minutes}m" if minutes else ""]
    elif minutes:
        parts = [f"{minutes}m"]
    else:
        parts = [f"{secs}s"]
    return " ".join(part for part in parts if part)


def _order(event: Deployment | Incident) -> tuple[float, str, str]:
    return (event.time, event.source, event.key)


@dataclass(frozen=True, slots=True)
class AppHistory:
    """One app's stored production deployments, incidents and outcomes, with the links."""

    production: list[Deployment]
    outcomes: dict[NaturalKey, DeploymentOutcome]
    linked: dict[NaturalKey, list[tuple[Incident, str]]]
    following: dict[NaturalKey, Deployment]
    # The production incidents, by start (what a deployment's rework can follow).
    incidents: list[Incident]


def history(events: Iterable[Event], app: str, kpi: KpiSettings, links: LinkSettings) -> AppHistory:
    deployments: list[Deployment] = []
    incidents: list[Incident] = []
    outcomes: dict[NaturalKey, DeploymentOutcome] = {}
    for event in events:
        if event.app != app:
            continue
        if isinstance(event, Deployment):
            deployments.append(event)
        elif isinstance(event, Incident):
            incidents.append(event)
        elif isinstance(event, DeploymentOutcome):
            outcomes[(event.source, event.key)] = event
    production = sorted(
        (d for d in deployments if d.status == "success" and kpi.is_production(d.environment)),
        key=_order,
    )
    linked: dict[NaturalKey, list[tuple[Incident, str]]] = {}
    for incident in sorted(incidents, key=_order):
        target, how = link_incident(incident, production, links)
        if target is not None:
            linked.setdefault((target.source, target.key), []).append((incident, how))
    following: dict[NaturalKey, Deployment] = {}
    last: dict[str, Deployment] = {}
    for deployment in production:
        previous = last.get(deployment.environment)
        if previous is not None:
            following[(previous.source, previous.key)] = deployment
        last[deployment.environment] = deployment
    counted = [
        i
        for i in sorted(incidents, key=_order)
        if kpi.is_production_incident(i.environment, i.severity)
    ]
    return AppHistory(production, outcomes, linked, following, counted)


def _matches(deployment: Deployment, wanted: str) -> bool:
    if wanted in (deployment.key, f"{deployment.source}/{deployment.key}", deployment.version):
        return True
    return len(wanted) >= 7 and deployment.commit.startswith(wanted)


def explain(
    events: Iterable[Event],
    kpi: KpiSettings,
    links: LinkSettings,
    *,
    app: str | None = None,
    deployment: str | None = None,
    limit: int = 20,
) -> list[str]:
    """Lines explaining the app's production deployments (newest first, at most ``limit``) or
    the deployments matching ``deployment`` (key, ``source/key``, version or a commit prefix
    of at least 7 characters). Raises LookupError when nothing matches."""
    stored = list(events)
    if deployment is not None:
        candidates = [
            e
            for e in stored
            if isinstance(e, Deployment)
            and (app is None or e.app == app)
            and _matches(e, deployment)
        ]
        if not candidates:
            raise LookupError(f"no stored deployment matches {deployment!r}")
        apps = sorted({d.app for d in candidates})
    elif app is not None:
        apps = [app]
    else:
        raise LookupError("name an app (--app) or a deployment (--deployment)")
    lines: list[str] = []
    for name in apps:
        past = history(stored, name, kpi, links)
        if deployment is not None:
            chosen = sorted((d for d in candidates if d.app == name), key=_order, reverse=True)[
                :limit
            ]
        else:
            chosen = past.production[::-1][:limit]
            if not chosen:
                raise LookupError(f"no stored production deployment of app {name!r}")
            failed = sum(
                1
                for d in past.production
                if (outcome := past.outcomes.get((d.source, d.key))) and outcome.failed
            )
            lines.append(
                f"app {name}: {len(past.production)} production deployment(s) stored, "
                f"{failed} failed; newest {len(chosen)}:"
            )
        for chosen_deployment in chosen:
            lines.extend(_explain_one(chosen_deployment, past, kpi, links))
    return lines


def _explain_one(
    deployment: Deployment, past: AppHistory, kpi: KpiSettings, links: LinkSettings
) -> list[str]:
    natural_key = (deployment.source, deployment.key)
    what = [f"version {deployment.version}"] if deployment.version else []
    if deployment.commit:
        what.append(f"commit {deployment.commit[:12]}")
    if deployment.change_type != "normal":
        what.append(deployment.change_type)
    head = (
        f"{deployment.source}/{deployment.key} to {deployment.environment} at "
        f"{when(deployment.finished_at)}" + (f" ({', '.join(what)})" if what else "")
    )
    if deployment.status != "success" or not kpi.is_production(deployment.environment):
        return [f"{head}: not counted (not a successful production deployment)"]
    outcome = past.outcomes.get(natural_key)
    if outcome is None:
        return [f"{head}: not assessed yet (no stored outcome; the next poll links it)"]
    verdict = f"FAILED ({', '.join(outcome.reasons)})" if outcome.failed else "ok"
    lines = [f"{head}: {verdict}" + ("; rework" if outcome.rework else "")]
    for incident, how in past.linked.get(natural_key, []):
        after = duration(incident.started_at - deployment.finished_at)
        if how == "explicit":
            link = f"explicit reference {incident.deployment_ref!r}"
        else:
            link = "last production deployment before the incident started"
            if incident.deployment_ref:
                link += f" (its reference {incident.deployment_ref!r} matched none)"
        resolved = (
            f"resolved {when(incident.resolved_at)}"
            if incident.resolved_at is not None
            else "unresolved"
        )
        lines.append(
            f"  incident {incident.source}/{incident.key} ({incident.severity}), started "
            f"{after} after the deployment, {resolved}: linked by {link}"
        )
    recomputed = {f"{i.source}/{i.key}" for i, _ in past.linked.get(natural_key, [])}
    if set(outcome.incident_keys) != recomputed:
        lines.append(
            "  note: the stored outcome lists incidents "
            f"{', '.join(outcome.incident_keys) or 'none'}; it is re-assessed at the next poll"
        )
    successor = past.following.get(natural_key)
    if successor is not None:
        gap = successor.finished_at - deployment.finished_at
        role = {
            "rolled back": "rolled it back",
            "hotfix": f"a hotfix within the {duration(links.hotfix_window)} hotfix window",
        }
        reason = next((role[r] for r in outcome.reasons if r in role), "")
        if not reason and successor.change_type == "hotfix":
            reason = f"a hotfix, after the {duration(links.hotfix_window)} hotfix window"
        lines.append(
            f"  next deployment: {successor.source}/{successor.key} ({successor.change_type}) "
            f"{duration(gap)} later" + (f": {reason}" if reason else "")
        )
    else:
        lines.append("  next deployment: none yet")
    if outcome.rework and links.follows_incidents:
        for incident in followed_incidents(deployment, past.incidents, links):
            after = duration(deployment.finished_at - incident.started_at)
            lines.append(
                f"  rework: follows incident {incident.source}/{incident.key}, started {after}"
                f" before it (within the {duration(links.rework_window)} rework window)"
            )
    if "reported failed" in outcome.reasons:
        lines.append("  the source reported this deployment failed")
    if outcome.failed:
        if outcome.recovered_at is not None:
            recovery = duration(outcome.recovered_at - deployment.finished_at)
            lines.append(f"  recovered {when(outcome.recovered_at)}: recovery time {recovery}")
        else:
            lines.append("  not recovered yet")
    return lines
