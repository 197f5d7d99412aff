"""The configuration file: one YAML document, validated with errors naming key path and line.

Relative paths of source inputs (git repositories, event files) are resolved against the
directory of the configuration file, as Prometheus does; the store path is relative to the
working directory. Secrets are never written in the file: a source names an environment
variable (``*_env``) or a file (``*_file``) that holds them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from ..cardinality import LabelLimits, LabelPolicy
from ..config_base import (
    DEFAULT_PORT,
    SEMVER_TAG_PATTERN,
    ConfigError,
    Credentials,
    Duration,
    Name,
    Regex,
    Strict,
    parse_duration,
)
from ..kpis.settings import DEFAULT_PRODUCTION_PATTERN, Budget, KpiSettings, environments
from ..linking import LinkSettings
from ..origin import (
    DEFAULT_AI_AGENTS,
    DEFAULT_AI_BRANCH_PREFIXES,
    DEFAULT_AI_COAUTHORS,
    DEFAULT_BOTS,
    OriginRules,
)
from ..sources import registry
from ..sources.registry import SourceSettings
from .loading import MAX_BYTES, Path_, format_path, inline_secrets, parse_yaml_model

# The type of each source entry: a union tagged by ``type`` over the registered models.
SOURCE_TYPES = tuple(kind.name for kind in registry.TYPES)
if TYPE_CHECKING:
    Source = SourceSettings
else:
    Source = Annotated[
        Union[tuple(kind.model for kind in registry.TYPES)],  # noqa: UP007
        Field(discriminator="type"),
    ]

__all__ = [
    "DEFAULT_PORT",
    "SEMVER_TAG_PATTERN",
    "SOURCE_TYPES",
    "AppOwnership",
    "Config",
    "ConfigError",
    "CostBudget",
    "Credentials",
    "Defaults",
    "Duration",
    "LinkingConfig",
    "Name",
    "OriginsConfig",
    "Path_",
    "Regex",
    "SecurityConfig",
    "Source",
    "StoreConfig",
    "Strict",
    "format_path",
    "inline_secrets",
    "json_schema",
    "json_schema_text",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_yaml_model",
    "read_config_text",
]


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
    max_bytes: int | None = Field(
        None,
        gt=0,
        description="Largest size of the SQLite file: a write beyond it is refused as on a"
        " full disk (pushes get 503, /readyz reports not ready) instead of filling the volume.",
    )


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
    environments: Literal["same", "any"] = Field(
        "same",
        description="same: an incident links only to deployments to its own environment;"
        " any: to any production deployment of its app (for incident tools that do not know"
        " the environment, reported as production, while the apps deploy to prod-eu, ...).",
    )
    rework: Literal["declared", "incident_follow_up", "both"] = Field(
        "declared",
        description="Which production deployments are rework (unplanned): declared, a hotfix"
        " or a rollback (declared, or to an older version); incident_follow_up, DORA's: a"
        " deployment that finished within rework_window after a production incident of its"
        " app started (in the incident's environment when environments is same); both.",
    )
    rework_window: Duration = Field(
        48 * 3600.0,
        description="With rework incident_follow_up or both: how long after a production"
        " incident started a deployment of its app counts as rework.",
    )


class SecurityConfig(Strict):
    """Security findings: time to fix allowed per severity."""

    sla: dict[str, Duration] = Field(
        default_factory=lambda: {"critical": 7 * 86400.0, "high": 30 * 86400.0},
        description="Severity -> time an open finding may stay open (7d, 30d, ...).",
    )


_WINDOW = re.compile(r"^[1-9]\d*(h|d|w)$")


class WindowsConfig(Strict):
    """Windowed KPIs: computed by the exporter over each window by event time, exactly."""

    durations: list[str] = Field(
        default_factory=lambda: ["7d", "30d", "90d"],
        description="Windows (label `window`), as whole hours, days or weeks: 7d, 30d, 90d."
        " The recording rules read the windows of alerts/config.libsonnet `windows.all`:"
        " keep both lists the same.",
    )
    quantiles: list[float] = Field(
        default_factory=lambda: [0.5, 0.75, 0.9],
        description="Quantiles of every duration and size (label `quantile`), exact.",
    )
    refresh_interval: Duration = Field(
        60.0,
        description="How often the windows move on with time when no poll changed anything.",
    )

    @field_validator("durations")
    @classmethod
    def _windows(cls, durations: list[str]) -> list[str]:
        for text in durations:
            if not _WINDOW.match(text):
                raise ValueError(f"window {text!r}: write whole hours, days or weeks (7d, 30d)")
        if len(set(durations)) != len(durations) or not durations:
            raise ValueError("list each window once, and at least one")
        return durations

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, quantiles: list[float]) -> list[float]:
        if any(not 0 < q < 1 for q in quantiles) or len(set(quantiles)) != len(quantiles):
            raise ValueError("quantiles are distinct numbers between 0 and 1 (0.5, 0.9)")
        return sorted(quantiles)

    def seconds(self) -> tuple[tuple[str, float], ...]:
        return tuple((text, parse_duration(text)) for text in self.durations)


class IncidentsConfig(Strict):
    """Which incidents are production incidents: they count in the windowed incident KPIs
    and can fail a production deployment. The raw incident families count every incident,
    by environment and severity."""

    environments: Regex | None = Field(
        None,
        description="Environments of production incidents (regular expression, matched"
        " case-insensitively); default: production_environments.",
    )
    severities: list[str] = Field(
        default_factory=list,
        description="Severities that count (e.g. [critical, high]); empty: every severity.",
    )


class OriginsConfig(Strict):
    """Where merged changes come from (label ``origin``: human, ai_agent, bot), as the GitHub
    and GitLab sources classify them when they read a change (the author's account is read to
    classify and never kept; a change already stored keeps its origin until it is read
    again)."""

    bots: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BOTS),
        description="Bot accounts (case-insensitive, * wildcards; `renovate` matches"
        " `renovate[bot]`); GitHub's Bot user type is a bot too.",
    )
    ai_agents: list[str] = Field(
        default_factory=lambda: list(DEFAULT_AI_AGENTS),
        description="AI agent accounts (same patterns); checked before the bots.",
    )
    ai_branch_prefixes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_AI_BRANCH_PREFIXES),
        description="Head branch prefixes of AI agents' changes (copilot/, codex/, cursor/).",
    )
    ai_coauthors: list[str] = Field(
        default_factory=lambda: list(DEFAULT_AI_COAUTHORS),
        description="Names of AI tools: a Co-authored-by trailer naming one (a word of its"
        " name or address) makes the change ai_agent.",
    )
    bots_in_flow: bool = Field(
        False,
        description="Count bot changes in lead time, the flow stages, size and the merged"
        " and unreviewed counts (by default they are counted apart only).",
    )

    def rules(self) -> OriginRules:
        return OriginRules(
            bots=tuple(self.bots),
            ai_agents=tuple(self.ai_agents),
            ai_branch_prefixes=tuple(self.ai_branch_prefixes),
            ai_coauthors=tuple(self.ai_coauthors),
            bots_in_flow=self.bots_in_flow,
        )


class WorkConfig(Strict):
    """Work items across trackers: where a work item's time to market starts."""

    discovery_statuses: list[str] = Field(
        default_factory=list,
        description='Statuses that mean the business asked for the item ("Discovery",'
        " case-insensitive): time to market starts at the first entry into one; empty or"
        " never entered: at the item's creation.",
    )


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


class Config(Strict):
    """The whole configuration file."""

    store: StoreConfig = Field(default_factory=StoreConfig)
    production_environments: Regex = Field(
        DEFAULT_PRODUCTION_PATTERN,
        description="Environments whose deployments count for DORA (regular expression,"
        " matched case-insensitively; (?-i:...) matches case).",
    )
    defaults: Defaults = Field(default_factory=Defaults)
    apps: dict[str, AppOwnership] = Field(default_factory=dict)
    linking: LinkingConfig = Field(default_factory=LinkingConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    origins: OriginsConfig = Field(default_factory=OriginsConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    work: WorkConfig = Field(default_factory=WorkConfig)
    sources: list[Source] = Field(default_factory=list)
    budgets: list[CostBudget] = Field(
        default_factory=list, description="Monthly cost budgets (kpi_cost_budget_month)."
    )
    label_limits: LabelLimits = Field(
        default_factory=LabelLimits,
        description="Distinct values each label may take; events of a new value over the"
        " limit are refused (the configured apps and teams are always accepted).",
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

    def team_of(self, app: str) -> str:
        """The team the ``apps`` section gives an app (``defaults.team`` for the others)."""
        owner = self.apps.get(app)
        return owner.team if owner is not None else self.defaults.team

    def kpi_settings(self) -> KpiSettings:
        return KpiSettings(
            production=environments(self.production_environments),
            vulnerability_sla=tuple(sorted(self.security.sla.items())),
            budgets=tuple(
                Budget(b.app or "", b.team or "", b.currency, b.amount) for b in self.budgets
            ),
            windows=self.windows.seconds(),
            quantiles=tuple(self.windows.quantiles),
            incident_environments=(
                environments(self.incidents.environments) if self.incidents.environments else None
            ),
            incident_severities=tuple(self.incidents.severities),
            origins=self.origins.rules(),
            discovery_statuses=tuple(self.work.discovery_statuses),
        )

    def label_policy(self) -> LabelPolicy:
        """The label limits, with the values this file names (always accepted)."""
        teams = {owner.team for owner in self.apps.values()} | {self.defaults.team}
        return LabelPolicy(
            self.label_limits,
            {
                "app": frozenset([*self.apps, self.defaults.app]),
                "team": frozenset(teams),
                "environment": frozenset(["production"]),
            },
        )

    def link_settings(self) -> LinkSettings:
        return LinkSettings(
            hotfix_window=self.linking.hotfix_window,
            incident_horizon=self.linking.incident_horizon,
            explicit_horizon=self.linking.explicit_horizon,
            rollback_window=self.linking.rollback_window,
            environments=self.linking.environments,
            rework=self.linking.rework,
            rework_window=self.linking.rework_window,
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


def read_config_text(file: Path, what: str) -> str:
    """The text of a configuration file, bounded in size; ConfigError naming the file when
    it cannot be read, is too large or is not UTF-8."""
    try:
        with file.open("rb") as opened:
            data = opened.read(MAX_BYTES + 1)
    except OSError as error:
        raise ConfigError([f"{file}: cannot read {what}: {error.strerror}"]) from None
    if len(data) > MAX_BYTES:
        raise ConfigError([f"{file}: larger than {MAX_BYTES // 2**20} MiB"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError([f"{file}:{line}: not UTF-8 text (byte {error.start})"]) from None


def parse_config(text: str, filename: str = "<config>") -> Config:
    """Validate configuration text; raise :class:`ConfigError` naming every problem at once,
    each with its file, line and key."""

    def check(data: Any) -> list[tuple[Path_, str]]:
        return inline_secrets(data, secret_references)

    return parse_yaml_model(text, filename, Config, check, frozenset(SOURCE_TYPES))


def secret_references(data: Any, path: Path_) -> list[str]:
    """The keys that name a secret by reference where ``path`` stands: in a source entry,
    its model's ``*_env`` and ``*_file`` keys (those starting like the key first)."""
    if len(path) != 3 or path[0] != "sources" or not isinstance(path[1], int):
        return []
    entries = data.get("sources")
    entry = entries[path[1]] if isinstance(entries, list) and path[1] < len(entries) else None
    kind = registry.BY_NAME.get(str(entry.get("type"))) if isinstance(entry, dict) else None
    if kind is None:
        return []
    keys = [key for key in kind.model.model_fields if key.endswith(("_env", "_file"))]
    stem = str(path[2]).lower()
    return sorted(keys, key=lambda key: (not key.startswith(stem), key))


def load_config(path: str | Path) -> Config:
    """Read and validate the configuration file at ``path``."""
    file = Path(path)
    text = read_config_text(file, "the configuration")
    config = parse_config(text, str(file))
    return config.model_copy(update={"base_dir": file.resolve().parent})
