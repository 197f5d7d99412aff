"""The scan_report, focus and sonarqube sources on real outputs of the real tools
(``artifacts/scan``, ``artifacts/focus``, ``artifacts/sonarqube`` of the shared real data, read
where they are). Every expectation is counted by hand from the file, written next to it, and
compared with what the tool itself says (Trivy's per-target totals, OSV-Scanner's groups)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import responses

from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.model import CostLine, Gauge, Vulnerability
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources.focus import FocusFiles, FocusSource
from kpi_exporter.sources.scan_reports import ScanReports, ScanReportSource
from kpi_exporter.sources.sonarqube import SonarQube, SonarQubeSource
from kpi_exporter.store import SourceState
from tests.real_data import artifact
from tests.support import ts

CONFIG = "defaults: {app: unknown, team: unassigned}\napps:\n  shop: {team: payments}\n"
TRIVY_TIME = ts("2021-08-25T12:20:30Z")  # every golden's CreatedAt (...30.000000005Z)

# Trivy golden -> (findings by severity, Trivy's own per-target totals as its table prints
# them, "Total: N (...)"). A finding is PkgName + VulnerabilityID in the artifact.
TRIVY: dict[str, tuple[dict[str, int], list[int]]] = {
    # alpine 3.10.2: libcrypto1.1 and libssl1.1, CVE-2019-1549 and -1551 each: 4 MEDIUM.
    "trivy-alpine-310.json.golden": ({"medium": 4}, [4]),
    # centos 7.6: bash CVE-2019-18276 LOW, openssl-libs CVE-2019-1559 MEDIUM, CVE-2018-0734 LOW.
    "trivy-centos-7.json.golden": ({"low": 2, "medium": 1}, [3]),
    # debian 10.1: bash LOW, libidn2-0 CRITICAL.
    "trivy-debian-buster.json.golden": ({"low": 1, "critical": 1}, [2]),
    # debian 9.9: libssl1.1 and openssl, CVE-2019-1551 MEDIUM and CVE-2019-1563 LOW each.
    "trivy-distroless-base.json.golden": ({"medium": 2, "low": 2}, [4]),
    # A Dockerfile's misconfigurations only: no vulnerability.
    "trivy-dockerfile.json.golden": ({}, [0]),
    # SBOM: debian (bash LOW, libidn2-0 CRITICAL) + Ruby gemspec (activesupport HIGH).
    "trivy-fluentd-multiple-lockfiles.json.golden": ({"low": 1, "critical": 1, "high": 1}, [2, 1]),
    # Three go.mod: go.mod has 3 (GMS-2022-20 and CVE-2021-38561 UNKNOWN, CVE-2022-23628
    # MEDIUM), submod/go.mod and submod2/go.mod the same GMS-2022-20 of the same package:
    # Trivy prints 3 + 1 + 1 = 5; one artifact has it once: 3 findings.
    "trivy-gomod.json.golden": ({"unknown": 2, "medium": 1}, [3, 1, 1]),
    # package-lock.json: jquery CVE-2019-11358, LOW by the Ubuntu severity source.
    "trivy-npm-ubuntu-severity.json.golden": ({"low": 1}, [1]),
    # pom.xml: jackson-databind CVE-2020-9548 CRITICAL, CVE-2021-20190 HIGH.
    "trivy-pom.json.golden": ({"critical": 1, "high": 1}, [2]),
    # A secret in deploy.sh: secrets are not vulnerabilities.
    "trivy-secrets.json.golden": ({}, [0]),
    # debian 11.3 clean; the war's spring-beans CVE-2022-22965 CRITICAL; a custom result.
    "trivy-spring4shell-jre11.json.golden": ({"critical": 1}, [0, 1, 0]),
}


def scans(path: Path, base: Path) -> ScanReports:
    config = ScanReportSource(type="scan_report", name="scans", paths=[str(path)], app="shop")
    return ScanReports(config, base, Ownership(parse_config(CONFIG)))


def findings(events: list[Any]) -> dict[str, Vulnerability]:
    return {e.key: e for e in events if isinstance(e, Vulnerability)}


@pytest.mark.parametrize("name", sorted(TRIVY))
def test_real_trivy_goldens_give_one_finding_per_package_and_id(name: str, tmp_path: Path) -> None:
    path = artifact(f"scan/{name}")
    expected, trivy_totals = TRIVY[name]
    report = json.loads(path.read_text())
    # Trivy's own totals, per target, from the golden itself.
    assert [len(r.get("Vulnerabilities") or []) for r in report["Results"]] == trivy_totals

    poll = scans(path, tmp_path).poll(SourceState())

    assert poll.problems == []
    found = findings(poll.events)
    assert dict(Counter(f.severity for f in found.values())) == expected
    artifact_name = report["ArtifactName"]
    assert all(key.startswith(f"scan/{artifact_name}/") for key in found)
    assert [(f.state, f.scanner, f.created_at) for f in found.values()] == [
        ("open", "trivy", TRIVY_TIME)
    ] * sum(expected.values())


# OSV-Scanner report -> {finding key after "scan/": severity}. OSV-Scanner counts a group of
# aliases once; so do we.
OSV: dict[str, dict[str, str]] = {
    # 2 sources, 4 vulnerability entries in 2 groups. go.mod: GHSA-c3h9-896r-86jm (HIGH
    # declared) + GO-2021-0053, aliases of CVE-2021-3121. Cargo.lock: GHSA-m5pq-gvj9-9vr8
    # (HIGH) + RUSTSEC-2022-0013 (CVSS:3.1/.../A:H = 7.5), aliases of CVE-2022-24713.
    "osv-ci-test-vuln-results-b.json": {
        "/path/to/scorecard-check-osv-e2e/go.mod/Go/github.com/gogo/protobuf/CVE-2021-3121": "high",
        "/path/to/scorecard-check-osv-e2e/sub-rust-project/Cargo.lock/crates.io/regex/"
        "CVE-2022-24713": "high",
    },
    # go.mod: GO-2021-0053 alone, no severity anywhere: unknown. Cargo.lock as above, but no
    # database severity on RUSTSEC-2022-0013: GHSA's HIGH is the group's.
    "osv-output-test-vuln-results-a.json": {
        "/path/to/go.mod/Go/github.com/gogo/protobuf/CVE-2021-3121": "unknown",
        "/path/to/sub-rust-project/Cargo.lock/crates.io/regex/CVE-2022-24713": "high",
    },
    # OSV-1 and GHSA-123, one group, max_severity "8.3": one high finding, named GHSA-123
    # (no CVE id; the smaller id).
    "osv-machinejson-two-aliases-max-severity.json": {
        "<rootdir>/path/to/my/first/lockfile/npm/mine1/GHSA-123": "high",
    },
    # 6 groups, each one id, "aliases": null. max_severity "" and an untyped score "1" (not a
    # CVSS vector) give unknown, except OSV-3 with max_severity "4.3": medium.
    "osv-machinejson-across-ecosystems.json": {
        "<rootdir>/path/to/my/first/lockfile/Packagist/author1/mine1/OSV-1": "unknown",
        "<rootdir>/path/to/my/first/lockfile/Packagist/author1/mine1/OSV-5": "unknown",
        "<rootdir>/path/to/my/first/lockfile/npm/mine1/OSV-1": "unknown",
        "<rootdir>/path/to/my/second/lockfile/NuGet/mine2/OSV-2": "unknown",
        "<rootdir>/path/to/my/second/lockfile/Packagist/author3/mine3/OSV-3": "medium",
        "<rootdir>/path/to/my/second/lockfile/Packagist/author3/mine3/OSV-5": "unknown",
    },
}


@pytest.mark.parametrize("name", sorted(OSV))
def test_real_osv_reports_count_one_finding_per_group(name: str, tmp_path: Path) -> None:
    path = artifact(f"scan/{name}")

    poll = scans(path, tmp_path).poll(SourceState())

    assert poll.problems == []
    found = findings(poll.events)
    assert {key.removeprefix("scan/"): f.severity for key, f in found.items()} == OSV[name]
    # OSV output has no time: the file's modification time stands in.
    assert {f.created_at for f in found.values()} == {path.stat().st_mtime}


# FOCUS 1.0 sample, 1,000 rows, all USD, BilledCost summed by hand (exact decimals):
# AWS: 653 rows tagged with "application" 19.70898831760 + 289 rows with Tags NULL
#      -1.70234969920 (usage 0.91135030080 + the credit -2.61370000000) = 18.00663861840;
# Microsoft: 51 rows, tags without "application": 1.97651418586;
# Oracle: 7 rows tagged: 0.53707392473 (two Adjustment rows 0.192 and 0.08 included).
FOCUS_TOTALS = {"AWS": 18.00663861840, "Microsoft": 1.97651418586, "Oracle": 0.53707392473}
# With app_tag "application", untagged spend is the default app's: AWS -1.70234969920 (the
# NULL rows), Microsoft 1.97651418586 (no such tag).
FOCUS_UNTAGGED = {"AWS": -1.70234969920, "Microsoft": 1.97651418586}
# The largest app: BrightPathMatrix, 15.95809931820 (AWS).
CENTS = 1e-5  # amounts are rounded to 6 decimals per day and owner: at most 30 days x 5e-7


def test_the_real_focus_sample_sums_every_row_null_tags_included(tmp_path: Path) -> None:
    path = artifact("focus/focus_sample.csv")
    config = FocusSource(type="focus", name="focus", paths=[str(path)], app_tag="application")
    poll = FocusFiles(config, tmp_path, Ownership(parse_config(CONFIG))).poll(SourceState())

    assert poll.problems == []
    lines = [e for e in poll.events if isinstance(e, CostLine)]
    assert {line.currency for line in lines} == {"USD"}
    by_provider: dict[str, float] = {}
    untagged: dict[str, float] = {}
    bright = 0.0
    for line in lines:
        by_provider[line.provider] = by_provider.get(line.provider, 0.0) + line.amount
        if line.app == "unknown":
            untagged[line.provider] = untagged.get(line.provider, 0.0) + line.amount
        if line.app == "BrightPathMatrix":
            bright += line.amount
    assert by_provider == pytest.approx(FOCUS_TOTALS, abs=CENTS)
    assert untagged == pytest.approx(FOCUS_UNTAGGED, abs=CENTS)
    assert bright == pytest.approx(15.95809931820, abs=CENTS)
    # Every charge period is in September 2024 (UTC days 2024-09-01 .. 2024-09-30).
    days = {line.time for line in lines}
    assert min(days) == ts("2024-09-01T00:00:00Z")
    assert max(days) == ts("2024-09-30T00:00:00Z")


SONAR = "https://sonar.example.test"


@responses.activate
def test_the_sonarqube_documented_example_answer_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # SonarQube's own example of GET api/measures/component: a file's complexity, ncloc and
    # new_violations (a new-code "period" only). None is a measure we export, so no gauge; the
    # answer's shape (component.measures, a period without value) is read without a problem.
    example = artifact("sonarqube/measures-component-example.json").read_text()
    responses.get(f"{SONAR}/api/measures/component", body=example)
    monkeypatch.setenv("SONAR_TOKEN", "squ_token")
    config = SonarQubeSource(
        type="sonarqube",
        name="sonar",
        api_url=SONAR,
        token_env="SONAR_TOKEN",
        projects={"MY_PROJECT:ElementImpl.java": "shop"},
    )
    source = SonarQube(config, Ownership(parse_config(CONFIG)), Health(), sleep=lambda s: None)

    poll = source.poll(SourceState())

    assert poll.problems == []
    assert [e for e in poll.events if isinstance(e, Gauge)] == []
