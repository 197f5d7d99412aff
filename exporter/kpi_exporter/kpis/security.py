"""Security KPIs: open findings, fixed and dismissed findings, time to fix, the oldest open
finding and SLA breaches, per app, team and severity (and scanner where it is a counter).

Dismissed findings (false positives, accepted risks) are kept apart from fixed ones: they
never enter the time to fix.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Vulnerability
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
    yield Observation("kpi_vulnerabilities_open", by_scanner, 1 if is_open else 0)
    yield Since(
        "kpi_vulnerabilities_oldest_open_created_timestamp_seconds",
        labels,
        finding.created_at if is_open else None,
    )
    sla = settings.sla(finding.severity)
    if sla is not None:
        # The live item is the SLA deadline, not the creation: a breach is a deadline passed.
        yield Since(
            "kpi_vulnerabilities_sla_breached",
            labels,
            finding.created_at + sla if is_open else None,
        )
    if finding.state == "fixed":
        yield Observation("kpi_vulnerabilities_fixed_total", by_scanner, 1)
        yield Dated("kpi_window_vulnerabilities_fixed", owner, closed_at)
        if finding.closed_at is not None:
            fix = max(0.0, finding.closed_at - finding.created_at)
            yield Observation("kpi_vulnerability_fix_seconds", labels, fix)
            yield Dated("kpi_window_vulnerability_fix_seconds", owner, finding.closed_at, fix)
    elif finding.state == "dismissed":
        yield Observation("kpi_vulnerabilities_dismissed_total", by_scanner, 1)
        yield Dated("kpi_window_vulnerabilities_dismissed", owner, closed_at)
