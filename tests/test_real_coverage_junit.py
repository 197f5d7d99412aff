"""The coverage and junit sources on real reports of real tools (``artifacts/coverage``,
``artifacts/junit`` of the shared real data, read where they are). Each expectation is worked
out by hand from the tool's own figures, written next to it: per-file line rates or the
``lines-covered``/``lines-valid`` the tool wrote, lcov's ``LH``/``LF``, the JUnit counts in
each ``<testsuite>``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.model import Coverage, TestRun
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources.coverage import CoverageReports, CoverageSource
from kpi_exporter.sources.junit import JUnitReports, JUnitSource
from kpi_exporter.store import SourceState
from tests.real_data import artifact
from tests.support import ts

CONFIG = "defaults: {app: unknown, team: unassigned}\napps:\n  shop: {team: payments}\n"
C_BUILD = "/builds/acme/cproj/"  # the build folder the generated C reports name

# file -> (source options, {component: (lines covered, lines valid)}, report time or None)
COVERAGE: dict[str, tuple[dict[str, Any], dict[str, tuple[int, int]], float | None]] = {
    # coverage.py 7.17.5, lines-covered="20" lines-valid="28": invoice.py 7/11 (line-rate
    # .6364), search.py 10/13 (.7692), util.py 3/4 (.75); the three empty __init__.py files
    # (<lines/>) have no lines. Depth 2: shop/billing, shop/catalog, shop.
    "coveragepy-cobertura.xml": (
        {"depth": 2},
        {"shop/billing": (7, 11), "shop/catalog": (10, 13), "shop": (3, 4)},
        1796228728.395,  # timestamp="1796228728395" (milliseconds)
    ),
    # The same run through `coverage lcov`: LH/LF 7/11, 10/13, 3/4 -> the same counts.
    "coveragepy.lcov": (
        {"depth": 2},
        {"shop/billing": (7, 11), "shop/catalog": (10, 13), "shop": (3, 4)},
        None,
    ),
    # gcovr 8.8, lines-covered="24" lines-valid="31": mathx.c 10/15, mathx.h 2/2, fmt.c 7/9
    # -> src 19/26; tests/main.c 5/5.
    "gcovr-cobertura.xml": ({}, {"src": (19, 26), "tests": (5, 5)}, 1796228651.0),
    # The same gcc run captured by geninfo (absolute SF paths, DA lines only): the same counts
    # once the build folder is stripped.
    "geninfo-capture.info": (
        {"strip_prefix": C_BUILD},
        {"src": (19, 26), "tests": (5, 5)},
        None,
    ),
    # lcov --remove '*/tests/*': LH/LF 10/15 + 2/2 + 7/9 = 19/26, tests gone.
    "lcov-filtered.info": ({"strip_prefix": C_BUILD}, {"src": (19, 26)}, None),
    # istanbul (jest 29), lines-covered="12" lines-valid="15": total.js 9/10 (.9), find.js 3/5 (.6).
    "istanbul-jest-cobertura.xml": (
        {"depth": 2},
        {"src/cart": (9, 10), "src/search": (3, 5)},
        1796228851.476,
    ),
    "istanbul-jest.lcov": ({"depth": 2}, {"src/cart": (9, 10), "src/search": (3, 5)}, None),
    # Cobertura 1.9 (Apache Commons CLI): the package line-rate 0.6283924843423799 = 602/958,
    # every file under org/ (HelpFormatter.java split over three classes, each line once).
    "cobertura19-commons-cli.xml": ({}, {"org": (602, 958)}, 1240339705.747),
    # gcovr 2.5 on Windows, per-class line rates: FrameManager.cpp 1/108 (.00926), base.hpp
    # 65/148 (.4392), \CommonLibrary\ProfilerTest.cpp 4/46 (.0870) -> CommonLibrary 70/302;
    # QNX650\exception 4/4 (1.0).
    "gcovr25-windows.xml": ({}, {"CommonLibrary": (70, 302), "QNX650": (4, 4)}, 1356956242.0),
}
# Problems the reports give with those options: the Windows report has one path rooted on the
# current drive; everything else reads clean.
COVERAGE_PROBLEMS = {
    "gcovr25-windows.xml": [
        "1 covered file(s) have an absolute path (first: \\CommonLibrary\\ProfilerTest.cpp):"
        " read from below the root; set strip_prefix to the checkout directory"
    ]
}


def coverage(path: Path, base: Path, **options: Any) -> CoverageReports:
    config = CoverageSource(type="coverage", name="cov", paths=[str(path)], app="shop", **options)
    return CoverageReports(config, base, Ownership(parse_config(CONFIG)), Health())


@pytest.mark.parametrize("name", sorted(COVERAGE))
def test_real_coverage_reports_give_the_tools_own_line_counts(name: str, tmp_path: Path) -> None:
    options, expected, measured_at = COVERAGE[name]
    path = artifact(f"coverage/{name}")

    poll = coverage(path, tmp_path, **options).poll(SourceState())

    events = [e for e in poll.events if isinstance(e, Coverage)]
    assert len(events) == len(poll.events)
    assert {e.component: (e.lines_covered, e.lines_valid) for e in events} == expected
    assert {e.app for e in events} == {"shop"}
    when = measured_at if measured_at is not None else path.stat().st_mtime  # lcov: file time
    assert [e.measured_at for e in events] == [pytest.approx(when)] * len(expected)
    assert poll.problems == [f"{path}: {p}" for p in COVERAGE_PROBLEMS.get(name, [])]


def test_absolute_lcov_paths_without_a_prefix_warn_and_keep_their_components(
    tmp_path: Path,
) -> None:
    path = artifact("coverage/geninfo-capture.info")

    poll = coverage(path, tmp_path).poll(SourceState())

    # /builds/acme/cproj/... read from below the root: all 4 files under "builds", 24/31, not
    # silently under component "."
    events = [e for e in poll.events if isinstance(e, Coverage)]
    assert [(e.component, e.lines_covered, e.lines_valid) for e in events] == [("builds", 24, 31)]
    assert poll.problems == [
        f"{path}: 4 covered file(s) have an absolute path (first:"
        f" {C_BUILD}src/core/mathx.c): read from below the root; set strip_prefix to the"
        " checkout directory"
    ]


# file -> {suite: (tests that ran, failures, flaky)}, from each <testsuite>'s own counts.
JUNIT: dict[str, dict[str, tuple[int, int, int]]] = {
    # pytest 9.2: tests="9" failures="1" errors="2" skipped="2" (a skip and an xfail) -> 9 - 2
    # = 7 ran, 1 + 2 = 3 failed (the fixture setup error, the teardown error of a passing test).
    "pytest-junit.xml": {"shop-tests": (7, 3, 0)},
    # jest-junit 16: 6 <testcase>, one <skipped/> (test.skip) -> 5 ran, 1 failure. jest's own
    # tests="5" leaves the test.todo out, which jest-junit writes as a passed case: we count
    # it as passed (documented).
    "jest-junit.xml": {"cart": (5, 1, 0)},
    # Surefire 2.x without classname: tests="8" failures="1" errors="1" -> 8 ran, 2 failed.
    "surefire-TEST-com.shape.CircleTest.xml": {"com.shape.CircleTest": (8, 2, 0)},
    # rerunFailingTestsCount: testFlaky has 3 <flakyFailure> and 1 <flakyError>, then passed:
    # flaky; testStable passed: 2 <testcase> ran (the suite header itself says tests="1").
    "surefire-TEST-org.acme.FlakyTest.xml": {"org.acme.FlakyTest": (2, 0, 1)},
    # failures="2" tests="2".
    "surefire-TEST-org.apache.maven.surefire.test.FailingTest.xml": {
        "org.apache.maven.surefire.test.FailingTest": (2, 2, 0)
    },
    # A nested class's error: tests="1" errors="1".
    "surefire-TEST-surefire.MyTest-nestedClass.xml": {"surefire.MyTest": (1, 1, 0)},
    # go-junit-report: pass tests="2"; fail tests="1" failures="1"; skip tests="2" skipped="2".
    "go-junit-report-001.xml": {
        "package/pass": (2, 0, 0),
        "package/fail": (1, 1, 0),
        "package/skip": (0, 0, 0),
    },
    # Subtests: tests="11" failures="4" skipped="1" -> 10 ran, 4 failed.
    "go-junit-report-012.xml": {"package/subtests": (10, 4, 0)},
    # Two panics: each tests="1" errors="1".
    "go-junit-report-014.xml": {"package/panic": (1, 1, 0), "package/panic2": (1, 1, 0)},
    # go test -count=3: TestRepeat three times, tests="3" (each repetition counts).
    "go-junit-report-016.xml": {"package/repeated-names": (3, 0, 0)},
}


def junit(path: Path, base: Path, **options: Any) -> JUnitReports:
    config = JUnitSource(type="junit", name="tests", paths=[str(path)], app="shop", **options)
    return JUnitReports(config, base, Ownership(parse_config(CONFIG)))


@pytest.mark.parametrize("name", sorted(JUNIT))
def test_real_junit_reports_give_the_tools_own_counts(name: str, tmp_path: Path) -> None:
    path = artifact(f"junit/{name}")
    # None of the real reports carries a commit (the point): without one, each is a
    # problem naming it.
    bare = junit(path, tmp_path).poll(SourceState())
    assert bare.events == []
    assert bare.problems == [
        f"{path}: no commit: no <property name='commit'>, and no commit_pattern to read it"
        " from the path"
    ]
    # The folder's name stands in for a commit through commit_pattern (any path part would).
    poll = junit(path, tmp_path, commit_pattern="/(?P<commit>junit)/").poll(SourceState())

    assert poll.problems == []
    found = {}
    for event in poll.events:
        assert isinstance(event, TestRun)
        found[event.key.removeprefix("junit/shop/junit/")] = (
            event.tests,
            event.failures,
            event.flaky,
        )
    assert found == JUNIT[name]


def test_real_junit_report_times_are_the_suites_timestamp_plus_duration(tmp_path: Path) -> None:
    path = artifact("junit/pytest-junit.xml")
    poll = junit(path, tmp_path, commit_pattern="/(?P<commit>junit)/").poll(SourceState())
    # timestamp="2026-12-02T16:25:27.649493+00:00" time="0.258"
    assert [e.time for e in poll.events] == [
        pytest.approx(ts("2026-12-02T16:25:27.649493Z") + 0.258)
    ]
