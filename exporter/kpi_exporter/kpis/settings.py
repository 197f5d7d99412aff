"""What the KPI functions need to know from the configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

DEFAULT_PRODUCTION_PATTERN = r"^prod(uction)?([-_].*)?$"
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
        default_factory=lambda: re.compile(DEFAULT_PRODUCTION_PATTERN)
    )
    # Security findings: how long an open finding of a severity may stay open (seconds);
    # severities not listed have no SLA.
    vulnerability_sla: tuple[tuple[str, float], ...] = DEFAULT_VULNERABILITY_SLA
    # Monthly cost budgets from the config, exported as gauges for rules to compare.
    budgets: tuple[Budget, ...] = ()

    def is_production(self, environment: str) -> bool:
        return self.production.search(environment) is not None

    def sla(self, severity: str) -> float | None:
        """The time to fix allowed for a finding of ``severity``; None when it has none."""
        return dict(self.vulnerability_sla).get(severity)
