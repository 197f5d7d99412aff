"""Every domain metric family the exporter publishes: name, type, labels, buckets and help.

Each family is a module-level handle (``DEPLOYMENTS``, ``WINDOW_DEPLOYMENTS``, ...) that the
KPI functions contribute through (``DEPLOYMENTS.observe(labels, 1)``), so that a misspelt
family is a NameError and a mypy error rather than a new series; the name a handle publishes
is written once, here. The ``FAMILIES`` and ``WINDOWED`` tables list them in the order of the
metric reference in ``docs/metrics.md``; a test proves that every family here is documented
there and that nothing else is exported.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exposition import Family
from .observation import Dated, Observation, Since

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY

# Five minutes to two weeks: the first bounds of lead time and of every flow stage.
_MINUTES_TO_WEEKS: tuple[float, ...] = (
    *(5 * MINUTE, 15 * MINUTE, 30 * MINUTE),
    *(HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR),
    *(DAY, 2 * DAY, 4 * DAY, WEEK, 2 * WEEK),
)

# Lead time spans minutes to months. The DORA tier limits (1 hour, 1 day, 1 week, 1 month,
# 6 months) are bucket bounds, so "share of changes under a tier limit" is read exactly.
LEAD_TIME_BUCKETS: tuple[float, ...] = (
    *_MINUTES_TO_WEEKS,
    *(30 * DAY, 60 * DAY, 90 * DAY, 180 * DAY, 365 * DAY),
)

# Restore, recovery, detect and acknowledge times span a minute to a month.
RESTORE_BUCKETS: tuple[float, ...] = (
    *(MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE),
    *(HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR),
    *(DAY, 2 * DAY, WEEK, 30 * DAY),
)

# Flow stages (coding, pickup, review, deploy) span minutes to weeks, with the usual review
# and delivery limits (1 hour, 4 hours, 1 day, 1 week) as bounds. One set for every stage, so
# stages compare bucket by bucket.
FLOW_BUCKETS: tuple[float, ...] = (*_MINUTES_TO_WEEKS, 30 * DAY, 90 * DAY)

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
    *(HOUR, 4 * HOUR, DAY, 3 * DAY, WEEK, 2 * WEEK),
    *(30 * DAY, 60 * DAY, 90 * DAY, 180 * DAY, 365 * DAY),
)

# Work items take hours to months; the seeds' cycle time target (2 to 5 days) is on bounds.
WORK_ITEM_BUCKETS: tuple[float, ...] = (
    HOUR,
    4 * HOUR,
    *(days * DAY for days in (1, 2, 3, 5, 7, 14, 30, 60, 90, 180, 365)),
)

DELIVERY_LABELS = ("app", "team", "environment")
FLOW_LABELS = ("app", "team")
INCIDENT_LABELS = ("app", "team", "environment", "severity")
COMPONENT_LABELS = ("app", "team", "component")
ORIGIN_LABELS = ("app", "team", "origin")
DEFECT_LABELS = ("app", "team", "severity")
BUSINESS_LABELS = ("app", "team", "metric")
SURVEY_LABELS = ("team", "survey", "question")
COST_LABELS = ("provider", "app", "team", "currency")
WORK_LABELS = ("app", "team", "category")
VULNERABILITY_LABELS = ("app", "team", "severity")
SCANNER_LABELS = (*VULNERABILITY_LABELS, "scanner")
SLO_LABELS = ("app", "team", "slo", "window")
TELEMETRY_LABELS = ("app", "team", "component", "window")
MONITOR_LABELS = ("app", "team", "state")


@dataclass(frozen=True, slots=True)
class KpiFamily(Family):
    """A domain family: the handle KPI functions build their contributions with."""

    def observe(self, labels: tuple[str, ...], value: float) -> Observation:
        """``value`` added to (counter, gauge) or observed in (histogram) series ``labels``."""
        return Observation(self.name, labels, value)

    def since(self, labels: tuple[str, ...], at: float | None) -> Since:
        """The event is live in series ``labels`` of a time-dependent family since ``at``
        (None: not live)."""
        return Since(self.name, labels, at)


DEPLOYMENTS = KpiFamily(
    "kpi_deployments_total",
    "counter",
    "Successful deployments to a production environment.",
    DELIVERY_LABELS,
)

DEPLOYMENTS_REWORK = KpiFamily(
    "kpi_deployments_rework_total",
    "counter",
    "Unplanned production deployments (rework): hotfixes and rollbacks, or deployments"
    " following a production incident (linking.rework).",
    DELIVERY_LABELS,
)

DEPLOYMENTS_FAILED = KpiFamily(
    "kpi_deployments_failed_total",
    "counter",
    "Production deployments that failed: linked to an incident, rolled back, or followed"
    " by a hotfix within the hotfix window.",
    DELIVERY_LABELS,
)

DEPLOYMENTS_RELEASE_FAILED = KpiFamily(
    "kpi_deployments_release_failed_total",
    "counter",
    "Production deployments that needed a rollback or a hotfix (within the hotfix window):"
    " the release failure rate's numerator.",
    DELIVERY_LABELS,
)

RELEASE_TYPE_LABELS = (*DELIVERY_LABELS, "release_type")

DEPLOYMENTS_BY_RELEASE_TYPE = KpiFamily(
    "kpi_deployments_by_release_type_total",
    "counter",
    "Successful production deployments by release type: major, minor or patch from the"
    " semantic version step since the previous one to the same environment, unknown when"
    " a version is not semver or there is none before.",
    RELEASE_TYPE_LABELS,
)

DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE = KpiFamily(
    "kpi_deployments_release_failed_by_release_type_total",
    "counter",
    "Production deployments that needed a rollback or a hotfix, by release type: the"
    " release failure rate per release type's numerator.",
    RELEASE_TYPE_LABELS,
)

CHANGE_LEAD_TIME_SECONDS = KpiFamily(
    "kpi_change_lead_time_seconds",
    "histogram",
    "Change lead time: first commit to the end of the first successful production"
    " deployment that contains the change.",
    DELIVERY_LABELS,
    LEAD_TIME_BUCKETS,
)

FAILED_DEPLOYMENT_RECOVERY_SECONDS = KpiFamily(
    "kpi_failed_deployment_recovery_seconds",
    "histogram",
    "Failed deployment recovery time: failed deployment to recovery (linked incidents"
    " resolved, or the next deployment that rolled it back or fixed it).",
    DELIVERY_LABELS,
    RESTORE_BUCKETS,
)

CHANGES_MERGED = KpiFamily(
    "kpi_changes_merged_total",
    "counter",
    "Merged changes (pull or merge requests; commits for local git).",
    FLOW_LABELS,
)

CHANGES_MERGED_UNREVIEWED = KpiFamily(
    "kpi_changes_merged_unreviewed_total",
    "counter",
    "Merged changes that nobody but their author reviewed or approved before the merge.",
    FLOW_LABELS,
)

CHANGES_MERGED_BY_ORIGIN = KpiFamily(
    "kpi_changes_merged_by_origin_total",
    "counter",
    "Merged changes by origin (human, ai_agent, bot), bots included whatever the flow"
    " metrics count.",
    ORIGIN_LABELS,
)

CHANGES_MERGED_UNREVIEWED_BY_ORIGIN = KpiFamily(
    "kpi_changes_merged_unreviewed_by_origin_total",
    "counter",
    "Merged changes that no person but their author reviewed or approved before the merge,"
    " by origin.",
    ORIGIN_LABELS,
)

CHANGES_REVERTED = KpiFamily(
    "kpi_changes_reverted_total",
    "counter",
    "Merged changes that a later merged change reverted, by the reverted change's origin.",
    ORIGIN_LABELS,
)

CHANGE_CODING_SECONDS = KpiFamily(
    "kpi_change_coding_seconds",
    "histogram",
    "Coding time of merged changes: first commit to opened.",
    FLOW_LABELS,
    FLOW_BUCKETS,
)

CHANGE_PICKUP_SECONDS = KpiFamily(
    "kpi_change_pickup_seconds",
    "histogram",
    "Pickup time of merged changes: opened to the first review or comment by someone other"
    " than the author.",
    FLOW_LABELS,
    FLOW_BUCKETS,
)

CHANGE_REVIEW_SECONDS = KpiFamily(
    "kpi_change_review_seconds",
    "histogram",
    "Review time of merged changes: first review to merge.",
    FLOW_LABELS,
    FLOW_BUCKETS,
)

CHANGE_DEPLOY_SECONDS = KpiFamily(
    "kpi_change_deploy_seconds",
    "histogram",
    "Deploy time of merged changes: merge to the end of the first successful production"
    " deployment that contains the change.",
    DELIVERY_LABELS,
    FLOW_BUCKETS,
)

CHANGE_SIZE_LINES = KpiFamily(
    "kpi_change_size_lines",
    "histogram",
    "Size of merged changes in lines changed, as the source counts them.",
    FLOW_LABELS,
    SIZE_BUCKETS,
)

CHANGES_OPEN = KpiFamily(
    "kpi_changes_open",
    "gauge",
    "Changes open now (work in progress): opened, neither merged nor closed.",
    FLOW_LABELS,
)

CHANGES_OPEN_BY_AGE = KpiFamily(
    "kpi_changes_open_by_age",
    "gauge",
    "Open changes older than `older_than` (1h, 1d, 3d, 7d, 14d, 30d; cumulative), by the"
    " time they were opened.",
    (*FLOW_LABELS, "older_than"),
)

WORK_ITEMS_COMPLETED = KpiFamily(
    "kpi_work_items_completed_total",
    "counter",
    "Work items completed (entered a done status and stayed there), by investment category"
    " (new_capability, defect, tech_debt, maintenance, unmapped), by the time they were"
    " done; a reopened item is taken back (retracted) until it is done again.",
    WORK_LABELS,
)

WORK_ITEM_CYCLE_TIME_SECONDS = KpiFamily(
    "kpi_work_item_cycle_time_seconds",
    "histogram",
    "Cycle time of completed work items: first active status to done (items done without"
    " ever being active have none).",
    WORK_LABELS,
    WORK_ITEM_BUCKETS,
)

WORK_ITEM_LEAD_TIME_SECONDS = KpiFamily(
    "kpi_work_item_lead_time_seconds",
    "histogram",
    "Lead time of completed work items: created to done.",
    WORK_LABELS,
    WORK_ITEM_BUCKETS,
)

WORK_ITEM_TIME_TO_PRODUCTION_SECONDS = KpiFamily(
    "kpi_work_item_time_to_production_seconds",
    "histogram",
    "Time to market of work items: created (or the first entry into a configured discovery"
    " status) to the first successful production deployment of a change that references"
    " the item (its key in the title, head branch or body), by the time of that deployment.",
    WORK_LABELS,
    WORK_ITEM_BUCKETS,
)

WORK_ITEMS_ACTIVE_SECONDS = KpiFamily(
    "kpi_work_items_active_seconds_total",
    "counter",
    "Time completed work items spent in active statuses, from creation to done: flow"
    " efficiency = this / the lead time's sum.",
    WORK_LABELS,
)

WORK_ITEM_WAIT_SECONDS = KpiFamily(
    "kpi_work_item_wait_seconds",
    "histogram",
    "Time a completed work item spent in one waiting status (a queue), all its visits"
    " added up, per status it went through.",
    ("app", "team", "status"),
    WORK_ITEM_BUCKETS,
)

WORK_ITEMS_IN_PROGRESS = KpiFamily(
    "kpi_work_items_in_progress",
    "gauge",
    "Work items in progress now: active at least once and not done (queues after the start"
    " included).",
    FLOW_LABELS,
)

WORK_ITEMS_OPEN = KpiFamily(
    "kpi_work_items_open",
    "gauge",
    "Work items not done now, by their current status and its stage (active, waiting):"
    " the inventory per stage.",
    ("app", "team", "stage", "status"),
)

INCIDENTS = KpiFamily(
    "kpi_incidents_total",
    "counter",
    "Incidents, by the time they started.",
    INCIDENT_LABELS,
)

INCIDENTS_UNLINKED = KpiFamily(
    "kpi_incidents_unlinked_total",
    "counter",
    "Production incidents linked to no deployment (no explicit reference matched, and no"
    " production deployment of the app within the incident horizon before it started),"
    " by the time they started: a high share means the linking misses.",
    FLOW_LABELS,
)

INCIDENTS_OPEN = KpiFamily(
    "kpi_incidents_open",
    "gauge",
    "Incidents not resolved yet.",
    INCIDENT_LABELS,
)

INCIDENTS_OLDEST_OPEN_START_TIMESTAMP_SECONDS = KpiFamily(
    "kpi_incidents_oldest_open_start_timestamp_seconds",
    "gauge",
    "When the oldest incident not resolved yet started; absent when none is open.",
    INCIDENT_LABELS,
)

INCIDENT_RESTORE_SECONDS = KpiFamily(
    "kpi_incident_restore_seconds",
    "histogram",
    "Time to restore: incident start to resolved.",
    INCIDENT_LABELS,
    RESTORE_BUCKETS,
)

INCIDENT_DETECT_SECONDS = KpiFamily(
    "kpi_incident_detect_seconds",
    "histogram",
    "Time to detect: impact start to detection, where the source records both.",
    INCIDENT_LABELS,
    RESTORE_BUCKETS,
)

INCIDENT_ACKNOWLEDGE_SECONDS = KpiFamily(
    "kpi_incident_acknowledge_seconds",
    "histogram",
    "Time to acknowledge: detection (or start) to acknowledgement, where the source has it.",
    INCIDENT_LABELS,
    RESTORE_BUCKETS,
)

DEFECTS = KpiFamily(
    "kpi_defects_total",
    "counter",
    "Defects (bugs), by the time they were created.",
    DEFECT_LABELS,
)

DEFECTS_ESCAPED = KpiFamily(
    "kpi_defects_escaped_total",
    "counter",
    "Defects found in production (escaped); escape rate = escaped / all defects.",
    DEFECT_LABELS,
)

# The phases that should have caught an escaped defect (label `phase`), and unknown.
ESCAPE_PHASES: tuple[str, ...] = ("requirements", "unit", "integration", "staging", "production")

DEFECTS_ESCAPED_BY_PHASE = KpiFamily(
    "kpi_defects_escaped_by_phase_total",
    "counter",
    "Defects found in production, by the phase that should have caught them: requirements,"
    " unit, integration, staging, production (only production could) or unknown.",
    ("app", "team", "phase"),
)

DEFECTS_CUSTOMER_REPORTED = KpiFamily(
    "kpi_defects_customer_reported_total",
    "counter",
    "Defects reported by a customer; customer-reported share = these / all defects.",
    DEFECT_LABELS,
)

DEFECTS_OPEN = KpiFamily(
    "kpi_defects_open",
    "gauge",
    "Defects not resolved yet.",
    DEFECT_LABELS,
)

COVERAGE_LINES_COVERED = KpiFamily(
    "kpi_coverage_lines_covered",
    "gauge",
    "Lines covered by tests in the latest coverage report, per component (coverage ratio ="
    " covered / valid).",
    COMPONENT_LABELS,
)

COVERAGE_LINES_VALID = KpiFamily(
    "kpi_coverage_lines_valid",
    "gauge",
    "Lines that could be covered (executable lines) in the latest coverage report, per component.",
    COMPONENT_LABELS,
)

INCIDENTS_BY_COMPONENT = KpiFamily(
    "kpi_incidents_by_component_total",
    "counter",
    "Incidents whose source names the failing component, by the time they started; read"
    " next to coverage per component.",
    COMPONENT_LABELS,
)

TEST_RUNS = KpiFamily(
    "kpi_test_runs_total",
    "counter",
    "Test runs: one per test suite and commit (retries of the same commit included).",
    FLOW_LABELS,
)

TEST_RUNS_FAILED = KpiFamily(
    "kpi_test_runs_failed_total",
    "counter",
    "Test runs (suite and commit) with at least one failed test that never passed.",
    FLOW_LABELS,
)

TESTS = KpiFamily(
    "kpi_tests_total",
    "counter",
    "Test cases run (not skipped), counted once per test run.",
    FLOW_LABELS,
)

TESTS_FAILED = KpiFamily(
    "kpi_tests_failed_total",
    "counter",
    "Test cases that failed and never passed for the commit of their test run.",
    FLOW_LABELS,
)

TESTS_FLAKY = KpiFamily(
    "kpi_tests_flaky_total",
    "counter",
    "Flaky test cases: failed in one run and passed in another for the same commit.",
    FLOW_LABELS,
)

SONARQUBE_DEBT_RATIO = KpiFamily(
    "kpi_sonarqube_debt_ratio",
    "gauge",
    "SonarQube technical debt ratio (0..1): remediation cost / development cost.",
    FLOW_LABELS,
)

SONARQUBE_COVERAGE_RATIO = KpiFamily(
    "kpi_sonarqube_coverage_ratio",
    "gauge",
    "Test coverage (0..1) as SonarQube measures it.",
    FLOW_LABELS,
)

SONARQUBE_BUGS = KpiFamily(
    "kpi_sonarqube_bugs",
    "gauge",
    "Open bugs SonarQube's analysis finds.",
    FLOW_LABELS,
)

SONARQUBE_CODE_SMELLS = KpiFamily(
    "kpi_sonarqube_code_smells",
    "gauge",
    "Open code smells SonarQube's analysis finds.",
    FLOW_LABELS,
)

SONARQUBE_VULNERABILITIES = KpiFamily(
    "kpi_sonarqube_vulnerabilities",
    "gauge",
    "Open vulnerabilities SonarQube's analysis finds.",
    FLOW_LABELS,
)

BUSINESS_VALUE = KpiFamily(
    "kpi_business_value",
    "gauge",
    "Latest value of a configured business measure (feature adoption, active users,"
    " revenue, ...) from an http_json or sql source; the metric label names the measure.",
    BUSINESS_LABELS,
)

SLO_OBJECTIVE = KpiFamily(
    "kpi_slo_objective_ratio",
    "gauge",
    "Objective of a service level objective kept outside Prometheus (Datadog, Azure Monitor)"
    " as a ratio (0.999), over its window.",
    SLO_LABELS,
)

SLO_SLI = KpiFamily(
    "kpi_slo_sli_ratio",
    "gauge",
    "What an SLO kept outside Prometheus achieved over its window (Datadog's SLI value, the"
    " share of good Application Insights requests or tests) as a ratio: good over valid events"
    " or time.",
    SLO_LABELS,
)

SLO_ERROR_BUDGET_REMAINING = KpiFamily(
    "kpi_slo_error_budget_remaining_ratio",
    "gauge",
    "Share of the error budget an SLO kept outside Prometheus has left over its window:"
    " 1 - (1 - SLI) / (1 - objective); below 0 the objective is missed.",
    SLO_LABELS,
)

COMPONENT_AVAILABILITY = KpiFamily(
    "kpi_component_availability_ratio",
    "gauge",
    "Share of the availability tests of a monitored component (Application Insights) that"
    " passed over its window.",
    TELEMETRY_LABELS,
)

COMPONENT_FAILED_REQUESTS = KpiFamily(
    "kpi_component_failed_requests_ratio",
    "gauge",
    "Share of the requests of a monitored component (Application Insights) that failed over"
    " its window.",
    TELEMETRY_LABELS,
)

COMPONENT_RESPONSE_TIME = KpiFamily(
    "kpi_component_response_time_seconds",
    "gauge",
    "A percentile (label percentile: 95) of the response time of a monitored component's"
    " requests (Application Insights) over its window.",
    (*TELEMETRY_LABELS, "percentile"),
)

MONITORS = KpiFamily(
    "kpi_monitors",
    "gauge",
    "Monitors of an external monitoring system (Datadog) per app and overall state (OK, Alert,"
    " Warn, No Data, ...), as of the last poll.",
    MONITOR_LABELS,
)

SURVEY_SCORE = KpiFamily(
    "kpi_survey_score",
    "gauge",
    "Mean score of a survey question's answers per team (the question's scale).",
    SURVEY_LABELS,
)

SURVEY_RESPONSES = KpiFamily(
    "kpi_survey_responses",
    "gauge",
    "Valid answers to a survey question per team.",
    SURVEY_LABELS,
)

SURVEY_NPS_RATIO = KpiFamily(
    "kpi_survey_nps_ratio",
    "gauge",
    "Net promoter score of an NPS question (0..10) per team as a ratio (-1..1):"
    " promoters (9-10) minus detractors (0-6), over all answers.",
    SURVEY_LABELS,
)

VULNERABILITIES_OPEN = KpiFamily(
    "kpi_vulnerabilities_open",
    "gauge",
    "Security findings open now (Dependabot, code scanning, secret scanning, Trivy, OSV,"
    " Snyk, Microsoft Defender, Qualys), by severity and scanner.",
    SCANNER_LABELS,
)

VULNERABILITIES_FIXED = KpiFamily(
    "kpi_vulnerabilities_fixed_total",
    "counter",
    "Security findings fixed (a scanner report no longer has them, or the alert was fixed;"
    " a revoked secret), by the time they were created.",
    SCANNER_LABELS,
)

VULNERABILITIES_DISMISSED = KpiFamily(
    "kpi_vulnerabilities_dismissed_total",
    "counter",
    "Security findings dismissed (false positive, accepted risk, won't fix), kept apart"
    " from fixed ones, by the time they were created.",
    SCANNER_LABELS,
)

VULNERABILITY_FIX_SECONDS = KpiFamily(
    "kpi_vulnerability_fix_seconds",
    "histogram",
    "Time to fix a security finding: created (or first reported) to fixed.",
    VULNERABILITY_LABELS,
    VULNERABILITY_FIX_BUCKETS,
)

VULNERABILITIES_OLDEST_OPEN_CREATED_TIMESTAMP_SECONDS = KpiFamily(
    "kpi_vulnerabilities_oldest_open_created_timestamp_seconds",
    "gauge",
    "When the oldest security finding still open was created; absent when none is open.",
    VULNERABILITY_LABELS,
)

VULNERABILITIES_SLA_BREACHED = KpiFamily(
    "kpi_vulnerabilities_sla_breached",
    "gauge",
    "Open security findings older than their severity's SLA (default: critical 7 days,"
    " high 30 days; `security.sla` in the configuration).",
    VULNERABILITY_LABELS,
)

# Security coverage (sources/github_coverage.py): repositories per security feature.
SECURITY_FEATURE_LABELS = ("app", "team", "feature")

SECURITY_REPOSITORIES = KpiFamily(
    "kpi_security_repositories",
    "gauge",
    "Active repositories assessed for a security feature (feature: code_scanning,"
    " secret_scanning).",
    SECURITY_FEATURE_LABELS,
)

SECURITY_REPOSITORIES_ENABLED = KpiFamily(
    "kpi_security_repositories_enabled",
    "gauge",
    "Active repositories with the security feature enabled (code scanning has analysed it;"
    " secret scanning is enabled).",
    SECURITY_FEATURE_LABELS,
)

DEPENDENCY_UPDATES_OPEN = KpiFamily(
    "kpi_dependency_updates_open",
    "gauge",
    "Open dependency update pull requests (authors in dependency_bots: Dependabot, Renovate).",
    ("app", "team"),
)

DEPENDENCY_UPDATES_OPEN_BY_AGE = KpiFamily(
    "kpi_dependency_updates_open_by_age",
    "gauge",
    "Open dependency update pull requests older than `older_than` (1h, 1d, 3d, 7d, 14d, 30d;"
    " cumulative), by the time they were opened: the measurable stand-in for dependency age.",
    ("app", "team", "older_than"),
)

COST_CUMULATIVE = KpiFamily(
    "kpi_cost_cumulative",
    "gauge",
    "All stored spend (credits negative, so a gauge): read increases over a window with"
    " `delta()`; never summed across currencies.",
    COST_LABELS,
)

COST_MONTH_TO_DATE = KpiFamily(
    "kpi_cost_month_to_date",
    "gauge",
    "Spend in the current UTC month, today included.",
    COST_LABELS,
)

COST_LAST_DAY = KpiFamily(
    "kpi_cost_last_day",
    "gauge",
    "Spend of yesterday (UTC), the latest complete day; 0 when the cost data lags.",
    COST_LABELS,
)

COST_FORECAST_MONTH_END = KpiFamily(
    "kpi_cost_forecast_month_end",
    "gauge",
    "Forecast spend of the current UTC month: month to date + the average of the last 7"
    " complete days x the days left after today.",
    COST_LABELS,
)

COST_BUDGET_MONTH = KpiFamily(
    "kpi_cost_budget_month",
    "gauge",
    "Monthly budget of an app or a team (the other label empty) from the configuration.",
    ("app", "team", "currency"),
)

FAMILIES: tuple[Family, ...] = (
    DEPLOYMENTS,
    DEPLOYMENTS_REWORK,
    DEPLOYMENTS_FAILED,
    DEPLOYMENTS_RELEASE_FAILED,
    DEPLOYMENTS_BY_RELEASE_TYPE,
    DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE,
    CHANGE_LEAD_TIME_SECONDS,
    FAILED_DEPLOYMENT_RECOVERY_SECONDS,
    CHANGES_MERGED,
    CHANGES_MERGED_UNREVIEWED,
    CHANGES_MERGED_BY_ORIGIN,
    CHANGES_MERGED_UNREVIEWED_BY_ORIGIN,
    CHANGES_REVERTED,
    CHANGE_CODING_SECONDS,
    CHANGE_PICKUP_SECONDS,
    CHANGE_REVIEW_SECONDS,
    CHANGE_DEPLOY_SECONDS,
    CHANGE_SIZE_LINES,
    CHANGES_OPEN,
    CHANGES_OPEN_BY_AGE,
    WORK_ITEMS_COMPLETED,
    WORK_ITEM_CYCLE_TIME_SECONDS,
    WORK_ITEM_LEAD_TIME_SECONDS,
    WORK_ITEM_TIME_TO_PRODUCTION_SECONDS,
    WORK_ITEMS_ACTIVE_SECONDS,
    WORK_ITEM_WAIT_SECONDS,
    WORK_ITEMS_IN_PROGRESS,
    WORK_ITEMS_OPEN,
    INCIDENTS,
    INCIDENTS_UNLINKED,
    INCIDENTS_OPEN,
    INCIDENTS_OLDEST_OPEN_START_TIMESTAMP_SECONDS,
    INCIDENT_RESTORE_SECONDS,
    INCIDENT_DETECT_SECONDS,
    INCIDENT_ACKNOWLEDGE_SECONDS,
    DEFECTS,
    DEFECTS_ESCAPED,
    DEFECTS_ESCAPED_BY_PHASE,
    DEFECTS_CUSTOMER_REPORTED,
    DEFECTS_OPEN,
    COVERAGE_LINES_COVERED,
    COVERAGE_LINES_VALID,
    INCIDENTS_BY_COMPONENT,
    TEST_RUNS,
    TEST_RUNS_FAILED,
    TESTS,
    TESTS_FAILED,
    TESTS_FLAKY,
    SONARQUBE_DEBT_RATIO,
    SONARQUBE_COVERAGE_RATIO,
    SONARQUBE_BUGS,
    SONARQUBE_CODE_SMELLS,
    SONARQUBE_VULNERABILITIES,
    BUSINESS_VALUE,
    SLO_OBJECTIVE,
    SLO_SLI,
    SLO_ERROR_BUDGET_REMAINING,
    COMPONENT_AVAILABILITY,
    COMPONENT_FAILED_REQUESTS,
    COMPONENT_RESPONSE_TIME,
    MONITORS,
    SURVEY_SCORE,
    SURVEY_RESPONSES,
    SURVEY_NPS_RATIO,
    VULNERABILITIES_OPEN,
    VULNERABILITIES_FIXED,
    VULNERABILITIES_DISMISSED,
    VULNERABILITY_FIX_SECONDS,
    VULNERABILITIES_OLDEST_OPEN_CREATED_TIMESTAMP_SECONDS,
    VULNERABILITIES_SLA_BREACHED,
    SECURITY_REPOSITORIES,
    SECURITY_REPOSITORIES_ENABLED,
    DEPENDENCY_UPDATES_OPEN,
    DEPENDENCY_UPDATES_OPEN_BY_AGE,
    COST_CUMULATIVE,
    COST_MONTH_TO_DATE,
    COST_LAST_DAY,
    COST_FORECAST_MONTH_END,
    COST_BUDGET_MONTH,
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
WINDOW_ORIGIN_LABELS = (*ORIGIN_LABELS, "window")


@dataclass(frozen=True, slots=True)
class Windowed:
    """How a window family is computed: ``count`` adds up the values of the observations in
    the window; ``quantiles`` publishes exact quantiles of their values; ``days`` counts the
    UTC days with an observation among the window's last complete days. ``of`` is the raw
    family with the same meaning (its buckets serve the ``_observations`` of sharded levels)."""

    family: Family
    kind: str  # count | quantiles | days
    of: str

    def at(self, labels: tuple[str, ...], at: float, value: float = 1.0) -> Dated:
        """The event puts ``value`` into the window series ``labels`` at its event time."""
        return Dated(self.family.name, labels, at, value)


def _count(
    name: str, of: Family, help_text: str, labels: tuple[str, ...] = WINDOW_COUNT_LABELS
) -> Windowed:
    return Windowed(Family(name, "gauge", help_text, labels), "count", of.name)


def _quantiles(name: str, of: Family, help_text: str, by: tuple[str, ...] = ()) -> Windowed:
    """Exact quantiles at app, team and organisation level; ``by``: labels after ``team``
    kept at every level (a team's quantiles per category)."""
    labels = ("app", "team", *by, "window", "percentile")
    return Windowed(
        Family(name, "gauge", help_text, labels, of.buckets),
        "quantiles",
        of.name,
    )


WINDOW_DEPLOYMENTS = _count(
    "kpi_window_deployments",
    DEPLOYMENTS,
    "Successful production deployments that finished in the window.",
)

WINDOW_DEPLOYMENTS_FAILED = _count(
    "kpi_window_deployments_failed",
    DEPLOYMENTS_FAILED,
    "Failed production deployments that finished in the window.",
)

WINDOW_DEPLOYMENTS_REWORK = _count(
    "kpi_window_deployments_rework",
    DEPLOYMENTS_REWORK,
    "Unplanned production deployments (rework: hotfixes, rollbacks, or deployments following"
    " a production incident, per linking.rework) that finished in the window.",
)

WINDOW_DEPLOYMENTS_RELEASE_FAILED = _count(
    "kpi_window_deployments_release_failed",
    DEPLOYMENTS_RELEASE_FAILED,
    "Production deployments that finished in the window and needed a rollback or a hotfix.",
)

WINDOW_DEPLOYMENTS_BY_RELEASE_TYPE = _count(
    "kpi_window_deployments_by_release_type",
    DEPLOYMENTS_BY_RELEASE_TYPE,
    "Successful production deployments that finished in the window, by release type.",
    ("app", "team", "release_type", "window"),
)

WINDOW_DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE = _count(
    "kpi_window_deployments_release_failed_by_release_type",
    DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE,
    "Production deployments that finished in the window and needed a rollback or a hotfix,"
    " by release type.",
    ("app", "team", "release_type", "window"),
)

WINDOW_DEPLOYED_DATES = Windowed(
    Family(
        "kpi_window_deployed_dates",
        "gauge",
        "UTC days with at least one successful production deployment among the last N"
        " complete UTC days (N: the window in days). App, team and organisation level.",
        WINDOW_COUNT_LABELS,
    ),
    "days",
    DEPLOYMENTS.name,
)

WINDOW_CHANGES_MERGED = _count(
    "kpi_window_changes_merged",
    CHANGES_MERGED,
    "Changes merged in the window, by merge time.",
)

WINDOW_CHANGES_MERGED_UNREVIEWED = _count(
    "kpi_window_changes_merged_unreviewed",
    CHANGES_MERGED_UNREVIEWED,
    "Changes merged without a review by anyone but their author in the window, by merge time.",
)

WINDOW_CHANGES_MERGED_BY_ORIGIN = _count(
    "kpi_window_changes_merged_by_origin",
    CHANGES_MERGED_BY_ORIGIN,
    "Changes merged in the window, by merge time and origin (bots included).",
    WINDOW_ORIGIN_LABELS,
)

WINDOW_CHANGES_MERGED_UNREVIEWED_BY_ORIGIN = _count(
    "kpi_window_changes_merged_unreviewed_by_origin",
    CHANGES_MERGED_UNREVIEWED_BY_ORIGIN,
    "Changes merged in the window without a review by any person but their author, by origin.",
    WINDOW_ORIGIN_LABELS,
)

WINDOW_CHANGES_REVERTED = _count(
    "kpi_window_changes_reverted",
    CHANGES_REVERTED,
    "Changes merged in the window (by their merge time) and reverted since, by origin.",
    WINDOW_ORIGIN_LABELS,
)

WINDOW_INCIDENTS = _count(
    "kpi_window_incidents",
    INCIDENTS,
    "Production incidents started in the window.",
)

WINDOW_INCIDENTS_UNLINKED = _count(
    "kpi_window_incidents_unlinked",
    INCIDENTS_UNLINKED,
    "Production incidents started in the window that are linked to no deployment.",
)

WINDOW_INCIDENTS_BY_COMPONENT = _count(
    "kpi_window_incidents_by_component",
    INCIDENTS_BY_COMPONENT,
    "Production incidents naming the failing component, started in the window.",
    ("app", "team", "component", "window"),
)

WINDOW_DEFECTS = _count(
    "kpi_window_defects",
    DEFECTS,
    "Defects created in the window.",
)

WINDOW_DEFECTS_ESCAPED = _count(
    "kpi_window_defects_escaped",
    DEFECTS_ESCAPED,
    "Defects found in production, created in the window.",
)

WINDOW_DEFECTS_ESCAPED_BY_PHASE = _count(
    "kpi_window_defects_escaped_by_phase",
    DEFECTS_ESCAPED_BY_PHASE,
    "Defects found in production, created in the window, by the phase that should have"
    " caught them.",
    ("app", "team", "phase", "window"),
)

WINDOW_DEFECTS_CUSTOMER_REPORTED = _count(
    "kpi_window_defects_customer_reported",
    DEFECTS_CUSTOMER_REPORTED,
    "Defects reported by a customer, created in the window.",
)

WINDOW_TEST_RUNS = _count(
    "kpi_window_test_runs",
    TEST_RUNS,
    "Test runs (suite and commit) that finished in the window.",
)

WINDOW_TEST_RUNS_FAILED = _count(
    "kpi_window_test_runs_failed",
    TEST_RUNS_FAILED,
    "Test runs with a test that failed and never passed, finished in the window.",
)

WINDOW_TESTS = _count(
    "kpi_window_tests",
    TESTS,
    "Test cases run by the test runs that finished in the window.",
)

WINDOW_TESTS_FLAKY = _count(
    "kpi_window_tests_flaky",
    TESTS_FLAKY,
    "Flaky test cases of the test runs that finished in the window.",
)

WINDOW_VULNERABILITIES_FIXED = _count(
    "kpi_window_vulnerabilities_fixed",
    VULNERABILITIES_FIXED,
    "Security findings fixed in the window, by fix time.",
)

WINDOW_VULNERABILITIES_DISMISSED = _count(
    "kpi_window_vulnerabilities_dismissed",
    VULNERABILITIES_DISMISSED,
    "Security findings dismissed in the window, by dismissal time.",
)

WINDOW_WORK_ITEMS_COMPLETED = _count(
    "kpi_window_work_items_completed",
    WORK_ITEMS_COMPLETED,
    "Work items completed in the window, by the time they were done, per investment category.",
    ("app", "team", "category", "window"),
)

WINDOW_WORK_ITEMS_ACTIVE_SECONDS = _count(
    "kpi_window_work_items_active_seconds",
    WORK_ITEMS_ACTIVE_SECONDS,
    "Active time of the work items completed in the window, added up, per category.",
    ("app", "team", "category", "window"),
)

WINDOW_WORK_ITEMS_LEAD_SECONDS = _count(
    "kpi_window_work_items_lead_seconds",
    WORK_ITEM_LEAD_TIME_SECONDS,
    "Lead time of the work items completed in the window, added up, per category (flow"
    " efficiency = active / lead; a queue's share = its wait / lead).",
    ("app", "team", "category", "window"),
)

WINDOW_WORK_ITEMS_WAIT_SECONDS = _count(
    "kpi_window_work_items_wait_seconds",
    WORK_ITEM_WAIT_SECONDS,
    "Time the work items completed in the window spent in each waiting status, added up.",
    ("app", "team", "status", "window"),
)

WINDOW_WORK_ITEMS_DELIVERED = _count(
    "kpi_window_work_items_delivered",
    WORK_ITEM_TIME_TO_PRODUCTION_SECONDS,
    "Work items first deployed to production in the window (by a change naming them): the"
    " count behind the time to market quantiles.",
)

WINDOW_CHANGE_LEAD_TIME_SECONDS = _quantiles(
    "kpi_window_change_lead_time_seconds",
    CHANGE_LEAD_TIME_SECONDS,
    "Exact quantiles of the lead time of the changes first deployed to production in the window.",
)

WINDOW_FAILED_DEPLOYMENT_RECOVERY_SECONDS = _quantiles(
    "kpi_window_failed_deployment_recovery_seconds",
    FAILED_DEPLOYMENT_RECOVERY_SECONDS,
    "Exact quantiles of the recovery time of the failed deployments that recovered in the window.",
)

WINDOW_CHANGE_CODING_SECONDS = _quantiles(
    "kpi_window_change_coding_seconds",
    CHANGE_CODING_SECONDS,
    "Exact quantiles of the coding time of the changes merged in the window.",
)

WINDOW_CHANGE_PICKUP_SECONDS = _quantiles(
    "kpi_window_change_pickup_seconds",
    CHANGE_PICKUP_SECONDS,
    "Exact quantiles of the pickup time of the changes merged in the window.",
)

WINDOW_CHANGE_REVIEW_SECONDS = _quantiles(
    "kpi_window_change_review_seconds",
    CHANGE_REVIEW_SECONDS,
    "Exact quantiles of the review time of the changes merged in the window.",
)

# Review time by origin: one quantile family per origin (quantiles are exact per team, and a
# team's level has no further label); the rules add the ``origin`` label.
WINDOW_CHANGE_REVIEW_SECONDS_BY_ORIGIN: dict[str, Windowed] = {
    origin: _quantiles(
        f"kpi_window_change_review_{origin}_seconds",
        CHANGE_REVIEW_SECONDS,
        f"Exact quantiles of the review time (first review to merge) of the {text} changes"
        " merged in the window.",
    )
    for origin, text in (("human", "human"), ("ai_agent", "AI agents'"), ("bot", "bots'"))
}

WINDOW_CHANGE_DEPLOY_SECONDS = _quantiles(
    "kpi_window_change_deploy_seconds",
    CHANGE_DEPLOY_SECONDS,
    "Exact quantiles of the deploy time of the changes first deployed to production in the window.",
)

WINDOW_CHANGE_SIZE_LINES = _quantiles(
    "kpi_window_change_size_lines",
    CHANGE_SIZE_LINES,
    "Exact quantiles of the size of the changes merged in the window.",
)

WINDOW_INCIDENT_RESTORE_SECONDS = _quantiles(
    "kpi_window_incident_restore_seconds",
    INCIDENT_RESTORE_SECONDS,
    "Exact quantiles of the time to restore of the production incidents resolved in the window.",
)

WINDOW_INCIDENT_DETECT_SECONDS = _quantiles(
    "kpi_window_incident_detect_seconds",
    INCIDENT_DETECT_SECONDS,
    "Exact quantiles of the time to detect of the production incidents detected in the window.",
)

WINDOW_INCIDENT_ACKNOWLEDGE_SECONDS = _quantiles(
    "kpi_window_incident_acknowledge_seconds",
    INCIDENT_ACKNOWLEDGE_SECONDS,
    "Exact quantiles of the time to acknowledge of the production incidents acknowledged in"
    " the window.",
)

WINDOW_WORK_ITEM_CYCLE_TIME_SECONDS = _quantiles(
    "kpi_window_work_item_cycle_time_seconds",
    WORK_ITEM_CYCLE_TIME_SECONDS,
    "Exact quantiles of the cycle time of the work items completed in the window, every"
    " category together.",
)

WINDOW_WORK_ITEM_LEAD_TIME_SECONDS = _quantiles(
    "kpi_window_work_item_lead_time_seconds",
    WORK_ITEM_LEAD_TIME_SECONDS,
    "Exact quantiles of the lead time of the work items completed in the window, every"
    " category together.",
)

WINDOW_WORK_ITEM_TIME_TO_PRODUCTION_SECONDS = _quantiles(
    "kpi_window_work_item_time_to_production_seconds",
    WORK_ITEM_TIME_TO_PRODUCTION_SECONDS,
    "Exact quantiles of the time to market of the work items first deployed to production in"
    " the window, every category together.",
)

WINDOW_WORK_ITEM_CYCLE_TIME_BY_CATEGORY_SECONDS = _quantiles(
    "kpi_window_work_item_cycle_time_by_category_seconds",
    WORK_ITEM_CYCLE_TIME_SECONDS,
    "Exact quantiles of the cycle time of the work items completed in the window, per"
    " investment category (bounded by `label_limits.category`).",
    ("category",),
)

WINDOW_WORK_ITEM_LEAD_TIME_BY_CATEGORY_SECONDS = _quantiles(
    "kpi_window_work_item_lead_time_by_category_seconds",
    WORK_ITEM_LEAD_TIME_SECONDS,
    "Exact quantiles of the lead time of the work items completed in the window, per"
    " investment category (bounded by `label_limits.category`).",
    ("category",),
)

WINDOW_VULNERABILITY_FIX_SECONDS = _quantiles(
    "kpi_window_vulnerability_fix_seconds",
    VULNERABILITY_FIX_SECONDS,
    "Exact quantiles of the time to fix of the security findings fixed in the window.",
)

WINDOWED: tuple[Windowed, ...] = (
    WINDOW_DEPLOYMENTS,
    WINDOW_DEPLOYMENTS_FAILED,
    WINDOW_DEPLOYMENTS_REWORK,
    WINDOW_DEPLOYMENTS_RELEASE_FAILED,
    WINDOW_DEPLOYMENTS_BY_RELEASE_TYPE,
    WINDOW_DEPLOYMENTS_RELEASE_FAILED_BY_RELEASE_TYPE,
    WINDOW_DEPLOYED_DATES,
    WINDOW_CHANGES_MERGED,
    WINDOW_CHANGES_MERGED_UNREVIEWED,
    WINDOW_CHANGES_MERGED_BY_ORIGIN,
    WINDOW_CHANGES_MERGED_UNREVIEWED_BY_ORIGIN,
    WINDOW_CHANGES_REVERTED,
    WINDOW_INCIDENTS,
    WINDOW_INCIDENTS_UNLINKED,
    WINDOW_INCIDENTS_BY_COMPONENT,
    WINDOW_DEFECTS,
    WINDOW_DEFECTS_ESCAPED,
    WINDOW_DEFECTS_ESCAPED_BY_PHASE,
    WINDOW_DEFECTS_CUSTOMER_REPORTED,
    WINDOW_TEST_RUNS,
    WINDOW_TEST_RUNS_FAILED,
    WINDOW_TESTS,
    WINDOW_TESTS_FLAKY,
    WINDOW_VULNERABILITIES_FIXED,
    WINDOW_VULNERABILITIES_DISMISSED,
    WINDOW_WORK_ITEMS_COMPLETED,
    WINDOW_WORK_ITEMS_ACTIVE_SECONDS,
    WINDOW_WORK_ITEMS_LEAD_SECONDS,
    WINDOW_WORK_ITEMS_WAIT_SECONDS,
    WINDOW_WORK_ITEMS_DELIVERED,
    WINDOW_CHANGE_LEAD_TIME_SECONDS,
    WINDOW_FAILED_DEPLOYMENT_RECOVERY_SECONDS,
    WINDOW_CHANGE_CODING_SECONDS,
    WINDOW_CHANGE_PICKUP_SECONDS,
    WINDOW_CHANGE_REVIEW_SECONDS,
    *WINDOW_CHANGE_REVIEW_SECONDS_BY_ORIGIN.values(),
    WINDOW_CHANGE_DEPLOY_SECONDS,
    WINDOW_CHANGE_SIZE_LINES,
    WINDOW_INCIDENT_RESTORE_SECONDS,
    WINDOW_INCIDENT_DETECT_SECONDS,
    WINDOW_INCIDENT_ACKNOWLEDGE_SECONDS,
    WINDOW_WORK_ITEM_CYCLE_TIME_SECONDS,
    WINDOW_WORK_ITEM_LEAD_TIME_SECONDS,
    WINDOW_WORK_ITEM_TIME_TO_PRODUCTION_SECONDS,
    WINDOW_WORK_ITEM_CYCLE_TIME_BY_CATEGORY_SECONDS,
    WINDOW_WORK_ITEM_LEAD_TIME_BY_CATEGORY_SECONDS,
    WINDOW_VULNERABILITY_FIX_SECONDS,
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
        (*windowed.family.labels[1:-2], "window", "le"),
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
        "Input records rejected since the exporter started, by reason: invalid (cannot be"
        " read, or read in part: a FOCUS row whose tags cannot be read is kept for the default"
        " owner and counted here) or cardinality (a new app, team or environment over its"
        " label limit).",
        ("source", "reason"),
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
    Family(
        "kpi_exporter_events_quarantined",
        "gauge",
        "Stored rows a start could not read or count (a time outside 1970 to a year ahead, a"
        " broken row), moved to the store's quarantine table and left out of every KPI.",
        ("kind",),
    ),
    Family(
        "kpi_exporter_store_errors_total",
        "counter",
        "Writes the store refused since the exporter started, by reason: full (disk or"
        " store.max_size), read-only, gone (the file was deleted), failed (anything else).",
        ("reason",),
    ),
    Family(
        "kpi_exporter_http_connections_open",
        "gauge",
        "Connections open to the HTTP server, as of the last refresh.",
        (),
    ),
    Family(
        "kpi_exporter_http_connections_limit",
        "gauge",
        "Connections the HTTP server keeps open at most (--web.max-connections, lowered to"
        " the open-file limit).",
        (),
    ),
    Family(
        "kpi_exporter_http_connections_closed_total",
        "counter",
        "Connections the HTTP server closed itself since it started, by reason: refused (all"
        " busy: 503), timed_out (idle or read deadline) or evicted (made room for a new one).",
        ("reason",),
    ),
)

EXPORTER_FAMILY_BY_NAME: dict[str, Family] = {family.name: family for family in EXPORTER_FAMILIES}
