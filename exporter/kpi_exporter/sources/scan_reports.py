"""Vulnerability scanner reports: Trivy (``trivy image|fs --format json``) and OSV-Scanner
(``osv-scanner --format json``), from files, globs and URLs.

- **Trivy**: the artifact is the report's ``ArtifactName``, the report time its ``CreatedAt``;
  a finding is one ``Results[].Vulnerabilities[]`` entry, identified by ``PkgName`` and
  ``VulnerabilityID`` (the same package in two targets of one artifact counts once); the
  severity is its ``Severity`` (lower case; ``UNKNOWN`` is ``unknown``).
- **OSV-Scanner**: the artifact is each ``results[].source.path`` (a lockfile or directory);
  a finding is one ``packages[].vulnerabilities[]`` entry, identified by the package's
  ecosystem and name and the vulnerability ``id``. Severity: ``database_specific.severity``
  (``MODERATE`` is medium), else the ``max_severity`` CVSS score of the package's group that
  names the id: 9.0 and above critical, 7.0 high, 4.0 medium, above 0 low, else unknown.
  OSV output has no time: the file's modification time, the URL's Last-Modified, else the
  poll time stands in.

The app of an artifact: the first ``apps`` glob matching its name, else ``app``, else the
default app. Key: ``scan/{artifact}/{finding}``; the ``scanner`` label is ``trivy`` or ``osv``.

A finding is created when a report of its artifact first has it. A report newer than the last
one read for its artifact replaces it: a finding the last report had and the new one has not
is **fixed** at the new report's time, so time to fix works for scanners too. The cursor keeps,
per artifact, the last report's time and its open findings (with when they appeared); a
report no newer than that is ignored, so re-reading an unchanged file costs no event. A report
that cannot be read or parsed is a problem naming it; the others still count.

Not derived: dependency freshness (a Trivy finding carries ``InstalledVersion`` and
``FixedVersion``, but nothing says how old the installed version is).
"""

from __future__ import annotations

import email.utils
import json
import os
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, Literal, NamedTuple

from pydantic import Field

from ..model import Event, Vulnerability
from ..ownership import Owner
from ..store import SourceState
from . import Poll, SourceError
from .files import ReportInputs, ReportSource
from .registry import SourceType, headline
from .times import parse_time


class ScanReportSource(ReportInputs):
    """Trivy (``--format json``) and OSV-Scanner (``--format json``) reports, from files
    and/or URLs (a token, if set, is sent as ``Authorization: Bearer`` to the URLs)."""

    type: Literal["scan_report"]
    format: Literal["auto", "trivy", "osv"] = Field(
        "auto", description="auto: Trivy when the report has `Results`, OSV when `results`."
    )
    app: str | None = Field(None, description="App of every finding not matched by `apps`.")
    apps: dict[str, str] = Field(
        default_factory=dict,
        description="Artifact glob (Trivy ArtifactName, OSV source path) -> app; first wins.",
    )


SEVERITIES = {"critical", "high", "medium", "low"}
CVSS_BANDS = ((9.0, "critical"), (7.0, "high"), (4.0, "medium"), (0.0, "low"))
Findings = dict[str, str]  # finding id -> severity


class ReportError(Exception):
    """A report that is not a Trivy or OSV-Scanner JSON report; names the report."""


class Scan(NamedTuple):
    """What one report says about one artifact."""

    at: float
    where: str
    artifact: str
    scanner: str
    findings: Findings


class ScanReports(ReportSource[ScanReportSource]):
    """Polls the configured scanner report files and URLs."""

    system = "scanner report"

    def read(self, state: SourceState) -> Poll:
        cursor: dict[str, Any] = json.loads(state.cursor) if state.cursor else {}
        problems: list[str] = []
        scans: list[Scan] = []
        files = self.files()
        failed = 0
        for path in files:
            try:
                with open(path, "rb") as file:
                    data = file.read()
                    mtime = os.fstat(file.fileno()).st_mtime
                scans.extend(self._parse(data, path, mtime))
            except OSError as error:
                failed += 1
                problems.append(f"{path}: cannot read: {error.strerror}")
            except ReportError as error:
                failed += 1
                problems.append(str(error))
        http = self._http(state) if self.config.urls else None
        for url in self.config.urls:
            assert http is not None
            try:
                response = http.get(url)
                if response.not_modified:
                    continue
                modified = response.headers.get("Last-Modified", "")
                try:
                    fallback = email.utils.parsedate_to_datetime(modified).timestamp()
                except (TypeError, ValueError):
                    fallback = self.clock()
                scans.extend(self._parse(response.body, url, fallback))
            except (SourceError, ReportError) as error:
                failed += 1
                problems.append(str(error))
        if failed and failed == len(files) + len(self.config.urls):
            raise SourceError("; ".join(problems))
        events = self._events(scans, cursor)
        return Poll(
            events=events,
            cursor=json.dumps(cursor, sort_keys=True),
            validators=http.validators if http is not None else {},
            problems=problems,
        )

    def _parse(self, data: bytes, where: str, fallback: float) -> list[Scan]:
        try:
            report = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ReportError(f"{where}: not valid JSON: {error}") from None
        if not isinstance(report, dict):
            raise ReportError(f"{where}: not a Trivy or OSV-Scanner JSON report")
        form = self.config.format
        if form == "auto":
            form = "trivy" if "Results" in report or "ArtifactName" in report else "osv"
            if form == "osv" and "results" not in report:
                raise ReportError(f"{where}: not a Trivy or OSV-Scanner JSON report")
        try:
            if form == "trivy":
                return trivy(report, where, fallback)
            return osv(report, where, fallback)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ReportError(f"{where}: not a valid {form} report: bad field {error}") from None

    def _events(self, scans: list[Scan], cursor: dict[str, Any]) -> list[Event]:
        """Apply the scans newer than the cursor, oldest first, per artifact; updates
        ``cursor``. One event per key: the newest state wins."""
        events: dict[str, Event] = {}
        for scan in sorted(scans, key=lambda scan: (scan.at, scan.where, scan.artifact)):
            known = cursor.get(scan.artifact)
            if known is not None and scan.at <= known["at"]:
                continue  # read already
            previous: dict[str, list[Any]] = known["open"] if known else {}
            owner = self._owner(scan.artifact)
            current: dict[str, list[Any]] = {}
            found: list[Vulnerability] = []
            for finding, severity in sorted(scan.findings.items()):
                created = previous[finding][1] if finding in previous else scan.at
                current[finding] = [severity, created]
                found.append(self._finding(scan, owner, finding, severity, created))
            for finding in sorted(set(previous) - set(current)):
                severity, created = previous[finding]
                found.append(
                    self._finding(scan, owner, finding, severity, created, closed_at=scan.at)
                )
            events.update((event.key, event) for event in found)
            cursor[scan.artifact] = {"at": scan.at, "open": current}
        return list(events.values())

    def _finding(
        self,
        scan: Scan,
        owner: Owner,
        finding: str,
        severity: str,
        created: float,
        closed_at: float | None = None,
    ) -> Vulnerability:
        return Vulnerability(
            source=self.name,
            key=f"scan/{scan.artifact}/{finding}",
            app=owner.app,
            team=owner.team,
            severity=severity,
            created_at=created,
            state="open" if closed_at is None else "fixed",
            closed_at=closed_at,
            scanner=scan.scanner,
        )

    def _owner(self, artifact: str) -> Owner:
        for pattern, app in self.config.apps.items():
            if fnmatchcase(artifact, pattern):
                return self.ownership.of_app(app)
        return self.ownership.of_app(self.config.app)


def trivy(report: Mapping[str, Any], where: str, fallback: float) -> list[Scan]:
    """The findings of a Trivy JSON report (one artifact)."""
    at = _time(report["CreatedAt"]) if report.get("CreatedAt") else fallback
    findings: Findings = {}
    for result in report.get("Results") or []:
        for vulnerability in result.get("Vulnerabilities") or []:
            finding = f"{vulnerability['PkgName']}/{vulnerability['VulnerabilityID']}"
            severity = str(vulnerability.get("Severity") or "").lower()
            findings[finding] = severity if severity in SEVERITIES else "unknown"
    artifact = str(report.get("ArtifactName") or where)
    return [Scan(at, where, artifact, "trivy", findings)]


def osv(report: Mapping[str, Any], where: str, fallback: float) -> list[Scan]:
    """The findings of an OSV-Scanner JSON report, one scan per scanned source."""
    scans: list[Scan] = []
    for result in report["results"]:
        findings: Findings = {}
        for package in result.get("packages") or []:
            info = package["package"]
            groups = package.get("groups") or []
            for vulnerability in package.get("vulnerabilities") or []:
                id_ = vulnerability["id"]
                finding = f"{info.get('ecosystem', '')}/{info['name']}/{id_}"
                findings[finding] = _osv_severity(vulnerability, groups)
        source = result.get("source") or {}
        scans.append(Scan(fallback, where, str(source.get("path") or where), "osv", findings))
    return scans


def _osv_severity(vulnerability: Mapping[str, Any], groups: list[Any]) -> str:
    declared = str((vulnerability.get("database_specific") or {}).get("severity") or "").lower()
    declared = "medium" if declared == "moderate" else declared
    if declared in SEVERITIES:
        return declared
    for group in groups:
        if vulnerability["id"] in (*group.get("ids", ()), *group.get("aliases", ())):
            try:
                score = float(group.get("max_severity") or 0)
            except ValueError:
                return "unknown"
            bands = (name for bound, name in CVSS_BANDS if score >= bound and score > 0)
            return next(bands, "unknown")
    return "unknown"


def _time(text: str) -> float:
    """An RFC 3339 time (Trivy writes nanoseconds)."""
    return parse_time(text)


def _describe(source: ScanReports) -> list[str]:
    read = f"{len(source.files())} file(s), {len(source.config.urls)} URL(s)"
    return [headline(source, "scan_report", read)]


SOURCE_TYPE = SourceType("scan_report", ScanReportSource, ScanReports.build, _describe)
