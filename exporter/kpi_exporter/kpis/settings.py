"""What the KPI functions need to know from the configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ..origin import OriginRules

DEFAULT_PRODUCTION_PATTERN = r"^prod(uction)?([-_].*)?$"


def environments(pattern: str) -> re.Pattern[str]:
    """An environment pattern, matched case-insensitively (``PRODUCTION`` and ``Prod-EU``
    are production too); ``(?-i:...)`` in the pattern matches case where wanted."""
    return re.compile(pattern, re.IGNORECASE)


DEFAULT_WINDOWS: tuple[tuple[str, float], ...] = (
    ("7d", 7 * 86400.0),
    ("30d", 30 * 86400.0),
    ("90d", 90 * 86400.0),
)
DEFAULT_QUANTILES: tuple[float, ...] = (0.5, 0.75, 0.9)
DEFAULT_VULNERABILITY_SLA: tuple[tuple[str, float], ...] = (
    ("critical", 7 * 86400.0),
    ("high", 30 * 86400.0),
)


class Budget(NamedTuple):
    """A monthly budget of an app or a team (the other label empty), in one currency."""

    app: str
    team: str
    currency: str
    amount: float


@dataclass(frozen=True, slots=True)
class KpiSettings:
    """``production`` matches the environments whose deployments count for DORA;
    ``vulnerability_sla`` is the time to fix per finding severity."""

    production: re.Pattern[str] = field(
        default_factory=lambda: environments(DEFAULT_PRODUCTION_PATTERN)
    )
    # Security findings: how long an open finding of a severity may stay open (seconds);
    # severities not listed have no SLA.
    vulnerability_sla: tuple[tuple[str, float], ...] = DEFAULT_VULNERABILITY_SLA
    # Monthly cost budgets from the config, exported as gauges for rules to compare.
    budgets: tuple[Budget, ...] = ()
    # Windowed KPIs: (label, seconds) of each window and the quantiles published.
    windows: tuple[tuple[str, float], ...] = DEFAULT_WINDOWS
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    # Which incidents count as production incidents (windowed incident KPIs, failed
    # deployments): their environment matches this pattern (None: the production pattern)
    # and, when the tuple is not empty, their severity is listed.
    incident_environments: re.Pattern[str] | None = None
    incident_severities: tuple[str, ...] = ()
    # Where changes come from (human, ai_agent, bot): how sources classify them, and whether
    # bot changes count in the flow metrics.
    origins: OriginRules = field(default_factory=OriginRules)
    # Time to market of a work item starts when it first entered one of these statuses
    # (matched case-insensitively: the "discovery started" status), else when it was created.
    discovery_statuses: tuple[str, ...] = ()

    def is_production(self, environment: str) -> bool:
        return self.production.search(environment) is not None

    def is_production_incident(self, environment: str, severity: str) -> bool:
        """Whether an incident counts for the production KPIs and can fail a deployment."""
        pattern = self.incident_environments or self.production
        if pattern.search(environment) is None:
            return False
        return not self.incident_severities or severity in self.incident_severities

    def discovery_started(
        self, created_at: float, statuses: tuple[tuple[float, str, str], ...]
    ) -> float:
        """When a work item's time to market starts: its first entry into a discovery
        status, else its creation."""
        wanted = {name.casefold() for name in self.discovery_statuses}
        entered = [at for at, name, _ in statuses if name.casefold() in wanted]
        return max(created_at, min(entered)) if entered else created_at

    def sla(self, severity: str) -> float | None:
        """The time to fix allowed for a finding of ``severity``; None when it has none."""
        return dict(self.vulnerability_sla).get(severity)
