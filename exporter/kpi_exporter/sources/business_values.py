"""What the generic business sources (http_json, sql) share: the value check and the Gauge
they produce. They never invent metric names: every value lands in ``kpi_business_value``
with the configured measure as its ``metric`` label."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from .. import selector
from ..kpis.families import BUSINESS_VALUE
from ..model import Gauge
from ..ownership import Ownership


def _check_metric(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise ValueError(
            f"metric {value!r}: expected lower-case letters, digits and '_', starting with a letter"
        )
    return value


MetricName = Annotated[
    str,
    BeforeValidator(_check_metric),
    Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        max_length=64,
        description="The measure: value of the `metric` label (lower case, digits, _).",
    ),
]


def check_selector(value: str) -> str:
    try:
        selector.parse(value)
    except selector.SelectorError as error:
        raise ValueError(str(error)) from None
    return value


Selector = Annotated[str, BeforeValidator(check_selector)]


BusinessLabel = Literal["app", "team"]


def unique_metrics(measures: list[Any]) -> None:
    metrics = [measure.metric for measure in measures]
    twice = sorted({metric for metric in metrics if metrics.count(metric) > 1})
    if twice:
        raise ValueError(f"one measure per metric: {', '.join(twice)} named more than once")


BUSINESS_FAMILY = BUSINESS_VALUE.name


def finite_number(raw: Any) -> float:
    """``raw`` as a float: a number, or a decimal string (databases and APIs send amounts as
    text). A bool, null, other text, NaN or an infinity is refused with a ValueError that
    says what came instead."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"expected a finite number, got {_shown(raw)}")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected a finite number, got {_shown(raw)}") from None
    else:
        try:
            value = float(raw)  # Decimal from a database driver
        except (TypeError, ValueError):
            raise ValueError(f"expected a finite number, got {_shown(raw)}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {_shown(raw)}")
    return value


def _shown(raw: Any) -> str:
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    text = repr(raw) if isinstance(raw, str) else f"{type(raw).__name__} {raw!r}"
    return text[:60]


def business_gauges(
    source: str,
    metric: str,
    values: Mapping[tuple[str, str], float],
    ownership: Ownership,
    measured_at: float,
) -> list[Gauge]:
    """One ``kpi_business_value`` gauge per (app, team) (values of the same series summed);
    an empty app is the default app, an empty team the app's owner."""
    resolved: dict[tuple[str, str], float] = {}
    for (app, team), value in values.items():
        owner = ownership.of_app(app)
        series = (owner.app, team or owner.team)
        resolved[series] = resolved.get(series, 0.0) + value
    gauges = []
    for (app, team), value in sorted(resolved.items()):
        gauges.append(
            Gauge(
                source=source,
                key=f"{source}/{metric}/{app}/{team}",
                app=app,
                team=team,
                name=BUSINESS_FAMILY,
                value=value,
                measured_at=measured_at,
                labels=(("metric", metric),),
            )
        )
    return gauges


def label_text(raw: Any) -> str:
    """A label value read from data: text or a number, nothing else."""
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError(f"expected a text label, got {_shown(raw)}")
