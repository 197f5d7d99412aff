"""Synthetic event histories for the benchmarks: deterministic for a seed, shaped like a real
organisation (production and staging deployments, hotfixes and rollbacks, the changes each
production deployment shipped, incidents after some deployments)."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings, assess
from kpi_exporter.model import (
    Change,
    Defect,
    Deployment,
    DeploymentOutcome,
    Event,
    Identity,
    Incident,
    Vulnerability,
)
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
YEAR = 365 * DAY
START = 1_735_689_600.0  # 2025-01-01T00:00:00Z
SOURCE = "bench"
SEVERITIES = ("critical", "high", "low")

# Expected stored events per deployment of :func:`history`, outcomes included: the deployment,
# its outcome, 1.5 changes and 0.05 incidents per successful production deployment (0.85 * 0.97),
# and with ``findings``, 0.05 defects and 0.05 security findings more.
EVENTS_PER_DEPLOYMENT = 2 + 0.85 * 0.97 * (1.5 + 0.05)
EVENTS_PER_DEPLOYMENT_WITH_FINDINGS = EVENTS_PER_DEPLOYMENT + 0.85 * 0.97 * (0.05 + 0.05)


@dataclass(frozen=True, slots=True)
class App:
    name: str
    team: str


def make_apps(count: int, first: int = 0, per_team: int = 8) -> list[App]:
    """Apps number ``first`` to ``first + count - 1``, ``per_team`` to a team."""
    return [App(f"app-{i:05d}", f"team-{i // per_team:04d}") for i in range(first, first + count)]


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _of(app: App, key: str) -> Identity:
    """The identity of an event of ``app`` in the benchmark's source."""
    return Identity(source=SOURCE, key=key, app=app.name, team=app.team)


def _changes(deployment: Deployment, rng: random.Random) -> list[Change]:
    """One or two changes shipped by ``deployment``, with lead times of minutes to months."""
    changes = []
    for j in range(rng.choice((1, 2))):
        lead = min(rng.lognormvariate(math.log(DAY), 1.5), 200 * DAY)
        first_commit = deployment.finished_at - lead
        changes.append(
            Change(
                **deployment.identity(f"{deployment.key}-c{j}"),
                first_commit_at=first_commit,
                opened_at=first_commit + 0.3 * lead,
                first_review_at=first_commit + 0.45 * lead,
                approved_at=first_commit + 0.6 * lead,
                merged_at=first_commit + 0.8 * lead,
                size_lines=rng.randint(5, 800),
                deployed_environment=deployment.environment,
                deployed_at=deployment.finished_at,
                deployment_key=deployment.key,
            )
        )
    return changes


def _incident(deployment: Deployment, rng: random.Random) -> Incident:
    """An incident that started within two days after ``deployment``."""
    started = deployment.finished_at + rng.uniform(10 * MINUTE, 2 * DAY)
    return Incident(
        **deployment.identity(f"{deployment.key}-i"),
        severity=rng.choice(SEVERITIES),
        started_at=started,
        impact_started_at=started - rng.uniform(0, 30 * MINUTE),
        detected_at=started,
        acknowledged_at=started + rng.uniform(MINUTE, 30 * MINUTE),
        resolved_at=started + rng.uniform(15 * MINUTE, 12 * HOUR),
        deployment_ref=deployment.version if rng.random() < 0.3 else "",
    )


def _defect(deployment: Deployment, rng: random.Random) -> Defect:
    """A defect found within a week after ``deployment``; a third of them still open."""
    created = deployment.finished_at + rng.uniform(HOUR, 7 * DAY)
    return Defect(
        **deployment.identity(f"{deployment.key}-b"),
        created_at=created,
        found_in="production" if rng.random() < 0.4 else "pre-production",
        customer_reported=rng.random() < 0.2,
        severity=rng.choice(SEVERITIES),
        resolved_at=None if rng.random() < 0.33 else created + rng.uniform(HOUR, 20 * DAY),
    )


def _finding(deployment: Deployment, rng: random.Random) -> Vulnerability:
    """A security finding created after ``deployment``: mostly fixed within days to months,
    some dismissed, some still open."""
    created = deployment.finished_at + rng.uniform(HOUR, 3 * DAY)
    roll = rng.random()
    state = "fixed" if roll < 0.75 else "dismissed" if roll < 0.85 else "open"
    fix = min(rng.lognormvariate(math.log(5 * DAY), 1.2), 120 * DAY)
    closed = None if state == "open" else created + fix
    return Vulnerability(
        **deployment.identity(f"{deployment.key}-v"),
        severity=rng.choice(SEVERITIES),
        created_at=created,
        state=state,
        closed_at=closed,
        scanner="dependabot",
    )


def history(
    app: App,
    deployments: int,
    rng: random.Random,
    start: float = START,
    span: float = YEAR,
    findings: bool = False,
) -> list[Event]:
    """``deployments`` deployments of ``app`` over ``[start, start + span)``: 85% to
    production, 3% failed, 4% hotfixes and 1% rollbacks; each successful production deployment
    shipped one or two changes and is followed by an incident 5% of the time (and, with
    ``findings``, by a defect 5% of the time and a security finding 5% of the time)."""
    events: list[Event] = []
    times = sorted(rng.uniform(start, start + span) for _ in range(deployments))
    for i, finished in enumerate(times):
        key = f"{app.name}-d{i:06d}"
        production = rng.random() < 0.85
        success = rng.random() < 0.97
        roll = rng.random()
        deployment = Deployment(
            **_of(app, key),
            environment="production" if production else "staging",
            finished_at=finished,
            started_at=finished - rng.uniform(2 * MINUTE, 20 * MINUTE),
            status="success" if success else "failure",
            version=f"1.{i}.0",
            commit=_sha(key),
            change_type="hotfix" if roll < 0.04 else "rollback" if roll < 0.05 else "normal",
        )
        events.append(deployment)
        if production and success:
            events.extend(_changes(deployment, rng))
            if rng.random() < 0.05:
                events.append(_incident(deployment, rng))
            if findings and rng.random() < 0.05:
                events.append(_defect(deployment, rng))
            if findings and rng.random() < 0.05:
                events.append(_finding(deployment, rng))
    return events


def outcomes(events: Iterable[Event]) -> list[DeploymentOutcome]:
    """The derived outcomes of ONE app's events, as the pipeline's linking writes them."""
    events = list(events)
    deployments = [e for e in events if isinstance(e, Deployment)]
    incidents = [e for e in events if isinstance(e, Incident)]
    return assess(deployments, incidents, KpiSettings(), LinkSettings())


def fresh_poll(apps: Sequence[App], at: float, tag: str) -> list[Event]:
    """20 new events per app from ``at`` on (8 production deployments an hour apart, the 11
    changes they shipped and one incident), keyed by ``tag`` so every call adds new events."""
    events: list[Event] = []
    for app in apps:
        deployments = [
            Deployment(
                **_of(app, f"{app.name}-{tag}-d{j}"),
                environment="production",
                finished_at=at + j * HOUR,
                version=f"2.{tag}.{j}",
                commit=_sha(f"{app.name}-{tag}-d{j}"),
            )
            for j in range(8)
        ]
        events.extend(deployments)
        for c in range(11):
            deployment = deployments[c % 8]
            events.append(
                Change(
                    **_of(app, f"{app.name}-{tag}-c{c}"),
                    first_commit_at=deployment.finished_at - (c + 1) * 5 * HOUR,
                    merged_at=deployment.finished_at - HOUR,
                    deployed_environment="production",
                    deployed_at=deployment.finished_at,
                    deployment_key=deployment.key,
                )
            )
        started = deployments[3].finished_at + 10 * MINUTE
        events.append(
            Incident(
                **_of(app, f"{app.name}-{tag}-i"),
                severity="high",
                started_at=started,
                detected_at=started,
                resolved_at=started + HOUR,
            )
        )
    return events


def record_histories(
    pipeline: Pipeline,
    apps: Sequence[App],
    rng: random.Random,
    *,
    per_app: int,
    per_poll: int,
    span: float,
) -> int:
    """Record ``per_app`` deployments of history (over ``span`` seconds) of each of ``apps``,
    ``per_poll`` apps per poll, as a source would; return the events recorded."""
    recorded = 0
    for first in range(0, len(apps), per_poll):
        events = [
            event
            for app in apps[first : first + per_poll]
            for event in history(app, per_app, rng, span=span)
        ]
        pipeline.record(SOURCE, Poll(events=events, cursor=None))
        recorded += len(events)
    return recorded
