"""Normalised events: what every source turns its data into.

Each event is a frozen dataclass identified by a natural key: ``(kind, source, key)``.
A source re-sending or updating an event (an incident resolved later) replaces the stored
version; it never creates a second one. All times are UTC epoch seconds (floats).

No event carries a person: no author, reviewer or assignee field exists, by design.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment of one app to one environment, successful or not."""

    kind: ClassVar[str] = "deployment"
    source: str
    key: str
    app: str
    team: str
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

    @property
    def time(self) -> float:
        return self.finished_at


@dataclass(frozen=True, slots=True)
class Change:
    """A change (merged pull/merge request, or a commit for local git) and where it went."""

    kind: ClassVar[str] = "change"
    source: str
    key: str
    app: str
    team: str
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

    @property
    def time(self) -> float:
        return self.merged_at if self.merged_at is not None else self.first_commit_at


@dataclass(frozen=True, slots=True)
class Incident:
    """A production incident. ``deployment_ref`` is an explicit link (deployment key, SHA or
    version) when the incident names the deployment that caused it."""

    kind: ClassVar[str] = "incident"
    source: str
    key: str
    app: str
    team: str
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

    @property
    def time(self) -> float:
        return self.started_at


@dataclass(frozen=True, slots=True)
class DeploymentOutcome:
    """Derived, never polled: whether a successful production deployment failed, and why.

    Written by :mod:`kpi_exporter.linking` next to the events it is derived from, so it flows
    through the same idempotent upsert and the same metric bookkeeping.
    """

    kind: ClassVar[str] = "outcome"
    source: str
    key: str  # the deployment's key
    app: str
    team: str
    environment: str
    deployed_at: float
    failed: bool
    # Unplanned: a hotfix, or a rollback (declared, or to an older version than the one before).
    rework: bool = False
    reasons: tuple[str, ...] = ()
    incident_keys: tuple[str, ...] = ()
    recovered_at: float | None = None

    @property
    def time(self) -> float:
        return self.deployed_at


@dataclass(frozen=True, slots=True)
class IncidentLink:
    """Derived, never polled: the deployment an incident is linked to, if any.

    Written by :mod:`kpi_exporter.linking` for every incident it assesses, so that incidents
    linked to no deployment are counted (a high share says the linking misses)."""

    kind: ClassVar[str] = "link"
    source: str
    key: str  # the incident's key
    app: str
    team: str
    started_at: float
    # Whether the incident counts as a production incident (KpiSettings.is_production_incident).
    production: bool
    deployment_key: str = ""  # "" when linked to no deployment
    how: str = ""  # explicit | last before | ""

    @property
    def time(self) -> float:
        return self.started_at


@dataclass(frozen=True, slots=True)
class Defect:
    """A bug, and whether it escaped to production or was reported by a customer."""

    kind: ClassVar[str] = "defect"
    source: str
    key: str
    app: str
    team: str
    created_at: float
    found_in: str = "production"  # production | pre-production
    customer_reported: bool = False
    severity: str = "unknown"
    resolved_at: float | None = None

    @property
    def time(self) -> float:
        return self.created_at


@dataclass(frozen=True, slots=True)
class Vulnerability:
    """A security finding (dependency, code or secret scanning, image scan)."""

    kind: ClassVar[str] = "vulnerability"
    source: str
    key: str
    app: str
    team: str
    severity: str
    created_at: float
    state: str = "open"  # open | fixed | dismissed
    closed_at: float | None = None
    # What found it: dependabot | code_scanning | secret_scanning | trivy | osv (the `scanner`
    # label); stored events without it read as "".
    scanner: str = ""

    @property
    def time(self) -> float:
        return self.created_at


@dataclass(frozen=True, slots=True)
class CostLine:
    """Spend for one day, provider, app and team, in one currency."""

    kind: ClassVar[str] = "cost"
    source: str
    key: str
    app: str
    team: str
    provider: str
    day: float  # start of the UTC day
    amount: float
    currency: str

    @property
    def time(self) -> float:
        return self.day


@dataclass(frozen=True, slots=True)
class Coverage:
    """Test coverage of one app component, from the latest report."""

    kind: ClassVar[str] = "coverage"
    source: str
    key: str
    app: str
    team: str
    component: str
    lines_covered: int
    lines_valid: int
    measured_at: float

    @property
    def time(self) -> float:
        return self.measured_at


@dataclass(frozen=True, slots=True)
class TestRun:
    """One test suite run for a commit."""

    kind: ClassVar[str] = "testrun"
    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name
    source: str
    key: str
    app: str
    team: str
    finished_at: float
    tests: int
    failures: int
    flaky: int = 0

    @property
    def time(self) -> float:
        return self.finished_at


@dataclass(frozen=True, slots=True)
class Gauge:
    """A current value from a generic source (survey score, active users, ...)."""

    kind: ClassVar[str] = "gauge"
    source: str
    key: str
    app: str
    team: str
    name: str
    value: float
    measured_at: float
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def time(self) -> float:
        return self.measured_at


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


Event = (
    Deployment
    | Change
    | Incident
    | DeploymentOutcome
    | IncidentLink
    | Defect
    | Vulnerability
    | CostLine
    | Coverage
    | TestRun
    | Gauge
    | WorkItem
)

EVENT_TYPES: dict[str, type[Any]] = {
    cls.kind: cls
    for cls in (
        Deployment,
        Change,
        Incident,
        DeploymentOutcome,
        IncidentLink,
        Defect,
        Vulnerability,
        CostLine,
        Coverage,
        TestRun,
        Gauge,
        WorkItem,
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
