"""Cost KPIs: spend per provider, app, team and currency, month to date and forecast.

Amounts are never summed across currencies: ``currency`` is a label of every cost series.
Credits are negative amounts, so spend can go down: the all-time total is a gauge
(``kpi_cost_cumulative``), not a counter.

Month-to-date spend and the end-of-month forecast depend on "now". So the aggregate keeps, per
series, the amount spent on each UTC day (:class:`DailySpend`, in integer micro-units so that
taking an event out returns exactly to the previous value) and derives at exposition, with its
clock, where ``today`` is the current UTC day:

- ``kpi_cost_month_to_date``: the days of the current UTC month up to and including today;
- ``kpi_cost_last_day``: yesterday (the latest complete day; 0 when the data lags);
- ``kpi_cost_forecast_month_end``: month to date + the average of the last 7 complete days
  (yesterday and the 6 before, missing days as 0) x the days left in the month after today.

Only the last :data:`RETAIN_DAYS` days are kept in memory (enough for the 7-day average at
the start of a month); the store keeps every day. A series with no day in that window is
not shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..model import CostLine
from .families import COST_CUMULATIVE, COST_FORECAST_MONTH_END, COST_LAST_DAY, COST_MONTH_TO_DATE
from .observation import Daily, Observation
from .settings import KpiSettings

DAY = 86400
RETAIN_DAYS = 62
AVERAGE_DAYS = 7
MICRO = 1_000_000

Labels = tuple[str, ...]


def observe_cost(line: CostLine, settings: KpiSettings) -> Iterator[Observation | Daily]:
    """A day's spend adds to the all-time total and to the day of its series."""
    labels = (line.provider, line.app, line.team, line.currency)
    yield COST_CUMULATIVE.observe(labels, line.amount)
    yield Daily(labels, line.day, line.amount)


def _month_bounds(today: int) -> tuple[int, int]:
    """(first, last) day numbers of the UTC month of day number ``today``."""
    start = datetime.fromtimestamp(today * DAY, UTC).replace(day=1)
    following = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else (start.replace(month=start.month + 1))
    )
    return int(start.timestamp()) // DAY, int(following.timestamp()) // DAY - 1


def month_to_date(days: Mapping[int, int], today: int) -> float:
    first, _ = _month_bounds(today)
    return sum(amount for day, amount in days.items() if first <= day <= today) / MICRO


def last_day(days: Mapping[int, int], today: int) -> float:
    return days.get(today - 1, 0) / MICRO


def forecast_month_end(days: Mapping[int, int], today: int) -> float:
    _, last = _month_bounds(today)
    recent = sum(days.get(today - back, 0) for back in range(1, AVERAGE_DAYS + 1))
    return month_to_date(days, today) + recent / AVERAGE_DAYS / MICRO * (last - today)


COST_DERIVATIONS: dict[str, Callable[[Mapping[int, int], int], float]] = {
    COST_MONTH_TO_DATE.name: month_to_date,
    COST_FORECAST_MONTH_END.name: forecast_month_end,
    COST_LAST_DAY.name: last_day,
}
"""The cost families derived from the daily amounts, and how."""


@dataclass(slots=True)
class DailySpend:
    """Per cost series, per day number: [amount in micro-units, events contributing]."""

    series: dict[Labels, dict[int, list[int]]] = field(default_factory=dict)

    def add(self, daily: Daily, sign: int, now: float) -> None:
        """Add (sign=1) or take out (sign=-1) one event's day; days older than the window
        are neither kept nor taken out, so the memory stays bounded."""
        cutoff = int(now) // DAY - RETAIN_DAYS
        day = int(daily.day) // DAY
        if day < cutoff:
            return
        days = self.series.setdefault(daily.labels, {})
        entry = days.setdefault(day, [0, 0])
        entry[0] += sign * round(daily.amount * MICRO)
        entry[1] += sign
        for old in [d for d, e in days.items() if d < cutoff or e[1] <= 0]:
            del days[old]
        if not days:
            del self.series[daily.labels]

    def samples(self, family: str, now: float) -> Iterator[tuple[Labels, float]]:
        """The samples of a derived cost family at ``now``, series in label order."""
        derive = COST_DERIVATIONS[family]
        today = int(now) // DAY
        for labels, days in sorted(self.series.items()):
            window = {d: e[0] for d, e in days.items() if today - RETAIN_DAYS <= d}
            if window:
                yield labels, derive(window, today)


def budget_samples(settings: KpiSettings) -> Iterator[tuple[Labels, float]]:
    """The configured monthly budgets, by (app, team, currency)."""
    for budget in sorted(settings.budgets):
        yield (budget.app, budget.team, budget.currency), budget.amount
