"""Where merged changes come from (human, ai_agent, bot), per app and team: merged changes,
those merged with no review by a person other than their author, their review time, and
those reverted since (:mod:`kpi_exporter.reverts`). Bots are counted here whatever the flow
metrics count (``origins.bots_in_flow``)."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Change, ChangeRevert
from .families import (
    CHANGES_MERGED_BY_ORIGIN,
    CHANGES_MERGED_UNREVIEWED_BY_ORIGIN,
    CHANGES_REVERTED,
    WINDOW_CHANGE_REVIEW_SECONDS_BY_ORIGIN,
    WINDOW_CHANGES_MERGED_BY_ORIGIN,
    WINDOW_CHANGES_MERGED_UNREVIEWED_BY_ORIGIN,
    WINDOW_CHANGES_REVERTED,
)
from .observation import Dated, Observation
from .settings import KpiSettings


def observe_origin(change: Change, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """A merged change counts once by its origin, in the windows by its merge time; its
    review time (first review to merge, 0 when reviewed after a rebase) in its origin's
    quantiles."""
    if change.state != "merged" or change.merged_at is None:
        return
    review = WINDOW_CHANGE_REVIEW_SECONDS_BY_ORIGIN.get(change.origin)
    if review is None:  # an origin written by a later version: counted nowhere
        return
    labels = (change.app, change.team, change.origin)
    yield CHANGES_MERGED_BY_ORIGIN.observe(labels, 1)
    yield WINDOW_CHANGES_MERGED_BY_ORIGIN.at(labels, change.merged_at)
    if not change.reviewed:
        yield CHANGES_MERGED_UNREVIEWED_BY_ORIGIN.observe(labels, 1)
        yield WINDOW_CHANGES_MERGED_UNREVIEWED_BY_ORIGIN.at(labels, change.merged_at)
    if change.first_review_at is not None:
        seconds = max(0.0, change.merged_at - change.first_review_at)
        yield review.at((change.app, change.team), change.merged_at, seconds)


def observe_revert(revert: ChangeRevert, settings: KpiSettings) -> Iterator[Observation | Dated]:
    """A reverted change counts once by its own origin, in the windows by its merge time."""
    if not revert.reverted_by or revert.origin not in WINDOW_CHANGE_REVIEW_SECONDS_BY_ORIGIN:
        return
    labels = (revert.app, revert.team, revert.origin)
    yield CHANGES_REVERTED.observe(labels, 1)
    yield WINDOW_CHANGES_REVERTED.at(labels, revert.merged_at)
