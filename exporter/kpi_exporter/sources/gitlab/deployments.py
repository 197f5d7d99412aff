"""GitLab deployments, and the merge requests each one ships first.

Helpers of :mod:`.source` (whose docstring states the definitions). :func:`ship` is where a
poll's deployments and merged MRs meet: it reads the default branch's history only when a
merged MR and a deployment after its merge are new, and returns what the cursor keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ...kpis.settings import KpiSettings
from ...model import Change
from ..delivery import first_shipped, redeploys, stronger
from ..http import HttpClient, HttpStatusError
from ..times import iso
from .changes import MergeRequest, every, required_time, timestamp

DAY = 86400.0
RECENT = 14 * DAY  # production deployments the cursor remembers


@dataclass(frozen=True, slots=True)
class Shipped:
    """A successful production deployment, as the cursor remembers it."""

    id: int
    environment: str
    finished_at: float
    started_at: float | None
    sha: str
    version: str
    change_type: str = "normal"


def commit_graph(http: HttpClient, project_url: str, since: float) -> dict[str, tuple[str, ...]]:
    """Parents of every default-branch commit committed since ``since`` (no ``ref_name``:
    GitLab then lists the default branch, so no request is spent to learn its name)."""
    graph: dict[str, tuple[str, ...]] = {}
    try:
        commits = every(http, f"{project_url}/repository/commits", {"since": iso(since)})
    except HttpStatusError as error:
        if error.status != 404:
            raise
        return graph  # no repository (or the feature is off): no MR can be matched
    for commit in commits:
        graph[str(commit["id"])] = tuple(str(p) for p in commit.get("parent_ids") or ())
    return graph


def first_deployments(
    graph: Mapping[str, tuple[str, ...]], deployments: Iterable[Shipped]
) -> dict[str, Shipped]:
    """For every commit of ``graph``, the first deployment (by finish time, then id) whose
    commit has it as an ancestor (or is it)."""
    first: dict[str, Shipped] = {}
    for deployment in sorted(deployments, key=lambda d: (d.finished_at, d.id)):
        for sha in first_shipped(deployment.sha, graph, first.__contains__):
            first[sha] = deployment
    return first


def rollbacks(deployments: Iterable[Shipped]) -> set[int]:
    """The deployments that are rollbacks by redeployment (:func:`.delivery.redeploys`)."""
    found: set[int] = set()
    history: dict[str, list[str]] = {}
    for deployment in sorted(deployments, key=lambda d: (d.finished_at, d.id)):
        before = history.setdefault(deployment.environment, [])
        if redeploys(before, deployment.sha):
            found.add(deployment.id)
        before.append(deployment.sha)
    return found


def shipped(item: Mapping[str, Any], settings: KpiSettings) -> Shipped | None:
    """A ``GET /projects/:id/deployments`` item, if a successful production deployment."""
    environment = str((item.get("environment") or {}).get("name", ""))
    if item.get("status") != "success" or not settings.is_production(environment):
        return None
    # GitLab's Deployment entity has no finished_at: the deploying job's, else (a deployment
    # created through the API, with no job) the deployment's last update, its status change.
    job = item.get("deployable") or {}
    finished = timestamp(job.get("finished_at")) or required_time(item, "updated_at")
    return Shipped(
        id=int(item["id"]),
        environment=environment,
        finished_at=finished,
        started_at=timestamp(job.get("started_at")) or timestamp(item.get("created_at")),
        sha=str(item.get("sha") or ""),
        version=str(job.get("ref") or item.get("ref") or "") if job.get("tag") else "",
    )


@dataclass(slots=True)
class Shipment:
    """What one poll of a project learnt: the changes to emit (deployment set when found),
    the deployments to emit (new ones, and remembered ones whose change type changed), and
    what the cursor keeps (recent deployments, merged MRs still waiting for one)."""

    changes: list[Change]
    deployments: list[Shipped]
    recent: list[Shipped]
    waiting: list[MergeRequest]


def ship(
    http: HttpClient,
    project_url: str,
    *,
    recent: list[Shipped],
    waiting: list[MergeRequest],
    new: list[Shipped],
    merge_requests: list[MergeRequest],
    floor: float,
    now: float,
    horizon: float,
    fresh: bool,
    key: Callable[[Shipped], str],
) -> Shipment:
    """Match merged MRs to the first production deployment containing them. ``key`` names a
    deployment as its event does."""
    window_start = now - RECENT
    before = {d.id: d for d in recent}
    new_ids = {d.id for d in new}
    ordered = sorted({**before, **{d.id: d for d in new}}.values(), key=_order)

    pending = {mr.iid: mr for mr in waiting}
    changes: list[Change] = []
    # Candidates, True when read now: merged MRs read now (after the first sync, one merged
    # before the window already found its deployment, which the store keeps), and the waiting.
    candidates: dict[int, tuple[MergeRequest, bool]] = {}
    for mr in merge_requests:
        merged_at = mr.change.merged_at
        if (
            mr.commit
            and merged_at is not None
            and (fresh or mr.iid in pending or merged_at >= window_start)
        ):
            candidates[mr.iid] = (mr, True)
        else:
            pending.pop(mr.iid, None)
            changes.append(mr.change)
    for iid, mr in pending.items():
        candidates.setdefault(iid, (mr, False))

    # Worth reading the history for: an MR read now with any deployment after its merge, or a
    # waiting one with a NEW deployment after its merge (the others did not ship it).
    last_any = max((d.finished_at for d in ordered), default=float("-inf"))
    last_new = max((d.finished_at for d in new), default=float("-inf"))
    to_match = {
        iid: mr
        for iid, (mr, read_now) in candidates.items()
        if (last_any if read_now else last_new) >= (mr.change.merged_at or 0.0)
    }
    graph: dict[str, tuple[str, ...]] = {}
    if to_match:
        since = max(floor, min(mr.since for mr in to_match.values()))
        graph = commit_graph(http, project_url, since)
    first = first_deployments(graph, ordered)

    # A deployment read again keeps what its MRs made of it.
    types = {d.id: before.get(d.id, d).change_type for d in ordered}
    for rollback in rollbacks(ordered) & new_ids:
        types[rollback] = "rollback"
    still_waiting: list[MergeRequest] = []
    for mr, read_now in candidates.values():
        deployment = first.get(mr.commit)
        if deployment is not None:
            types[deployment.id] = stronger(types[deployment.id], mr.change_type)
            changes.append(
                replace(
                    mr.change,
                    deployed_environment=deployment.environment,
                    deployed_at=deployment.finished_at,
                    deployment_key=key(deployment),
                )
            )
            continue
        if read_now:
            changes.append(mr.change)
        off_branch = mr.iid in to_match and mr.commit not in graph
        if not off_branch and (mr.change.merged_at or 0.0) >= now - horizon:
            still_waiting.append(mr)

    emit: list[Shipped] = []
    latest: dict[str, Shipped] = {}
    kept: list[Shipped] = []
    for deployment in ordered:
        deployment = replace(deployment, change_type=types[deployment.id])
        if deployment.id in new_ids or before[deployment.id] != deployment:
            emit.append(deployment)
        latest[deployment.environment] = deployment
        if deployment.finished_at >= window_start:
            kept.append(deployment)
    kept.extend(d for d in latest.values() if d not in kept)  # for the rollback rule
    return Shipment(
        changes=changes,
        deployments=emit,
        recent=sorted(kept, key=_order),
        waiting=sorted(still_waiting, key=lambda mr: mr.iid),
    )


def _order(deployment: Shipped) -> tuple[float, int]:
    return (deployment.finished_at, deployment.id)
