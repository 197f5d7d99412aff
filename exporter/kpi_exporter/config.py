"""The configuration file: one YAML document, validated with errors naming key path and line.

Relative paths of source inputs (git repositories, event files) are resolved against the
directory of the configuration file, as Prometheus does; the store path is relative to the
working directory. Secrets are never written in the file: a source names an environment
variable (``*_env``) or a file (``*_file``) that holds them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from . import selector
from .kpis.settings import DEFAULT_PRODUCTION_PATTERN, Budget, KpiSettings
from .linking import LinkSettings

DEFAULT_PORT = 9864
SEMVER_TAG_PATTERN = r"^v?\d+\.\d+\.\d+$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
# Keys that would hold a secret in clear text. Their *_env / *_file forms are the allowed ones.
_SECRET_KEYS = frozenset({"token", "password", "secret", "api_key", "apikey", "private_key"})


class ConfigError(Exception):
    """A configuration that cannot be used. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"30s"``, ``"5m"``, ``"48h"``, ``"7d"`` or ``"2w"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 48h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError("expected a duration such as 30s, 5m, 48h or 7d")
    if seconds <= 0:
        raise ValueError("expected a duration greater than zero")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d|w)?\s*$"},
            ]
        }
    ),
]


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"not a valid regular expression: {error}") from None
    return value


Regex = Annotated[str, BeforeValidator(_check_regex)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppOwnership(Strict):
    """Which source objects belong to an app, and the team that owns it."""

    team: str = Field(description="Team label of every series of this app.")
    repos: list[str] = Field(
        default_factory=list, description="Repositories (owner/name or a path)."
    )
    services: list[str] = Field(
        default_factory=list, description="Incident-management services or components."
    )
    paths: list[str] = Field(default_factory=list, description="Monorepo path globs.")


class Defaults(Strict):
    app: str = Field("unknown", description="App label when no mapping matches.")
    team: str = Field("unassigned", description="Team label when no mapping matches.")


class StoreConfig(Strict):
    path: str = Field("./kpi-exporter.db", description="SQLite file, relative to the working dir.")


class LinkingConfig(Strict):
    hotfix_window: Duration = Field(
        48 * 3600.0, description="A hotfix deployed within this time marks the one before failed."
    )
    incident_horizon: Duration = Field(
        7 * 86400.0, description="Longest gap from a deployment to an incident it is blamed for."
    )
    explicit_horizon: Duration = Field(
        30 * 86400.0, description="Longest gap for an incident that names its deployment."
    )
    rollback_window: Duration = Field(
        7 * 86400.0, description="Longest gap from a deployment to the rollback that undoes it."
    )


class DeployRule(Strict):
    """How a local git history tells deployments.

    - ``tags``: every tag matching ``tag_pattern`` is a deployment at the tag's date;
    - ``merges``: every merge commit on ``branch`` (first parent) is a deployment;
    - ``train``: a release train on ``branch``: per ``period`` (UTC, from the epoch), the
      last first-parent commit of the period is deployed at its commit time.
    """

    rule: Literal["tags", "merges", "train"] = "tags"
    tag_pattern: Regex = SEMVER_TAG_PATTERN
    branch: str = "HEAD"
    period: Duration = 86400.0


class GitSource(Strict):
    type: Literal["git"]
    name: Name
    interval: Duration = 300.0
    path: str = Field(description="A local git repository, relative to this file.")
    app: str | None = Field(None, description="App label; else from the apps mapping (repos).")
    environment: str = "production"
    deploy: DeployRule = Field(default_factory=DeployRule)
    horizon: Duration = Field(365 * 86400.0, description="How far back the history is read.")


class EventsFileSource(Strict):
    type: Literal["events_file"]
    name: Name
    interval: Duration = 60.0
    paths: list[str] = Field(min_length=1, description="JSON Lines files or globs.")


class IngestSource(Strict):
    type: Literal["ingest"]
    name: Name
    secret_env: str | None = Field(None, description="Env variable holding the HMAC secret.")
    secret_file: str | None = Field(None, description="File holding the HMAC secret.")
    max_skew: Duration = Field(300.0, description="Oldest or most future signed timestamp.")
    max_body_bytes: int = Field(1_048_576, gt=0)

    @model_validator(mode="after")
    def _one_secret(self) -> IngestSource:
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError("set exactly one of secret_env or secret_file")
        return self


class Credentials(Strict):
    """A token by reference: exactly one of ``token_env`` or ``token_file``."""

    token_env: str | None = Field(None, description="Environment variable holding the token.")
    token_file: str | None = Field(None, description="File holding the token.")


class GitHubApp(Strict):
    """Authenticate as a GitHub App installation (JWT -> installation token)."""

    app_id: int = Field(gt=0)
    installation_id: int = Field(gt=0)
    private_key_env: str | None = Field(None, description="Env variable holding the PEM key.")
    private_key_file: str | None = Field(None, description="File holding the PEM key.")

    @model_validator(mode="after")
    def _one_key(self) -> GitHubApp:
        if (self.private_key_env is None) == (self.private_key_file is None):
            raise ValueError("set exactly one of private_key_env or private_key_file")
        return self


class FlowLabels(Strict):
    """Labels that classify issues and pull/merge requests (case-insensitive)."""

    incident: list[str] = Field(default_factory=lambda: ["incident"])
    bug: list[str] = Field(default_factory=lambda: ["bug"])
    hotfix: list[str] = Field(default_factory=lambda: ["hotfix"])
    revert: list[str] = Field(default_factory=lambda: ["revert"])


class GitHubSource(Credentials):
    type: Literal["github"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field("https://api.github.com", description="REST API root (GHES: /api/v3).")
    graphql_url: str | None = Field(None, description="GraphQL endpoint; derived by default.")
    app: GitHubApp | None = None
    repos: list[str] = Field(default_factory=list, description="owner/name, listed explicitly.")
    org: str | None = Field(None, description="Discover the repositories of an organisation.")
    repo_pattern: Regex = Field(".*", description="With org: repository names to keep.")
    topics: list[str] = Field(default_factory=list, description="With org: required topics.")
    deploy_signal: Literal["deployments", "releases", "tags", "workflow_runs"] = "deployments"
    workflow: str | None = Field(None, description="With workflow_runs: workflow file or name.")
    tag_pattern: Regex = SEMVER_TAG_PATTERN
    labels: FlowLabels = Field(default_factory=FlowLabels)
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    concurrency: int = Field(4, ge=1, le=32, description="Requests in flight at once.")

    @model_validator(mode="after")
    def _auth_and_scope(self) -> GitHubSource:
        token = (self.token_env is not None) + (self.token_file is not None)
        if token + (self.app is not None) != 1:
            raise ValueError("set exactly one of token_env, token_file or app")
        if not self.repos and self.org is None:
            raise ValueError("set repos, org, or both")
        if self.deploy_signal == "workflow_runs" and not self.workflow:
            raise ValueError("deploy_signal workflow_runs needs workflow")
        return self


class GitLabSource(Credentials):
    type: Literal["gitlab"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field("https://gitlab.com/api/v4", description="REST API root.")
    projects: list[str] = Field(default_factory=list, description="group/project paths.")
    group: str | None = Field(None, description="Discover the projects of a group.")
    include_subgroups: bool = True
    labels: FlowLabels = Field(default_factory=FlowLabels)
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    concurrency: int = Field(4, ge=1, le=32, description="Requests in flight at once.")

    @model_validator(mode="after")
    def _auth_and_scope(self) -> GitLabSource:
        if (self.token_env is None) == (self.token_file is None):
            raise ValueError("set exactly one of token_env or token_file")
        if not self.projects and self.group is None:
            raise ValueError("set projects, group, or both")
        return self


class JiraFields(Strict):
    """Where the Jira source finds each fact: a field id (``components``, ``priority``,
    ``environment``, ``labels`` or a custom field such as ``customfield_10010``)."""

    app_field: str = Field(
        "components", description="App: its values are looked up in apps.*.services."
    )
    environment_field: str | None = Field(
        "environment", description="Bugs: found in production when it matches the pattern."
    )
    customer_field: str | None = Field(
        None, description="Bugs: reported by a customer when it holds a customer_values entry."
    )
    customer_values: list[str] = Field(
        default_factory=lambda: ["customer"], description="Case-insensitive values."
    )
    impact_start_field: str | None = Field(
        None, description="Incidents: a date-time field holding when the impact started."
    )
    severity_field: str = Field("priority", description="Severity (lowercased).")
    deployment_field: str | None = Field(
        None, description="Incidents: an explicit deployment reference (key, SHA or version)."
    )


class JiraSource(JiraFields, Credentials):
    type: Literal["jira"]
    name: Name
    interval: Duration = 300.0
    flavour: Literal["cloud", "datacenter"] = Field(
        "cloud", description="cloud: email + API token; datacenter: personal access token."
    )
    api_url: str = Field(
        pattern=r"^https?://",
        description="Site root: https://your.atlassian.net or https://jira.example.com.",
    )
    email: str | None = Field(None, description="Cloud: the account of the API token.")
    incident_jql: str = Field("", description="Issues that are incidents (empty: none).")
    bug_jql: str = Field("", description="Issues that are bugs (empty: none).")
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")

    @model_validator(mode="after")
    def _auth_and_scope(self) -> JiraSource:
        if (self.token_env is None) == (self.token_file is None):
            raise ValueError("set exactly one of token_env or token_file")
        if self.flavour == "cloud" and not self.email:
            raise ValueError("flavour cloud needs email (the account of the API token)")
        if not self.incident_jql.strip() and not self.bug_jql.strip():
            raise ValueError("set incident_jql, bug_jql, or both")
        if self.customer_field and not self.customer_values:
            raise ValueError("customer_field needs at least one customer_values entry")
        return self


# A 7-40 character hex SHA (with a digit, so that words such as "defaced" are none), or
# "deploy: ID" / "deployment #ID". The first non-empty group is the reference.
DEFAULT_DEPLOYMENT_PATTERN = (
    r"(?i:deploy(?:ment)?)\s*[:#]\s*([\w.-]+)|\b((?=[0-9a-f]*[0-9])[0-9a-f]{7,40})\b"
)


class PagerDutySource(Credentials):
    type: Literal["pagerduty"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field("https://api.pagerduty.com", description="REST API root.")
    service_ids: list[str] = Field(
        default_factory=list, description="Only the incidents of these services (all if empty)."
    )
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    deployment_pattern: Regex = Field(
        DEFAULT_DEPLOYMENT_PATTERN,
        description="Explicit deployment reference in the title or description.",
    )

    @model_validator(mode="after")
    def _one_token(self) -> PagerDutySource:
        if (self.token_env is None) == (self.token_file is None):
            raise ValueError("set exactly one of token_env or token_file")
        return self


class OpsgenieSource(Credentials):
    type: Literal["opsgenie"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field(
        "https://api.opsgenie.com", description="API root (EU: https://api.eu.opsgenie.com)."
    )
    query: str = Field(
        "priority: (P1 OR P2)",
        description="Opsgenie alert search: the alerts that are incidents (empty: all).",
    )
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    deployment_pattern: Regex = Field(
        DEFAULT_DEPLOYMENT_PATTERN, description="Explicit deployment reference in the message."
    )

    @model_validator(mode="after")
    def _one_token(self) -> OpsgenieSource:
        if (self.token_env is None) == (self.token_file is None):
            raise ValueError("set exactly one of token_env or token_file")
        return self


class CoverageSource(Credentials):
    """Cobertura XML or lcov coverage reports, from files and/or URLs (a token, if set, is
    sent as ``Authorization: Bearer`` to the URLs)."""

    type: Literal["coverage"]
    name: Name
    interval: Duration = 300.0
    paths: list[str] = Field(default_factory=list, description="Report files or globs.")
    urls: list[str] = Field(default_factory=list, description="Report URLs.")
    format: Literal["auto", "cobertura", "lcov"] = Field(
        "auto", description="auto: Cobertura when the report starts with '<', else lcov."
    )
    app: str | None = Field(
        None, description="App of every covered file; else from the apps' `paths` globs."
    )
    strip_prefix: str = Field(
        "", description="Removed from the start of covered file paths (a CI checkout dir)."
    )
    depth: int = Field(
        1, ge=1, description="Component: the first `depth` directories below the app's root."
    )
    components: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Explicit components: name -> path globs (first match wins, else depth).",
    )

    @model_validator(mode="after")
    def _inputs(self) -> CoverageSource:
        if not self.paths and not self.urls:
            raise ValueError("set paths, urls, or both")
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("set at most one of token_env or token_file")
        return self


class JUnitSource(Strict):
    """JUnit XML test reports."""

    type: Literal["junit"]
    name: Name
    interval: Duration = 300.0
    paths: list[str] = Field(min_length=1, description="Report files or globs.")
    app: str | None = Field(
        None, description="App of every report; else the report's path via apps' `paths`."
    )
    commit_property: str = Field(
        "commit", description="<property> of the testsuite(s) that holds the commit SHA."
    )
    commit_pattern: Regex | None = Field(
        None, description="Else a regex on the report's path; group `commit` (or 1) is the SHA."
    )


AlertKind = Literal["dependabot", "code_scanning", "secret_scanning"]
ALERT_KINDS: tuple[AlertKind, ...] = ("dependabot", "code_scanning", "secret_scanning")


class GitHubSecuritySource(Credentials):
    """GitHub Dependabot, code scanning and secret scanning alerts (REST API)."""

    type: Literal["github_security"]
    name: Name
    interval: Duration = 900.0
    api_url: str = Field("https://api.github.com", description="REST API root (GHES: /api/v3).")
    app: GitHubApp | None = None
    repos: list[str] = Field(default_factory=list, description="owner/name, listed explicitly.")
    org: str | None = Field(None, description="Read the alerts of a whole organisation.")
    alerts: list[AlertKind] = Field(
        default_factory=lambda: list(ALERT_KINDS),
        min_length=1,
        description="Which alert kinds to read.",
    )
    horizon: Duration = Field(
        365 * 86400.0, description="Closed alerts older than this are left out."
    )

    @model_validator(mode="after")
    def _auth_and_scope(self) -> GitHubSecuritySource:
        token = (self.token_env is not None) + (self.token_file is not None)
        if token + (self.app is not None) != 1:
            raise ValueError("set exactly one of token_env, token_file or app")
        if not self.repos and self.org is None:
            raise ValueError("set repos, org, or both")
        return self


class ScanReportSource(Credentials):
    """Trivy (``--format json``) and OSV-Scanner (``--format json``) reports, from files
    and/or URLs (a token, if set, is sent as ``Authorization: Bearer`` to the URLs)."""

    type: Literal["scan_report"]
    name: Name
    interval: Duration = 300.0
    paths: list[str] = Field(default_factory=list, description="Report files or globs.")
    urls: list[str] = Field(default_factory=list, description="Report URLs.")
    format: Literal["auto", "trivy", "osv"] = Field(
        "auto", description="auto: Trivy when the report has `Results`, OSV when `results`."
    )
    app: str | None = Field(None, description="App of every finding not matched by `apps`.")
    apps: dict[str, str] = Field(
        default_factory=dict,
        description="Artifact glob (Trivy ArtifactName, OSV source path) -> app; first wins.",
    )

    @model_validator(mode="after")
    def _inputs(self) -> ScanReportSource:
        if not self.paths and not self.urls:
            raise ValueError("set paths, urls, or both")
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("set at most one of token_env or token_file")
        return self


class SecurityConfig(Strict):
    """Security findings: time to fix allowed per severity."""

    sla: dict[str, Duration] = Field(
        default_factory=lambda: {"critical": 7 * 86400.0, "high": 30 * 86400.0},
        description="Severity -> time an open finding may stay open (7d, 30d, ...).",
    )


class SonarQubeSource(Credentials):
    type: Literal["sonarqube"]
    name: Name
    interval: Duration = 900.0
    api_url: str = Field(
        "https://sonarcloud.io", pattern=r"^https?://", description="Server root (no /api)."
    )
    auth: Literal["bearer", "basic"] = Field(
        "bearer", description="bearer (SonarQube 10+, SonarCloud) or basic (token as user)."
    )
    projects: dict[str, str] = Field(
        min_length=1, description="Project key -> app (one project per app)."
    )

    @model_validator(mode="after")
    def _one_project_per_app(self) -> SonarQubeSource:
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("set at most one of token_env or token_file")
        apps = list(self.projects.values())
        twice = sorted({app for app in apps if apps.count(app) > 1})
        if twice:
            # Ratios of two projects cannot be summed into one series.
            raise ValueError(f"one project per app: {', '.join(twice)} named more than once")
        return self


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


def _check_selector(value: str) -> str:
    try:
        selector.parse(value)
    except selector.SelectorError as error:
        raise ValueError(str(error)) from None
    return value


Selector = Annotated[str, BeforeValidator(_check_selector)]
BusinessLabel = Literal["app", "team"]


def _unique_metrics(measures: list[Any]) -> None:
    metrics = [measure.metric for measure in measures]
    twice = sorted({metric for metric in metrics if metrics.count(metric) > 1})
    if twice:
        raise ValueError(f"one measure per metric: {', '.join(twice)} named more than once")


class HttpJsonMeasure(Strict):
    """One measure of an HTTP JSON answer (selector grammar in docs/sources.md)."""

    metric: MetricName
    select: Selector = Field("$", description="The items of the answer this measure reads.")
    value: str = Field(
        "count",
        description="`count` (items per label set) or a selector of each item's number"
        " (summed per label set).",
    )
    labels: dict[BusinessLabel, Selector] = Field(
        default_factory=dict, description="app / team -> selector of each item."
    )
    app: str | None = Field(None, description="App when no `labels.app` selector is set.")

    @field_validator("value")
    @classmethod
    def _count_or_selector(cls, value: str) -> str:
        return value if value == "count" else _check_selector(value)


class HttpJsonSource(Credentials):
    """A configured HTTP request answering JSON, read into kpi_business_value."""

    type: Literal["http_json"]
    name: Name
    interval: Duration = 300.0
    url: str = Field(pattern=r"^https?://")
    method: Literal["GET", "POST"] = "GET"
    body: Any = Field(None, description="JSON body of a POST.")
    token_header: str = Field("Authorization", description="Header carrying the token.")
    token_prefix: str = Field("Bearer ", description="Written before the token in the header.")
    app: str | None = Field(None, description="Default app of every measure.")
    measures: list[HttpJsonMeasure] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> HttpJsonSource:
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("set at most one of token_env or token_file")
        _unique_metrics(self.measures)
        return self


class SqlMeasure(Strict):
    """One read-only query: label columns and one value column per row."""

    metric: MetricName
    query: str = Field(description="One SELECT (or WITH ... SELECT) statement.")
    value_column: str = "value"
    label_columns: dict[BusinessLabel, str] = Field(
        default_factory=dict, description="app / team -> column holding it."
    )
    app: str | None = Field(None, description="App when no `label_columns.app` is set.")

    @field_validator("query")
    @classmethod
    def _read_only(cls, query: str) -> str:
        text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", query, flags=re.S).strip().rstrip(";").strip()
        if not re.match(r"(?i)(select|with)\b", text):
            raise ValueError("expected a read-only query starting with SELECT or WITH")
        if ";" in text:
            raise ValueError("expected one statement (no ';' inside the query)")
        return query


class SqlSource(Strict):
    """Read-only SQL queries (SQLAlchemy; the `sql` extra), read into kpi_business_value."""

    type: Literal["sql"]
    name: Name
    interval: Duration = 300.0
    url_env: str | None = Field(None, description="Env variable holding the SQLAlchemy URL.")
    url_file: str | None = Field(None, description="File holding the SQLAlchemy URL.")
    timeout: Duration = Field(30.0, description="Connect and statement timeout.")
    app: str | None = Field(None, description="Default app of every measure.")
    measures: list[SqlMeasure] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> SqlSource:
        if (self.url_env is None) == (self.url_file is None):
            raise ValueError("set exactly one of url_env or url_file")
        _unique_metrics(self.measures)
        return self


class SurveySource(Strict):
    """CSV survey answers (columns team, question, score; optional survey, date)."""

    type: Literal["survey"]
    name: Name
    interval: Duration = 300.0
    paths: list[str] = Field(min_length=1, description="CSV files or globs.")
    scale_min: float = Field(1.0, description="Lowest score of the non-NPS questions.")
    scale_max: float = Field(5.0, description="Highest score of the non-NPS questions.")
    nps_questions: list[str] = Field(
        default_factory=list, description="Questions scored 0..10 whose NPS is exported."
    )

    @model_validator(mode="after")
    def _scale(self) -> SurveySource:
        if self.scale_min >= self.scale_max:
            raise ValueError("scale_min must be below scale_max")
        return self


class FocusSource(Strict):
    """FOCUS cost exports (CSV, gzip CSV; Parquet with the ``cost`` extra) of any provider."""

    type: Literal["focus"]
    name: Name
    interval: Duration = 3600.0
    paths: list[str] = Field(min_length=1, description="Export files or globs.")
    cost_column: Literal["BilledCost", "EffectiveCost"] = Field(
        "BilledCost", description="The amount that counts as spend."
    )
    app_tag: str = Field("app", description="Key of the `Tags` object that names the app.")
    team_tag: str = Field("team", description="Key of the `Tags` object that names the team.")


class OpenCostSource(Strict):
    """Kubernetes spend from the OpenCost allocation API, one amount per day."""

    type: Literal["opencost"]
    name: Name
    interval: Duration = 3600.0
    api_url: str = Field(pattern=r"^https?://", description="OpenCost API root.")
    window: str = Field("7d", description="How far back each poll asks (OpenCost window).")
    aggregate: str = Field(
        "namespace", description="namespace (names an app) or label:<key> (the app label)."
    )
    currency: str = Field("USD", description="Currency OpenCost is configured with.")


class AwsCostSource(Strict):
    """AWS spend from the Cost Explorer API (boto3, the ``cost`` extra), one amount per day.

    Credentials come from the standard AWS chain (environment, instance or task role, shared
    profile); never from this file."""

    type: Literal["aws_cost"]
    name: Name
    interval: Duration = Field(
        6 * 3600.0, description="Cost Explorer charges per request: poll a few times a day."
    )
    region: str = Field("us-east-1", description="Region of the Cost Explorer endpoint.")
    profile: str | None = Field(None, description="Shared config profile; else the default chain.")
    app_tag: str = Field(
        "app", min_length=1, description="Cost-allocation tag naming the app (first GroupBy)."
    )
    team_tag: str | None = Field(
        None, description="Cost-allocation tag naming the team (second GroupBy); else the app's."
    )
    metric: Literal["UnblendedCost", "AmortizedCost", "NetUnblendedCost"] = Field(
        "UnblendedCost", description="The Cost Explorer metric that counts as spend."
    )
    horizon: Duration = Field(
        90 * 86400.0,
        le=365 * 86400.0,
        description="How far back the first poll reads (Cost Explorer keeps about 13 months).",
    )

    @model_validator(mode="after")
    def _two_tags(self) -> AwsCostSource:
        if self.team_tag is not None and self.team_tag in ("", self.app_tag):
            raise ValueError("team_tag must be a tag key other than app_tag")
        return self


class CostBudget(Strict):
    """A monthly budget of one app or one team."""

    app: str | None = None
    team: str | None = None
    amount: float = Field(ge=0)
    currency: str = Field(min_length=1)
    period: Literal["month"] = "month"

    @model_validator(mode="after")
    def _one_owner(self) -> CostBudget:
        if (self.app is None) == (self.team is None):
            raise ValueError("set exactly one of app or team")
        return self


Source = Annotated[
    (
        GitSource
        | EventsFileSource
        | IngestSource
        | GitHubSource
        | GitLabSource
        | JiraSource
        | PagerDutySource
        | OpsgenieSource
        | CoverageSource
        | JUnitSource
        | SonarQubeSource
        | GitHubSecuritySource
        | ScanReportSource
        | HttpJsonSource
        | SqlSource
        | SurveySource
        | FocusSource
        | OpenCostSource
        | AwsCostSource
    ),
    Field(discriminator="type"),
]
SOURCE_TYPES = (
    "git",
    "events_file",
    "ingest",
    "github",
    "gitlab",
    "jira",
    "pagerduty",
    "opsgenie",
    "coverage",
    "junit",
    "sonarqube",
    "github_security",
    "scan_report",
    "http_json",
    "sql",
    "survey",
    "focus",
    "opencost",
    "aws_cost",
)


class Config(Strict):
    """The whole configuration file."""

    store: StoreConfig = Field(default_factory=StoreConfig)
    production_environments: Regex = Field(
        DEFAULT_PRODUCTION_PATTERN,
        description="Environments whose deployments count for DORA (regular expression).",
    )
    defaults: Defaults = Field(default_factory=Defaults)
    apps: dict[str, AppOwnership] = Field(default_factory=dict)
    linking: LinkingConfig = Field(default_factory=LinkingConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    sources: list[Source] = Field(default_factory=list)
    budgets: list[CostBudget] = Field(
        default_factory=list, description="Monthly cost budgets (kpi_cost_budget_month)."
    )
    # Where relative source paths start; set by load_config, not by the file.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return sources

    @field_validator("budgets")
    @classmethod
    def _one_budget_each(cls, budgets: list[CostBudget]) -> list[CostBudget]:
        owners = [(b.app, b.team, b.currency) for b in budgets]
        if len(set(owners)) != len(owners):
            # Two budgets for one owner and currency would be one series twice.
            raise ValueError("one budget per app or team and currency")
        return budgets

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return (candidate if candidate.is_absolute() else self.base_dir / candidate).resolve()

    def kpi_settings(self) -> KpiSettings:
        return KpiSettings(
            production=re.compile(self.production_environments),
            vulnerability_sla=tuple(sorted(self.security.sla.items())),
            budgets=tuple(
                Budget(b.app or "", b.team or "", b.currency, b.amount) for b in self.budgets
            ),
        )

    def link_settings(self) -> LinkSettings:
        return LinkSettings(
            hotfix_window=self.linking.hotfix_window,
            incident_horizon=self.linking.incident_horizon,
            explicit_horizon=self.linking.explicit_horizon,
            rollback_window=self.linking.rollback_window,
        )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file, shipped as docs/config.schema.json."""
    schema = Config.model_json_schema()
    schema.get("properties", {}).pop("base_dir", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "kpi-exporter configuration"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


# --- loading -------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]


def _lines(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    """1-based line of every key path in a composed YAML document."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines.update(_lines(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_lines(item, (*path, index)))
    return lines


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


_MESSAGES = {
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
    "union_tag_invalid": "unknown source type (expected one of: {expected_tags})",
    "union_tag_not_found": "missing key 'type'",
    "too_short": "expected at least {min_length} item(s)",
    "string_pattern_mismatch": "expected letters, digits, '.', '_' or '-'",
}


def _message(error: Any) -> str:
    template = _MESSAGES.get(error["type"])
    if template is None:
        message: str = error["msg"]
        return message.removeprefix("Value error, ")
    context = error.get("ctx") or {}
    try:
        return template.format(**context)
    except KeyError:
        return template


def _inline_secrets(data: Any, path: Path_ = ()) -> list[Path_]:
    found: list[Path_] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower() in _SECRET_KEYS and value not in (None, ""):
                found.append((*path, key))
            else:
                found.extend(_inline_secrets(value, (*path, key)))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found.extend(_inline_secrets(item, (*path, index)))
    return found


M = TypeVar("M", bound=BaseModel)


def parse_yaml_model(
    text: str,
    filename: str,
    model: type[M],
    check: Callable[[Any, Callable[[Path_], str]], None] | None = None,
) -> M:
    """Validate YAML text into ``model``; :class:`ConfigError` names every bad key and line.

    ``check`` may inspect the raw data first and raise ConfigError itself; it receives a
    function that turns a key path into ``file:line``.
    """
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where_ = f"{filename}:{mark.line + 1}" if mark is not None else filename
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError([f"{where_}: not valid YAML: {problem}"]) from None
    lines = _lines(node) if node is not None else {}
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError([f"{filename}:1: (top level): expected a mapping"])

    def where(path: Path_) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in lines:
                return f"{filename}:{lines[path[:end]]}"
        return filename

    if check is not None:
        check(data, where)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            path = _without_union_tag(item["loc"])
            problems.append(f"{where(path)}: {format_path(path)}: {_message(item)}")
        raise ConfigError(problems) from None


def _no_inline_secrets(data: Any, where: Callable[[Path_], str]) -> None:
    secrets = _inline_secrets(data)
    if secrets:
        raise ConfigError(
            [
                f"{where(p)}: {format_path(p)}: secrets are not allowed inline; "
                f"use {p[-1]}_env (an environment variable) or {p[-1]}_file (a file) instead"
                for p in secrets
            ]
        )


def parse_config(text: str, filename: str = "<config>") -> Config:
    """Validate configuration text; raise :class:`ConfigError` naming every bad key and line."""
    return parse_yaml_model(text, filename, Config, _no_inline_secrets)


def _without_union_tag(loc: tuple[str | int, ...]) -> Path_:
    """Drop the source-type tag pydantic inserts after a list index for tagged unions."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (index and isinstance(loc[index - 1], int) and part in SOURCE_TYPES)
    )


def load_config(path: str | Path) -> Config:
    """Read and validate the configuration file at ``path``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{file}: cannot read the configuration: {error.strerror}"]) from None
    config = parse_config(text, str(file))
    return config.model_copy(update={"base_dir": file.resolve().parent})
