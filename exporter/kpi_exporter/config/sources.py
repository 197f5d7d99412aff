"""One configuration model per source type, and the tagged union of them all."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from .. import selector
from .base import (
    SEMVER_TAG_PATTERN,
    Credentials,
    Duration,
    Name,
    Regex,
    Strict,
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


class ReportInputs(Credentials):
    """Report files (paths or globs) and/or URLs, a token, if set, sent to the URLs as
    ``Authorization: Bearer``."""

    name: Name
    interval: Duration = 300.0
    paths: list[str] = Field(default_factory=list, description="Report files or globs.")
    urls: list[str] = Field(default_factory=list, description="Report URLs.")

    @model_validator(mode="after")
    def _inputs(self) -> Self:
        if not self.paths and not self.urls:
            raise ValueError("set paths, urls, or both")
        if self.token_env is not None and self.token_file is not None:
            raise ValueError("set at most one of token_env or token_file")
        return self


class CoverageSource(ReportInputs):
    """Cobertura XML or lcov coverage reports, from files and/or URLs (a token, if set, is
    sent as ``Authorization: Bearer`` to the URLs)."""

    type: Literal["coverage"]
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


class ScanReportSource(ReportInputs):
    """Trivy (``--format json``) and OSV-Scanner (``--format json``) reports, from files
    and/or URLs (a token, if set, is sent as ``Authorization: Bearer`` to the URLs)."""

    type: Literal["scan_report"]
    format: Literal["auto", "trivy", "osv"] = Field(
        "auto", description="auto: Trivy when the report has `Results`, OSV when `results`."
    )
    app: str | None = Field(None, description="App of every finding not matched by `apps`.")
    apps: dict[str, str] = Field(
        default_factory=dict,
        description="Artifact glob (Trivy ArtifactName, OSV source path) -> app; first wins.",
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
