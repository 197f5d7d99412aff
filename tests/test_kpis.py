"""KPI functions: pure, hand-computed, no server, no clock, no network."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from kpi_exporter.config import parse_config
from kpi_exporter.exposition import render
from kpi_exporter.gofloat import go_float
from kpi_exporter.kpis import Aggregate, KpiSettings
from kpi_exporter.kpis.families import (
    EXPORTER_FAMILIES,
    FAMILIES,
    FAMILY_BY_NAME,
    LEAD_TIME_BUCKETS,
    WINDOW_FAMILIES,
    WINDOW_OBSERVATION_FAMILIES,
)
from kpi_exporter.kpis.observation import Observation
from kpi_exporter.kpis.observe import observe
from kpi_exporter.model import DeploymentOutcome, Event, Identity
from kpi_exporter.origin import ORIGINS
from tests.support import DAY, HOUR, change, deployment, exposition, incident, ts, value

SHOP = {"app": "shop", "team": "team-a", "environment": "production"}


def text_of(events: Sequence[Event]) -> str:
    return exposition(events)


def test_only_successful_production_deployments_count() -> None:
    text = text_of(
        [
            deployment("d1", "2026-11-02T10:00:00Z"),
            deployment("d2", "2026-11-03T10:00:00Z", environment="prod-eu"),
            deployment("d3", "2026-11-03T11:00:00Z", environment="staging"),
            deployment("d4", "2026-11-03T12:00:00Z", status="failure"),
            deployment("d5", "2026-11-04T12:00:00Z", change_type="hotfix"),
            deployment("d6", "2026-11-05T12:00:00Z", change_type="rollback"),
        ]
    )
    # production: d1, d5, d6; prod-eu: d2; staging and the failed attempt do not count
    assert value(text, "kpi_deployments_total", **SHOP) == 3
    assert value(text, "kpi_deployments_total", environment="prod-eu") == 1
    assert value(text, "kpi_deployments_total", environment="staging") == 0


def test_production_pattern_is_configurable() -> None:
    settings = KpiSettings(production=re.compile(r"^live$"))
    events = [
        deployment("d1", "2026-11-02T10:00:00Z", environment="live"),
        deployment("d2", "2026-11-02T11:00:00Z"),
    ]
    text = exposition(events, settings)
    assert value(text, "kpi_deployments_total", environment="live") == 1
    assert value(text, "kpi_deployments_total", environment="production") == 0


def test_production_environments_match_whatever_their_case() -> None:
    # The default pattern and a configured one (through the configuration, as a user writes
    # it) match case-insensitively; (?-i:...) keeps a pattern case-sensitive.
    events = [
        deployment("d1", "2026-11-02T10:00:00Z", environment="PRODUCTION"),
        deployment("d2", "2026-11-02T11:00:00Z", environment="Prod-EU"),
        deployment("d3", "2026-11-02T12:00:00Z", environment="STAGING"),
    ]
    text = exposition(events)
    assert value(text, "kpi_deployments_total", environment="PRODUCTION") == 1
    assert value(text, "kpi_deployments_total", environment="Prod-EU") == 1
    assert value(text, "kpi_deployments_total", environment="STAGING") == 0
    configured = parse_config("production_environments: '^live$'\n").kpi_settings()
    assert configured.is_production("LIVE") and not configured.is_production("staging")
    exact = parse_config("production_environments: '(?-i:^live$)'\n").kpi_settings()
    assert exact.is_production("live") and not exact.is_production("LIVE")


def test_lead_time_buckets_hold_hand_computed_counts() -> None:
    deployed = "2026-11-10T12:00:00Z"
    events = [
        change("c1", "2026-11-10T11:50:00Z", deployed),  # 10 min  -> le=900
        change("c2", "2026-11-10T10:00:00Z", deployed),  # 2 h     -> le=7200 (bound included)
        change("c3", "2026-11-09T12:00:00Z", deployed),  # 1 day   -> le=86400
        change("c4", "2026-11-07T12:00:00Z", deployed),  # 3 days  -> le=345600
        change("c5", "2026-08-12T12:00:00Z", deployed),  # 90 days -> le=7776000
        change("c6", "2026-11-09T12:00:00Z", None),  # merged, never deployed: no lead time
    ]
    text = text_of(events)
    name = "kpi_change_lead_time_seconds"
    expected_cumulative = {
        300.0: 0,
        900.0: 1,
        1800.0: 1,
        3600.0: 1,
        7200.0: 2,
        14400.0: 2,
        28800.0: 2,
        86400.0: 3,
        172800.0: 3,
        345600.0: 4,
        604800.0: 4,
        1209600.0: 4,
        2592000.0: 4,
        5184000.0: 4,
        7776000.0: 5,
        15552000.0: 5,
        31536000.0: 5,
    }
    assert set(expected_cumulative) == set(LEAD_TIME_BUCKETS)
    for bound, count in expected_cumulative.items():
        assert value(text, f"{name}_bucket", le=go_float(bound), **SHOP) == count, bound
    assert value(text, f"{name}_bucket", le="+Inf", **SHOP) == 5
    assert value(text, f"{name}_count", **SHOP) == 5
    assert value(text, f"{name}_sum", **SHOP) == 600 + 7200 + DAY + 3 * DAY + 90 * DAY


def test_incident_families_time_to_restore_detect_acknowledge() -> None:
    events = [
        incident(
            "INC-1",
            "2026-11-02T10:00:00Z",
            impact_started_at="2026-11-02T09:50:00Z",
            detected_at="2026-11-02T10:00:00Z",
            acknowledged_at="2026-11-02T10:03:00Z",
            resolved_at="2026-11-02T10:45:00Z",
        ),
        incident("INC-2", "2026-11-03T10:00:00Z", severity="low"),  # still open
    ]
    text = text_of(events)
    labels = {**SHOP, "severity": "critical"}
    assert value(text, "kpi_incidents_total", **labels) == 1
    assert value(text, "kpi_incidents_total", severity="low") == 1
    assert value(text, "kpi_incidents_open", **labels) == 0
    assert value(text, "kpi_incidents_open", severity="low") == 1
    assert value(text, "kpi_incident_restore_seconds_sum", **labels) == 45 * 60
    assert value(text, "kpi_incident_restore_seconds_bucket", le="1800.0", **labels) == 0
    assert value(text, "kpi_incident_restore_seconds_bucket", le="3600.0", **labels) == 1
    assert value(text, "kpi_incident_detect_seconds_sum", **labels) == 10 * 60
    assert value(text, "kpi_incident_acknowledge_seconds_sum", **labels) == 3 * 60


def test_failed_deployment_and_recovery_come_from_outcomes() -> None:
    outcome = DeploymentOutcome(
        **Identity(source="test", key="d1", app="shop", team="team-a"),
        environment="production",
        deployed_at=ts("2026-11-02T10:00:00Z"),
        failed=True,
        reasons=("incident",),
        recovered_at=ts("2026-11-02T13:00:00Z"),
    )
    healthy = replace(outcome, key="d2", failed=False, reasons=(), recovered_at=None)
    hotfix = replace(healthy, key="d3", rework=True)
    text = text_of([outcome, healthy, hotfix])
    assert value(text, "kpi_deployments_failed_total", **SHOP) == 1
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 1
    assert value(text, "kpi_failed_deployment_recovery_seconds_sum", **SHOP) == 3 * HOUR


def test_taking_out_an_event_returns_exactly_to_the_previous_sums() -> None:
    aggregate = Aggregate()
    base = [change("c1", "2026-11-10T11:50:00.123Z", "2026-11-10T12:00:00Z")]
    for event in base:
        aggregate.add(event)
    before = render(aggregate.exposition).text
    extra = change("c2", "2026-11-01T00:00:00.001Z", "2026-11-10T12:00:00Z")
    aggregate.add(extra)
    aggregate.add(extra, -1)
    assert render(aggregate.exposition).text == before


def test_no_metric_has_a_person_or_identifier_label() -> None:
    forbidden = {
        "author",
        "user",
        "reviewer",
        "assignee",
        "person",
        "email",
        "sha",
        "commit",
        "id",
        "url",
        "service",
        "namespace",
        "pod",
        "job",
        "instance",
    }
    for family in (*FAMILIES, *EXPORTER_FAMILIES):
        assert not forbidden & set(family.labels), family.name


# Every label a domain family may carry: each names a team, an app or a bounded category,
# never a person. `origin` (human, ai_agent, bot) says where a change came from, classified
# from its author's account, which is never kept; `state` is a Datadog monitor's overall state;
# `feature` a repository security feature (code scanning, secret scanning); `release_type` a
# semantic version step (major, minor, patch, unknown); `phase` the phase that should have
# caught an escaped defect.
DOMAIN_LABELS = frozenset(
    {
        *("app", "team", "environment", "component", "category", "status", "stage"),
        *("severity", "scanner", "provider", "currency", "metric", "slo", "survey"),
        *("question", "window", "percentile", "le", "older_than", "origin", "state", "feature"),
        *("release_type", "phase"),
    }
)


def test_every_domain_label_is_on_the_allowlist() -> None:
    for family in (*FAMILIES, *WINDOW_FAMILIES, *WINDOW_OBSERVATION_FAMILIES):
        assert set(family.labels) <= DOMAIN_LABELS, family.name
        if "origin" in family.labels:  # by team and app, never finer
            assert set(family.labels) <= {"app", "team", "origin", "window"}, family.name


def test_origin_takes_three_values_only() -> None:
    seen = set()
    for origin in (*ORIGINS, "someone", ""):
        event = change("c", "2026-11-01T00:00:00Z", "2026-11-10T12:00:00Z")
        event = replace(event, origin=origin, merged_at=ts("2026-11-02T00:00:00Z"))
        for contribution in observe(event, KpiSettings()):
            if isinstance(contribution, Observation) and "origin" in _labels(contribution):
                seen.add(
                    dict(zip(_labels(contribution), contribution.labels, strict=True))["origin"]
                )
    assert seen == set(ORIGINS)


def _labels(observation: Observation) -> tuple[str, ...]:
    return FAMILY_BY_NAME[observation.family].labels


def test_counters_follow_the_naming_conventions() -> None:
    for family in (*FAMILIES, *EXPORTER_FAMILIES):
        assert family.name.startswith("kpi_")
        if family.type == "counter":
            assert family.name.endswith("_total"), family.name
        if family.type == "histogram":
            assert family.name.endswith(("_seconds", "_lines")), family.name
            assert list(family.buckets) == sorted(family.buckets)
