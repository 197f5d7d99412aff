"""Normalised events: what every source turns its data into.

Each event is a frozen dataclass identified by a natural key: ``(kind, source, key)``.
A source re-sending or updating an event (an incident resolved later) replaces the stored
version; it never creates a second one. All times are UTC epoch seconds (floats).

No event carries a person: no author, reviewer or assignee field exists, by design.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar, TypedDict


class Identity(TypedDict):
    """The fields every event has first (see :class:`BaseEvent`), as keyword arguments."""

    source: str
    key: str
    app: str
    team: str


@dataclass(frozen=True, slots=True)
class BaseEvent:
    """What every event has first: where it comes from (``source``, and ``key``, unique in
    its source and kind) and the app and team it belongs to. ``time`` is when it happened:
    the field named by the kind's ``dated_by``."""

    kind: ClassVar[str]
    dated_by: ClassVar[str]
    source: str
    key: str
    app: str
    team: str

    @property
    def time(self) -> float:
        value: float = getattr(self, self.dated_by)
        return value

    def identity(self, key: str | None = None) -> Identity:
        """Its source, key (or ``key``), app and team: what an event derived from it keeps
        (``DeploymentOutcome(**deployment.identity(), ...)``)."""
        return Identity(
            source=self.source, key=self.key if key is None else key, app=self.app, team=self.team
        )


@dataclass(frozen=True, slots=True)
class Deployment(BaseEvent):
    """A deployment of one app to one environment, successful or not."""

    kind: ClassVar[str] = "deployment"
    dated_by: ClassVar[str] = "finished_at"
    environment: str
    finished_at: float
    status: str = "success"  # success | failure
    started_at: float | None = None
    version: str = ""
    commit: str = ""
    # normal | hotfix | rollback: hotfix and rollback are unplanned (rework) deployments.
    change_type: str = "normal"
    # Set by the source when it knows the deployment was rolled back or failed in production.
    reported_failed: bool = False


@dataclass(frozen=True, slots=True)
class Change(BaseEvent):
    """A change (merged pull/merge request, or a commit for local git) and where it went."""

    kind: ClassVar[str] = "change"
    first_commit_at: float
    merged_at: float | None = None
    opened_at: float | None = None
    first_review_at: float | None = None
    approved_at: float | None = None
    size_lines: int | None = None
    # Environment and finish time of the first successful deployment that contains the change.
    deployed_environment: str = ""
    deployed_at: float | None = None
    deployment_key: str = ""
    # Whether someone other than the author reviewed or approved it before the merge.
    reviewed: bool = True
    labels: tuple[str, ...] = ()
    state: str = "merged"  # open | merged | closed (closed without merge)
    # Where it comes from: human | ai_agent | bot (kpi_exporter.origin; never the author).
    origin: str = "human"
    # The key of the change of the same source that this one reverts ("" when none).
    reverts: str = ""
    # The work items it references (PROJ-12: in its title, head branch or body, or as the
    # event format gives them), upper-cased: where time to market ends (see delivery.py).
    work_items: tuple[str, ...] = ()

    @property
    def time(self) -> float:
        return self.merged_at if self.merged_at is not None else self.first_commit_at


@dataclass(frozen=True, slots=True)
class Incident(BaseEvent):
    """A production incident. ``deployment_ref`` is an explicit link (deployment key, SHA or
    version) when the incident names the deployment that caused it."""

    kind: ClassVar[str] = "incident"
    dated_by: ClassVar[str] = "started_at"
    severity: str
    started_at: float
    detected_at: float | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    impact_started_at: float | None = None
    environment: str = "production"
    deployment_ref: str = ""
    # The component of the app that failed, where the source knows it (for incidents per
    # component next to coverage per component); stored events without it read as "".
    component: str = ""


@dataclass(frozen=True, slots=True)
class DeploymentOutcome(BaseEvent):
    """Derived, never polled: whether a successful production deployment failed, and why.

    Written by :mod:`kpi_exporter.linking` next to the events it is derived from, so it flows
    through the same idempotent upsert and the same metric bookkeeping. ``key`` is the
    deployment's key.
    """

    kind: ClassVar[str] = "outcome"
    dated_by: ClassVar[str] = "deployed_at"
    environment: str
    deployed_at: float
    failed: bool
    # Unplanned: a hotfix, or a rollback (declared, or to an older version than the one before).
    rework: bool = False
    reasons: tuple[str, ...] = ()
    incident_keys: tuple[str, ...] = ()
    recovered_at: float | None = None
    # A successful production deployment's release type, from the version step since the
    # previous one to the same environment: major | minor | patch | unknown (a version that
    # is not semver, or no previous one); "" for other deployments.
    release_type: str = ""


@dataclass(frozen=True, slots=True)
class IncidentLink(BaseEvent):
    """Derived, never polled: the deployment an incident is linked to, if any.

    Written by :mod:`kpi_exporter.linking` for every incident it assesses, so that incidents
    linked to no deployment are counted (a high share says the linking misses). ``key`` is the
    incident's key."""

    kind: ClassVar[str] = "link"
    dated_by: ClassVar[str] = "started_at"
    started_at: float
    # Whether the incident counts as a production incident (KpiSettings.is_production_incident).
    production: bool
    deployment_key: str = ""  # "" when linked to no deployment
    how: str = ""  # explicit | last before | ""


@dataclass(frozen=True, slots=True)
class ChangeRevert(BaseEvent):
    """Derived, never polled: a merged change that a later merged change of the same source
    reverted (:mod:`kpi_exporter.reverts`). ``key`` is the reverted change's key; it counts
    by the reverted change's merge time and origin, so that the revert rate of a window is
    the share of the changes merged in it that were reverted."""

    kind: ClassVar[str] = "revert"
    dated_by: ClassVar[str] = "merged_at"
    merged_at: float
    reverted_at: float
    origin: str = "human"
    reverted_by: str = ""


@dataclass(frozen=True, slots=True)
class Defect(BaseEvent):
    """A bug, and whether it escaped to production or was reported by a customer."""

    kind: ClassVar[str] = "defect"
    dated_by: ClassVar[str] = "created_at"
    created_at: float
    found_in: str = "production"  # production | pre-production
    customer_reported: bool = False
    severity: str = "unknown"
    resolved_at: float | None = None
    # The phase that should have caught it, where the tracker records it: requirements |
    # unit | integration | staging | production (only production could); "" unknown.
    escape_phase: str = ""


@dataclass(frozen=True, slots=True)
class Vulnerability(BaseEvent):
    """A security finding (dependency, code or secret scanning, image scan)."""

    kind: ClassVar[str] = "vulnerability"
    dated_by: ClassVar[str] = "created_at"
    severity: str
    created_at: float
    state: str = "open"  # open | fixed | dismissed
    closed_at: float | None = None
    # What found it: dependabot | code_scanning | secret_scanning | trivy | osv (the `scanner`
    # label); stored events without it read as "".
    scanner: str = ""


@dataclass(frozen=True, slots=True)
class CostLine(BaseEvent):
    """Spend for one day, provider, app and team, in one currency."""

    kind: ClassVar[str] = "cost"
    dated_by: ClassVar[str] = "day"
    provider: str
    day: float  # start of the UTC day
    amount: float
    currency: str


@dataclass(frozen=True, slots=True)
class Coverage(BaseEvent):
    """Test coverage of one app component, from the latest report."""

    kind: ClassVar[str] = "coverage"
    dated_by: ClassVar[str] = "measured_at"
    component: str
    lines_covered: int
    lines_valid: int
    measured_at: float


@dataclass(frozen=True, slots=True)
class TestRun(BaseEvent):
    """One test suite run for a commit."""

    kind: ClassVar[str] = "testrun"
    dated_by: ClassVar[str] = "finished_at"
    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name
    finished_at: float
    tests: int
    failures: int
    flaky: int = 0


@dataclass(frozen=True, slots=True)
class Gauge(BaseEvent):
    """A current value from a generic source (survey score, active users, ...)."""

    kind: ClassVar[str] = "gauge"
    dated_by: ClassVar[str] = "measured_at"
    name: str
    value: float
    measured_at: float
    labels: tuple[tuple[str, str], ...] = ()


# A work item's stages and investment categories: what kpis/work.py maps each status and
# type to (here, so that the label limits know them without importing the KPI functions).
ACTIVE, WAITING, DONE = "active", "waiting", "done"
STAGES = (ACTIVE, WAITING, DONE)
CATEGORIES = ("new_capability", "defect", "tech_debt", "maintenance")
UNMAPPED = "unmapped"


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A work item of an issue tracker (story, bug, task, ...), owned by an app and a team.

    ``category`` is its investment category (``new_capability``, ``defect``, ``tech_debt``,
    ``maintenance``, or ``unmapped`` when no mapping names its type), mapped by the source.
    ``statuses`` is its status history, oldest first: (time the item entered the status,
    the status as the tracker names it, its stage: ``active``, ``waiting`` or ``done``); the
    first entry is the status it was created in, at ``created_at``. Who moved it is never
    kept. A re-sent item (a new transition, a reopening) replaces the stored one."""

    kind: ClassVar[str] = "workitem"
    source: str
    key: str
    app: str
    team: str
    category: str
    created_at: float
    statuses: tuple[tuple[float, str, str], ...] = ()

    @property
    def time(self) -> float:
        return self.created_at


@dataclass(frozen=True, slots=True)
class WorkItemDelivery(BaseEvent):
    """Derived, never polled: when a work item first reached production (time to market).

    Written by :mod:`kpi_exporter.delivery` for a work item that changes reference, next to
    the events it is derived from. ``key`` and ``source`` are the work item's, and so are
    its app, team and ``category``. ``started_at``: when the business asked for it (created,
    or the first entry into a configured discovery status); ``delivered_at``: the first
    successful production deployment of a change naming it (None: none, or none any more
    after a correction); ``change``: that change, as ``source/key``."""

    kind: ClassVar[str] = "delivery"
    dated_by: ClassVar[str] = "delivered_at"
    category: str
    started_at: float
    delivered_at: float | None = None
    change: str = ""

    @property
    def time(self) -> float:
        return self.delivered_at if self.delivered_at is not None else self.started_at


Event = (
    Deployment
    | Change
    | Incident
    | DeploymentOutcome
    | IncidentLink
    | ChangeRevert
    | Defect
    | Vulnerability
    | CostLine
    | Coverage
    | TestRun
    | Gauge
    | WorkItem
    | WorkItemDelivery
)

EVENT_TYPES: dict[str, type[Any]] = {
    cls.kind: cls
    for cls in (
        Deployment,
        Change,
        Incident,
        DeploymentOutcome,
        IncidentLink,
        ChangeRevert,
        Defect,
        Vulnerability,
        CostLine,
        Coverage,
        TestRun,
        Gauge,
        WorkItem,
        WorkItemDelivery,
    )
}


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(sorted(field.name for field in dataclasses.fields(cls)))
    for cls in EVENT_TYPES.values()
}


_JSON_TYPES: dict[str, tuple[type[Any], ...]] = {
    "str": (str,),
    "float": (float, int),
    "int": (int, float),  # numbers either way, as Python computes with them
    "bool": (bool,),
    "None": (type(None),),
}


def _types(annotation: str) -> tuple[type[Any], ...]:
    """The JSON types a field annotated ``annotation`` may hold (tuples once decoded)."""
    allowed: list[type[Any]] = []
    for part in annotation.split("|"):
        allowed.extend(_JSON_TYPES.get(part.strip().split("[")[0], (tuple,)))
    return tuple(allowed)


_FIELD_TYPES: dict[type[Any], dict[str, tuple[type[Any], ...]]] = {
    cls: {field.name: _types(str(field.type)) for field in dataclasses.fields(cls)}
    for cls in EVENT_TYPES.values()
}


EARLIEST = 0.0
"""The earliest time an event may carry: 1970-01-01T00:00:00Z (epoch 0)."""
AHEAD = 366 * 86400.0
"""How far past "now" an event's time may be: a year (and a day), for clocks that are off and
events scheduled ahead; anything later is a unit mistake (milliseconds sent as seconds)."""

# Per event type: its time fields (epoch seconds) and its other numbers.
_TIME_FIELDS: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(
        name
        for name, types in _FIELD_TYPES[cls].items()
        if float in types and (name.endswith("_at") or name == "day")
    )
    for cls in EVENT_TYPES.values()
}
_NUMBER_FIELDS: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(
        name
        for name, types in _FIELD_TYPES[cls].items()
        if float in types and name not in _TIME_FIELDS[cls]
    )
    for cls in EVENT_TYPES.values()
}


def finite(value: float) -> bool:
    """Whether a number is finite as a float (an integer too large for one is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def time_problem(seconds: float, now: float) -> str | None:
    """Why ``seconds`` cannot be an event's time (None when it can): before 1970, more than
    :data:`AHEAD` after ``now``, or not a finite number."""
    if not finite(seconds):
        return "not a finite number of seconds"
    if seconds < EARLIEST:
        return f"{seconds:.15g} is before 1970-01-01 (epoch 0)"
    if seconds > now + AHEAD:
        return f"{seconds:.15g} is more than a year ahead of now (milliseconds for seconds?)"
    return None


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function reading the fields ``names`` of an event as a tuple (in C, one call)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda event: (one(event),)
    return lambda event: ()


_TIMES = {cls: _getter(names) for cls, names in _TIME_FIELDS.items()}
_NUMBERS = {cls: _getter(names) for cls, names in _NUMBER_FIELDS.items()}
_FINITE = 1.7976931348623157e308  # the largest float


def event_problem(event: Event, now: float) -> str | None:
    """Why ``event`` cannot be stored or counted (None when it can), naming the field: a time
    outside 1970 to a year ahead (:func:`time_problem`), or a number that is not finite."""
    cls = type(event)
    latest = now + AHEAD
    # On the path of every stored event at a start: comparisons first (NaN fails them too),
    # the field named only when one fails.
    if (
        all(v is None or EARLIEST <= v <= latest for v in _TIMES[cls](event))
        and all(v is None or -_FINITE <= v <= _FINITE for v in _NUMBERS[cls](event))
        and (
            not isinstance(event, WorkItem)
            or all(EARLIEST <= s[0] <= latest for s in event.statuses)
        )
    ):
        return None
    for name in _TIME_FIELDS[cls]:
        value = getattr(event, name)
        if value is not None and (problem := time_problem(value, now)):
            return f"field '{name}': {problem}"
    for name in _NUMBER_FIELDS[cls]:
        value = getattr(event, name)
        if value is not None and not finite(value):
            return f"field '{name}': not a finite number"
    return _status_problem(event, now) if isinstance(event, WorkItem) else None


def _status_problem(item: WorkItem, now: float) -> str | None:
    """The time of a status a work item entered, bounded like every other time."""
    for index, (at, _, _) in enumerate(item.statuses):
        if problem := time_problem(at, now):
            return f"field 'statuses[{index}]': {problem}"
    return None


def to_json(event: Event) -> str:
    """Serialise an event deterministically (sorted keys), so equal events give equal text.

    Fields are flat values and tuples (JSON lists), so no deep copy is needed: this is on the
    hot path of every upsert."""
    names = _FIELD_NAMES[type(event)]
    return json.dumps({name: getattr(event, name) for name in names}, separators=(",", ":"))


def from_json(kind: str, text: str) -> Event:
    """Rebuild an event of ``kind`` from :func:`to_json` output. On the path of every
    stored event at a start: fields are only looked at when they hold a list."""
    cls = EVENT_TYPES[kind]
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"a stored {kind} is not an object")
    types = _FIELD_TYPES[cls]
    for name, value in data.items():
        # JSON has no tuples: turn lists back into the tuples the dataclass declares.
        if type(value) is list:
            value = data[name] = tuple(tuple(v) if type(v) is list else v for v in value)
        # A stored value of another type would fail far from here (in a KPI function).
        if not isinstance(value, types.get(name, ())):
            raise ValueError(f"a stored {kind}: {name} holds a {type(value).__name__}")
    event: Event = cls(**data)
    return event
