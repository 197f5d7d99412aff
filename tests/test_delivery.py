"""The delivery rules GitHub and GitLab share, one table each (sources/delivery.py), and the
"updated since the last mark" reading of GitLab's lists and Opsgenie's alerts (sources/marks.py)."""

from __future__ import annotations

from typing import Any

import pytest

from kpi_exporter.sources.delivery import (
    FlowLabels,
    first_shipped,
    merge_change_type,
    redeploys,
    stronger,
)
from kpi_exporter.sources.marks import Mark, moved, unread

FLOW = FlowLabels(revert=["Revert", "undo"], hotfix=["HotFix"])


@pytest.mark.parametrize(
    ("labels", "title", "expected"),
    [
        ((), "Add the basket", "normal"),
        (("feature",), "Add the basket", "normal"),
        (("revert",), "Add the basket", "rollback"),  # labels match case-insensitively
        (("UNDO",), "Add the basket", "rollback"),
        ((), 'Revert "Add the basket"', "rollback"),  # the Revert button's title
        ((), "revert the basket", "normal"),  # not the button's title
        (("hotfix",), "Fix the basket", "hotfix"),
        (("hotfix", "revert"), "Fix the basket", "rollback"),  # a revert wins
        (("hotfix",), 'Revert "Fix the basket"', "rollback"),
    ],
)
def test_the_change_type_of_a_merge(labels: tuple[str, ...], title: str, expected: str) -> None:
    assert merge_change_type(labels, title, FLOW) == expected


def test_the_default_labels_are_revert_and_hotfix() -> None:
    assert merge_change_type(["revert"], "", FlowLabels()) == "rollback"
    assert merge_change_type(["hotfix"], "", FlowLabels()) == "hotfix"


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("normal", "normal", "normal"),
        ("normal", "hotfix", "hotfix"),
        ("hotfix", "normal", "hotfix"),
        ("hotfix", "rollback", "rollback"),
        ("rollback", "normal", "rollback"),
    ],
)
def test_the_stronger_change_type_wins(first: str, second: str, expected: str) -> None:
    assert stronger(first, second) == expected


# a - b - c - m (merge of c and x) - d, and x branching from a; z is outside the graph.
GRAPH = {"a": (), "b": ("a",), "c": ("b",), "x": ("a",), "m": ("c", "x"), "d": ("m",)}


@pytest.mark.parametrize(
    ("tip", "shipped_before", "expected"),
    [
        ("a", set(), ["a"]),
        ("c", set(), ["c", "b", "a"]),
        ("c", {"a"}, ["c", "b"]),  # stops at what an earlier deployment shipped
        ("m", {"b"}, ["m", "x", "a", "c"]),  # both parents, each commit once
        ("d", {"m"}, ["d"]),
        ("d", {"d"}, []),  # deployed again: ships nothing new
        ("z", set(), []),  # a commit outside the history read
    ],
)
def test_the_commits_a_deployment_ships_first(
    tip: str, shipped_before: set[str], expected: list[str]
) -> None:
    assert first_shipped(tip, GRAPH, shipped_before.__contains__) == expected


@pytest.mark.parametrize(
    ("earlier", "commit", "expected"),
    [
        ([], "a", False),  # the first deployment
        (["a"], "b", False),  # forward
        (["a", "b"], "b", False),  # the same commit again: a re-run, not a rollback
        (["a", "b"], "a", True),  # back to an earlier commit
        (["a", "b", "a"], "b", True),
        (["a", "b"], "c", False),
    ],
)
def test_a_rollback_by_redeployment(earlier: list[str], commit: str, expected: bool) -> None:
    assert redeploys(earlier, commit) is expected


def _updated(item: dict[str, Any]) -> float:
    return float(item["updated"])


def _id(item: dict[str, Any]) -> int:
    return int(item["id"])


def _items(*pairs: tuple[int, float]) -> list[dict[str, Any]]:
    return [{"id": id_, "updated": at} for id_, at in pairs]


@pytest.mark.parametrize(
    ("page", "mark", "new_ids", "reached_old"),
    [
        (_items((1, 30), (2, 20)), None, [1, 2], False),  # first sync: everything is new
        (_items((3, 40), (1, 30), (2, 20)), Mark(30, [1]), [3], True),
        (_items((4, 30), (1, 30)), Mark(30, [1]), [4], False),  # same instant, other id
        (_items((1, 50)), Mark(30, [1]), [1], False),  # updated again since the mark
        (_items((2, 20)), Mark(30, [1]), [], True),
    ],
)
def test_what_a_page_holds_that_was_not_read_before(
    page: list[dict[str, Any]], mark: Mark | None, new_ids: list[int], reached_old: bool
) -> None:
    new, old = unread(page, mark, _updated, _id)
    assert [item["id"] for item in new] == new_ids
    assert old is reached_old


@pytest.mark.parametrize(
    ("mark", "new", "expected"),
    [
        (None, [], None),
        (Mark(30, [1]), [], Mark(30, [1])),  # nothing new: the mark stays
        (None, _items((2, 20), (3, 40), (4, 40)), Mark(40, [3, 4])),
        (Mark(40, [3]), _items((5, 40)), Mark(40, [3, 5])),  # same instant: ids add up
        (Mark(40, [3]), _items((5, 50)), Mark(50, [5])),
    ],
)
def test_the_mark_moves_to_the_newest_update(
    mark: Mark | None, new: list[dict[str, Any]], expected: Mark | None
) -> None:
    assert moved(mark, new, _updated, _id) == expected
