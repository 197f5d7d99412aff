"""The headline numbers of the KPI page, per team and for the organisation.

Every number is computed from the exporter's own state at the instant of the last rendering
of ``/metrics``, with the same arithmetic, so it equals what ``/metrics`` (and the recording
rules and dashboards reading it) shows:

- window counts add up the apps' dated observations in ``(now - W, now]`` (the rules' sums
  of ``kpi_window_*``), ratios divide two of them as the rules do;
- medians are the exact quantile (:func:`~kpi_exporter.kpis.windows.quantile`) of the
  observations of the team's or the organisation's apps, as ``kpi_window_*_seconds``;
- open findings, findings past their SLA and spend are the gauges' values summed.

The previous window (the trend) and the points of the small charts are the same windows
ending earlier, computed from the same timelines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..explain import duration
from ..kpis.aggregate import Aggregate
from ..kpis.cost import budget_samples
from ..kpis.families import FAMILY_BY_NAME
from ..kpis.live import passed
from ..kpis.windows import Timeline, quantile

WEEK = 7 * 86400.0
CHART_POINTS = 13  # the short window at weekly steps: a quarter
Labels = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spec:
    """One headline KPI: its title, its quadrant, what it reads and how it is shown.

    ``kind``: ``count`` (a window count), ``per_day`` (a count per day of the window),
    ``ratio`` (``family`` over ``of``), ``median`` (the exact median of a duration) or
    ``gauge`` (a value now: open findings, findings past SLA, spend). ``lower``: whether a
    lower value is better. ``alert``: the alert whose threshold and action apply."""

    key: str
    quadrant: str
    title: str
    kind: str
    family: str
    unit: str
    lower: bool = True
    of: str = ""
    alert: str = ""
    select: tuple[tuple[int, str], ...] = ()  # (label index, value) a gauge series must have


QUADRANTS = ("Delivery (DORA)", "Incidents", "Security", "Cost")

SPECS: tuple[Spec, ...] = (
    Spec(
        "deployment_frequency",
        QUADRANTS[0],
        "Deployment frequency",
        "per_day",
        "kpi_window_deployments",
        "per_day",
        lower=False,
        alert="ProductionDeploysStalled",
    ),
    Spec(
        "change_lead_time",
        QUADRANTS[0],
        "Lead time for changes (median)",
        "median",
        "kpi_window_change_lead_time_seconds",
        "seconds",
        alert="ChangeLeadTimeHigh",
    ),
    Spec(
        "change_failure_rate",
        QUADRANTS[0],
        "Change failure rate",
        "ratio",
        "kpi_window_deployments_failed",
        "ratio",
        of="kpi_window_deployments",
        alert="ChangeFailureRateHigh",
    ),
    Spec(
        "failed_deployment_recovery_time",
        QUADRANTS[0],
        "Failed deployment recovery time (median)",
        "median",
        "kpi_window_failed_deployment_recovery_seconds",
        "seconds",
        alert="DeploymentRecoveryTimeHigh",
    ),
    Spec(
        "rework_rate",
        QUADRANTS[0],
        "Deployment rework rate",
        "ratio",
        "kpi_window_deployments_rework",
        "ratio",
        of="kpi_window_deployments",
        alert="ReworkRateHigh",
    ),
    Spec(
        "incidents", QUADRANTS[1], "Production incidents", "count", "kpi_window_incidents", "count"
    ),
    Spec(
        "time_to_restore",
        QUADRANTS[1],
        "Time to restore (median)",
        "median",
        "kpi_window_incident_restore_seconds",
        "seconds",
        alert="TimeToRestoreHigh",
    ),
    Spec(
        "critical_findings_open",
        QUADRANTS[2],
        "Open critical findings",
        "gauge",
        "kpi_vulnerabilities_open",
        "count",
        select=((2, "critical"),),
    ),
    Spec(
        "critical_past_sla",
        QUADRANTS[2],
        "Critical findings past their SLA",
        "gauge",
        "kpi_vulnerabilities_sla_breached",
        "count",
        alert="CriticalVulnerabilityPastSla",
        select=((2, "critical"),),
    ),
    Spec(
        "high_past_sla",
        QUADRANTS[2],
        "High findings past their SLA",
        "gauge",
        "kpi_vulnerabilities_sla_breached",
        "count",
        alert="HighVulnerabilityPastSla",
        select=((2, "high"),),
    ),
    Spec(
        "spend_month_to_date",
        QUADRANTS[3],
        "Spend this month against the budget",
        "gauge",
        "kpi_cost_month_to_date",
        "money",
        alert="SpendOverBudget",
    ),
    Spec(
        "spend_forecast",
        QUADRANTS[3],
        "Forecast month-end spend against the budget",
        "gauge",
        "kpi_cost_forecast_month_end",
        "money",
        alert="SpendForecastOverBudget",
    ),
)


@dataclass(frozen=True, slots=True)
class Window:
    """A headline's value over one window and over the window before it (None: no data)."""

    window: str
    value: float | None
    previous: float | None
    count: float | None = None  # deployments in the window (a ratio's denominator)
    merged: float = 0.0  # changes merged in the window (deployment frequency only)


@dataclass(slots=True)
class Row:
    """One headline of one scope. ``status``: ``crossed`` (the alert's condition holds),
    ``over`` (over the threshold, but below the alert's minimum count), ``ok``, or ``none``
    (no threshold, or no data in the alert's window). ``budget``: (currency, spend, budget)
    rows of a spend headline; ``chart``: the short window at weekly steps, oldest first."""

    spec: Spec
    windows: list[Window] = field(default_factory=list)
    value: float | None = None  # a gauge's value now (one currency: see ``budget``)
    budget: list[tuple[str, float, float | None]] = field(default_factory=list)
    chart: list[float | None] = field(default_factory=list)
    status: str = "none"
    threshold: str = ""
    action: str = ""


@dataclass(slots=True)
class Scope:
    """The organisation (``team`` empty) or one team, with its headline rows."""

    team: str
    apps: list[str]
    rows: list[Row]


@dataclass(slots=True)
class Headlines:
    now: float
    windows: tuple[tuple[str, float], ...]
    scopes: list[Scope]
    exact: bool  # False when a level is not seen whole by this process (sharded)


def compute(
    aggregate: Aggregate, now: float, thresholds: Mapping[str, Any], exact: bool = True
) -> Headlines:
    """The headlines of the organisation and of every team with data, at ``now``."""
    windows = aggregate.settings.windows
    # family -> team ("" for the organisation) -> the timelines of its apps
    timelines: dict[str, dict[str, list[Timeline]]] = {}
    teams: dict[str, set[str]] = {}
    for name, state in aggregate.windows.families.items():
        by_team = timelines[name] = {"": list(state.timelines.values())}
        for (app, team, *_), timeline in state.timelines.items():
            by_team.setdefault(team, []).append(timeline)
            teams.setdefault(team, set()).add(app)
    gauges = _gauges(aggregate, now)
    for name, series in gauges.items():
        for labels in series:
            app, team = _app_team(name, labels)
            members = teams.setdefault(team, set())
            if app:
                members.add(app)
    for budget in aggregate.settings.budgets:
        teams.setdefault(budget.team, set())
    scopes = [Scope("", sorted({a for apps in teams.values() for a in apps}), [])]
    scopes += [Scope(team, sorted(apps), []) for team, apps in sorted(teams.items()) if team]
    budgets = list(budget_samples(aggregate.settings))
    for scope in scopes:
        for spec in SPECS:
            if spec.kind == "gauge":
                row = _gauge_row(spec, scope.team, gauges, budgets)
            else:
                row = _window_row(spec, scope.team, timelines, windows, now)
            _judge(row, thresholds, windows)
            scope.rows.append(row)
    return Headlines(now, windows, scopes, exact)


# -- windows --------------------------------------------------------------------------------


Members = Mapping[str, Mapping[str, list[Timeline]]]
"""family -> team ("" for the organisation) -> the timelines of its apps."""


def _members(timelines: Members, family: str, team: str) -> list[Timeline]:
    return timelines.get(family, {}).get(team, [])


def _count(timelines: list[Timeline], end: float, width: float) -> float | None:
    """The sum of the observations in ``(end - width, end]``: 0 when the scope has a series
    but nothing in the window (as /metrics shows it), None when it has no series at all."""
    if not timelines:
        return None
    total = 0.0
    for timeline in timelines:
        low, high = timeline.span(end, width)
        total += sum(timeline.values[low:high])
    return total


def _median(timelines: list[Timeline], end: float, width: float) -> float | None:
    values: list[float] = []
    for timeline in timelines:
        low, high = timeline.span(end, width)
        values += timeline.values[low:high]
    return quantile(sorted(values), 0.5) if values else None


def _value(
    spec: Spec,
    timelines: Members,
    team: str,
    end: float,
    width: float,
) -> tuple[float | None, float | None]:
    """(value, deployments) of a windowed headline over ``(end - width, end]``."""
    members = _members(timelines, spec.family, team)
    if spec.kind == "median":
        return _median(members, end, width), None
    if spec.kind == "ratio":
        deployments = _count(_members(timelines, spec.of, team), end, width)
        if not deployments:
            return None, deployments
        return (_count(members, end, width) or 0.0) / deployments, deployments
    count = _count(members, end, width)
    if spec.kind == "per_day":
        return (None if count is None else count / (width / 86400.0)), count
    return count, None


def _merged(timelines: Members, team: str, end: float, width: float) -> float:
    """Changes merged in the window (the stalled-deployments alert's condition)."""
    merged = _members(timelines, "kpi_window_changes_merged", team)
    return _count(merged, end, width) or 0.0


def _window_row(
    spec: Spec,
    team: str,
    timelines: Members,
    windows: tuple[tuple[str, float], ...],
    now: float,
) -> Row:
    row = Row(spec)
    for window, width in windows:
        value, count = _value(spec, timelines, team, now, width)
        previous, _ = _value(spec, timelines, team, now - width, width)
        merged = _merged(timelines, team, now, width) if spec.key == "deployment_frequency" else 0
        row.windows.append(Window(window, value, previous, count, merged))
    if windows:
        width = min(w for _, w in windows)
        row.chart = [
            _value(spec, timelines, team, now - step * width, width)[0]
            for step in range(CHART_POINTS - 1, -1, -1)
        ]
    return row


# -- gauges ---------------------------------------------------------------------------------


def _gauges(aggregate: Aggregate, now: float) -> dict[str, dict[Labels, float]]:
    """The samples of the gauge headlines at ``now``, as /metrics publishes them."""
    open_findings = dict(aggregate.values.get("kpi_vulnerabilities_open", {}))
    breached = {
        labels: next(iter(passed(series.since.values(), now)))[1]
        for labels, series in aggregate.live.get("kpi_vulnerabilities_sla_breached", {}).items()
    }
    return {
        "kpi_vulnerabilities_open": open_findings,
        "kpi_vulnerabilities_sla_breached": breached,
        "kpi_cost_month_to_date": dict(aggregate.spend.samples("kpi_cost_month_to_date", now)),
        "kpi_cost_forecast_month_end": dict(
            aggregate.spend.samples("kpi_cost_forecast_month_end", now)
        ),
    }


def _app_team(family: str, labels: Labels) -> tuple[str, str]:
    """(app, team) of a series of a gauge family."""
    names = FAMILY_BY_NAME[family].labels
    return labels[names.index("app")], labels[names.index("team")]


def _gauge_row(
    spec: Spec,
    team: str,
    gauges: Mapping[str, Mapping[Labels, float]],
    budgets: list[tuple[Labels, float]],
) -> Row:
    row = Row(spec)
    series = gauges.get(spec.family, {})
    if spec.unit != "money":
        values = [
            value
            for labels, value in series.items()
            if (not team or _app_team(spec.family, labels)[1] == team)
            and all(labels[i] == v for i, v in spec.select)
        ]
        row.value = sum(values) if values else None
        return row
    spend: dict[str, float] = {}
    for (_, _, series_team, currency), value in series.items():
        if not team or series_team == team:
            spend[currency] = spend.get(currency, 0.0) + value
    # The team's own budget (app empty), as the rules compare; the organisation has none.
    budget = {currency: amount for (app, t, currency), amount in budgets if not app and t == team}
    for currency in sorted(set(spend) | (set(budget) if team else set())):
        row.budget.append((currency, spend.get(currency, 0.0), budget.get(currency)))
    return row


# -- thresholds -----------------------------------------------------------------------------


def _judge(row: Row, thresholds: Mapping[str, Any], windows: tuple[tuple[str, float], ...]) -> None:
    """The row's threshold text, status and action, from the alert's settings."""
    spec = row.spec
    settings = thresholds["alerts"].get(spec.alert) if spec.alert else None
    if settings is None or not settings["enabled"]:
        return
    limit = settings.get("threshold")
    crossed: bool | None = None  # None: no data to judge
    if spec.kind == "gauge" and spec.unit == "money":
        ratios = [spend / budget for _, spend, budget in row.budget if budget]
        row.threshold = f"at most {limit * 100:g}% of the monthly budget"
        crossed = None if not ratios else max(ratios) > limit
    elif spec.kind == "gauge":
        row.threshold = f"at most {limit:g}"
        crossed = None if row.value is None else row.value > limit
    else:
        window = next((w for w in row.windows if w.window == settings["window"]), None)
        value = None if window is None else window.value
        if spec.key == "deployment_frequency":
            row.threshold = f"a deployment every {settings['window']} while changes merge"
            crossed = None if window is None else bool(window.merged and not window.count)
        else:
            shown = format_value(limit, spec.unit)
            row.threshold = f"at most {shown} over {settings['window']}"
            crossed = None if value is None else value > limit
            minimum = settings.get("minimum")
            if crossed and minimum and window is not None and (window.count or 0) < minimum:
                row.threshold += f", from {minimum} deployments"
                row.status = "over"
                return
            if minimum:
                row.threshold += f", from {minimum} deployments"
    if crossed is None:
        return
    row.status = "crossed" if crossed else "ok"
    if crossed:
        row.action = settings["action"]


# -- formatting -----------------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    """A number as the page shows it: ``12.5%``, ``2h 30m``, ``1.43/day``, ``3``."""
    if value is None or math.isnan(value):
        return "-"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "seconds":
        return duration(value)
    if unit == "per_day":
        return f"{value:.2f}/day"
    if unit == "money":
        return f"{value:,.2f}"
    return f"{value:g}"
