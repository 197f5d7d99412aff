"""The coverage source: Cobertura and lcov reports into lines covered and valid per app and
component, hostile XML refused, unknown apps warned about, and the coverage and incidents per
component families. Every expectation is counted by hand in the test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import responses

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.health import Health
from kpi_exporter.model import Coverage, Event, Incident, from_json
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.coverage import CoverageReports, CoverageSource
from kpi_exporter.sources.event_format import parse_event
from kpi_exporter.store import SourceState
from tests.support import exposition, incident, ts, value

CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, paths: ["services/shop/**"]}
  billing: {team: finance, paths: ["services/billing/**"]}
"""
REPORT_TIME = ts("2026-01-01T10:00:00Z")

# App shop, depth 1. payments/card.py: lines 1, 2, 4 hit; 3 missed by the class but hit by its
# inner class; 5 missed -> 4 of 5 (the <method> lines repeat the class's and are not re-read).
# payments/refund/refund.py: 0 of 2. api/routes.py: 2 of 2. setup.py (root): 1 of 1.
COBERTURA = f"""<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage line-rate="0.7" lines-covered="7" lines-valid="10"
          timestamp="{int(REPORT_TIME * 1000)}" version="7.4">
  <sources><source>/builds/acme/shop</source></sources>
  <packages>
    <package name="payments" line-rate="0.57">
      <classes>
        <class name="card.py" filename="payments/card.py" line-rate="0.75">
          <methods>
            <method name="charge" signature="()V">
              <lines><line number="1" hits="1"/><line number="9" hits="1"/></lines>
            </method>
          </methods>
          <lines>
            <line number="1" hits="1"/>
            <line number="2" hits="3"/>
            <line number="3" hits="0"/>
            <line number="4" hits="2" branch="true" condition-coverage="50% (1/2)"/>
          </lines>
        </class>
        <class name="card$Inner" filename="payments/card.py" line-rate="0.5">
          <lines><line number="3" hits="1"/><line number="5" hits="0"/></lines>
        </class>
        <class name="refund.py" filename="payments/refund/refund.py" line-rate="0">
          <lines><line number="10" hits="0"/><line number="11" hits="0"/></lines>
        </class>
      </classes>
    </package>
    <package name="api" line-rate="1">
      <classes>
        <class name="routes.py" filename="api/routes.py" line-rate="1">
          <lines><line number="1" hits="1"/><line number="2" hits="7"/></lines>
        </class>
        <class name="setup.py" filename="setup.py" line-rate="1">
          <lines><line number="1" hits="1"/></lines>
        </class>
      </classes>
    </package>
  </packages>
</coverage>
"""

# Monorepo, apps from the paths globs, below /builds/acme/mono/. services/shop/src/cart.py:
# lines 1, 3 hit, 2 missed by "unit" but hit by "integration", 4 missed -> 3 of 4.
# services/billing/invoice.py: summary only, 7 of 10. tools/lint.py: no app.
LCOV = """TN:unit
SF:/builds/acme/mono/services/shop/src/cart.py
FN:1,add
FNDA:3,add
DA:1,1
DA:2,0
DA:3,5
LF:3
LH:2
end_of_record
TN:integration
SF:/builds/acme/mono/services/shop/src/cart.py
DA:2,1
DA:4,0
end_of_record
SF:/builds/acme/mono/services/billing/invoice.py
LF:10
LH:7
end_of_record
SF:/builds/acme/mono/tools/lint.py
DA:1,1
end_of_record
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<coverage><packages><package><classes>
  <class filename="&lol9;"><lines><line number="1" hits="1"/></lines></class>
</classes></package></packages></coverage>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE coverage [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<coverage><packages><package><classes>
  <class filename="&secret;"><lines><line number="1" hits="1"/></lines></class>
</classes></package></packages></coverage>
"""


def reports(base: Path, **config: Any) -> CoverageReports:
    settings: dict[str, Any] = {"type": "coverage", "name": "cov", "paths": ["*.xml"]}
    settings.update(config)
    return CoverageReports(
        CoverageSource(**settings),
        base,
        Ownership(parse_config(CONFIG)),
        Health(),
        clock=lambda: ts("2026-01-02T00:00:00Z"),
    )


def lines(events: list[Event]) -> dict[str, tuple[int, int]]:
    """Coverage key -> (lines covered, lines valid)."""
    found = {}
    for event in events:
        assert isinstance(event, Coverage)
        found[event.key] = (event.lines_covered, event.lines_valid)
    return found


# --- formats ---------------------------------------------------------------------------------


def test_cobertura_lines_are_counted_per_component_at_the_report_time(tmp_path):
    (tmp_path / "coverage.xml").write_text(COBERTURA)

    poll = reports(tmp_path, app="shop").poll(SourceState())

    assert poll.problems == []
    assert lines(poll.events) == {
        "coverage/shop/payments": (4, 7),
        "coverage/shop/api": (2, 2),
        "coverage/shop/.": (1, 1),
    }
    assert {event.time for event in poll.events} == {REPORT_TIME}
    assert {(event.app, event.team) for event in poll.events} == {("shop", "payments")}


def test_a_deeper_component_depth_splits_subdirectories(tmp_path):
    (tmp_path / "coverage.xml").write_text(COBERTURA)

    poll = reports(tmp_path, app="shop", depth=2).poll(SourceState())

    assert lines(poll.events) == {
        "coverage/shop/payments": (4, 5),
        "coverage/shop/payments/refund": (0, 2),
        "coverage/shop/api": (2, 2),
        "coverage/shop/.": (1, 1),
    }


def test_lcov_maps_files_to_apps_by_path_and_warns_about_a_file_of_no_app(tmp_path):
    path = tmp_path / "lcov.info"
    path.write_text(LCOV)
    os.utime(path, (REPORT_TIME, REPORT_TIME))

    poll = reports(tmp_path, paths=["lcov.info"], strip_prefix="/builds/acme/mono/").poll(
        SourceState()
    )

    # Depth 1 below each app's root (services/shop/, services/billing/).
    assert lines(poll.events) == {
        "coverage/shop/src": (3, 4),
        "coverage/billing/.": (7, 10),
    }
    assert {event.team for event in poll.events if event.app == "billing"} == {"finance"}
    assert {event.time for event in poll.events} == {REPORT_TIME}  # lcov: file time
    assert poll.problems == [
        f"{path}: 1 covered file(s) belong to no app (first: tools/lint.py): left out;"
        " set the source's app or add the path to an app's paths"
    ]


WINDOWS_LCOV = """SF:C:\\builds\\Acme\\mono\\services\\shop\\src\\cart.py
DA:1,1
DA:2,0
end_of_record
SF:c:\\builds\\acme\\mono\\services\\shop\\api\\views.py
DA:1,1
end_of_record
"""


@pytest.mark.parametrize("prefix", ["C:\\builds\\acme\\mono\\", "C:/builds/acme/mono/"])
def test_a_windows_strip_prefix_matches_windows_paths_in_any_case(tmp_path, prefix):
    (tmp_path / "lcov.info").write_text(WINDOWS_LCOV)

    poll = reports(tmp_path, paths=["lcov.info"], strip_prefix=prefix).poll(SourceState())

    # services/shop/src/cart.py: 1 of 2 lines; services/shop/api/views.py: 1 of 1. The drive
    # letter and "Acme" differ in case: Windows paths are not case-sensitive.
    assert lines(poll.events) == {"coverage/shop/src": (1, 2), "coverage/shop/api": (1, 1)}
    assert poll.problems == []


def test_absolute_paths_without_a_prefix_are_read_below_the_root_with_a_warning(tmp_path):
    path = tmp_path / "lcov.info"
    path.write_text(
        "SF:/builds/acme/shop/src/cart.py\nDA:1,1\nDA:2,0\nend_of_record\n"
        "SF:\\CommonLibrary\\Profiler.cpp\nDA:1,1\nend_of_record\n"
    )

    poll = reports(tmp_path, paths=["lcov.info"], app="shop").poll(SourceState())

    # Not all in component ".": /builds/... is read as builds/... (1 of 2 lines), and the
    # Windows path rooted on the current drive as CommonLibrary/... (1 of 1).
    assert lines(poll.events) == {
        "coverage/shop/builds": (1, 2),
        "coverage/shop/CommonLibrary": (1, 1),
    }
    assert poll.problems == [
        f"{path}: 2 covered file(s) have an absolute path (first: /builds/acme/shop/src/cart.py):"
        " read from below the root; set strip_prefix to the checkout directory"
    ]


def test_explicit_components_win_over_the_depth_rule(tmp_path):
    (tmp_path / "lcov.info").write_text(LCOV)
    source = reports(
        tmp_path,
        paths=["lcov.info"],
        strip_prefix="/builds/acme/mono/",
        components={"checkout": ["services/shop/src/cart*"]},
    )

    events = source.poll(SourceState()).events

    assert lines(events) == {"coverage/shop/checkout": (3, 4), "coverage/billing/.": (7, 10)}


def test_bad_lcov_lines_are_reported_with_file_and_line_and_the_rest_kept(tmp_path):
    path = tmp_path / "lcov.info"
    path.write_text("SF:src/a.py\nDA:1,1\nDA:two,1\nDA:3\nnot a record\nDA:4,0\nend_of_record\n")

    poll = reports(tmp_path, app="shop", paths=["lcov.info"]).poll(SourceState())

    assert lines(poll.events) == {"coverage/shop/src": (1, 2)}
    assert poll.problems == [
        f"{path}:3: DA: expected <line>,<hits>",
        f"{path}:4: DA: expected <line>,<hits>",
        f"{path}:5: not an lcov record",
    ]


# --- hostile and broken input ----------------------------------------------------------------


def test_malformed_xml_a_billion_laughs_and_an_xxe_are_refused_and_the_good_report_kept(
    tmp_path,
):
    (tmp_path / "a-good.xml").write_text(COBERTURA)
    (tmp_path / "b-broken.xml").write_text("<coverage><packages>")
    (tmp_path / "c-bomb.xml").write_text(BILLION_LAUGHS)
    (tmp_path / "d-xxe.xml").write_text(XXE)

    poll = reports(tmp_path, app="shop").poll(SourceState())

    assert lines(poll.events) == {
        "coverage/shop/payments": (4, 7),
        "coverage/shop/api": (2, 2),
        "coverage/shop/.": (1, 1),
    }
    broken, bomb, xxe = poll.problems
    assert broken.startswith(f"{tmp_path / 'b-broken.xml'}: not valid XML: no element found")
    refused = "refused: the XML declares entities (an entity expansion bomb or an external entity)"
    assert bomb.startswith(f"{tmp_path / 'c-bomb.xml'}: {refused}")
    assert xxe.startswith(f"{tmp_path / 'd-xxe.xml'}: {refused}")
    # The entity was never resolved: nothing of /etc/passwd anywhere.
    assert not any("root:" in str(event) for event in poll.events)
    assert not any("root:" in problem for problem in poll.problems)


def test_a_report_of_another_xml_kind_is_named(tmp_path):
    (tmp_path / "junit.xml").write_text("<testsuite name='x'/>")

    with pytest.raises(SourceError, match=r"junit\.xml: not a Cobertura report \(root <testsuite>"):
        reports(tmp_path, app="shop").poll(SourceState())


def test_a_report_that_breaks_keeps_its_last_good_counts(tmp_path):
    path = tmp_path / "coverage.xml"
    path.write_text(COBERTURA)
    (tmp_path / "tools.xml").write_text(
        '<coverage><packages><package><classes><class filename="tools/x.py">'
        '<lines><line number="1" hits="0"/></lines></class></classes></package></packages>'
        "</coverage>"
    )
    source = reports(tmp_path, app="shop")
    first = source.poll(SourceState())

    path.write_text("<coverage")  # a CI job writing it again, or a broken generator
    second = source.poll(SourceState(cursor=first.cursor))

    assert lines(second.events) == lines(first.events)
    assert lines(second.events)["coverage/shop/tools"] == (0, 1)
    assert second.problems == [f"{path}: not valid XML: unclosed token: line 1, column 0"]
    # With every report broken, the poll fails (the source shows down, stored data kept).
    (tmp_path / "tools.xml").unlink()
    with pytest.raises(SourceError, match="not valid XML"):
        source.poll(SourceState(cursor=second.cursor))


def test_a_component_no_report_has_any_more_is_set_to_zero(tmp_path):
    (tmp_path / "coverage.xml").write_text(COBERTURA)
    source = reports(tmp_path, app="shop")
    first = source.poll(SourceState())

    (tmp_path / "coverage.xml").write_text(
        COBERTURA.replace('filename="setup.py"', 'filename="api/setup.py"')
    )
    second = source.poll(SourceState(cursor=first.cursor))

    assert lines(second.events) == {
        "coverage/shop/payments": (4, 7),
        "coverage/shop/api": (3, 3),
        "coverage/shop/.": (0, 0),
    }


# --- URLs ------------------------------------------------------------------------------------


@responses.activate
def test_a_report_url_is_read_with_conditional_requests():
    url = "https://ci.example.test/artifacts/shop/coverage.xml"
    responses.get(url, body=COBERTURA, headers={"ETag": '"v1"'})
    responses.get(url, status=304)
    health = Health()
    source = CoverageReports(
        CoverageSource(type="coverage", name="cov", urls=[url], app="shop"),
        Path("."),
        Ownership(parse_config(CONFIG)),
        health,
    )

    first = source.poll(SourceState())
    second = source.poll(SourceState(cursor=first.cursor, validators=first.validators))

    assert (
        lines(second.events)
        == lines(first.events)
        == {
            "coverage/shop/payments": (4, 7),
            "coverage/shop/api": (2, 2),
            "coverage/shop/.": (1, 1),
        }
    )
    assert responses.calls[1].request.headers["If-None-Match"] == '"v1"'
    assert health.api_requests == {("cov", "200"): 1, ("cov", "304"): 1}


# --- configuration ---------------------------------------------------------------------------


def test_a_coverage_source_needs_paths_or_urls():
    with pytest.raises(ConfigError, match="set paths, urls, or both"):
        parse_config("sources: [{type: coverage, name: cov}]")


# --- KPIs ------------------------------------------------------------------------------------


def test_coverage_and_incidents_per_component_share_app_team_and_component_labels():
    def coverage(component: str, covered: int, valid: int) -> Coverage:
        return Coverage(
            "cov",
            f"coverage/shop/{component}",
            "shop",
            "team-a",
            component,
            covered,
            valid,
            REPORT_TIME,
        )

    events: list[Event] = [
        coverage("payments", 4, 7),
        coverage("api", 2, 2),
        incident("i1", "2026-01-03T10:00:00Z", component="payments"),
        incident("i2", "2026-01-04T10:00:00Z", component="payments"),
        incident("i3", "2026-01-05T10:00:00Z"),  # no component: counted by kpi_incidents_total only
    ]

    text = exposition(events)

    payments = {"app": "shop", "team": "team-a", "component": "payments"}
    assert value(text, "kpi_coverage_lines_covered", **payments) == 4
    assert value(text, "kpi_coverage_lines_valid", **payments) == 7
    assert value(text, "kpi_coverage_lines_valid", component="api") == 2
    assert value(text, "kpi_incidents_by_component_total", **payments) == 2
    assert value(text, "kpi_incidents_by_component_total") == 2
    assert value(text, "kpi_incidents_total") == 3


def test_an_events_file_incident_may_name_its_component():
    ownership = Ownership(parse_config(CONFIG))
    line = {
        "type": "incident",
        "id": "INC-1",
        "app": "shop",
        "component": "payments",
        "started_at": "2026-01-03T10:00:00Z",
    }

    (event,) = parse_event(line, "ci", ownership)

    assert event.component == "payments"  # type: ignore[union-attr]


def test_an_incident_stored_before_components_existed_reads_with_no_component():
    stored = '{"app":"shop","key":"i1","severity":"high","source":"ci","started_at":1.0,"team":"a"}'

    event = from_json("incident", stored)

    assert isinstance(event, Incident)
    assert event.component == ""
