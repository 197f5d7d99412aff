"""The rule that turns an issue's label, close and reopen events into its status history
(``sources/work_items.py``), shared by GitHub Issues and GitLab issues: one table."""

from __future__ import annotations

import pytest

from kpi_exporter.sources.work_items import IssueEvent, label_history

STAGES = {"open": "waiting", "doing": "active", "review": "waiting", "Board: Doing": "active"}


def history(*events: IssueEvent) -> list[tuple[float, str, str]]:
    """The history of an issue created at 0 with ``events``; ``doing`` and ``review`` are
    its status labels."""
    return list(
        label_history(
            0.0,
            events,
            lambda label: label if label in ("doing", "review") else None,
            lambda status: STAGES.get(status, "waiting"),
            open_status="open",
            closed_status="closed",
        )
    )


def on(at: float, name: str) -> IssueEvent:
    return IssueEvent(at, "labeled", name)


def off(at: float, name: str) -> IssueEvent:
    return IssueEvent(at, "unlabeled", name)


OPEN = (0.0, "open", "waiting")
TABLE = {
    "never touched: open since its creation": ([], [OPEN]),
    "a label that is no status changes nothing": ([on(1, "bug"), off(2, "bug")], [OPEN]),
    "a status label while it is on, then open again": (
        [on(1, "doing"), off(5, "doing")],
        [OPEN, (1, "doing", "active"), (5, "open", "waiting")],
    ),
    "the same label added twice: one entry": (
        [on(1, "doing"), on(2, "doing")],
        [OPEN, (1, "doing", "active")],
    ),
    "a scoped swap at one instant (add, then remove the old one)": (
        [on(1, "doing"), on(3, "review"), off(3, "doing")],
        [OPEN, (1, "doing", "active"), (3, "review", "waiting")],
    ),
    "taking off the newest goes back to the one before, still on": (
        [on(1, "doing"), on(2, "review"), off(4, "review")],
        [OPEN, (1, "doing", "active"), (2, "review", "waiting"), (4, "doing", "active")],
    ),
    "closed whatever its labels; reopened goes back to them": (
        [on(1, "doing"), IssueEvent(3, "closed"), IssueEvent(5, "reopened")],
        [OPEN, (1, "doing", "active"), (3, "closed", "done"), (5, "doing", "active")],
    ),
    "closed twice (a second close event) is one entry": (
        [IssueEvent(2, "closed"), IssueEvent(3, "closed")],
        [OPEN, (2, "closed", "done")],
    ),
    "a label changed while closed shows once reopened": (
        [IssueEvent(2, "closed"), on(3, "review"), IssueEvent(4, "reopened")],
        [OPEN, (2, "closed", "done"), (4, "review", "waiting")],
    ),
    "a status set directly counts as the newest label": (
        [on(1, "review"), IssueEvent(2, "status", "Board: Doing"), off(3, "review")],
        [OPEN, (1, "review", "waiting"), (2, "Board: Doing", "active")],
    ),
    "events before the creation count from the creation; order by time": (
        [on(4, "review"), on(-5, "doing")],
        [OPEN, (0, "doing", "active"), (4, "review", "waiting")],
    ),
}


@pytest.mark.parametrize(("events", "expected"), TABLE.values(), ids=TABLE.keys())
def test_label_history(events: list[IssueEvent], expected: list[tuple[float, str, str]]) -> None:
    assert history(*events) == expected
