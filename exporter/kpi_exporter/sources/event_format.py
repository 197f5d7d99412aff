"""The JSON event format that CI systems write (events files) or push (ingest endpoint).

One JSON object per event; ``type`` says which. Times are RFC 3339 strings
(``2026-11-20T10:00:00Z``) or epoch seconds. ``id`` is the natural key: sending the same id
again updates the event, it never adds a second one. Unknown fields are refused, so a typo
does not silently lose data. The full reference is in ``docs/events.md``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from ..model import Change, Defect, Deployment, Event, Identity, Incident, time_problem
from ..ownership import Ownership

Id = Annotated[str, Field(min_length=1, max_length=200)]
# No control characters (C0, DEL, C1) and no bidirectional controls, which would make a
# label read differently from what it holds (a dashboard showing "ppa" for "app").
LABEL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+$"
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=LABEL_PATTERN)]
# A work item's key as its tracker writes it (PROJ-12, ENG-7, org/repo#12): no spaces.
WorkItemKey = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S+$")]


def _bounded(value: datetime | float) -> datetime | float:
    """A time from 1970 to a year ahead (see :func:`~kpi_exporter.model.time_problem`)."""
    seconds = value.timestamp() if isinstance(value, datetime) else float(value)
    problem = time_problem(seconds, time.time())
    if problem is not None:
        raise PydanticCustomError("time_range", problem)
    return value


# RFC 3339 text or epoch seconds: a JSON number (true is not one), bounded.
Time = Annotated[AwareDatetime | StrictFloat, AfterValidator(_bounded)]


class EventFormatError(ValueError):
    """A JSON event that cannot be used; the message names the field."""


class DuplicateKeyError(ValueError):
    """A JSON object that names the same key twice."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of :func:`json.loads` refusing a key given twice: JSON leaves it
    undefined, and keeping the last one silently drops the first value."""
    data = dict(pairs)
    if len(data) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"duplicate key '{key}'")
            seen.add(key)
    return data


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Owned(_Strict):
    """Either ``app`` directly, or ``repo`` / ``service`` resolved by the apps mapping."""

    app: Label | None = None
    team: Label | None = None
    repo: str | None = None
    service: str | None = None


class ChangeIn(_Strict):
    id: Id
    first_commit_at: Time
    merged_at: Time | None = None
    opened_at: Time | None = None
    first_review_at: Time | None = None
    size_lines: StrictInt | None = Field(None, ge=0)
    # Whether someone other than its author reviewed or approved it before the merge.
    reviewed: StrictBool = True
    # Where it comes from (kpi_exporter.origin), as the sender classified it; and the id of
    # the change of the same source it reverts.
    origin: Literal["human", "ai_agent", "bot"] = "human"
    reverts: str = Field("", max_length=256)
    # The work items it delivers, by key (PROJ-12): where their time to market ends.
    work_items: list[WorkItemKey] = Field(default_factory=list, max_length=20)


class DeploymentIn(_Owned):
    type: Literal["deployment"]
    id: Id
    environment: Label = "production"
    finished_at: Time
    started_at: Time | None = None
    status: Literal["success", "failure"] = "success"
    version: str = ""
    commit: str = ""
    change_type: Literal["normal", "hotfix", "rollback"] = "normal"
    failed: StrictBool = False
    changes: list[ChangeIn] = Field(default_factory=list, max_length=10_000)


class IncidentIn(_Owned):
    type: Literal["incident"]
    id: Id
    severity: Label = "unknown"
    environment: Label = "production"
    started_at: Time
    detected_at: Time | None = None
    acknowledged_at: Time | None = None
    resolved_at: Time | None = None
    impact_started_at: Time | None = None
    deployment: str = ""
    component: Label | None = None


class StandaloneChangeIn(_Owned, ChangeIn):
    type: Literal["change"]
    deployed_at: Time | None = None
    environment: Label = "production"
    deployment: str = ""


class DefectIn(_Owned):
    """A bug from any tracker: where it was found, and whether a customer reported it."""

    type: Literal["defect"]
    id: Id
    created_at: Time
    severity: Label = "unknown"
    found_in: Literal["production", "pre-production"] = "production"
    customer_reported: StrictBool = False
    resolved_at: Time | None = None
    # The phase that should have caught it (escaped defects by phase).
    escape_phase: Literal["requirements", "unit", "integration", "staging", "production"] | None = (
        None
    )


EventIn = Annotated[
    DeploymentIn | IncidentIn | StandaloneChangeIn | DefectIn, Field(discriminator="type")
]
_ADAPTER: TypeAdapter[DeploymentIn | IncidentIn | StandaloneChangeIn | DefectIn] = TypeAdapter(
    EventIn
)


def _epoch(value: datetime | float | None) -> float | None:
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _time(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


# The members of the time fields' union (AwareDatetime | StrictFloat), which pydantic appends to
# the location of an error; they are not fields.
_UNION_MEMBERS = frozenset({"datetime", "float"})


def _describe(error: ValidationError) -> str:
    item = error.errors()[0]
    loc = list(item["loc"])
    # The location starts with the event type (the union tag); an incident or change also has
    # a field called "deployment", so only that first part is dropped.
    if loc and loc[0] in ("deployment", "incident", "change", "defect"):
        loc = loc[1:]
    if loc and loc[-1] in _UNION_MEMBERS:
        loc = loc[:-1]
    field = ".".join(str(part) for part in loc) or "type"
    kind = item["type"]
    if kind == "missing":
        message = "required field is missing"
    elif kind == "extra_forbidden":
        message = "unknown field"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        message = "expected one of deployment, incident, change, defect"
    elif kind in ("bool_type", "bool_parsing"):
        message = "expected true or false"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        message = "expected an integer"
    elif kind == "time_range":
        message = str(item["msg"])
    elif kind == "string_pattern_mismatch":
        message = "control or bidirectional characters are not allowed"
    elif "datetime" in kind or "timezone" in kind or field.endswith("_at"):
        message = "expected an RFC 3339 timestamp with a time zone, or epoch seconds"
    else:
        message = str(item["msg"]).removeprefix("Value error, ")
    return f"field '{field}': {message}"


def parse_event(data: Any, source: str, ownership: Ownership) -> list[Event]:
    """The events one JSON object describes (a deployment brings its changes along)."""
    if not isinstance(data, dict):
        raise EventFormatError("expected a JSON object")
    try:
        parsed = _ADAPTER.validate_python(data)
    except ValidationError as error:
        raise EventFormatError(_describe(error)) from None
    if parsed.app:
        owner = ownership.of_app(parsed.app)
    elif parsed.repo:
        owner = ownership.of_repo(parsed.repo)
    elif parsed.service:
        owner = ownership.of_service(parsed.service)
    else:
        raise EventFormatError("field 'app': required (or 'repo' or 'service' to map from)")
    app, team = owner.app, parsed.team or owner.team
    if isinstance(parsed, IncidentIn):
        return [
            Incident(
                source=source,
                key=parsed.id,
                app=app,
                team=team,
                severity=parsed.severity,
                environment=parsed.environment,
                started_at=_time(parsed.started_at),
                detected_at=_epoch(parsed.detected_at),
                acknowledged_at=_epoch(parsed.acknowledged_at),
                resolved_at=_epoch(parsed.resolved_at),
                impact_started_at=_epoch(parsed.impact_started_at),
                deployment_ref=parsed.deployment,
                component=parsed.component or "",
            )
        ]
    if isinstance(parsed, DefectIn):
        return [
            Defect(
                **Identity(source=source, key=parsed.id, app=app, team=team),
                created_at=_time(parsed.created_at),
                found_in=parsed.found_in,
                customer_reported=parsed.customer_reported,
                severity=parsed.severity,
                resolved_at=_epoch(parsed.resolved_at),
                escape_phase=parsed.escape_phase or "",
            )
        ]
    if isinstance(parsed, StandaloneChangeIn):
        deployed_at = _epoch(parsed.deployed_at)
        return [
            _change(parsed, source, app, team, parsed.environment, deployed_at, parsed.deployment)
        ]
    finished_at = _time(parsed.finished_at)
    deployment = Deployment(
        source=source,
        key=parsed.id,
        app=app,
        team=team,
        environment=parsed.environment,
        finished_at=finished_at,
        started_at=_epoch(parsed.started_at),
        status=parsed.status,
        version=parsed.version,
        commit=parsed.commit,
        change_type=parsed.change_type,
        reported_failed=parsed.failed,
    )
    events: list[Event] = [deployment]
    if parsed.status == "success":
        events.extend(
            _change(change, source, app, team, parsed.environment, finished_at, parsed.id)
            for change in parsed.changes
        )
    return events


def _change(
    change: ChangeIn,
    source: str,
    app: str,
    team: str,
    environment: str,
    deployed_at: float | None,
    deployment_key: str,
) -> Change:
    return Change(
        source=source,
        key=change.id,
        app=app,
        team=team,
        first_commit_at=_time(change.first_commit_at),
        merged_at=_epoch(change.merged_at),
        opened_at=_epoch(change.opened_at),
        first_review_at=_epoch(change.first_review_at),
        size_lines=change.size_lines,
        reviewed=change.reviewed,
        origin=change.origin,
        reverts=change.reverts,
        deployed_environment=environment if deployed_at is not None else "",
        deployed_at=deployed_at,
        deployment_key=deployment_key if deployed_at is not None else "",
        work_items=tuple(sorted({key.upper() for key in change.work_items})),
    )
