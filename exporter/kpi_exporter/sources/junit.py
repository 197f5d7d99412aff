"""JUnit XML test reports (``<testsuites>`` or ``<testsuite>`` roots, as pytest, Maven
Surefire, Gradle, Jest, go-junit-report write them): tests, failures and flaky tests per app,
commit and suite.

A report belongs to an app (the configured ``app``, else the app whose monorepo ``paths`` glob
matches the report's path relative to the configuration) and a commit: the ``commit_property``
``<property>`` of the suite or of the root, else the ``commit`` group (or the first group) of
``commit_pattern`` searched in the report's path. A report without either is a problem naming
it, and is left out.

Every report is one **run** of each of its suites (``<testsuite name>``). All the runs of one
suite for one commit make one TestRun (key ``junit/{app}/{commit}/{suite}``), over the distinct
test cases (``classname`` and ``name``) that ran (not skipped) in any of them:

- ``tests``: test cases that ran;
- ``flaky``: test cases that **failed in one run and passed in another run of the same commit**
  (in either order), or that Surefire's rerun reports as ``<flakyFailure>``/``<flakyError>``
  (failed, then passed on a rerun within the run);
- ``failures``: test cases that failed (``<failure>`` or ``<error>``) and never passed.

A name repeated within one report (``go test -count=3``) is a test case per repetition, the
k-th matched with the k-th of the other runs; a failed repetition of a name whose other
repetitions passed is flaky.

So a retried CI job that passes turns the failures of its first run into flaky tests, not
failures. Finished: the suite's ``timestamp`` (UTC when it has no offset) plus its ``time``,
else the report's modification time; the latest of the runs.

A poll reads only reports that are new or changed (size, modification time, inode, kept in the
cursor with the suites each report holds); the suites they hold are then recomputed from every
report of the same commit and suite. Reports that were deleted no longer count when their
suite is recomputed, and their TestRuns stay stored as they were.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import Element

from pydantic import Field

from ..config_base import Duration, Name, Regex, Strict
from ..model import Event, TestRun
from ..ownership import Owner, Ownership
from ..store import SourceState
from . import Poll, SourceError
from .cursor import dump_cursor, load_cursor
from .files import FileSource
from .registry import SourceType, headline, listed
from .safe_xml import XmlError, parse_xml
from .times import parse_time


class JUnitSource(Strict):
    """JUnit XML test reports."""

    type: Literal["junit"]
    name: Name
    interval: Duration = 300.0
    paths: list[str] = Field(min_length=1, description="Report files or globs.")
    app: str | None = Field(
        None, description="App of every report; else the report's path via apps' `paths`."
    )
    commit_property: str = Field(
        "commit", description="<property> of the testsuite(s) that holds the commit SHA."
    )
    commit_pattern: Regex | None = Field(
        None, description="Else a regex on the report's path; group `commit` (or 1) is the SHA."
    )


Group = tuple[str, str, str]  # (app, commit, suite)
Test = tuple[str, int]  # (classname::name, repetition within its run: 1, 2, ...)
FAILED, PASSED = 1, 2  # outcome bits of a test case


class JUnitError(ValueError):
    """A report that cannot be used; the message names it."""


@dataclass(slots=True)
class SuiteRuns:
    """Outcome bits per test case over the runs of one suite for one commit."""

    outcomes: dict[Test, int] = field(default_factory=dict)
    finished_at: float = 0.0

    def add(self, test: Test, outcome: int) -> None:
        self.outcomes[test] = self.outcomes.get(test, 0) | outcome

    def counts(self) -> tuple[int, int, int]:
        """(tests, failures, flaky). A failed repetition of a test case whose other
        repetitions passed (``go test -count=3``) is flaky, not a failure."""
        passed = {name for (name, _), outcome in self.outcomes.items() if outcome & PASSED}
        values = [
            FAILED | PASSED if outcome == FAILED and name in passed else outcome
            for (name, _), outcome in self.outcomes.items()
        ]
        failures = sum(1 for v in values if v == FAILED)
        return len(values), failures, sum(1 for v in values if v == FAILED | PASSED)


class JUnitReports(FileSource[JUnitSource]):
    """Polls the configured JUnit XML report files."""

    def __init__(self, config: JUnitSource, base_dir: Path, ownership: Ownership) -> None:
        super().__init__(config, base_dir, ownership)
        self.commit_pattern = re.compile(config.commit_pattern) if config.commit_pattern else None

    def poll(self, state: SourceState) -> Poll:
        known: dict[str, Any] = self._load(state.cursor)
        files = self.files()
        problems: list[str] = []
        reports: dict[str, Any] = {}
        parsed: dict[str, dict[Group, SuiteRuns]] = {}
        failed = 0
        for path in files:
            try:
                stamp = _stamp(path)
            except OSError as error:
                failed += 1
                problems.append(f"{path}: cannot read: {error.strerror}")
                continue
            previous = known.get(path)
            if previous is not None and previous["stamp"] == stamp:
                reports[path] = previous
                continue
            try:
                parsed[path] = self.read(path)
            except OSError as error:
                failed += 1
                problems.append(f"{path}: cannot read: {error.strerror}")
                continue
            except JUnitError as error:
                problems.append(str(error))
                parsed[path] = {}  # remembered, so it is reported once, not at every poll
            reports[path] = {"stamp": stamp, "groups": [list(g) for g in parsed[path]]}
        if files and failed == len(files):
            raise SourceError("; ".join(problems))
        changed = {group for groups in parsed.values() for group in groups}
        # The other reports of the changed suites: read again, to see every run of a commit.
        for path, report in reports.items():
            if path not in parsed and changed & {tuple(g) for g in report["groups"]}:
                try:
                    parsed[path] = self.read(path)
                except OSError as error:
                    problems.append(f"{path}: cannot read: {error.strerror}")
                except JUnitError as error:
                    problems.append(str(error))
        events = self._events(changed, parsed.values())
        return Poll(events=events, cursor=dump_cursor(None, reports=reports), problems=problems)

    def _load(self, text: str | None) -> dict[str, Any]:
        saved = load_cursor(text, None, self.name)
        reports: dict[str, Any] = saved["reports"] if saved is not None else {}
        return reports

    def _events(self, changed: set[Group], reads: Iterable[dict[Group, SuiteRuns]]) -> list[Event]:
        merged: dict[Group, SuiteRuns] = {}
        for read in reads:
            for group, runs in read.items():
                if group not in changed:
                    continue
                total = merged.setdefault(group, SuiteRuns())
                for test, outcome in runs.outcomes.items():
                    total.add(test, outcome)
                total.finished_at = max(total.finished_at, runs.finished_at)
        events: list[Event] = []
        for (app, commit, suite), runs in sorted(merged.items()):
            tests, failures, flaky = runs.counts()
            key = f"junit/{app}/{commit}/{suite}"
            events.append(
                TestRun(
                    **self.ownership.of_app(app).identity(self.name, key),
                    finished_at=runs.finished_at,
                    tests=tests,
                    failures=failures,
                    flaky=flaky,
                )
            )
        return events

    # --- one report --------------------------------------------------------------------------

    def read(self, path: str) -> dict[Group, SuiteRuns]:
        """The suites of one report, with their test outcomes."""
        with open(path, "rb") as file:
            data = file.read()
            modified = os.fstat(file.fileno()).st_mtime
        try:
            root = parse_xml(data, path)
        except XmlError as error:
            raise JUnitError(str(error)) from None
        if root.tag not in ("testsuites", "testsuite"):
            raise JUnitError(f"{path}: not a JUnit report (root <{root.tag}>)")
        relative = os.path.relpath(path, self.base_dir)
        owner = self._owner(relative)
        if owner is None:
            raise JUnitError(
                f"{path}: belongs to no app: left out; set the source's app or add the path"
                " to an app's paths"
            )
        root_commit = _property(root, self.config.commit_property)
        suites: dict[Group, SuiteRuns] = {}
        repetitions: dict[Group, dict[str, int]] = {}  # per name, in this report
        for suite in root.iter("testsuite"):  # the root itself too, when it is a testsuite
            cases = suite.findall("testcase")
            if not cases:
                continue
            commit = (
                _property(suite, self.config.commit_property)
                or root_commit
                or self._commit_of(relative)
            )
            if not commit:
                hint = (
                    "commit_pattern does not match the path"
                    if self.commit_pattern
                    else "no commit_pattern to read it from the path"
                )
                raise JUnitError(
                    f"{path}: no commit: no <property name={self.config.commit_property!r}>,"
                    f" and {hint}"
                )
            group = (owner.app, commit, suite.get("name") or "default")
            runs = suites.setdefault(group, SuiteRuns())
            seen = repetitions.setdefault(group, {})
            runs.finished_at = max(runs.finished_at, _finished(suite) or modified)
            for case in cases:
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                seen[name] = seen.get(name, 0) + 1
                outcome = _outcome(case)
                if outcome:
                    runs.add((name, seen[name]), outcome)
        return suites

    def _owner(self, relative: str) -> Owner | None:
        if self.config.app:
            return self.ownership.of_app(self.config.app)
        match = self.ownership.match_path(relative)
        return match[0] if match else None

    def _commit_of(self, relative: str) -> str:
        if self.commit_pattern is None:
            return ""
        found = self.commit_pattern.search(relative)
        if found is None:
            return ""
        if "commit" in self.commit_pattern.groupindex:
            return found.group("commit") or ""
        return (found.group(1) if self.commit_pattern.groups else found.group(0)) or ""


def _stamp(path: str) -> list[int]:
    stat = os.stat(path)
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _property(element: Element, name: str) -> str:
    for prop in element.findall("properties/property"):
        if prop.get("name") == name:
            return (prop.get("value") or prop.text or "").strip()
    return ""


def _outcome(case: Element) -> int:
    """FAILED, PASSED, both (flaky within the run), or 0 for a skipped test case."""
    tags = {child.tag for child in case}
    if "skipped" in tags:
        return 0
    if tags & {"failure", "error"}:
        return FAILED
    if tags & {"flakyFailure", "flakyError"}:
        return FAILED | PASSED
    return PASSED


def _finished(suite: Element) -> float | None:
    stamp = suite.get("timestamp")
    if not stamp:
        return None
    try:
        started = parse_time(stamp)
    except ValueError:
        return None
    try:
        duration = float(suite.get("time") or 0)
    except ValueError:
        duration = 0.0
    return started + max(0.0, duration)


def _describe(source: JUnitReports) -> list[str]:
    files = source.files()
    app = source.config.app or "from apps.*.paths"
    return [headline(source, "junit", f"{len(files)} file(s), app {app}"), *listed(files)]


SOURCE_TYPE = SourceType("junit", JUnitSource, JUnitReports.build, _describe)
