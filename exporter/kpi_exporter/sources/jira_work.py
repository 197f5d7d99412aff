"""Jira work items: what the Jira source's ``work_jql`` issues become (see :mod:`.jira`).

- Investment category: a label listed in ``category_labels`` wins, else the issue type's
  name in ``categories`` (case-insensitive; the defaults below), else ``unmapped``.
- Status history: the status the issue was created in (the ``from`` of its first status
  change, or its status now when it never moved), then every status change of its changelog
  in time order. A status is named as the status list names it now (a renamed status keeps one
  series), and its stage is the one ``stages`` gives its name, else its status category's:
  To Do (``new``) is waiting, In Progress (``indeterminate``) active, ``done`` done. A status
  no longer in the status list and not in ``stages`` counts as waiting.
- Who made a change is never read: a transition by an automation or bot account counts like
  any other, and no person reaches the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from ..config_base import Strict
from ..model import ACTIVE, DONE, UNMAPPED, WAITING
from .times import api_time

CATEGORY = re.compile(r"^[a-z][a-z0-9_]*$")
Stage = Literal["active", "waiting", "done"]

DEFAULT_CATEGORIES: dict[str, str] = {
    "Story": "new_capability",
    "New Feature": "new_capability",
    "Feature": "new_capability",
    "Epic": "new_capability",
    "Bug": "defect",
    "Defect": "defect",
    "Technical Debt": "tech_debt",
    "Tech Debt": "tech_debt",
    "Task": "maintenance",
    "Sub-task": "maintenance",
    "Subtask": "maintenance",
    "Chore": "maintenance",
}
STAGE_OF_CATEGORY = {"new": WAITING, "indeterminate": ACTIVE, "done": DONE}

StatusList = Mapping[str, tuple[str, str]]
"""Status id -> (name, status category key), from the status list."""


def categories_checked(mapping: dict[str, str]) -> dict[str, str]:
    """``mapping`` (a name -> an investment category), when every category can be a label
    value; else a ValueError naming the first that cannot."""
    for name, category in mapping.items():
        if not CATEGORY.match(category):
            raise ValueError(
                f"{name}: {category!r} is not a category: lowercase letters, digits and _"
                " (new_capability, tech_debt)"
            )
    return mapping


class JiraWork(Strict):
    """How the issues of ``work_jql`` become work items."""

    categories: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORIES),
        description="Issue type name -> investment category (new_capability, defect,"
        " tech_debt, maintenance or your own); replaces the defaults when set. Types not"
        " listed count as unmapped.",
    )
    category_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Issue label -> category, over the type (tech-debt: tech_debt).",
    )
    stages: dict[str, Stage] = Field(
        default_factory=dict,
        description="Status name -> active, waiting (a queue) or done, over the status"
        " category's default (To Do: waiting, In Progress: active, Done: done). List your"
        " queues: {In Review: waiting, Ready for QA: waiting, Blocked: waiting}.",
    )

    @field_validator("categories", "category_labels")
    @classmethod
    def _label_values(cls, mapping: dict[str, str]) -> dict[str, str]:
        return categories_checked(mapping)

    def category(self, issue_type: str, labels: Iterable[str]) -> str:
        by_label = {label.lower(): category for label, category in self.category_labels.items()}
        for label in labels:
            if label.lower() in by_label:
                return by_label[label.lower()]
        by_type = {name.lower(): category for name, category in self.categories.items()}
        return by_type.get(issue_type.lower(), UNMAPPED)

    def stage(self, status_id: str, name: str, statuses: StatusList) -> str:
        configured = {status.lower(): stage for status, stage in self.stages.items()}
        if name.lower() in configured:
            return configured[name.lower()]
        category = statuses.get(status_id, ("", ""))[1]
        return STAGE_OF_CATEGORY.get(category, WAITING)

    def history(
        self,
        created: float,
        current: Mapping[str, Any],
        histories: Iterable[Mapping[str, Any]],
        statuses: StatusList,
    ) -> tuple[tuple[float, str, str], ...]:
        """(time, status, stage) of every status the issue was in, from its creation; a
        ValueError for a malformed changelog."""
        changes: list[tuple[float, str, str, str, str]] = []
        for history in histories:
            if not isinstance(history, Mapping) or not isinstance(history.get("items"), list):
                raise ValueError("a changelog history without a list of items")
            at = api_time(history.get("created"), "Jira")
            for item in history["items"]:
                if not isinstance(item, Mapping):
                    raise ValueError("a changelog item that is not an object")
                if at is not None and item.get("field") == "status":
                    changes.append(
                        (
                            at,
                            str(item.get("from") or ""),
                            str(item.get("fromString") or ""),
                            str(item.get("to") or ""),
                            str(item.get("toString") or ""),
                        )
                    )
        changes.sort(key=lambda change: change[0])  # stable: same-time changes keep their order
        if changes:
            first = (changes[0][1], changes[0][2])
        else:
            first = (str(current.get("id") or ""), str(current.get("name") or ""))
        entered = [(created, *first)] + [(at, to, name) for at, _, _, to, name in changes]
        result = []
        for at, status_id, name in entered:
            named = statuses.get(status_id, (name or status_id, ""))[0]
            result.append((at, named, self.stage(status_id, named, statuses)))
        return tuple(result)
