"""Defect KPIs on hand-computed cases: all, escaped (found in production), customer-reported
and open defects, per app, team and severity."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kpi_exporter.kpis import aggregate
from kpi_exporter.model import Defect
from tests.support import exposition, samples, ts, value

SHOP = {"app": "shop", "team": "team-a"}


def defect(key: str, severity: str = "high", **fields: Any) -> Defect:
    values: dict[str, Any] = {
        "source": "test",
        "key": key,
        "app": "shop",
        "team": "team-a",
        "created_at": ts("2026-11-02T10:00:00Z"),
        "found_in": "pre-production",
        "severity": severity,
    }
    values.update(fields)
    return Defect(**values)


# Shop: 5 defects. High: b1 (production, customer, open), b2 (production, resolved),
# b3 (pre-production, resolved). Low: b4 (pre-production, open), b5 (production, customer,
# resolved). Api: one pre-production defect, resolved.
DEFECTS = [
    defect("b1", found_in="production", customer_reported=True),
    defect("b2", found_in="production", resolved_at=ts("2026-11-03T10:00:00Z")),
    defect("b3", resolved_at=ts("2026-11-03T10:00:00Z")),
    defect("b4", "low"),
    defect(
        "b5",
        "low",
        found_in="production",
        customer_reported=True,
        resolved_at=ts("2026-11-04T10:00:00Z"),
    ),
    defect("b6", app="api", resolved_at=ts("2026-11-03T10:00:00Z")),
]


def test_defects_escaped_and_customer_reported_are_counted_per_severity():
    text = exposition(DEFECTS)

    assert value(text, "kpi_defects_total", **SHOP, severity="high") == 3
    assert value(text, "kpi_defects_total", **SHOP, severity="low") == 2
    assert value(text, "kpi_defects_escaped_total", **SHOP, severity="high") == 2  # b1, b2
    assert value(text, "kpi_defects_escaped_total", **SHOP, severity="low") == 1  # b5
    assert value(text, "kpi_defects_customer_reported_total", **SHOP) == 2  # b1, b5
    assert value(text, "kpi_defects_total", app="api") == 1


def test_escape_rate_and_customer_reported_share_follow_from_the_counters():
    text = exposition(DEFECTS)

    # Shop: 3 of 5 escaped, 2 of 5 reported by customers.
    total = value(text, "kpi_defects_total", **SHOP)
    assert value(text, "kpi_defects_escaped_total", **SHOP) / total == 3 / 5
    assert value(text, "kpi_defects_customer_reported_total", **SHOP) / total == 2 / 5


def test_open_defects_are_one_per_unresolved_defect_and_zero_when_all_are_resolved():
    text = exposition(DEFECTS)

    assert value(text, "kpi_defects_open", **SHOP, severity="high") == 1  # b1
    assert value(text, "kpi_defects_open", **SHOP, severity="low") == 1  # b4
    # Api's only defect is resolved: the series is 0, not missing.
    assert ("kpi_defects_open", frozenset({**SHOP, "app": "api", "severity": "high"}.items())) in (
        samples(text)
    )
    assert value(text, "kpi_defects_open", app="api") == 0


def test_a_series_without_escaped_defects_has_no_escaped_counter():
    text = exposition([defect("b3")])

    assert value(text, "kpi_defects_total", **SHOP) == 1
    assert "kpi_defects_escaped_total" not in text
    assert "kpi_defects_customer_reported_total" not in text


def test_a_defect_resolved_later_leaves_the_open_gauge_and_is_never_counted_twice():
    result = aggregate([DEFECTS[0]])
    resolved = replace(DEFECTS[0], resolved_at=ts("2026-11-05T10:00:00Z"))

    result.apply([(DEFECTS[0], resolved)])

    assert result.values["kpi_defects_total"] == {("shop", "team-a", "high"): 1}
    assert result.values["kpi_defects_escaped_total"] == {("shop", "team-a", "high"): 1}
    assert result.values["kpi_defects_open"] == {("shop", "team-a", "high"): 0}
