"""The JUnit source: tests, failures and flaky tests per app, commit and suite, across the runs
of one commit, read incrementally; broken and hostile reports named and skipped. Every
expectation is counted by hand in the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kpi_exporter import model
from kpi_exporter.config import parse_config
from kpi_exporter.model import Event
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.junit import JUnitReports, JUnitSource
from kpi_exporter.store import SourceState
from tests.support import exposition, ts, values

CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, paths: ["services/shop/**"]}
"""

# First run of commit abc1234: add passes, remove fails, total errors, skip is skipped.
RUN_1 = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="unit" tests="4" failures="1" errors="1" skipped="1"
             timestamp="2026-01-05T10:00:00" time="60.0">
    <properties><property name="commit" value="abc1234"/></properties>
    <testcase classname="tests.cart" name="test_add" time="0.1"/>
    <testcase classname="tests.cart" name="test_remove"><failure message="boom"/></testcase>
    <testcase classname="tests.cart" name="test_total"><error message="oops"/></testcase>
    <testcase classname="tests.cart" name="test_skip"><skipped/></testcase>
  </testsuite>
</testsuites>
"""
# The retry of the same commit: remove passes now (flaky), total fails again (a failure), new
# failed then passed on Surefire's rerun (flaky within the run).
RUN_2 = """<testsuite name="unit" timestamp="2026-01-05T11:00:00Z" time="30">
  <properties><property name="commit" value="abc1234"/></properties>
  <testcase classname="tests.cart" name="test_add"/>
  <testcase classname="tests.cart" name="test_remove"/>
  <testcase classname="tests.cart" name="test_total"><failure/></testcase>
  <testcase classname="tests.cart" name="test_skip"><skipped/></testcase>
  <testcase classname="tests.cart" name="test_new"><flakyFailure message="once"/></testcase>
</testsuite>
"""
# Another commit, named by the report's directory only: 2 pass, 1 fails.
E2E = """<testsuite name="e2e" timestamp="2026-01-06T09:00:00" time="120">
  <testcase classname="e2e" name="test_login"/>
  <testcase classname="e2e" name="test_checkout"><failure/></testcase>
  <testcase classname="e2e" name="test_search"/>
</testsuite>
"""


def junit(base: Path, **config: Any) -> JUnitReports:
    settings: dict[str, Any] = {"type": "junit", "name": "tests", "paths": ["**/*.xml"]}
    settings.update(config)
    return JUnitReports(JUnitSource(**settings), base, Ownership(parse_config(CONFIG)))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def runs(events: list[Event]) -> dict[str, tuple[int, int, int]]:
    """TestRun key -> (tests, failures, flaky)."""
    found = {}
    for event in events:
        assert isinstance(event, model.TestRun)
        found[event.key] = (event.tests, event.failures, event.flaky)
    return found


def test_flaky_tests_failed_in_one_run_and_passed_in_another_of_the_same_commit(tmp_path):
    write(tmp_path / "ci" / "run1.xml", RUN_1)
    write(tmp_path / "ci" / "run2.xml", RUN_2)
    write(tmp_path / "ci" / "def5678" / "e2e.xml", E2E)
    source = junit(tmp_path, app="shop", commit_pattern=r"/(?P<commit>[0-9a-f]{7,40})/")

    poll = source.poll(SourceState())

    assert poll.problems == []
    # unit: add, remove, total, new ran (skip did not); remove and new are flaky; total failed
    # in both runs. e2e: 3 ran, checkout failed.
    assert runs(poll.events) == {
        "junit/shop/abc1234/unit": (4, 1, 2),
        "junit/shop/def5678/e2e": (3, 1, 0),
    }
    finished = {event.key: event.time for event in poll.events}
    assert finished["junit/shop/abc1234/unit"] == ts("2026-01-05T11:00:30Z")
    assert finished["junit/shop/def5678/e2e"] == ts("2026-01-06T09:02:00Z")


def test_test_run_counters_are_hand_counted():
    events: list[Event] = [
        model.TestRun(
            "tests", "junit/shop/a/unit", "shop", "payments", ts("2026-01-05T11:00:00Z"), 4, 1, 2
        ),
        model.TestRun(
            "tests", "junit/shop/b/unit", "shop", "payments", ts("2026-01-06T11:00:00Z"), 5, 0, 1
        ),
        model.TestRun(
            "tests", "junit/shop/b/e2e", "shop", "payments", ts("2026-01-06T12:00:00Z"), 3, 0, 0
        ),
    ]

    text = exposition(events)

    # 3 runs, 1 of them failed; 4 + 5 + 3 = 12 tests, 1 + 0 + 0 failed, 2 + 1 + 0 flaky
    expected = {
        "kpi_test_runs_total": 3,
        "kpi_test_runs_failed_total": 1,
        "kpi_tests_total": 12,
        "kpi_tests_failed_total": 1,
        "kpi_tests_flaky_total": 3,
    }
    assert values(text, expected, app="shop", team="payments") == expected


def test_broken_hostile_and_unattributable_reports_are_named_and_the_rest_kept(tmp_path):
    write(tmp_path / "services" / "shop" / "ok.xml", RUN_1)
    broken = write(tmp_path / "services" / "shop" / "broken.xml", "<testsuite><testcase>")
    xxe = write(
        tmp_path / "services" / "shop" / "xxe.xml",
        '<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<testsuite name="&x;"><testcase name="a"/></testsuite>',
    )
    no_commit = write(tmp_path / "services" / "shop" / "nocommit.xml", E2E)
    elsewhere = write(tmp_path / "tools" / "lint.xml", RUN_1)
    source = junit(tmp_path)  # apps from the report's path

    poll = source.poll(SourceState())

    assert runs(poll.events) == {"junit/shop/abc1234/unit": (3, 2, 0)}
    assert sorted(poll.problems) == sorted(
        [
            f"{broken}: not valid XML: no element found: line 1, column 21",
            f"{no_commit}: no commit: no <property name='commit'>, and no commit_pattern to"
            " read it from the path",
            f"{elsewhere}: belongs to no app: left out; set the source's app or add the path"
            " to an app's paths",
            f"{xxe}: refused: the XML declares entities (an entity expansion bomb or an external"
            " entity); reports never need them",
        ]
    )
    # A bad report is reported once, not at every poll.
    assert source.poll(SourceState(cursor=poll.cursor)).problems == []


def test_a_poll_where_every_report_is_unreadable_fails(tmp_path):
    source = junit(tmp_path, app="shop", paths=["missing.xml"])

    with pytest.raises(SourceError, match=r"missing\.xml: cannot read"):
        source.poll(SourceState())


# go test -count=3 | go-junit-report: the same name once per repetition.
REPEATED = """<testsuite name="pkg" timestamp="2026-01-07T10:00:00Z" time="1">
  <properties><property name="commit" value="abc1234"/></properties>
  <testcase classname="pkg" name="TestRepeat"/>
  <testcase classname="pkg" name="TestRepeat"><failure message="once"/></testcase>
  <testcase classname="pkg" name="TestRepeat"/>
  <testcase classname="pkg" name="TestBroken"><failure/></testcase>
  <testcase classname="pkg" name="TestBroken"><failure/></testcase>
  <testcase classname="pkg" name="TestBroken"><failure/></testcase>
</testsuite>
"""


# (the first report, its retry read in a later poll, the runs after each poll)
RETRIES = {
    # add, remove, total ran; remove and total failed. The retry turns failures into flaky
    # tests.
    "a retry turns failures into flaky tests": (
        RUN_1,
        RUN_2,
        {"junit/shop/abc1234/unit": (3, 2, 0)},
        {"junit/shop/abc1234/unit": (4, 1, 2)},
    ),
    # 6 repetitions ran, as the tool counts them (tests="6"). TestRepeat's second repetition
    # failed while its others passed: flaky. TestBroken failed all 3 times: 3 failures. A
    # retry of the job: the k-th repetition meets the k-th; tests stay 6, not 12.
    "repeated test names count once per repetition": (
        REPEATED,
        REPEATED,
        {"junit/shop/abc1234/pkg": (6, 3, 1)},
        {"junit/shop/abc1234/pkg": (6, 3, 1)},
    ),
}


@pytest.mark.parametrize(
    ("report", "retry", "first_runs", "second_runs"), RETRIES.values(), ids=RETRIES.keys()
)
def test_a_retry_read_in_a_later_poll_meets_the_first_run(
    tmp_path, report, retry, first_runs, second_runs
):
    write(tmp_path / "ci" / "run1.xml", report)
    source = junit(tmp_path, app="shop")
    first = source.poll(SourceState())
    assert runs(first.events) == first_runs

    write(tmp_path / "ci" / "run2.xml", retry)
    second = source.poll(SourceState(cursor=first.cursor))
    third = source.poll(SourceState(cursor=second.cursor))

    assert runs(second.events) == second_runs
    assert third.events == []  # nothing new: nothing read
