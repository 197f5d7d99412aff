"""Every domain metric family the exporter publishes: name, type, labels, buckets and help.

This table is the source of the metric reference in ``docs/metrics.md``; a test proves that
every family here is documented there and that nothing else is exported.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exposition import Family

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY

# Lead time spans minutes to months. The DORA tier limits (1 hour, 1 day, 1 week, 1 month,
# 6 months) are bucket bounds, so "share of changes under a tier limit" is read exactly.
LEAD_TIME_BUCKETS: tuple[float, ...] = (
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    DAY,
    2 * DAY,
    4 * DAY,
    WEEK,
    2 * WEEK,
    30 * DAY,
    60 * DAY,
    90 * DAY,
    180 * DAY,
    365 * DAY,
)

# Restore, recovery, detect and acknowledge times span a minute to a month.
RESTORE_BUCKETS: tuple[float, ...] = (
    MINUTE,
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    DAY,
    2 * DAY,
    WEEK,
    30 * DAY,
)

# Flow stages (coding, pickup, review, deploy) span minutes to weeks, with the usual review
# and delivery limits (1 hour, 4 hours, 1 day, 1 week) as bounds. One set for every stage, so
# stages compare bucket by bucket.
FLOW_BUCKETS: tuple[float, ...] = (
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    DAY,
    2 * DAY,
    4 * DAY,
    WEEK,
    2 * WEEK,
    30 * DAY,
    90 * DAY,
)

# Change size in lines: roughly doubling from a one-line fix to a large refactoring; 200 and
# 400 lines are the common "small enough to review well" limits.
SIZE_BUCKETS: tuple[float, ...] = (10, 25, 50, 100, 200, 400, 800, 1600, 3200)

# Thresholds of kpi_changes_open_by_age: (label value, age in seconds).
AGE_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("1h", HOUR),
    ("1d", DAY),
    ("3d", 3 * DAY),
    ("7d", WEEK),
    ("14d", 2 * WEEK),
    ("30d", 30 * DAY),
)

# Time to fix a security finding spans an hour to a year; the default SLAs (critical 7 days,
# high 30 days) and the usual medium one (90 days) are bounds.
VULNERABILITY_FIX_BUCKETS: tuple[float, ...] = (
    HOUR,
    4 * HOUR,
    DAY,
    3 * DAY,
    WEEK,
    2 * WEEK,
    30 * DAY,
    60 * DAY,
    90 * DAY,
    180 * DAY,
    365 * DAY,
)

DELIVERY_LABELS = ("app", "team", "environment")
FLOW_LABELS = ("app", "team")
INCIDENT_LABELS = ("app", "team", "environment", "severity")
COMPONENT_LABELS = ("app", "team", "component")
DEFECT_LABELS = ("app", "team", "severity")
BUSINESS_LABELS = ("app", "team", "metric")
SURVEY_LABELS = ("team", "survey", "question")
COST_LABELS = ("provider", "app", "team", "currency")
VULNERABILITY_LABELS = ("app", "team", "severity")
SCANNER_LABELS = (*VULNERABILITY_LABELS, "scanner")
SLO_LABELS = ("app", "team", "slo", "window")


FAMILIES: tuple[Family, ...] = (
    Family(
        "kpi_deployments_total",
        "counter",
        "Successful deployments to a production environment.",
        DELIVERY_LABELS,
    ),
    Family(
        "kpi_deployments_rework_total",
        "counter",
        "Unplanned production deployments (hotfixes and rollbacks).",
        DELIVERY_LABELS,
    ),
    Family(
        "kpi_deployments_failed_total",
        "counter",
        "Production deployments that failed: linked to an incident, rolled back, or followed"
        " by a hotfix within the hotfix window.",
        DELIVERY_LABELS,
    ),
    Family(
        "kpi_deployments_release_failed_total",
        "counter",
        "Production deployments that needed a rollback or a hotfix (within the hotfix window):"
        " the release failure rate's numerator.",
        DELIVERY_LABELS,
    ),
    Family(
        "kpi_change_lead_time_seconds",
        "histogram",
        "Change lead time: first commit to the end of the first successful production"
        " deployment that contains the change.",
        DELIVERY_LABELS,
        LEAD_TIME_BUCKETS,
    ),
    Family(
        "kpi_failed_deployment_recovery_seconds",
        "histogram",
        "Failed deployment recovery time: failed deployment to recovery (linked incidents"
        " resolved, or the next deployment that rolled it back or fixed it).",
        DELIVERY_LABELS,
        RESTORE_BUCKETS,
    ),
    Family(
        "kpi_changes_merged_total",
        "counter",
        "Merged changes (pull or merge requests; commits for local git).",
        FLOW_LABELS,
    ),
    Family(
        "kpi_changes_merged_unreviewed_total",
        "counter",
        "Merged changes that nobody but their author reviewed or approved before the merge.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_change_coding_seconds",
        "histogram",
        "Coding time of merged changes: first commit to opened.",
        FLOW_LABELS,
        FLOW_BUCKETS,
    ),
    Family(
        "kpi_change_pickup_seconds",
        "histogram",
        "Pickup time of merged changes: opened to the first review or comment by someone other"
        " than the author.",
        FLOW_LABELS,
        FLOW_BUCKETS,
    ),
    Family(
        "kpi_change_review_seconds",
        "histogram",
        "Review time of merged changes: first review to merge.",
        FLOW_LABELS,
        FLOW_BUCKETS,
    ),
    Family(
        "kpi_change_deploy_seconds",
        "histogram",
        "Deploy time of merged changes: merge to the end of the first successful production"
        " deployment that contains the change.",
        DELIVERY_LABELS,
        FLOW_BUCKETS,
    ),
    Family(
        "kpi_change_size_lines",
        "histogram",
        "Size of merged changes in lines changed, as the source counts them.",
        FLOW_LABELS,
        SIZE_BUCKETS,
    ),
    Family(
        "kpi_changes_open",
        "gauge",
        "Changes open now (work in progress): opened, neither merged nor closed.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_changes_open_by_age",
        "gauge",
        "Open changes older than `older_than` (1h, 1d, 3d, 7d, 14d, 30d; cumulative), by the"
        " time they were opened.",
        (*FLOW_LABELS, "older_than"),
    ),
    Family(
        "kpi_incidents_total",
        "counter",
        "Incidents, by the time they started.",
        INCIDENT_LABELS,
    ),
    Family(
        "kpi_incidents_unlinked_total",
        "counter",
        "Production incidents linked to no deployment (no explicit reference matched, and no"
        " production deployment of the app within the incident horizon before it started),"
        " by the time they started: a high share means the linking misses.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_incidents_open",
        "gauge",
        "Incidents not resolved yet.",
        INCIDENT_LABELS,
    ),
    Family(
        "kpi_incidents_oldest_open_start_timestamp_seconds",
        "gauge",
        "When the oldest incident not resolved yet started; absent when none is open.",
        INCIDENT_LABELS,
    ),
    Family(
        "kpi_incident_restore_seconds",
        "histogram",
        "Time to restore: incident start to resolved.",
        INCIDENT_LABELS,
        RESTORE_BUCKETS,
    ),
    Family(
        "kpi_incident_detect_seconds",
        "histogram",
        "Time to detect: impact start to detection, where the source records both.",
        INCIDENT_LABELS,
        RESTORE_BUCKETS,
    ),
    Family(
        "kpi_incident_acknowledge_seconds",
        "histogram",
        "Time to acknowledge: detection (or start) to acknowledgement, where the source has it.",
        INCIDENT_LABELS,
        RESTORE_BUCKETS,
    ),
    Family(
        "kpi_defects_total",
        "counter",
        "Defects (bugs), by the time they were created.",
        DEFECT_LABELS,
    ),
    Family(
        "kpi_defects_escaped_total",
        "counter",
        "Defects found in production (escaped); escape rate = escaped / all defects.",
        DEFECT_LABELS,
    ),
    Family(
        "kpi_defects_customer_reported_total",
        "counter",
        "Defects reported by a customer; customer-reported share = these / all defects.",
        DEFECT_LABELS,
    ),
    Family(
        "kpi_defects_open",
        "gauge",
        "Defects not resolved yet.",
        DEFECT_LABELS,
    ),
    Family(
        "kpi_coverage_lines_covered",
        "gauge",
        "Lines covered by tests in the latest coverage report, per component (coverage ratio ="
        " covered / valid).",
        COMPONENT_LABELS,
    ),
    Family(
        "kpi_coverage_lines_valid",
        "gauge",
        "Lines that could be covered (executable lines) in the latest coverage report, per"
        " component.",
        COMPONENT_LABELS,
    ),
    Family(
        "kpi_incidents_by_component_total",
        "counter",
        "Incidents whose source names the failing component, by the time they started; read"
        " next to coverage per component.",
        COMPONENT_LABELS,
    ),
    Family(
        "kpi_test_runs_total",
        "counter",
        "Test runs: one per test suite and commit (retries of the same commit included).",
        FLOW_LABELS,
    ),
    Family(
        "kpi_test_runs_failed_total",
        "counter",
        "Test runs (suite and commit) with at least one failed test that never passed.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_tests_total",
        "counter",
        "Test cases run (not skipped), counted once per test run.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_tests_failed_total",
        "counter",
        "Test cases that failed and never passed for the commit of their test run.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_tests_flaky_total",
        "counter",
        "Flaky test cases: failed in one run and passed in another for the same commit.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_sonarqube_debt_ratio",
        "gauge",
        "SonarQube technical debt ratio (0..1): remediation cost / development cost.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_sonarqube_coverage_ratio",
        "gauge",
        "Test coverage (0..1) as SonarQube measures it.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_sonarqube_bugs",
        "gauge",
        "Open bugs SonarQube's analysis finds.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_sonarqube_code_smells",
        "gauge",
        "Open code smells SonarQube's analysis finds.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_sonarqube_vulnerabilities",
        "gauge",
        "Open vulnerabilities SonarQube's analysis finds.",
        FLOW_LABELS,
    ),
    Family(
        "kpi_business_value",
        "gauge",
        "Latest value of a configured business measure (feature adoption, active users,"
        " revenue, ...) from an http_json or sql source; the metric label names the measure.",
        BUSINESS_LABELS,
    ),
    Family(
        "kpi_slo_objective_ratio",
        "gauge",
        "Objective of a service level objective kept outside Prometheus (Datadog) as a ratio"
        " (0.999), over its window.",
        SLO_LABELS,
    ),
    Family(
        "kpi_slo_sli_ratio",
        "gauge",
        "What an SLO kept outside Prometheus achieved over its window (Datadog's SLI value)"
        " as a ratio: good over valid events or time.",
        SLO_LABELS,
    ),
    Family(
        "kpi_slo_error_budget_remaining_ratio",
        "gauge",
        "Share of the error budget an SLO kept outside Prometheus has left over its window:"
        " 1 - (1 - SLI) / (1 - objective); below 0 the objective is missed.",
        SLO_LABELS,
    ),
    Family(
        "kpi_survey_score",
        "gauge",
        "Mean score of a survey question's answers per team (the question's scale).",
        SURVEY_LABELS,
    ),
    Family(
        "kpi_survey_responses",
        "gauge",
        "Valid answers to a survey question per team.",
        SURVEY_LABELS,
    ),
    Family(
        "kpi_survey_nps_ratio",
        "gauge",
        "Net promoter score of an NPS question (0..10) per team as a ratio (-1..1):"
        " promoters (9-10) minus detractors (0-6), over all answers.",
        SURVEY_LABELS,
    ),
    Family(
        "kpi_vulnerabilities_open",
        "gauge",
        "Security findings open now (Dependabot, code scanning, secret scanning, Trivy, OSV),"
        " by severity and scanner.",
        SCANNER_LABELS,
    ),
    Family(
        "kpi_vulnerabilities_fixed_total",
        "counter",
        "Security findings fixed (a scanner report no longer has them, or the alert was fixed;"
        " a revoked secret), by the time they were created.",
        SCANNER_LABELS,
    ),
    Family(
        "kpi_vulnerabilities_dismissed_total",
        "counter",
        "Security findings dismissed (false positive, accepted risk, won't fix), kept apart"
        " from fixed ones, by the time they were created.",
        SCANNER_LABELS,
    ),
    Family(
        "kpi_vulnerability_fix_seconds",
        "histogram",
        "Time to fix a security finding: created (or first reported) to fixed.",
        VULNERABILITY_LABELS,
        VULNERABILITY_FIX_BUCKETS,
    ),
    Family(
        "kpi_vulnerabilities_oldest_open_created_timestamp_seconds",
        "gauge",
        "When the oldest security finding still open was created; absent when none is open.",
        VULNERABILITY_LABELS,
    ),
    Family(
        "kpi_vulnerabilities_sla_breached",
        "gauge",
        "Open security findings older than their severity's SLA (default: critical 7 days,"
        " high 30 days; `security.sla` in the configuration).",
        VULNERABILITY_LABELS,
    ),
    Family(
        "kpi_cost_cumulative",
        "gauge",
        "All stored spend (credits negative, so a gauge): read increases over a window with"
        " `delta()`; never summed across currencies.",
        COST_LABELS,
    ),
    Family(
        "kpi_cost_month_to_date",
        "gauge",
        "Spend in the current UTC month, today included.",
        COST_LABELS,
    ),
    Family(
        "kpi_cost_last_day",
        "gauge",
        "Spend of yesterday (UTC), the latest complete day; 0 when the cost data lags.",
        COST_LABELS,
    ),
    Family(
        "kpi_cost_forecast_month_end",
        "gauge",
        "Forecast spend of the current UTC month: month to date + the average of the last 7"
        " complete days x the days left after today.",
        COST_LABELS,
    ),
    Family(
        "kpi_cost_budget_month",
        "gauge",
        "Monthly budget of an app or a team (the other label empty) from the configuration.",
        ("app", "team", "currency"),
    ),
)

FAMILY_BY_NAME: dict[str, Family] = {family.name: family for family in FAMILIES}

# Windowed KPIs: computed by the exporter over each configured window (label `window`, e.g.
# 30d) by event time, exactly, and published as gauges. Quantiles carry `percentile` ("50",
# "75", "90"), not `quantile`: Prometheus keeps that label for summaries, whose counts and sums
# are counters, which window values are not. The recording rules only rename or
# add up their latest samples (see docs/design.md#windows-computed-by-the-exporter).
#
# A count is published at the app level only (teams and the organisation are sums). Quantiles
# and deploy days are not sums: they are published at three levels, told apart by the labels
# a series has: app level (app, team), team level (team, no app), organisation (neither).
WINDOW_COUNT_LABELS = ("app", "team", "window")
WINDOW_QUANTILE_LABELS = ("app", "team", "window", "percentile")


@dataclass(frozen=True, slots=True)
class Windowed:
    """How a window family is computed: ``count`` adds up the values of the observations in
    the window; ``quantiles`` publishes exact quantiles of their values; ``days`` counts the
    UTC days with an observation among the window's last complete days. ``of`` is the raw
    family with the same meaning (its buckets serve the ``_observations`` of sharded levels)."""

    family: Family
    kind: str  # count | quantiles | days
    of: str


def _count(
    name: str, of: str, help_text: str, labels: tuple[str, ...] = WINDOW_COUNT_LABELS
) -> Windowed:
    return Windowed(Family(name, "gauge", help_text, labels), "count", of)


def _quantiles(name: str, of: str, help_text: str) -> Windowed:
    return Windowed(
        Family(name, "gauge", help_text, WINDOW_QUANTILE_LABELS, FAMILY_BY_NAME[of].buckets),
        "quantiles",
        of,
    )


_IN = " in the window, by "

WINDOWED: tuple[Windowed, ...] = (
    _count(
        "kpi_window_deployments",
        "kpi_deployments_total",
        "Successful production deployments that finished in the window.",
    ),
    _count(
        "kpi_window_deployments_failed",
        "kpi_deployments_failed_total",
        "Failed production deployments that finished in the window.",
    ),
    _count(
        "kpi_window_deployments_rework",
        "kpi_deployments_rework_total",
        "Unplanned production deployments (hotfixes, rollbacks) that finished in the window.",
    ),
    _count(
        "kpi_window_deployments_release_failed",
        "kpi_deployments_release_failed_total",
        "Production deployments that finished in the window and needed a rollback or a hotfix.",
    ),
    Windowed(
        Family(
            "kpi_window_deployed_dates",
            "gauge",
            "UTC days with at least one successful production deployment among the last N"
            " complete UTC days (N: the window in days). App, team and organisation level.",
            WINDOW_COUNT_LABELS,
        ),
        "days",
        "kpi_deployments_total",
    ),
    _count(
        "kpi_window_changes_merged",
        "kpi_changes_merged_total",
        "Changes merged" + _IN + "merge time.",
    ),
    _count(
        "kpi_window_changes_merged_unreviewed",
        "kpi_changes_merged_unreviewed_total",
        "Changes merged without a review by anyone but their author" + _IN + "merge time.",
    ),
    _count(
        "kpi_window_incidents",
        "kpi_incidents_total",
        "Production incidents started in the window.",
    ),
    _count(
        "kpi_window_incidents_unlinked",
        "kpi_incidents_unlinked_total",
        "Production incidents started in the window that are linked to no deployment.",
    ),
    _count(
        "kpi_window_incidents_by_component",
        "kpi_incidents_by_component_total",
        "Production incidents naming the failing component, started in the window.",
        ("app", "team", "component", "window"),
    ),
    _count(
        "kpi_window_defects",
        "kpi_defects_total",
        "Defects created in the window.",
    ),
    _count(
        "kpi_window_defects_escaped",
        "kpi_defects_escaped_total",
        "Defects found in production, created in the window.",
    ),
    _count(
        "kpi_window_defects_customer_reported",
        "kpi_defects_customer_reported_total",
        "Defects reported by a customer, created in the window.",
    ),
    _count(
        "kpi_window_test_runs",
        "kpi_test_runs_total",
        "Test runs (suite and commit) that finished in the window.",
    ),
    _count(
        "kpi_window_test_runs_failed",
        "kpi_test_runs_failed_total",
        "Test runs with a test that failed and never passed, finished in the window.",
    ),
    _count(
        "kpi_window_tests",
        "kpi_tests_total",
        "Test cases run by the test runs that finished in the window.",
    ),
    _count(
        "kpi_window_tests_flaky",
        "kpi_tests_flaky_total",
        "Flaky test cases of the test runs that finished in the window.",
    ),
    _count(
        "kpi_window_vulnerabilities_fixed",
        "kpi_vulnerabilities_fixed_total",
        "Security findings fixed" + _IN + "fix time.",
    ),
    _count(
        "kpi_window_vulnerabilities_dismissed",
        "kpi_vulnerabilities_dismissed_total",
        "Security findings dismissed" + _IN + "dismissal time.",
    ),
    _quantiles(
        "kpi_window_change_lead_time_seconds",
        "kpi_change_lead_time_seconds",
        "Exact quantiles of the lead time of the changes first deployed to production in the"
        " window.",
    ),
    _quantiles(
        "kpi_window_failed_deployment_recovery_seconds",
        "kpi_failed_deployment_recovery_seconds",
        "Exact quantiles of the recovery time of the failed deployments that recovered in the"
        " window.",
    ),
    _quantiles(
        "kpi_window_change_coding_seconds",
        "kpi_change_coding_seconds",
        "Exact quantiles of the coding time of the changes merged in the window.",
    ),
    _quantiles(
        "kpi_window_change_pickup_seconds",
        "kpi_change_pickup_seconds",
        "Exact quantiles of the pickup time of the changes merged in the window.",
    ),
    _quantiles(
        "kpi_window_change_review_seconds",
        "kpi_change_review_seconds",
        "Exact quantiles of the review time of the changes merged in the window.",
    ),
    _quantiles(
        "kpi_window_change_deploy_seconds",
        "kpi_change_deploy_seconds",
        "Exact quantiles of the deploy time of the changes first deployed to production in the"
        " window.",
    ),
    _quantiles(
        "kpi_window_change_size_lines",
        "kpi_change_size_lines",
        "Exact quantiles of the size of the changes merged in the window.",
    ),
    _quantiles(
        "kpi_window_incident_restore_seconds",
        "kpi_incident_restore_seconds",
        "Exact quantiles of the time to restore of the production incidents resolved in the"
        " window.",
    ),
    _quantiles(
        "kpi_window_incident_detect_seconds",
        "kpi_incident_detect_seconds",
        "Exact quantiles of the time to detect of the production incidents detected in the window.",
    ),
    _quantiles(
        "kpi_window_incident_acknowledge_seconds",
        "kpi_incident_acknowledge_seconds",
        "Exact quantiles of the time to acknowledge of the production incidents acknowledged in"
        " the window.",
    ),
    _quantiles(
        "kpi_window_vulnerability_fix_seconds",
        "kpi_vulnerability_fix_seconds",
        "Exact quantiles of the time to fix of the security findings fixed in the window.",
    ),
)

WINDOWED_BY_NAME: dict[str, Windowed] = {w.family.name: w for w in WINDOWED}
WINDOW_FAMILIES: tuple[Family, ...] = tuple(w.family for w in WINDOWED)


def observations_family(windowed: Windowed) -> Family:
    """The window's observations per bucket (cumulative, ``le``), published instead of an
    exact quantile at a level a sharded process cannot see whole (the organisation; a team
    split across shards): rules estimate the quantile from the buckets of every shard."""
    return Family(
        windowed.family.name + "_observations",
        "gauge",
        f"Observations of `{windowed.family.name}` in the window at or under `le` (cumulative),"
        " at the levels a shard cannot compute exactly (sharded installations only).",
        ("team", "window", "le"),
        windowed.family.buckets,
    )


WINDOW_OBSERVATION_FAMILIES: tuple[Family, ...] = tuple(
    observations_family(w) for w in WINDOWED if w.kind == "quantiles"
)


def retracted_name(name: str) -> str:
    """The family publishing the retractions of a counter or histogram: ``_retracted`` before
    the unit suffix (kpi_deployments_retracted_total, kpi_change_lead_time_retracted_seconds)."""
    for suffix in ("_total", "_seconds", "_lines"):
        if name.endswith(suffix):
            return name.removesuffix(suffix) + "_retracted" + suffix
    return name + "_retracted"


# The exporter's own health (kpi_exporter_*), documented from the same table.
EXPORTER_FAMILIES: tuple[Family, ...] = (
    Family(
        "kpi_exporter_build_info",
        "gauge",
        "Version of the running kpi-exporter (value 1).",
        ("version", "python_version"),
    ),
    Family(
        "kpi_exporter_shard_info",
        "gauge",
        "Which shard of the apps this exporter polls (value 1): apps with hash(app) % shards"
        " == shard; shards 1 means all of them.",
        ("shard", "shards"),
    ),
    Family(
        "kpi_exporter_source_up",
        "gauge",
        "1 when the last poll of the source succeeded, 0 when it failed or has not run yet.",
        ("source", "type"),
    ),
    Family(
        "kpi_exporter_source_last_success_timestamp_seconds",
        "gauge",
        "When the source was last polled successfully.",
        ("source",),
    ),
    Family(
        "kpi_exporter_source_poll_duration_seconds",
        "gauge",
        "How long the last poll of the source took.",
        ("source",),
    ),
    Family(
        "kpi_exporter_source_polls_total",
        "counter",
        "Polls of the source since the exporter started, by result (success, failure).",
        ("source", "result"),
    ),
    Family(
        "kpi_exporter_events_rejected_total",
        "counter",
        "Input records skipped as invalid since the exporter started.",
        ("source",),
    ),
    Family(
        "kpi_exporter_api_requests_total",
        "counter",
        "Requests sent to source APIs since the exporter started, by HTTP status code"
        " (a 304 Not Modified counted as such).",
        ("source", "code"),
    ),
    Family(
        "kpi_exporter_api_rate_limit_remaining",
        "gauge",
        "Requests left in the source API's current rate-limit window, per limit (GitHub's"
        " resource: core, graphql, ...; empty for APIs with one limit).",
        ("source", "resource"),
    ),
    Family(
        "kpi_exporter_events_stored",
        "gauge",
        "Events in the store, by source and kind (outcome: derived deployment outcomes).",
        ("source", "kind"),
    ),
)

EXPORTER_FAMILY_BY_NAME: dict[str, Family] = {family.name: family for family in EXPORTER_FAMILIES}
