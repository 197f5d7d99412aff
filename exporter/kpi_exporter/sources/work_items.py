"""Work items of the trackers whose status lives in labels and an open/closed state (GitHub
Issues, GitLab issues): the mapping settings they share (Linear's too), the one rule that
turns an issue's label and state events into a status history, the owner named by a label,
the reading of each repository (or project) with the ones gone as problems, and the reading
of a GraphQL connection page by page (GitHub's and Linear's answers).

The rule (:func:`label_history`): an issue is in ``open_status`` from its creation; adding a
status label puts it in that status; removing it puts it back in the status label added
before it that is still on (else ``open_status``); a status set directly (a GitHub Projects
status) counts as the latest status label; closing puts it in ``closed_status`` whatever its
labels, and reopening puts it back in the status its labels say. Only changes of status make
an entry, so a label added twice, or a closed issue closed again, adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from ..config_base import Strict
from ..model import DONE, UNMAPPED, WAITING, WorkItem
from ..ownership import Owner, Ownership
from . import SourceError
from .cursor import fingerprint
from .jira_work import Stage, categories_checked

Action = Literal["labeled", "unlabeled", "closed", "reopened", "status"]


@dataclass(frozen=True, slots=True)
class IssueEvent:
    """One thing that happened to an issue: a label added or removed (``name``: the label),
    closed, reopened, or a status set directly (``name``: the status)."""

    at: float
    action: Action
    name: str = ""


class TrackerWork(Strict):
    """How a tracker's issues become work items: investment category by label (or type) and
    stage by status. Each tracker's model gives its own defaults."""

    categories: dict[str, str] = Field(
        default_factory=dict,
        description="Label (or issue type) -> investment category (new_capability, defect,"
        " tech_debt, maintenance or your own), case-insensitive; replaces the defaults when"
        " set. An issue none names counts as unmapped.",
    )
    stages: dict[str, Stage] = Field(
        default_factory=dict,
        description="Status -> active, waiting (a queue) or done, case-insensitive; replaces"
        " the defaults when set.",
    )

    @field_validator("categories")
    @classmethod
    def _label_values(cls, mapping: dict[str, str]) -> dict[str, str]:
        return categories_checked(mapping)

    def category(self, names: Iterable[str]) -> str:
        """The category of the first of ``names`` (labels, then the type) the mapping
        names; ``unmapped`` when none."""
        by_name = {name.lower(): category for name, category in self.categories.items()}
        for name in names:
            if name.lower() in by_name:
                return by_name[name.lower()]
        return UNMAPPED

    def stage(self, status: str, default: str = WAITING) -> str:
        """The stage of a status: configured, else ``default``."""
        configured = {name.lower(): stage for name, stage in self.stages.items()}
        return configured.get(status.lower(), default)


def defaults_field(defaults: Mapping[str, str], description: str) -> Any:
    """A tracker's mapping setting (``categories``, ``stages``) whose default is a copy of
    ``defaults``."""
    return Field(default_factory=lambda: dict(defaults), description=description)


def work_fingerprint(api: str, horizon: float, work: TrackerWork, **more: Any) -> str:
    """The fingerprint of a tracker's cursor: its API, horizon, work mapping and ``more``
    settings that change what its items are (a cursor of other settings is not reused)."""
    return fingerprint({"api": api, "horizon": horizon, **more, "work": work.model_dump()})


def label_history(
    created: float,
    events: Iterable[IssueEvent],
    status_of_label: Callable[[str], str | None],
    stage_of: Callable[[str], str],
    *,
    open_status: str,
    closed_status: str,
) -> tuple[tuple[float, str, str], ...]:
    """(time, status, stage) of every status an issue was in, from its creation: the rule of
    the module docstring. ``status_of_label`` names the status a label stands for (None: not
    a status label); ``stage_of`` gives a status's stage (``closed_status`` is always done)."""
    # The statuses set by labels (direct: False) or directly (True) and still on, oldest first.
    on: list[tuple[bool, str]] = []
    closed = False
    current = open_status
    result = [(created, open_status, stage_of(open_status))]
    for event in sorted(events, key=lambda event: event.at):  # stable: same-time order kept
        status = status_of_label(event.name) if event.action in ("labeled", "unlabeled") else None
        if event.action == "labeled" and status is not None:
            on = [entry for entry in on if entry != (False, status)] + [(False, status)]
        elif event.action == "unlabeled" and status is not None:
            on = [entry for entry in on if entry != (False, status)]
        elif event.action == "status":
            on = [entry for entry in on if not entry[0]] + [(True, event.name)]
        elif event.action in ("closed", "reopened"):
            closed = event.action == "closed"
        now = closed_status if closed else (on[-1][1] if on else open_status)
        if now != current:
            current = now
            stage = DONE if closed else stage_of(now)
            result.append((max(created, event.at), now, stage))
    return tuple(result)


def connection(value: Any, what: str, system: str) -> dict[str, Any]:
    """A GraphQL connection of an answer (``nodes`` and ``pageInfo``); a failed poll naming
    ``what`` when it is not one."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("nodes"), list)
        or not isinstance(value.get("pageInfo"), dict)
    ):
        raise SourceError(f"{system} GraphQL: {what}: expected a connection with nodes")
    return value


def connection_nodes(
    first: Any, following: Callable[[str], Any], what: str, system: str
) -> Iterator[dict[str, Any]]:
    """The nodes of a GraphQL connection, page by page: those of ``first`` (a connection),
    then of ``following(endCursor)`` while ``pageInfo`` says there is a next page."""
    page = first
    while True:
        found = connection(page, what, system)
        yield from found["nodes"]
        info = found["pageInfo"]
        if not info.get("hasNextPage") or not info.get("endCursor"):
            return
        page = following(str(info["endCursor"]))


def owner_named(ownership: Ownership, names: Iterable[str], fallback: Owner) -> Owner:
    """The owner of the first of ``names`` (labels, a project's name...) that
    ``apps.*.services`` lists; ``fallback`` when none."""
    for name in names:
        if (owner := ownership.of_service(name)) != ownership.default:
            return owner
    return fallback


def read_each(
    names: Sequence[str],
    read: Callable[[str, list[WorkItem]], object],
    gone: Callable[[Exception], bool],
) -> tuple[list[WorkItem], list[str]]:
    """The work items ``read(name, into)`` reads for each of ``names`` (repositories,
    projects) and the problems: an error ``gone`` accepts (deleted, renamed, out of the
    token's reach) is a problem naming the one read, its items left out, the others still
    count; when every one is gone the poll fails. Any other error fails the poll."""
    events: list[WorkItem] = []
    problems: list[str] = []
    for name in names:
        found: list[WorkItem] = []
        try:
            read(name, found)
        except Exception as error:
            if not gone(error):
                raise
            problems.append(f"{name}: issues skipped: {error}")
            continue
        events += found
    if names and len(problems) == len(names):
        raise SourceError("; ".join(problems))
    return events, problems
