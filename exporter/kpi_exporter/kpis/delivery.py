"""Delivery KPIs: deployments, rework, failed deployments, change lead time."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Change, Deployment, DeploymentOutcome
from .observation import Dated, Observation
from .settings import KpiSettings


def observe_deployment(
    deployment: Deployment, settings: KpiSettings
) -> Iterator[Observation | Dated]:
    """A successful production deployment counts once, in the windows by its finish time."""
    if deployment.status != "success" or not settings.is_production(deployment.environment):
        return
    labels = (deployment.app, deployment.team, deployment.environment)
    yield Observation("kpi_deployments_total", labels, 1)
    owner = (deployment.app, deployment.team)
    yield Dated("kpi_window_deployments", owner, deployment.finished_at)
    yield Dated("kpi_window_deployed_dates", owner, deployment.finished_at)


def observe_change(change: Change, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """Lead time of a change that reached production: first commit -> deployment finished,
    in the windows by the deployment's finish time."""
    if change.deployed_at is None or not settings.is_production(change.deployed_environment):
        return
    labels = (change.app, change.team, change.deployed_environment)
    lead_time = max(0.0, change.deployed_at - change.first_commit_at)
    yield Observation("kpi_change_lead_time_seconds", labels, lead_time)
    owner = (change.app, change.team)
    yield Dated("kpi_window_change_lead_time_seconds", owner, change.deployed_at, lead_time)


# The reasons (see linking.assess) that say the release itself had to be undone or patched.
RELEASE_FAILURES = frozenset({"rolled back", "hotfix"})


def observe_outcome(
    outcome: DeploymentOutcome, settings: KpiSettings
) -> Iterator[Observation | Dated]:
    """Rework (hotfix, rollback) and failed deployments count once, in the windows by the
    deployment's finish time; a failed deployment's recovery time is observed once it
    recovered, in the windows by the recovery time."""
    labels = (outcome.app, outcome.team, outcome.environment)
    owner = (outcome.app, outcome.team)
    if outcome.rework:
        yield Observation("kpi_deployments_rework_total", labels, 1)
        yield Dated("kpi_window_deployments_rework", owner, outcome.deployed_at)
    if not outcome.failed:
        return
    yield Observation("kpi_deployments_failed_total", labels, 1)
    yield Dated("kpi_window_deployments_failed", owner, outcome.deployed_at)
    if RELEASE_FAILURES & set(outcome.reasons):
        yield Observation("kpi_deployments_release_failed_total", labels, 1)
        yield Dated("kpi_window_deployments_release_failed", owner, outcome.deployed_at)
    if outcome.recovered_at is not None:
        recovery = max(0.0, outcome.recovered_at - outcome.deployed_at)
        yield Observation("kpi_failed_deployment_recovery_seconds", labels, recovery)
        yield Dated(
            "kpi_window_failed_deployment_recovery_seconds", owner, outcome.recovered_at, recovery
        )
