"""What the KPI functions need to know from the configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_PRODUCTION_PATTERN = r"^prod(uction)?([-_].*)?$"


@dataclass(frozen=True, slots=True)
class KpiSettings:
    """``production`` matches the environments whose deployments count for DORA."""

    production: re.Pattern[str] = field(
        default_factory=lambda: re.compile(DEFAULT_PRODUCTION_PATTERN)
    )

    def is_production(self, environment: str) -> bool:
        return self.production.search(environment) is not None
