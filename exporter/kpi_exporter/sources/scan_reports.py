"""Vulnerability scanner reports: Trivy (``trivy image|fs --format json``) and OSV-Scanner
(``osv-scanner --format json``), from files, globs and URLs.

- **Trivy**: the artifact is the report's ``ArtifactName``, the report time its ``CreatedAt``;
  a finding is one ``Results[].Vulnerabilities[]`` entry, identified by ``PkgName`` and
  ``VulnerabilityID`` (the same package in two targets of one artifact counts once); the
  severity is its ``Severity`` (lower case; ``UNKNOWN`` is ``unknown``).
- **OSV-Scanner**: the artifact is each ``results[].source.path`` (a lockfile or directory),
  after the report's name in an image scan (a package database such as
  ``/lib/apk/db/installed`` is the same in every image); a finding is one group of aliases of
  a package (``groups[].ids``, else joined through ``aliases``), named by its smallest CVE id,
  else its smallest id, unless it is open under another of its names already (then it keeps
  that one, and its other open names, duplicates, are dismissed); severity: the worst of the
  group, from ``max_severity``, else ``database_specific.severity`` (``MODERATE`` is medium),
  else CVSS vectors (``cvss``). OSV output has no time: the file's modification time, the
  URL's Last-Modified, else the poll time stands in.

The app of an artifact: the first ``apps`` glob matching its name, else ``app``, else the
default app. Key: ``scan/{artifact}/{finding}``; the ``scanner`` label is ``trivy`` or ``osv``.

A finding is created when a report of its artifact first has it. A report newer than the last
one read for its artifact replaces it: a finding the last report had and the new one has not
is **fixed** at the new report's time, so time to fix works for scanners too. The cursor keeps,
per artifact, the last report's time and its open findings (with when they appeared); an
older report is ignored, and so is one of the same time with the same findings, so re-reading
an unchanged file costs no event. A report that cannot be read or parsed is a problem naming
it (with the field at fault, e.g. ``results[0].packages[1].groups[0].ids``); the others still
count.

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
from . import Poll, SourceError, cvss
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


SEVERITY_ORDER = ("critical", "high", "medium", "low")  # worst first
SEVERITIES = set(SEVERITY_ORDER)
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
    # finding -> the other names of the same finding (an OSV group's other ids and aliases,
    # with the same package prefix): a finding stored under one of them keeps that name.
    aliases: dict[str, set[str]] = {}


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
                scans.extend(self._parse(data, path, mtime, os.path.relpath(path, self.base_dir)))
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
                scans.extend(self._parse(response.body, url, fallback, url))
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

    def _parse(self, data: bytes, where: str, fallback: float, name: str) -> list[Scan]:
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
            return osv(report, where, fallback, name)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ReportError(f"{where}: not a valid {form} report: bad field {error}") from None

    def _events(self, scans: list[Scan], cursor: dict[str, Any]) -> list[Event]:
        """Apply the scans newer than the cursor, oldest first, per artifact; updates
        ``cursor``. One event per key: the newest state wins."""
        events: dict[str, Event] = {}
        for scan in sorted(scans, key=lambda scan: (scan.at, scan.where, scan.artifact)):
            known = cursor.get(scan.artifact)
            if known is not None and scan.at < known["at"]:
                continue  # older than the report last read
            previous: dict[str, list[Any]] = known["open"] if known else {}
            findings, duplicates = _keep_names(scan, previous)
            same = {finding: state[0] for finding, state in previous.items()} == findings
            if known is not None and scan.at == known["at"] and same:
                # The same time and findings: read already. The same time with other findings
                # is a new report (written within the file system's time resolution, or
                # copied with its time) and counts.
                continue
            owner = self._owner(scan.artifact)
            current: dict[str, list[Any]] = {}
            found: list[Vulnerability] = []
            for finding, severity in sorted(findings.items()):
                created = previous[finding][1] if finding in previous else scan.at
                current[finding] = [severity, created]
                found.append(self._finding(scan, owner, finding, severity, created))
            for finding in sorted(set(previous) - set(current)):
                severity, created = previous[finding]
                closed = "dismissed" if finding in duplicates else "fixed"
                found.append(
                    self._finding(scan, owner, finding, severity, created, scan.at, closed)
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
        closed: str = "fixed",
    ) -> Vulnerability:
        return Vulnerability(
            **owner.identity(self.name, f"scan/{scan.artifact}/{finding}"),
            severity=severity,
            created_at=created,
            state="open" if closed_at is None else closed,
            closed_at=closed_at,
            scanner=scan.scanner,
        )

    def _owner(self, artifact: str) -> Owner:
        for pattern, app in self.config.apps.items():
            if fnmatchcase(artifact, pattern):
                return self.ownership.of_app(app)
        return self.ownership.of_app(self.config.app)


def _keep_names(scan: Scan, previous: Mapping[str, Any]) -> tuple[Findings, set[str]]:
    """The scan's findings, each under the name it is open under already when that is one of
    its aliases: a group named anew (a CVE alias appeared, or an upgrade from counting each
    alias) is the same finding, not one fixed and one new. Also the open names that are other
    aliases of a finding (counted twice before): duplicates, to be dismissed, not fixed."""
    findings: Findings = {}
    duplicates: set[str] = set()
    gone = set(previous) - set(scan.findings)
    for finding, severity in scan.findings.items():
        others = sorted(gone & scan.aliases.get(finding, set()))
        name = finding if finding in previous or not others else others[0]
        findings[name] = severity
        duplicates.update(other for other in others if other != name)
        gone.difference_update(others)
    return findings, duplicates


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


def osv(report: Mapping[str, Any], where: str, fallback: float, name: str = "") -> list[Scan]:
    """The findings of an OSV-Scanner JSON report, one scan per scanned source. ``name`` is the
    report's own name (relative path or URL), which tells the images of an image scan apart."""
    image = _is_image_scan(report)
    scans: list[Scan] = []
    for index, result in enumerate(_items(report, "results", f"{where}: ")):
        at = f"{where}: results[{index}]"
        findings: Findings = {}
        aliases: dict[str, set[str]] = {}
        for number, package in enumerate(_items(result, "packages", f"{at}.")):
            place = f"{at}.packages[{number}]"
            info = package.get("package")
            if not isinstance(info, Mapping) or not info.get("name"):
                raise ReportError(f"{place}.package.name: missing")
            prefix = f"{info.get('ecosystem') or ''}/{info['name']}"
            for finding, names, severity in _osv_findings(package, place):
                findings[f"{prefix}/{finding}"] = severity
                aliases[f"{prefix}/{finding}"] = {f"{prefix}/{name}" for name in names}
        source = result.get("source") or {}
        path = str(source.get("path") or "")
        if image or source.get("type") in IMAGE_SOURCE_TYPES:
            # A package database inside an image (/lib/apk/db/installed) is the same path in
            # every image of a distribution: the report names the image.
            artifact = f"{name or where}:{path}"
        else:
            artifact = path or name or where
        scans.append(Scan(fallback, where, artifact, "osv", findings, aliases))
    return scans


IMAGE_SOURCE_TYPES = {"os", "artifact", "docker"}
"""OSV-Scanner source types of what it found inside a container image."""


def _is_image_scan(report: Mapping[str, Any]) -> bool:
    return bool(report.get("image_metadata"))


def _items(parent: Mapping[str, Any], field: str, at: str) -> list[Mapping[str, Any]]:
    """The list ``parent[field]`` (absent or null: empty), each item an object; else a
    ReportError naming ``{at}{field}``."""
    items = parent.get(field)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ReportError(f"{at}{field}: expected a list of objects")
    return items


def _osv_findings(package: Mapping[str, Any], where: str) -> list[tuple[str, set[str], str]]:
    """(finding, its ids and aliases, severity) per group of aliases of one package, as
    OSV-Scanner counts them.

    The groups are the package's ``groups[]`` (each ``ids`` one vulnerability under several
    names); a vulnerability in no group, or every one when there are no groups, is grouped
    with the entries its ``aliases`` connect it to. The finding is the group's smallest CVE id
    among its ids and aliases, else its smallest id; its severity the worst of: the group's
    ``max_severity`` score, else its members' ``database_specific.severity``, else the base
    score of their CVSS vectors (``severity[].score``)."""
    vulnerabilities: dict[str, Mapping[str, Any]] = {}
    for number, vulnerability in enumerate(_items(package, "vulnerabilities", f"{where}.")):
        id_ = vulnerability.get("id")
        if not isinstance(id_, str) or not id_:
            raise ReportError(f"{where}.vulnerabilities[{number}].id: missing")
        vulnerabilities[id_] = vulnerability
    groups: list[tuple[set[str], Any]] = []
    grouped: set[str] = set()
    for number, group in enumerate(_items(package, "groups", f"{where}.")):
        ids = group.get("ids") or []
        if not isinstance(ids, list) or not ids:
            raise ReportError(f"{where}.groups[{number}].ids: expected a list of ids")
        member_ids = {str(id_) for id_ in ids}
        names = member_ids | {str(alias) for alias in group.get("aliases") or ()}
        groups.append((names, group.get("max_severity")))
        grouped |= member_ids
    groups.extend((names, None) for names in _alias_groups(vulnerabilities, grouped))
    found: list[tuple[str, set[str], str]] = []
    for names, max_severity in groups:
        members = [vulnerabilities[id_] for id_ in sorted(names) if id_ in vulnerabilities]
        for member in members:
            names = names | {str(alias) for alias in member.get("aliases") or ()}
        cves = sorted(name for name in names if name.startswith("CVE-"))
        ids = sorted(id_ for id_ in names if id_ in vulnerabilities) or sorted(names)
        found.append((cves[0] if cves else ids[0], names, _group_severity(max_severity, members)))
    return found


def _alias_groups(
    vulnerabilities: Mapping[str, Mapping[str, Any]], grouped: set[str]
) -> list[set[str]]:
    """The entries in no group, joined when their ids and aliases connect them."""
    groups: list[set[str]] = []
    for id_, vulnerability in vulnerabilities.items():
        if id_ in grouped:
            continue
        names = {id_, *(str(alias) for alias in vulnerability.get("aliases") or ())}
        joined = [group for group in groups if group & names]
        for group in joined:
            groups.remove(group)
            names |= group
        groups.append(names)
    return groups


def _group_severity(max_severity: Any, members: list[Mapping[str, Any]]) -> str:
    try:
        score = float(max_severity) if max_severity not in (None, "") else None
    except (TypeError, ValueError):
        score = None
    if score is not None and score > 0:
        return cvss.severity(score)
    declared = {_declared(member) for member in members} & SEVERITIES
    if declared:
        return min(declared, key=SEVERITY_ORDER.index)
    scores = [
        cvss.base_score(str(entry.get("score") or ""))
        for member in members
        for entry in member.get("severity") or ()
        if isinstance(entry, Mapping)
    ]
    return cvss.severity(max((s for s in scores if s is not None), default=None))


def _declared(vulnerability: Mapping[str, Any]) -> str:
    specific = vulnerability.get("database_specific") or {}
    declared = str(specific.get("severity") or "").lower() if isinstance(specific, Mapping) else ""
    return "medium" if declared == "moderate" else declared


def _time(text: str) -> float:
    """An RFC 3339 time (Trivy writes nanoseconds)."""
    return parse_time(text)


def _describe(source: ScanReports) -> list[str]:
    read = f"{len(source.files())} file(s), {len(source.config.urls)} URL(s)"
    return [headline(source, "scan_report", read)]


SOURCE_TYPE = SourceType("scan_report", ScanReportSource, ScanReports.build, _describe)
