"""Coverage reports (Cobertura XML, lcov) from files and URLs: lines covered and valid per app
and component.

Every covered file of a report belongs to an app: the configured ``app``; else the app whose
monorepo ``paths`` glob matches the file's path (after ``strip_prefix``); else the app whose
glob matches the report's own path (a per-app report with relative entries). A file of no app
is left out, with a warning naming the report. Paths use ``/`` (a Windows report's ``\\`` and
a Windows ``strip_prefix`` are turned so, and such a prefix matches in any case); a path still
absolute after the prefix is read from below its root, with a warning. Its **component** is
the first of the ``components`` whose globs match the path; else its first ``depth``
directories below the app's root (the literal part of the matching glob, ``services/shop/``
for ``services/shop/**``), ``.`` for a file at the root.

One Coverage event per app and component (key ``coverage/{app}/{component}``): the lines of
every report of the poll, summed (two reports covering the same files count them twice, so
list one report per set of files), measured at the newest report time (the report's
timestamp, else the file's modification time, the URL's Last-Modified, or the poll time).

Reports are read in full at each poll, except files whose size and modification time did not
change and URLs answering ``304``: their counts from the last read are used (kept in memory;
the first poll after a start reads everything). A report that cannot be read or parsed is a
problem naming it; its last good counts are kept. A component no report has any more (all of
them read) is set to 0 lines, so the app's total no longer counts it.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from pydantic import Field

from ..health import Health
from ..model import Coverage, Event
from ..ownership import Owner, Ownership
from ..store import SourceState
from . import Poll, SourceError
from .coverage_reports import ReportError, counts, parse
from .files import ReportInputs, ReportSource
from .http import HttpClient
from .registry import SourceType, headline, listed


class CoverageSource(ReportInputs):
    """Cobertura XML or lcov coverage reports, from files and/or URLs (a token, if set, is
    sent as ``Authorization: Bearer`` to the URLs)."""

    type: Literal["coverage"]
    format: Literal["auto", "cobertura", "lcov"] = Field(
        "auto", description="auto: Cobertura when the report starts with '<', else lcov."
    )
    app: str | None = Field(
        None, description="App of every covered file; else from the apps' `paths` globs."
    )
    strip_prefix: str = Field(
        "", description="Removed from the start of covered file paths (a CI checkout dir)."
    )
    depth: int = Field(
        1, ge=1, description="Component: the first `depth` directories below the app's root."
    )
    components: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Explicit components: name -> path globs (first match wins, else depth).",
    )


Part = tuple[str, str]  # (app, component)
MAGIC = "*?["


@dataclass(slots=True)
class Read:
    """What one report gave: lines (covered, valid) per (app, component), and when."""

    stamp: tuple[int, int, int] | None
    measured_at: float
    parts: dict[Part, tuple[int, int]]


class CoverageReports(ReportSource[CoverageSource]):
    """Polls the configured coverage report files and URLs."""

    system = "coverage report"

    def __init__(
        self,
        config: CoverageSource,
        base_dir: Path,
        ownership: Ownership,
        health: Health,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        what: str = "",
    ) -> None:
        super().__init__(config, base_dir, ownership, health, clock=clock, sleep=sleep, what=what)
        self._reads: dict[str, Read] = {}  # last good read per report, by path or URL

    def read(self, state: SourceState) -> Poll:
        problems: list[str] = []
        reads: dict[str, Read] = {}
        failed = 0
        files = self.files()
        for path in files:
            try:
                reads[path] = self._read_file(path, problems)
            except (OSError, ReportError) as error:
                failed += 1
                problems.append(
                    f"{path}: cannot read: {error.strerror}"
                    if isinstance(error, OSError)
                    else str(error)
                )
                if path in self._reads:
                    reads[path] = self._reads[path]
        http = self._http(state) if self.config.urls else None
        for url in self.config.urls:
            assert http is not None
            try:
                reads[url] = self._read_url(http, url, problems)
            except (SourceError, ReportError) as error:
                failed += 1
                problems.append(str(error))
                if url in self._reads:
                    reads[url] = self._reads[url]
        if failed and failed == len(files) + len(self.config.urls):
            raise SourceError("; ".join(problems))
        self._reads = reads
        events, emitted = self._events(reads)
        previous: list[str] = json.loads(state.cursor)["emitted"] if state.cursor else []
        gone = sorted(set(previous) - set(emitted))
        if failed:
            emitted = sorted(set(emitted) | set(gone))  # not proved gone: zeroed later, if so
        else:
            events.extend(self._zero(key) for key in gone)
        return Poll(
            events=events,
            cursor=json.dumps({"emitted": emitted}, sort_keys=True),
            validators=http.validators if http is not None else {},
            problems=problems,
        )

    # --- reading -----------------------------------------------------------------------------

    def _read_file(self, path: str, problems: list[str]) -> Read:
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            known = self._reads.get(path)
            if known is not None and known.stamp == stamp:
                return known
            data = file.read()
        relative = os.path.relpath(path, self.base_dir)
        return self._read(data, path, relative, stamp, stat.st_mtime, problems)

    def _read_url(self, http: HttpClient, url: str, problems: list[str]) -> Read:
        known = self._reads.get(url)
        if known is None:
            http.validators.pop(url, None)  # nothing in memory to reuse: ask for the body
        response = http.get(url)
        if response.not_modified and known is not None:
            return known
        modified = response.headers.get("Last-Modified", "")
        try:
            fallback = email.utils.parsedate_to_datetime(modified).timestamp()
        except (TypeError, ValueError):
            fallback = self.clock()
        return self._read(response.body, url, "", None, fallback, problems)

    def _read(
        self,
        data: bytes,
        where: str,
        relative: str,
        stamp: tuple[int, int, int] | None,
        fallback_time: float,
        problems: list[str],
    ) -> Read:
        report = parse(data, self.config.format, where)
        problems.extend(report.problems)
        parts: dict[Part, tuple[int, int]] = {}
        orphans: list[str] = []
        absolute: list[str] = []
        for written, covered, valid in counts(report):
            path = self._strip(written)
            if _is_absolute(path):
                absolute.append(written)
                path = _relative(path)
            owned = self._owner(path, relative)
            if owned is None:
                orphans.append(path)
                continue
            owner, root = owned
            part = (owner.app, self._component(path, root))
            before = parts.get(part, (0, 0))
            parts[part] = (before[0] + covered, before[1] + valid)
        if absolute:
            problems.append(
                f"{where}: {len(absolute)} covered file(s) have an absolute path (first:"
                f" {absolute[0]}): read from below the root; set strip_prefix to the checkout"
                " directory"
            )
        if orphans:
            problems.append(
                f"{where}: {len(orphans)} covered file(s) belong to no app (first:"
                f" {orphans[0]}): left out; set the source's app or add the path to an"
                " app's paths"
            )
        measured_at = report.measured_at if report.measured_at is not None else fallback_time
        return Read(stamp, measured_at, parts)

    # --- ownership and components ------------------------------------------------------------

    def _strip(self, path: str) -> str:
        """The path with ``/`` separators, without ``strip_prefix`` (written either way; a
        Windows prefix, with a drive or backslashes, matches in any case) and ``./``."""
        path = path.replace("\\", "/")
        written = self.config.strip_prefix
        prefix = written.replace("\\", "/")
        windows = "\\" in written or WINDOWS_DRIVE.match(prefix) is not None
        if prefix and (
            path.startswith(prefix) or (windows and path.casefold().startswith(prefix.casefold()))
        ):
            path = path[len(prefix) :].lstrip("/")
        return path.removeprefix("./")

    def _owner(self, path: str, report: str) -> tuple[Owner, str] | None:
        """The owner of a covered file and the app's root directory within its path."""
        if self.config.app:
            return self.ownership.of_app(self.config.app), ""
        match = self.ownership.match_path(path)
        if match is not None:
            owner, pattern = match
            return owner, _root(pattern)
        if report:
            match = self.ownership.match_path(report)
            if match is not None:
                return match[0], ""
        return None

    def _component(self, path: str, root: str) -> str:
        for name, patterns in self.config.components.items():
            if any(fnmatchcase(path, pattern) for pattern in patterns):
                return name
        relative = path[len(root) :] if path.startswith(root) else path
        directories = relative.split("/")[:-1]
        return "/".join(directories[: self.config.depth]) or "."

    # --- events ------------------------------------------------------------------------------

    def _events(self, reads: dict[str, Read]) -> tuple[list[Event], list[str]]:
        totals: dict[Part, list[float]] = {}
        for read in reads.values():
            for part, (covered, valid) in read.parts.items():
                total = totals.setdefault(part, [0, 0, read.measured_at])
                total[0] += covered
                total[1] += valid
                total[2] = max(total[2], read.measured_at)
        events: list[Event] = []
        for (app, component), (lines_covered, lines_valid, measured_at) in sorted(totals.items()):
            events.append(
                Coverage(
                    **self.ownership.of_app(app).identity(self.name, f"coverage/{app}/{component}"),
                    component=component,
                    lines_covered=int(lines_covered),
                    lines_valid=int(lines_valid),
                    measured_at=measured_at,
                )
            )
        return events, [f"{app}/{component}" for app, component in sorted(totals)]

    def _zero(self, emitted: str) -> Coverage:
        app, _, component = emitted.partition("/")
        return Coverage(
            source=self.name,
            key=f"coverage/{emitted}",
            app=app,
            team=self.ownership.of_app(app).team,
            component=component,
            lines_covered=0,
            lines_valid=0,
            measured_at=self.clock(),
        )


WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")


def _is_absolute(path: str) -> bool:
    """``/x``, or a Windows ``C:/x`` or ``\\x`` (rooted on the current drive)."""
    return path.startswith("/") or WINDOWS_DRIVE.match(path) is not None


def _relative(path: str) -> str:
    """An absolute path without its root: ``/builds/x`` -> ``builds/x``, ``C:/x`` -> ``x``."""
    return WINDOWS_DRIVE.sub("", path).lstrip("/")


def _root(pattern: str) -> str:
    """The directories of a glob before its first wildcard: ``services/shop/`` for
    ``services/shop/**`` or ``services/shop/*.py``."""
    cut = min((i for i in (pattern.find(c) for c in MAGIC) if i >= 0), default=len(pattern))
    literal = pattern[:cut]
    return literal[: literal.rfind("/") + 1]


def _describe(source: CoverageReports) -> list[str]:
    files = source.files()
    app = source.config.app or "from apps.*.paths"
    return [
        headline(source, "coverage", f"{len(files)} file(s), app {app}"),
        *listed(files),
        *listed(source.config.urls),
    ]


SOURCE_TYPE = SourceType("coverage", CoverageSource, CoverageReports.build, _describe)
