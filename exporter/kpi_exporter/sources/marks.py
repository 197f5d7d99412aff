"""Reading a list sorted by update time, newest first, since the last mark.

The mark of a list is the newest update time read and the ids of the items updated at that
very instant (two items may share it, and a page may end between them). An item is new when
it was updated after the mark, or at the mark's instant but is not among its ids; a page that
reaches an item updated before the mark ends the reading, since the pages after it were read
before. GitLab's lists and the alerts of Opsgenie and Jira Service Management operations are
read this way.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

Item = TypeVar("Item")


@dataclass(slots=True)
class Mark:
    """How far a list was read: the newest update time and the ids updated at that instant."""

    updated: float
    ids: list[Any]


def unread(
    page: Iterable[Item],
    mark: Mark | None,
    updated: Callable[[Item], float],
    key: Callable[[Item], Hashable],
) -> tuple[list[Item], bool]:
    """The items of one page not read before, and whether the page reached the items read
    before (then no later page needs reading)."""
    new: list[Item] = []
    reached_old = False
    for item in page:
        at = updated(item)
        if mark is not None and (
            at < mark.updated or (at == mark.updated and key(item) in mark.ids)
        ):
            reached_old = reached_old or at < mark.updated
            continue
        new.append(item)
    return new, reached_old


def moved(
    mark: Mark | None,
    new: list[Item],
    updated: Callable[[Item], float],
    key: Callable[[Item], Any],
) -> Mark | None:
    """The mark after reading ``new``: its newest update time with the ids at that instant
    (with the old mark's too when the instant is the same); the old mark when nothing is new."""
    if not new:
        return mark
    newest = max(updated(item) for item in new)
    ids = {key(item) for item in new if updated(item) == newest}
    if mark is not None and mark.updated == newest:
        ids |= set(mark.ids)
    return Mark(newest, sorted(ids))
