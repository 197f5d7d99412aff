"""The scan_report source: Trivy and OSV-Scanner JSON reports written by the tests, following
the tools' JSON output (Trivy: ``ArtifactName``, ``CreatedAt``, ``Results[].Vulnerabilities[]``;
OSV-Scanner: ``results[].source``, ``packages[].package``, ``vulnerabilities[]``, ``groups[]``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import responses

from kpi_exporter.config import parse_config
from kpi_exporter.model import Vulnerability
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources import Poll
from kpi_exporter.sources.scan_reports import ScanReports, ScanReportSource
from kpi_exporter.store import SourceState
from tests.support import ts

CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments}
  api: {team: platform}
"""


def trivy(created: str, *vulnerabilities: tuple[str, str, str], artifact: str = "shop:1.0") -> Any:
    """A ``trivy image --format json`` report: (VulnerabilityID, PkgName, Severity) each."""
    return {
        "SchemaVersion": 2,
        "CreatedAt": created,
        "ArtifactName": artifact,
        "ArtifactType": "container_image",
        "Results": [
            {
                "Target": f"{artifact} (debian 12.5)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": id_,
                        "PkgName": package,
                        "InstalledVersion": "1.0",
                        "FixedVersion": "1.1",
                        "Severity": severity,
                    }
                    for id_, package, severity in vulnerabilities
                ],
            },
            {"Target": "app/package-lock.json", "Class": "lang-pkgs", "Type": "npm"},
        ],
    }


OSV = {
    "results": [
        {
            "source": {"path": "/src/api/go.mod", "type": "lockfile"},
            "packages": [
                {
                    "package": {"name": "golang.org/x/net", "version": "0.1.0", "ecosystem": "Go"},
                    "vulnerabilities": [
                        {"id": "GO-2023-1", "aliases": ["CVE-2023-1"]},
                        {"id": "GHSA-aaaa", "database_specific": {"severity": "MODERATE"}},
                        {"id": "GO-2023-2"},
                        {"id": "GO-2023-3"},
                    ],
                    "groups": [
                        {"ids": ["GO-2023-1"], "aliases": ["CVE-2023-1"], "max_severity": "9.8"},
                        {"ids": ["GO-2023-2"], "max_severity": "7.5"},
                        {"ids": ["GO-2023-3"], "max_severity": ""},
                    ],
                }
            ],
        }
    ]
}


def source(tmp_path: Path, **fields: Any) -> ScanReports:
    values: dict[str, Any] = {"type": "scan_report", "name": "scans", "paths": ["*.json"]}
    values.update(fields)
    config = parse_config(CONFIG)
    return ScanReports(ScanReportSource(**values), tmp_path, Ownership(config))


def write(path: Path, report: Any) -> None:
    path.write_text(json.dumps(report))


def by_key(poll: Poll) -> dict[str, Vulnerability]:
    return {event.key: event for event in poll.events if isinstance(event, Vulnerability)}


def test_trivy_findings_are_open_with_app_from_the_artifact(tmp_path: Path) -> None:
    write(
        tmp_path / "shop.json",
        trivy(
            "2026-11-01T10:00:00.123456789Z",
            ("CVE-1", "openssl", "CRITICAL"),
            ("CVE-2", "zlib", "LOW"),
            ("CVE-3", "curl", "UNKNOWN"),
        ),
    )
    poll = source(tmp_path, apps={"shop:*": "shop"}).poll(SourceState())
    found = by_key(poll)
    assert sorted(found) == [
        "scan/shop:1.0/curl/CVE-3",
        "scan/shop:1.0/openssl/CVE-1",
        "scan/shop:1.0/zlib/CVE-2",
    ]
    critical = found["scan/shop:1.0/openssl/CVE-1"]
    assert (critical.app, critical.team, critical.severity, critical.state) == (
        "shop",
        "payments",
        "critical",
        "open",
    )
    assert critical.scanner == "trivy"
    assert critical.created_at == ts("2026-11-01T10:00:00.123456Z")
    assert found["scan/shop:1.0/curl/CVE-3"].severity == "unknown"
    assert poll.problems == []


def test_a_finding_gone_from_the_next_report_is_fixed_at_its_time(tmp_path: Path) -> None:
    scans = source(tmp_path, app="shop")
    report = tmp_path / "shop.json"
    write(
        report,
        trivy("2026-11-01T00:00:00Z", ("CVE-1", "openssl", "HIGH"), ("CVE-2", "zlib", "LOW")),
    )
    first = scans.poll(SourceState())
    # The same report again: nothing new.
    again = scans.poll(SourceState(cursor=first.cursor))
    assert again.events == []
    write(
        report, trivy("2026-11-04T00:00:00Z", ("CVE-2", "zlib", "LOW"), ("CVE-9", "curl", "HIGH"))
    )
    second = scans.poll(SourceState(cursor=first.cursor))
    found = by_key(second)
    fixed = found["scan/shop:1.0/openssl/CVE-1"]
    assert (fixed.state, fixed.created_at, fixed.closed_at) == (
        "fixed",
        ts("2026-11-01T00:00:00Z"),
        ts("2026-11-04T00:00:00Z"),
    )
    # Still open: created when first reported, not at the new report.
    assert found["scan/shop:1.0/zlib/CVE-2"].created_at == ts("2026-11-01T00:00:00Z")
    assert found["scan/shop:1.0/curl/CVE-9"].created_at == ts("2026-11-04T00:00:00Z")
    assert found["scan/shop:1.0/curl/CVE-9"].state == "open"


def test_two_reports_of_one_artifact_in_one_poll_apply_in_time_order(tmp_path: Path) -> None:
    write(tmp_path / "b.json", trivy("2026-11-01T00:00:00Z", ("CVE-1", "openssl", "HIGH")))
    write(tmp_path / "a.json", trivy("2026-11-02T00:00:00Z"))
    found = by_key(source(tmp_path, app="shop").poll(SourceState()))
    assert found["scan/shop:1.0/openssl/CVE-1"].state == "fixed"
    assert found["scan/shop:1.0/openssl/CVE-1"].closed_at == ts("2026-11-02T00:00:00Z")


def test_osv_severities_from_database_or_cvss_group(tmp_path: Path) -> None:
    path = tmp_path / "osv.json"
    write(path, OSV)
    os.utime(path, (ts("2026-11-05T00:00:00Z"), ts("2026-11-05T00:00:00Z")))
    poll = source(tmp_path, apps={"/src/api/*": "api"}).poll(SourceState())
    found = by_key(poll)
    prefix = "scan//src/api/go.mod/Go/golang.org/x/net/"
    assert {key.removeprefix(prefix): f.severity for key, f in found.items()} == {
        "CVE-2023-1": "critical",  # CVSS 9.8; the finding is named by its CVE alias
        "GHSA-aaaa": "medium",  # MODERATE
        "GO-2023-2": "high",  # CVSS 7.5
        "GO-2023-3": "unknown",  # no score
    }
    assert {(f.app, f.team, f.scanner, f.created_at) for f in found.values()} == {
        ("api", "platform", "osv", ts("2026-11-05T00:00:00Z"))
    }


def test_a_bad_report_is_a_problem_naming_it_and_the_others_count(tmp_path: Path) -> None:
    write(tmp_path / "good.json", trivy("2026-11-01T00:00:00Z", ("CVE-1", "openssl", "HIGH")))
    (tmp_path / "broken.json").write_text("{not json")
    write(tmp_path / "other.json", {"hello": "world"})
    poll = source(tmp_path, app="shop").poll(SourceState())
    assert list(by_key(poll)) == ["scan/shop:1.0/openssl/CVE-1"]
    assert len(poll.problems) == 2
    assert any(str(tmp_path / "broken.json") in problem for problem in poll.problems)
    assert any(str(tmp_path / "other.json") in problem for problem in poll.problems)


@responses.activate
def test_a_report_url_is_read_and_not_modified_costs_nothing(tmp_path: Path) -> None:
    url = "https://ci.example.test/reports/shop.json"
    responses.get(
        url,
        json=trivy("2026-11-01T00:00:00Z", ("CVE-1", "openssl", "CRITICAL")),
        headers={"ETag": '"v1"'},
    )
    scans = source(tmp_path, paths=[], urls=[url], app="shop")
    first = scans.poll(SourceState())
    assert list(by_key(first)) == ["scan/shop:1.0/openssl/CVE-1"]
    responses.replace(responses.GET, url, status=304)
    second = scans.poll(SourceState(cursor=first.cursor, validators=first.validators))
    assert second.events == []
    assert responses.calls[1].request.headers["If-None-Match"] == '"v1"'


def osv_image(*packages: tuple[str, str, list[str] | None]) -> Any:
    """An ``osv-scanner scan image --format json`` report: its package database has the same
    path in every image of a distribution; (name, vulnerability id, aliases) per package."""
    return {
        "results": [
            {
                "source": {"path": "/lib/apk/db/installed", "type": "os"},
                "packages": [
                    {
                        "package": {"name": name, "version": "1", "ecosystem": "Alpine:v3.18"},
                        "vulnerabilities": [{"id": id_, "aliases": aliases}],
                        "groups": [{"ids": [id_], "aliases": aliases, "max_severity": "7.5"}],
                    }
                    for name, id_, aliases in packages
                ],
            }
        ],
        "image_metadata": {"os": "Alpine Linux v3.18", "layer_metadata": [], "base_images": []},
    }


def test_osv_image_scans_of_two_images_are_two_artifacts(tmp_path: Path) -> None:
    write(tmp_path / "shop-image.json", osv_image(("openssl", "CVE-2024-1", ["ALPINE-1"])))
    write(tmp_path / "api-image.json", osv_image(("musl", "CVE-2024-2", [])))
    poll = source(tmp_path, apps={"shop-*": "shop", "api-*": "api"}).poll(SourceState())
    found = by_key(poll)
    # The artifact is the report, then the package database: the two never collide.
    assert {key: (f.app, f.state) for key, f in found.items()} == {
        "scan/shop-image.json:/lib/apk/db/installed/Alpine:v3.18/openssl/CVE-2024-1": (
            "shop",
            "open",
        ),
        "scan/api-image.json:/lib/apk/db/installed/Alpine:v3.18/musl/CVE-2024-2": ("api", "open"),
    }


def test_a_new_report_with_the_same_modification_time_is_read(tmp_path: Path) -> None:
    scans = source(tmp_path, app="shop")
    path = tmp_path / "image.json"
    moment = ts("2026-11-05T00:00:00Z")
    write(path, osv_image(("openssl", "CVE-2024-1", []), ("musl", "CVE-2024-2", [])))
    os.utime(path, (moment, moment))
    first = scans.poll(SourceState())
    assert len(first.events) == 2
    # Unchanged: nothing new.
    state = SourceState(cursor=first.cursor)
    assert scans.poll(state).events == []
    # Rewritten within the same second (a copy keeping its time): openssl fixed, read anyway.
    write(path, osv_image(("musl", "CVE-2024-2", [])))
    os.utime(path, (moment, moment))
    second = scans.poll(state)
    fixed = by_key(second)
    key = "scan/image.json:/lib/apk/db/installed/Alpine:v3.18/openssl/CVE-2024-1"
    assert (fixed[key].state, fixed[key].closed_at) == ("fixed", moment)


def test_osv_aliases_null_as_osv_scanner_prints_them_is_read(tmp_path: Path) -> None:
    # OSV-Scanner's JSON writer prints an empty alias list as null, in groups and records.
    write(tmp_path / "osv.json", osv_image(("openssl", "OSV-1", None)))
    poll = source(tmp_path, app="shop").poll(SourceState())
    assert poll.problems == []
    assert [f.severity for f in by_key(poll).values()] == ["high"]  # max_severity 7.5


def test_osv_bad_fields_are_named(tmp_path: Path) -> None:
    report = osv_image(("openssl", "OSV-1", []))
    report["results"][0]["packages"][0]["groups"] = [{"ids": "OSV-1"}]
    write(tmp_path / "osv.json", report)
    write(tmp_path / "good.json", osv_image(("musl", "OSV-2", [])))
    poll = source(tmp_path, app="shop").poll(SourceState())
    assert len(poll.events) == 1
    assert poll.problems == [
        f"{tmp_path / 'osv.json'}: results[0].packages[0].groups[0].ids: expected a list of ids"
    ]


def test_osv_one_finding_per_group_with_the_worst_severity(tmp_path: Path) -> None:
    package = {"name": "regex", "version": "1.5.1", "ecosystem": "crates.io"}
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"  # 7.5: high (see test_cvss)
    vulnerabilities = [
        # Group 1: a GHSA and a RUSTSEC id of one CVE, no max_severity.
        {"id": "GHSA-1", "aliases": ["CVE-2022-1"], "database_specific": {"severity": "LOW"}},
        {"id": "RUSTSEC-1", "aliases": ["CVE-2022-1", "GHSA-1"], "database_specific": {}},
        # Group 2: no declared severity, a CVSS vector only.
        {"id": "RUSTSEC-2", "aliases": None, "severity": [{"type": "CVSS_V3", "score": vector}]},
        # Group 3: a CVSS 4.0 vector only (CVSS-B 8.7, worked in test_cvss): high.
        {
            "id": "RUSTSEC-4",
            "severity": [
                {
                    "type": "CVSS_V4",
                    "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
                }
            ],
        },
        # In no group (an older OSV-Scanner): grouped by aliases with GHSA-3.
        {"id": "GO-3", "aliases": ["GHSA-3"], "database_specific": {"severity": "MODERATE"}},
        {"id": "GHSA-3", "database_specific": {"severity": "CRITICAL"}},
    ]
    report = {
        "results": [
            {
                "source": {"path": "/src/Cargo.lock", "type": "lockfile"},
                "packages": [
                    {
                        "package": package,
                        "vulnerabilities": vulnerabilities,
                        "groups": [
                            {"ids": ["GHSA-1", "RUSTSEC-1"], "max_severity": ""},
                            {"ids": ["RUSTSEC-2"], "aliases": None},
                            {"ids": ["RUSTSEC-4"]},
                        ],
                    }
                ],
            }
        ]
    }
    write(tmp_path / "osv.json", report)
    found = by_key(source(tmp_path, app="shop").poll(SourceState()))
    prefix = "scan//src/Cargo.lock/crates.io/regex/"
    assert {key.removeprefix(prefix): f.severity for key, f in found.items()} == {
        "CVE-2022-1": "low",  # 2 entries, 1 finding named by its CVE; LOW declared by GHSA-1
        "RUSTSEC-2": "high",  # its vector's base score 7.5
        "RUSTSEC-4": "high",  # its CVSS 4.0 vector's base score 8.7
        "GHSA-3": "critical",  # 2 entries joined by aliases; worst of MODERATE and CRITICAL
    }


def test_findings_open_under_an_alias_keep_it_and_duplicates_are_dismissed(tmp_path: Path) -> None:
    # Stored before groups were read: each alias of CVE-2022-1 was a finding of its own.
    prefix = "crates.io/regex/"
    artifact = "/src/Cargo.lock"
    opened = ts("2026-11-01T00:00:00Z")
    cursor = {
        artifact: {
            "at": opened,
            "open": {
                f"{prefix}GHSA-1": ["low", opened],
                f"{prefix}RUSTSEC-1": ["unknown", opened],
            },
        }
    }
    vulnerabilities = [
        {"id": "GHSA-1", "aliases": ["CVE-2022-1"], "database_specific": {"severity": "LOW"}},
        {"id": "RUSTSEC-1", "aliases": ["CVE-2022-1", "GHSA-1"]},
    ]
    package = {"name": "regex", "version": "1", "ecosystem": "crates.io"}
    report = {
        "results": [
            {
                "source": {"path": artifact, "type": "lockfile"},
                "packages": [
                    {
                        "package": package,
                        "vulnerabilities": vulnerabilities,
                        "groups": [{"ids": ["GHSA-1", "RUSTSEC-1"]}],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "osv.json"
    write(path, report)
    later = ts("2026-11-02T00:00:00Z")
    os.utime(path, (later, later))

    poll = source(tmp_path, app="shop").poll(SourceState(cursor=json.dumps(cursor)))

    found = {key.removeprefix(f"scan/{artifact}/{prefix}"): f for key, f in by_key(poll).items()}
    # The group (named CVE-2022-1 when new) stays under the name it was open under, GHSA-1
    # (the smaller), still open since Nov 1: no false fix. RUSTSEC-1, counted twice before,
    # is closed as dismissed at the report's time: neither a fix nor a time to fix.
    assert {name: (f.state, f.created_at, f.closed_at) for name, f in found.items()} == {
        "GHSA-1": ("open", opened, None),
        "RUSTSEC-1": ("dismissed", opened, later),
    }
    assert json.loads(poll.cursor or "{}")[artifact]["open"] == {f"{prefix}GHSA-1": ["low", opened]}
