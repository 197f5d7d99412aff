"""Security KPIs: open findings, fixed and dismissed findings, time to fix, the oldest open
finding and SLA breaches, per app, team and severity (and scanner where it is a counter).

Dismissed findings (false positives, accepted risks) are kept apart from fixed ones: they
never enter the time to fix.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Vulnerability
from .families import (
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
