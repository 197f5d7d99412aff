"""Business and survey KPIs: the values the generic sources (http_json, sql, survey) read.

Those sources produce Gauge events already named after their family (``kpi_business_value``,
``kpi_survey_*``) with the extra labels in ``Gauge.labels``; each source emits one gauge per
series, so the summed series is that value. Other gauges (SonarQube's) are not this module's.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Gauge
from .families import BUSINESS_VALUE, SURVEY_NPS_RATIO, SURVEY_RESPONSES, SURVEY_SCORE, KpiFamily
from .observation import Observation
from .settings import KpiSettings

SURVEY_FAMILIES: dict[str, KpiFamily] = {
    family.name: family for family in (SURVEY_SCORE, SURVEY_RESPONSES, SURVEY_NPS_RATIO)
}


def observe_business(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """A business value per app, team and configured measure (the ``metric`` label)."""
    if gauge.name == BUSINESS_VALUE.name:
        extra = dict(gauge.labels)
        labels = (gauge.app, gauge.team, extra.get("metric", ""))
        yield BUSINESS_VALUE.observe(labels, gauge.value)


def observe_survey(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """A survey result per team, survey and question."""
    family = SURVEY_FAMILIES.get(gauge.name)
    if family is not None:
        extra = dict(gauge.labels)
        labels = (gauge.team, extra.get("survey", ""), extra.get("question", ""))
        yield family.observe(labels, gauge.value)
