"""Flow KPIs: where a change's time goes (coding, pickup, review, deploy), its size, merged
and unreviewed changes, and work in progress (open changes and their age)."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Change
from .families import (
    CHANGE_CODING_SECONDS,
    CHANGE_DEPLOY_SECONDS,
    CHANGE_PICKUP_SECONDS,
    CHANGE_REVIEW_SECONDS,
    CHANGE_SIZE_LINES,
    CHANGES_MERGED,
    CHANGES_MERGED_UNREVIEWED,
    CHANGES_OPEN,
    CHANGES_OPEN_BY_AGE,
    WINDOW_CHANGE_CODING_SECONDS,
    WINDOW_CHANGE_DEPLOY_SECONDS,
    WINDOW_CHANGE_PICKUP_SECONDS,
    WINDOW_CHANGE_REVIEW_SECONDS,
    WINDOW_CHANGE_SIZE_LINES,
    WINDOW_CHANGES_MERGED,
    WINDOW_CHANGES_MERGED_UNREVIEWED,
)
from .observation import Dated, Observation, Since
from .settings import KpiSettings


def observe_flow(change: Change, settings: KpiSettings) -> Iterator[Observation | Since | Dated]:
    """The flow contributions of one change.

    Stages are observed once the change is merged, and only when both of their ends are
    known: the stages of a change land together and, when every time is known, add up to its
    lead time. A merge is final, so no observation is taken back later (a pickup observed
    while the change is open would vanish if the change were closed unmerged). A stage that
    would be negative (rebased commits, clocks apart) counts as 0. In the windows, merged
    changes, their size and their coding, pickup and review stages count by the merge time;
    the deploy stage by the deployment's finish time. A bot's merged change counts in none
    of these unless ``origins.bots_in_flow`` (open changes count whatever their origin).
    """
    labels = (change.app, change.team)
    is_open = change.state == "open"
    # Always observed (0 or 1), so that a team with no open change shows 0, not nothing.
    yield CHANGES_OPEN.observe(labels, 1 if is_open else 0)
    opened_at = change.opened_at if change.opened_at is not None else change.first_commit_at
    yield CHANGES_OPEN_BY_AGE.since(labels, opened_at if is_open else None)
    if change.state != "merged" or not settings.origins.counts_in_flow(change.origin):
        return  # bot changes are counted apart (kpis/origin.py), unless origins.bots_in_flow
    merged_at = change.merged_at if change.merged_at is not None else change.time
    yield CHANGES_MERGED.observe(labels, 1)
    yield WINDOW_CHANGES_MERGED.at(labels, merged_at)
    if not change.reviewed:
        yield CHANGES_MERGED_UNREVIEWED.observe(labels, 1)
        yield WINDOW_CHANGES_MERGED_UNREVIEWED.at(labels, merged_at)
    if change.size_lines is not None:
        yield CHANGE_SIZE_LINES.observe(labels, change.size_lines)
        yield WINDOW_CHANGE_SIZE_LINES.at(labels, merged_at, change.size_lines)
    stages = (
        (
            CHANGE_CODING_SECONDS,
            WINDOW_CHANGE_CODING_SECONDS,
            change.first_commit_at,
            change.opened_at,
        ),
        (
            CHANGE_PICKUP_SECONDS,
            WINDOW_CHANGE_PICKUP_SECONDS,
            change.opened_at,
            change.first_review_at,
        ),
        (
            CHANGE_REVIEW_SECONDS,
            WINDOW_CHANGE_REVIEW_SECONDS,
            change.first_review_at,
            change.merged_at,
        ),
    )
    for family, window, start, end in stages:
        if start is not None and end is not None:
            stage = max(0.0, end - start)
            yield family.observe(labels, stage)
            yield window.at(labels, merged_at, stage)
    if (
        change.merged_at is not None
        and change.deployed_at is not None
        and settings.is_production(change.deployed_environment)
    ):
        deploy = max(0.0, change.deployed_at - change.merged_at)
        yield CHANGE_DEPLOY_SECONDS.observe((*labels, change.deployed_environment), deploy)
        yield WINDOW_CHANGE_DEPLOY_SECONDS.at(labels, change.deployed_at, deploy)
