"""Security KPIs from fixture findings, with expectations computed by hand: open criticals per
app, SLA breaches at a fixed "now", time-to-fix buckets, dismissed kept apart from fixed."""

from __future__ import annotations

from typing import Any

from kpi_exporter.config import parse_config
from kpi_exporter.exposition import render
from kpi_exporter.kpis import KpiSettings, aggregate
from kpi_exporter.model import Event, Vulnerability, from_json, to_json
from tests.support import DAY, HOUR, samples, ts, value

NOW = ts("2026-11-20T00:00:00Z")
SHOP = {"app": "shop", "team": "payments"}
API = {"app": "api", "team": "platform"}


def finding(key: str, created: str, severity: str = "critical", **fields: Any) -> Vulnerability:
    values: dict[str, Any] = {
        "source": "test",
        "key": key,
        "app": "shop",
        "team": "payments",
        "severity": severity,
        "created_at": ts(created),
        "scanner": "trivy",
    }
    if isinstance(fields.get("closed_at"), str):
        fields["closed_at"] = ts(fields["closed_at"])
    values.update(fields)
    return Vulnerability(**values)


FINDINGS: list[Event] = [
    # shop: two open criticals (one 10 days old: breached; one 2 days old: not), one open high
    # 40 days old (breached), one open medium (no SLA by default).
    finding("s1", "2026-11-10T00:00:00Z"),
    finding("s2", "2026-11-18T00:00:00Z", scanner="dependabot"),
    finding("s3", "2026-10-11T00:00:00Z", "high"),
    finding("s4", "2026-09-01T00:00:00Z", "medium"),
    # shop: fixed criticals in 2 hours, 3 days and 8 days; one dismissed after 1 day.
    finding("s5", "2026-11-01T00:00:00Z", state="fixed", closed_at="2026-11-01T02:00:00Z"),
    finding("s6", "2026-11-01T00:00:00Z", state="fixed", closed_at="2026-11-04T00:00:00Z"),
    finding("s7", "2026-11-01T00:00:00Z", state="fixed", closed_at="2026-11-09T00:00:00Z"),
    finding("s8", "2026-11-01T00:00:00Z", state="dismissed", closed_at="2026-11-02T00:00:00Z"),
    # api: one open critical exactly 7 days old (not breached: strictly older), one fixed.
    finding("a1", "2026-11-13T00:00:00Z", **API),
    finding("a2", "2026-11-01T00:00:00Z", state="fixed", closed_at="2026-11-05T00:00:00Z", **API),
]


def text(events: list[Event], settings: KpiSettings | None = None, now: float = NOW) -> str:
    return render(aggregate(events, settings, clock=lambda: now).exposition).text.decode()


def test_open_criticals_per_app_and_scanner() -> None:
    out = text(FINDINGS)
    assert value(out, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 2
    assert value(out, "kpi_vulnerabilities_open", severity="critical", scanner="trivy", **SHOP) == 1
    assert value(out, "kpi_vulnerabilities_open", severity="critical", **API) == 1
    assert value(out, "kpi_vulnerabilities_open", severity="high", **SHOP) == 1
    # Only fixed ones in a series: 0, not absent.
    assert (
        samples(out)[
            (
                "kpi_vulnerabilities_open",
                frozenset({**API, "severity": "critical", "scanner": "trivy"}.items()),
            )
        ]
        == 1
    )


def test_sla_breaches_at_a_fixed_now() -> None:
    out = text(FINDINGS)
    assert value(out, "kpi_vulnerabilities_sla_breached", severity="critical", **SHOP) == 1
    assert value(out, "kpi_vulnerabilities_sla_breached", severity="high", **SHOP) == 1
    # 7 days exactly is not older than 7 days; a second later it is.
    assert value(out, "kpi_vulnerabilities_sla_breached", severity="critical", **API) == 0
    later = text(FINDINGS, now=NOW + 1)
    assert value(later, "kpi_vulnerabilities_sla_breached", severity="critical", **API) == 1
    # No SLA for medium by default: no series.
    assert 'severity="medium"' not in "\n".join(
        line for line in out.splitlines() if line.startswith("kpi_vulnerabilities_sla_breached")
    )


def test_sla_is_configurable() -> None:
    config = parse_config("security: {sla: {critical: 1d, high: 60d, medium: 30d}}\n")
    out = text(FINDINGS, config.kpi_settings())
    # s1 (10 d) and s2 (2 d) both past 1 day; s3 (40 d) within 60 d; s4 (80 d) past 30 d.
    assert value(out, "kpi_vulnerabilities_sla_breached", severity="critical", **SHOP) == 2
    assert value(out, "kpi_vulnerabilities_sla_breached", severity="high", **SHOP) == 0
    assert value(out, "kpi_vulnerabilities_sla_breached", severity="medium", **SHOP) == 1


def test_oldest_open_finding_per_severity() -> None:
    out = text(FINDINGS)
    oldest = "kpi_vulnerabilities_oldest_open_created_timestamp_seconds"
    assert value(out, oldest, severity="critical", **SHOP) == ts("2026-11-10T00:00:00Z")
    assert value(out, oldest, severity="medium", **SHOP) == ts("2026-09-01T00:00:00Z")


def test_time_to_fix_buckets() -> None:
    out = text(FINDINGS)
    name = "kpi_vulnerability_fix_seconds"
    labels = {"severity": "critical", **SHOP}
    # Fixed in 2 h, 3 d and 8 d: bucket bounds 1h, 4h, 1d, 3d, 7d, 14d, ...
    assert value(out, f"{name}_bucket", le=str(HOUR), **labels) == 0
    assert value(out, f"{name}_bucket", le=str(4 * HOUR), **labels) == 1
    assert value(out, f"{name}_bucket", le=str(3 * DAY), **labels) == 2
    assert value(out, f"{name}_bucket", le="604800.0", **labels) == 2
    assert value(out, f"{name}_bucket", le="1.2096e+06", **labels) == 3
    assert value(out, f"{name}_count", **labels) == 3
    assert value(out, f"{name}_sum", **labels) == 2 * HOUR + 3 * DAY + 8 * DAY


def test_dismissed_is_kept_apart_from_fixed() -> None:
    out = text(FINDINGS)
    assert value(out, "kpi_vulnerabilities_fixed_total", severity="critical", **SHOP) == 3
    assert value(out, "kpi_vulnerabilities_dismissed_total", severity="critical", **SHOP) == 1
    # The dismissal (after 1 day) is no time to fix.
    assert value(out, "kpi_vulnerability_fix_seconds_count", severity="critical", **SHOP) == 3


def test_a_finding_fixed_later_moves_from_open_to_fixed() -> None:
    opened = finding("x", "2026-11-01T00:00:00Z")
    fixed = finding("x", "2026-11-01T00:00:00Z", state="fixed", closed_at="2026-11-02T00:00:00Z")
    result = aggregate([opened], clock=lambda: NOW)
    result.apply([(opened, fixed)])
    out = render(result.exposition).text.decode()
    assert out == text([fixed])
    assert value(out, "kpi_vulnerabilities_open", **SHOP) == 0
    assert value(out, "kpi_vulnerabilities_sla_breached", **SHOP) == 0
    oldest = "kpi_vulnerabilities_oldest_open_created_timestamp_seconds"
    assert not any(name == oldest for name, _ in samples(out))


def test_stored_findings_without_a_scanner_still_load() -> None:
    stored = to_json(finding("old", "2026-11-01T00:00:00Z")).replace(',"scanner":"trivy"', "")
    assert "scanner" not in stored
    assert from_json("vulnerability", stored) == finding("old", "2026-11-01T00:00:00Z", scanner="")
