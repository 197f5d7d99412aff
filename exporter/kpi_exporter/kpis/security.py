"""Security KPIs: open findings, fixed and dismissed findings, time to fix, the oldest open
finding and SLA breaches, per app, team and severity (and scanner where it is a counter); the
coverage of the security features (code scanning, secret scanning) and the dependency update
pull requests left open.

Dismissed findings (false positives, accepted risks) are kept apart from fixed ones: they
never enter the time to fix.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Gauge, Vulnerability
from .families import (
    DEPENDENCY_UPDATES_OPEN,
    DEPENDENCY_UPDATES_OPEN_BY_AGE,
    SECURITY_REPOSITORIES,
    SECURITY_REPOSITORIES_ENABLED,
    VULNERABILITIES_DISMISSED,
    VULNERABILITIES_FIXED,
    VULNERABILITIES_OLDEST_OPEN_CREATED_TIMESTAMP_SECONDS,
    VULNERABILITIES_OPEN,
    VULNERABILITIES_SLA_BREACHED,
    VULNERABILITY_FIX_SECONDS,
    WINDOW_VULNERABILITIES_DISMISSED,
    WINDOW_VULNERABILITIES_FIXED,
    WINDOW_VULNERABILITY_FIX_SECONDS,
)
from .observation import Dated, Observation, Since
from .settings import KpiSettings


def observe_vulnerability(
    finding: Vulnerability, settings: KpiSettings
) -> Iterator[Observation | Since | Dated]:
    """In the windows, a fixed or dismissed finding counts by the time it was closed (by its
    creation when the source gives no closing time)."""
    labels = (finding.app, finding.team, finding.severity)
    owner = (finding.app, finding.team)
    closed_at = finding.closed_at if finding.closed_at is not None else finding.created_at
    by_scanner = (*labels, finding.scanner)
    is_open = finding.state == "open"
    # Always observed (0 or 1), so that "no open finding" is a 0, not a missing series.
    yield VULNERABILITIES_OPEN.observe(by_scanner, 1 if is_open else 0)
    yield VULNERABILITIES_OLDEST_OPEN_CREATED_TIMESTAMP_SECONDS.since(
        labels,
        finding.created_at if is_open else None,
    )
    sla = settings.sla(finding.severity)
    if sla is not None:
        # The live item is the SLA deadline, not the creation: a breach is a deadline passed.
        yield VULNERABILITIES_SLA_BREACHED.since(
            labels,
            finding.created_at + sla if is_open else None,
        )
    if finding.state == "fixed":
        yield VULNERABILITIES_FIXED.observe(by_scanner, 1)
        yield WINDOW_VULNERABILITIES_FIXED.at(owner, closed_at)
        if finding.closed_at is not None:
            fix = max(0.0, finding.closed_at - finding.created_at)
            yield VULNERABILITY_FIX_SECONDS.observe(labels, fix)
            yield WINDOW_VULNERABILITY_FIX_SECONDS.at(owner, finding.closed_at, fix)
    elif finding.state == "dismissed":
        yield VULNERABILITIES_DISMISSED.observe(by_scanner, 1)
        yield WINDOW_VULNERABILITIES_DISMISSED.at(owner, closed_at)


# Gauge event names of sources/github_coverage.py.
COVERAGE = "github_security_coverage"
DEPENDENCY_UPDATE = "github_dependency_update"


def observe_security_coverage(gauge: Gauge, settings: KpiSettings) -> Iterator[Observation | Since]:
    """A repository's security feature (value 1 enabled, 0 not) counts once among the
    assessed repositories of its app; a dependency update pull request is open (value 1)
    since it was opened, or closed (0). Other gauges (a retired repository's) count nothing."""
    owner = (gauge.app, gauge.team)
    if gauge.name == COVERAGE:
        labels = (*owner, dict(gauge.labels).get("feature", ""))
        yield SECURITY_REPOSITORIES.observe(labels, 1)
        yield SECURITY_REPOSITORIES_ENABLED.observe(labels, gauge.value)
    elif gauge.name == DEPENDENCY_UPDATE:
        is_open = gauge.value > 0
        yield DEPENDENCY_UPDATES_OPEN.observe(owner, 1 if is_open else 0)
        yield DEPENDENCY_UPDATES_OPEN_BY_AGE.since(owner, gauge.measured_at if is_open else None)
