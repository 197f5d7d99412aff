"""A limit on new label values, so that one misbehaving input cannot flood Prometheus.

Every app, team and environment value becomes hundreds of series (counters, histogram
buckets, windows at 7, 30 and 90 days). A CI job that names its app after a commit SHA, or
deploys to one environment per pull request, would add a few hundred series per push. So the
number of distinct values of each of these labels is bounded (``label_limits`` in the
configuration): once the store holds events of ``label_limits.app`` apps besides those the
configuration names, an event of a new app is refused, while events of the apps already known
keep flowing. The values named in the configuration (the ``apps`` and their teams, the
defaults, the environment ``production``) are always accepted and not counted. Work items
are bounded the same way by their category, and by every status and stage of their history
(the built-in categories and stages always accepted).

A refused push answers ``400`` naming the value; a polled source logs the refusal and goes on
with its other events. Both count in ``kpi_exporter_events_rejected_total{reason="cardinality"}``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import Field

from .config_base import Strict
from .model import CATEGORIES, STAGES, UNMAPPED, Event, WorkItem, WorkItemDelivery

BUILT_IN: dict[str, frozenset[str]] = {
    "category": frozenset([*CATEGORIES, UNMAPPED]),
    "stage": frozenset(STAGES),
}
OWNER_LABELS = ("app", "team", "environment")  # of any event that has them
LIMITED = (*OWNER_LABELS, "category", "status", "stage")  # and those of work items


class LabelLimits(Strict):
    """How many distinct values each label may take (docs/design.md, "Label limits")."""

    app: int = Field(2000, ge=1, description="Distinct apps.")
    team: int = Field(500, ge=1, description="Distinct teams.")
    environment: int = Field(50, ge=1, description="Distinct environments.")
    category: int = Field(
        20, ge=1, description="Distinct work item categories besides the five built in."
    )
    status: int = Field(
        300, ge=1, description="Distinct work item statuses (every tracker's together)."
    )
    stage: int = Field(
        1, ge=1, description="Distinct work item stages besides active, waiting and done."
    )


@dataclass(slots=True)
class LabelValues:
    """How many stored events carry each value of each limited label (kept by the running
    sums, so a start from the snapshot knows them without reading the store)."""

    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {label: Counter() for label in LIMITED}
    )

    def add(self, event: Event, sign: int = 1) -> None:
        for label, value in _values(event):
            counts = self.counts[label]
            counts[value] += sign
            if counts[value] <= 0:
                del counts[value]

    def known(self, label: str, value: str) -> bool:
        return value in self.counts[label]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A new value refused because its label is at its limit."""

    label: str
    value: str
    limit: int

    def __str__(self) -> str:
        value = self.value if len(self.value) <= 100 else self.value[:100] + "..."
        return (
            f"new {self.label} {value!r}: the limit of {self.limit} {self.label} values is"
            f" reached (label_limits.{self.label}, besides the configured ones); events of"
            f" known {self.label}s are accepted"
        )


class LabelLimitError(Exception):
    """Events refused as a whole (a push): the message names the first new value."""

    def __init__(self, refusals: list[Refusal], events: int) -> None:
        super().__init__(str(refusals[0]))
        self.refusals = refusals
        self.events = events


@dataclass(frozen=True, slots=True)
class LabelPolicy:
    """The limits, and the values the configuration names (always accepted)."""

    limits: LabelLimits = field(default_factory=LabelLimits)
    configured: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The work item categories and stages the exporter knows are always accepted.
        merged = {label: frozenset(values) for label, values in self.configured.items()}
        for label, values in BUILT_IN.items():
            merged[label] = merged.get(label, frozenset()) | values
        object.__setattr__(self, "configured", merged)

    def admit(
        self, events: Iterable[Event], known: LabelValues
    ) -> tuple[list[Event], list[Refusal], int]:
        """The events to store, the new values refused (each once) and how many events
        were refused. New values admitted earlier in the same batch count toward the limit."""
        admitted: list[Event] = []
        refusals: dict[tuple[str, str], Refusal] = {}
        added: dict[str, set[str]] = {label: set() for label in LIMITED}
        counted = {label: self.counted(label, known) for label in LIMITED}
        refused = 0
        for event in events:
            new = list(
                dict.fromkeys(
                    (label, value)
                    for label, value in _values(event)
                    if not known.known(label, value)
                    and value not in added[label]
                    and value not in self.configured.get(label, ())
                )
            )
            # An event may bring several new values of one label (a work item's statuses):
            # each counts toward the limit.
            pending: Counter[str] = Counter()
            over = []
            for label, value in new:
                pending[label] += 1
                if counted[label] + len(added[label]) + pending[label] > getattr(
                    self.limits, label
                ):
                    over.append((label, value))
            if over:
                refused += 1
                for label, value in over:
                    limit = getattr(self.limits, label)
                    refusals.setdefault((label, value), Refusal(label, value, limit))
                continue
            for label, value in new:
                added[label].add(value)
            admitted.append(event)
        return admitted, list(refusals.values()), refused

    def counted(self, label: str, known: LabelValues) -> int:
        """The known values of ``label`` the limit counts: those the file does not name."""
        configured, counts = self.configured.get(label, frozenset()), known.counts[label]
        # Walk the smaller of the two: a push must not cost one step per known app.
        if len(configured) < len(counts):
            return len(counts) - sum(1 for value in configured if value in counts)
        return sum(1 for value in counts if value not in configured)


def _values(event: Event) -> Iterable[tuple[str, str]]:
    """The limited label values of an event; a work item's are its category and every
    status and stage of its history."""
    for label in OWNER_LABELS:
        value = getattr(event, label, None)
        if isinstance(value, str) and value:
            yield label, value
    if isinstance(event, WorkItem | WorkItemDelivery) and event.category:
        yield "category", event.category
    if isinstance(event, WorkItem):
        for _, status, stage in event.statuses:
            if status:
                yield "status", status
            if stage:
                yield "stage", stage
