"""Business and survey KPIs: the values the generic sources (http_json, sql, survey) read.

Those sources produce Gauge events already named after their family (``kpi_business_value``,
``kpi_survey_*``) with the extra labels in ``Gauge.labels``; each source emits one gauge per
series, so the summed series is that value. Other gauges (SonarQube's) are not this module's.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Gauge
from .observation import Observation
from .settings import KpiSettings

BUSINESS_FAMILY = "kpi_business_value"
SURVEY_FAMILIES = ("kpi_survey_score", "kpi_survey_responses", "kpi_survey_nps_ratio")


def observe_business(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """A business value per app, team and configured measure (the ``metric`` label)."""
    if gauge.name == BUSINESS_FAMILY:
        extra = dict(gauge.labels)
        yield Observation(gauge.name, (gauge.app, gauge.team, extra.get("metric", "")), gauge.value)


def observe_survey(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation]:
    """A survey result per team, survey and question."""
    if gauge.name in SURVEY_FAMILIES:
        extra = dict(gauge.labels)
        labels = (gauge.team, extra.get("survey", ""), extra.get("question", ""))
        yield Observation(gauge.name, labels, gauge.value)
