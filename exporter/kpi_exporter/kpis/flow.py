"""Flow KPIs: where a change's time goes (coding, pickup, review, deploy), its size, merged
and unreviewed changes, and work in progress (open changes and their age)."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Change
from .observation import Dated, Observation, Since
from .settings import KpiSettings

WINDOW_OF_STAGE = {
    "kpi_change_coding_seconds": "kpi_window_change_coding_seconds",
    "kpi_change_pickup_seconds": "kpi_window_change_pickup_seconds",
    "kpi_change_review_seconds": "kpi_window_change_review_seconds",
}


def observe_flow(change: Change, settings: KpiSettings) -> Iterator[Observation | Since | Dated]:
    """The flow contributions of one change.

    Stages are observed once the change is merged, and only when both of their ends are
    known: the stages of a change land together and, when every time is known, add up to its
    lead time. A merge is final, so no observation is taken back later (a pickup observed
    while the change is open would vanish if the change were closed unmerged). A stage that
    would be negative (rebased commits, clocks apart) counts as 0. In the windows, merged
    changes, their size and their coding, pickup and review stages count by the merge time;
    the deploy stage by the deployment's finish time.
    """
    labels = (change.app, change.team)
    is_open = change.state == "open"
    # Always observed (0 or 1), so that a team with no open change shows 0, not nothing.
    yield Observation("kpi_changes_open", labels, 1 if is_open else 0)
    opened_at = change.opened_at if change.opened_at is not None else change.first_commit_at
    yield Since("kpi_changes_open_by_age", labels, opened_at if is_open else None)
    if change.state != "merged":
        return
    merged_at = change.merged_at if change.merged_at is not None else change.time
    yield Observation("kpi_changes_merged_total", labels, 1)
    yield Dated("kpi_window_changes_merged", labels, merged_at)
    if not change.reviewed:
        yield Observation("kpi_changes_merged_unreviewed_total", labels, 1)
        yield Dated("kpi_window_changes_merged_unreviewed", labels, merged_at)
    if change.size_lines is not None:
        yield Observation("kpi_change_size_lines", labels, change.size_lines)
        yield Dated("kpi_window_change_size_lines", labels, merged_at, change.size_lines)
    stages = (
        ("kpi_change_coding_seconds", change.first_commit_at, change.opened_at),
        ("kpi_change_pickup_seconds", change.opened_at, change.first_review_at),
        ("kpi_change_review_seconds", change.first_review_at, change.merged_at),
    )
    for family, start, end in stages:
        if start is not None and end is not None:
            stage = max(0.0, end - start)
            yield Observation(family, labels, stage)
            yield Dated(WINDOW_OF_STAGE[family], labels, merged_at, stage)
    if (
        change.merged_at is not None
        and change.deployed_at is not None
        and settings.is_production(change.deployed_environment)
    ):
        deploy = max(0.0, change.deployed_at - change.merged_at)
        yield Observation(
            "kpi_change_deploy_seconds", (*labels, change.deployed_environment), deploy
        )
        yield Dated("kpi_window_change_deploy_seconds", labels, change.deployed_at, deploy)
