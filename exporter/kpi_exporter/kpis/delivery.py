"""Delivery KPIs: deployments, rework, failed deployments, change lead time."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Change, Deployment, DeploymentOutcome
from .families import (
    CHANGE_LEAD_TIME_SECONDS,
    DEPLOYMENTS,
    DEPLOYMENTS_BY_RELEASE_TYPE,
    DEPLOYMENTS_FAILED,
    DEPLOYMENTS_RELEASE_FAILED,
    DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE,
    DEPLOYMENTS_REWORK,
    FAILED_DEPLOYMENT_RECOVERY_SECONDS,
    WINDOW_CHANGE_LEAD_TIME_SECONDS,
    WINDOW_DEPLOYED_DATES,
    WINDOW_DEPLOYMENTS,
    WINDOW_DEPLOYMENTS_BY_RELEASE_TYPE,
    WINDOW_DEPLOYMENTS_FAILED,
    WINDOW_DEPLOYMENTS_RELEASE_FAILED,
    WINDOW_DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE,
    WINDOW_DEPLOYMENTS_REWORK,
    WINDOW_FAILED_DEPLOYMENT_RECOVERY_SECONDS,
)
from .observation import Dated, Observation
from .settings import KpiSettings


def observe_deployment(
    deployment: Deployment, settings: KpiSettings
) -> Iterator[Observation | Dated]:
    """A successful production deployment counts once, in the windows by its finish time."""
    if deployment.status != "success" or not settings.is_production(deployment.environment):
        return
    labels = (deployment.app, deployment.team, deployment.environment)
    yield DEPLOYMENTS.observe(labels, 1)
    owner = (deployment.app, deployment.team)
    yield WINDOW_DEPLOYMENTS.at(owner, deployment.finished_at)
    yield WINDOW_DEPLOYED_DATES.at(owner, deployment.finished_at)


def observe_change(change: Change, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """Lead time of a change that reached production: first commit -> deployment finished,
    in the windows by the deployment's finish time. A bot's change has none unless
    ``origins.bots_in_flow``."""
    if change.deployed_at is None or not settings.is_production(change.deployed_environment):
        return
    if not settings.origins.counts_in_flow(change.origin):
        return
    labels = (change.app, change.team, change.deployed_environment)
    lead_time = max(0.0, change.deployed_at - change.first_commit_at)
    yield CHANGE_LEAD_TIME_SECONDS.observe(labels, lead_time)
    owner = (change.app, change.team)
    yield WINDOW_CHANGE_LEAD_TIME_SECONDS.at(owner, change.deployed_at, lead_time)


# The reasons (see linking.assess) that say the release itself had to be undone or patched.
RELEASE_FAILURES = frozenset({"rolled back", "hotfix"})


def observe_outcome(
    outcome: DeploymentOutcome, settings: KpiSettings
) -> Iterator[Observation | Dated]:
    """Rework (hotfix, rollback) and failed deployments count once, in the windows by the
    deployment's finish time, and successful production deployments and failed releases
    by release type; a failed deployment's recovery time is observed once it
    recovered, in the windows by the recovery time."""
    labels = (outcome.app, outcome.team, outcome.environment)
    owner = (outcome.app, outcome.team)
    typed = (*owner, outcome.release_type)
    if outcome.release_type:  # a successful production deployment
        yield DEPLOYMENTS_BY_RELEASE_TYPE.observe((*labels, outcome.release_type), 1)
        yield WINDOW_DEPLOYMENTS_BY_RELEASE_TYPE.at(typed, outcome.deployed_at)
    if outcome.rework:
        yield DEPLOYMENTS_REWORK.observe(labels, 1)
        yield WINDOW_DEPLOYMENTS_REWORK.at(owner, outcome.deployed_at)
    if not outcome.failed:
        return
    yield DEPLOYMENTS_FAILED.observe(labels, 1)
    yield WINDOW_DEPLOYMENTS_FAILED.at(owner, outcome.deployed_at)
    if RELEASE_FAILURES & set(outcome.reasons):
        yield DEPLOYMENTS_RELEASE_FAILED.observe(labels, 1)
        yield WINDOW_DEPLOYMENTS_RELEASE_FAILED.at(owner, outcome.deployed_at)
        if outcome.release_type:
            yield DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE.observe(
                (*labels, outcome.release_type), 1
            )
            yield WINDOW_DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE.at(typed, outcome.deployed_at)
    if outcome.recovered_at is not None:
        recovery = max(0.0, outcome.recovered_at - outcome.deployed_at)
        yield FAILED_DEPLOYMENT_RECOVERY_SECONDS.observe(labels, recovery)
        yield WINDOW_FAILED_DEPLOYMENT_RECOVERY_SECONDS.at(owner, outcome.recovered_at, recovery)
