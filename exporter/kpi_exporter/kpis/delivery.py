"""Delivery KPIs: deployments, rework, failed deployments, change lead time."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Change, Deployment, DeploymentOutcome
from .observation import Observation
from .settings import KpiSettings


def observe_deployment(deployment: Deployment, settings: KpiSettings) -> Iterator[Observation]:
    """A successful production deployment counts once."""
    if deployment.status != "success" or not settings.is_production(deployment.environment):
        return
    labels = (deployment.app, deployment.team, deployment.environment)
    yield Observation("kpi_deployments_total", labels, 1)


def observe_change(change: Change, settings: KpiSettings) -> Iterator[Observation]:
    """Lead time of a change that reached production: first commit -> deployment finished."""
    if change.deployed_at is None or not settings.is_production(change.deployed_environment):
        return
    labels = (change.app, change.team, change.deployed_environment)
    lead_time = max(0.0, change.deployed_at - change.first_commit_at)
    yield Observation("kpi_change_lead_time_seconds", labels, lead_time)


# The reasons (see linking.assess) that say the release itself had to be undone or patched.
RELEASE_FAILURES = frozenset({"rolled back", "hotfix"})


def observe_outcome(outcome: DeploymentOutcome, settings: KpiSettings) -> Iterator[Observation]:
    """Rework (hotfix, rollback) and failed deployments count once; a failed deployment's
    recovery time is observed once it recovered."""
    labels = (outcome.app, outcome.team, outcome.environment)
    if outcome.rework:
        yield Observation("kpi_deployments_rework_total", labels, 1)
    if not outcome.failed:
        return
    yield Observation("kpi_deployments_failed_total", labels, 1)
    if RELEASE_FAILURES & set(outcome.reasons):
        yield Observation("kpi_deployments_release_failed_total", labels, 1)
    if outcome.recovered_at is not None:
        recovery = max(0.0, outcome.recovered_at - outcome.deployed_at)
        yield Observation("kpi_failed_deployment_recovery_seconds", labels, recovery)
