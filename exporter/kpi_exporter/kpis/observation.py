"""The units KPI functions produce: contributions of one event to the series it belongs to."""

from __future__ import annotations

from typing import NamedTuple


class Observation(NamedTuple):
    """``family`` gains ``value`` in the series ``labels`` (values in the family's label
    order). For a counter or gauge the value is added; for a histogram it is observed."""

    family: str
    labels: tuple[str, ...]
    value: float


class Since(NamedTuple):
    """The event belongs to the series ``labels`` of the time-dependent ``family`` and has
    been live (an open change, an open incident) since ``at``; ``at`` is None when it is not
    live. Such series depend on "now", so they are derived when the exposition is rendered
    (see :mod:`kpi_exporter.kpis.live`) rather than summed. ``labels`` leave out the labels the
    derivation adds. An event yields at most one ``Since`` per family."""

    family: str
    labels: tuple[str, ...]
    at: float | None


class Daily(NamedTuple):
    """The event spent ``amount`` on the UTC day starting at ``day`` in the cost series
    ``labels`` (provider, app, team, currency). Month-to-date spend and its forecast depend on
    "now", so the aggregate keeps the amount per day and derives them when the exposition is
    rendered (see :mod:`kpi_exporter.kpis.cost`)."""

    labels: tuple[str, ...]
    day: float
    amount: float


class Dated(NamedTuple):
    """The event puts ``value`` into the windowed family ``family`` (see
    :data:`~kpi_exporter.kpis.families.WINDOWED`) at its event time ``at``, in the app-level
    series ``labels`` (app, team, and component for incidents by component). A window at
    ``now`` holds the observations with ``now - window < at <= now``: counts add the values
    up, quantile families take their exact quantiles (see :mod:`kpi_exporter.kpis.windows`)."""

    family: str
    labels: tuple[str, ...]
    at: float
    value: float = 1.0


Contribution = Observation | Since | Daily | Dated
"""Anything a KPI function says an event contributes."""
