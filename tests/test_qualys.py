"""The qualys source against a fake Host List Detection API (tests/qualys_fake.py): open
detections by severity, one fixed, one fixed then reopened, an ignored one, tags and names
mapped to apps, truncated pages followed by ``id_min``, incremental reads by
``detection_updated_since``, errors and limits; exact values on /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import SourceError
from kpi_exporter.store import SourceState, Store
from tests.findings_fixtures import API_APP, DAY, NOW, OTHER, SHOP, findings_source
from tests.qualys_fake import API, PASSWORD, PATH, USER, FakeQualys, Host, detection, simple_return
from tests.support import installed, poll_error, poll_into, served, value


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALYS_PASSWORD", PASSWORD)


@pytest.fixture
def qualys() -> Iterator[FakeQualys]:
    fake = FakeQualys(now=NOW)
    yield from installed(fake)


def source(clock: list[float], **fields: Any) -> Any:
    settings = {
        "username": USER,
        "hosts": {"shop-*": "shop", "api": "api"},
        "truncation_limit": 2,
        **fields,
    }
    return findings_source("qualys", "QUALYS_PASSWORD", API, clock, **settings)


def shop_host(*detections: dict[str, Any]) -> Host:
    return Host(101, "10.0.0.1", dns="web1.corp.test", tags=["shop-prod"], detections=[*detections])


def test_detections_open_fixed_reopened_and_ignored_on_metrics(
    qualys: FakeQualys, tmp_path: Path
) -> None:
    web = shop_host(
        detection(38170, 5, "Active", "2026-11-01T00:00:00Z"),
        detection(38171, 5, "New", "2026-11-02T00:00:00Z"),
        detection(11000, 3, "Fixed", "2026-11-01T00:00:00Z", fixed="2026-11-03T00:00:00Z"),
        detection(
            90000, 2, "Active", "2026-11-05T00:00:00Z", ignored=True, updated="2026-11-06T00:00:00Z"
        ),
        detection(45000, 1, "Active", "2026-11-01T00:00:00Z", kind="Info"),  # not a vulnerability
    )
    api = Host(
        102,
        "10.0.0.2",
        tags=["api"],
        detections=[
            detection(38200, 4, "Active", "2026-11-03T00:00:00Z"),
            detection(38201, 4, "Active", "2026-11-03T00:00:00Z", kind="Potential"),
        ],
    )
    kiosk = Host(
        103,
        "10.0.0.3",
        netbios="KIOSK01",
        detections=[
            detection(38300, 1, "Active", "2026-11-04T00:00:00Z"),
        ],
    )
    qualys.hosts = [web, api, kiosk]
    clock = [NOW]
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: clock[0])
    polled = source(clock)

    first = poll_into(pipeline, polled)

    assert first.problems == []
    # 3 hosts, 2 a page: the second page is the first's WARNING URL, from id_min=103.
    assert [seen.get("id_min") for seen in qualys.seen] == [None, "103"]
    assert qualys.seen[0]["show_tags"] == "1" and "detection_updated_since" not in qualys.seen[0]
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 2  # sev 5
    assert value(text, "kpi_vulnerabilities_open", severity="high", **API_APP) == 1  # Confirmed
    assert value(text, "kpi_vulnerabilities_open", severity="low", **OTHER) == 1  # the kiosk
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="medium", **SHOP) == 1
    # QID 11000: found 11-01, fixed 11-03: 2 days.
    assert value(text, "kpi_vulnerability_fix_seconds_sum", severity="medium", **SHOP) == 2 * DAY
    assert value(text, "kpi_vulnerabilities_dismissed_total", severity="low", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_open", scanner="qualys") == 4  # no Info, Potential

    # Later: 38170 fixed; 11000 found again (Re-Opened). Both updated after the last DATETIME.
    web.detections[0] = detection(
        38170,
        5,
        "Fixed",
        "2026-11-01T00:00:00Z",
        fixed="2026-11-20T00:10:00Z",
        updated="2026-11-20T00:10:00Z",
    )
    web.detections[2] = detection(
        11000,
        3,
        "Re-Opened",
        "2026-11-01T00:00:00Z",
        fixed="2026-11-03T00:00:00Z",
        updated="2026-11-20T00:30:00Z",
    )
    qualys.seen.clear()
    qualys.now = clock[0] = NOW + 3600

    second = poll_into(pipeline, polled)

    # Since the first answer's DATETIME less a minute: only the web host has updates.
    assert [seen.get("detection_updated_since") for seen in qualys.seen] == ["2026-11-19T23:59:00Z"]
    assert sorted(event.key for event in second.events) == ["qualys/101/11000", "qualys/101/38170"]
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="critical", **SHOP) == 1
    # 38170: found 11-01 00:00, fixed 11-20 00:10: 19 days and 600 s.
    assert value(text, "kpi_vulnerability_fix_seconds_sum", severity="critical", **SHOP) == (
        19 * DAY + 600
    )
    assert value(text, "kpi_vulnerabilities_open", severity="medium", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="medium", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_fixed_retracted_total", severity="medium", **SHOP) == 1


def test_a_409_waits_as_qualys_says_and_a_bad_detection_is_a_problem(qualys: FakeQualys) -> None:
    qualys.hosts = [
        shop_host(
            detection(1, 4, "Active", "2026-11-01T00:00:00Z"),
            detection(2, 4, "Gone", "2026-11-01T00:00:00Z"),
            detection(3, 4, "Active", "not a time"),
        )
    ]
    qualys.queued.append(
        (409, {"X-RateLimit-ToWait-Sec": "42"}, simple_return("API limit exceeded", 1965))
    )
    slept: list[float] = []
    polled = source([NOW])
    polled.sleep = slept.append

    poll = polled.poll(SourceState())

    assert slept == [42.0]
    assert [event.key for event in poll.events] == ["qualys/101/1"]
    assert poll.problems == [
        "host 101 QID 2: skipped: STATUS 'Gone'",
        "host 101 QID 3: skipped: unexpected time value 'not a time' in a Qualys response",
    ]


def test_a_bad_login_is_named_in_the_failed_poll(
    qualys: FakeQualys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUALYS_PASSWORD", "wrong-s3cret")
    assert poll_error(source([NOW])) == f"GET {API}{PATH}: HTTP 401 (Bad Login/Password)"


def test_an_answer_declaring_entities_is_refused(qualys: FakeQualys) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE HOST_LIST_VM_DETECTION_OUTPUT ['
        '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>&b;</DATETIME></RESPONSE>"
        "</HOST_LIST_VM_DETECTION_OUTPUT>"
    )
    qualys.queued.append((200, {"Content-Type": "text/xml"}, bomb))
    with pytest.raises(SourceError, match=r"refused: the XML declares entities"):
        source([NOW]).poll(SourceState())


def test_an_answer_of_another_kind_fails_the_poll_naming_it(qualys: FakeQualys) -> None:
    qualys.queued.append((200, {"Content-Type": "text/html"}, "<html>proxy error</html>"))
    assert poll_error(source([NOW])) == (
        f"GET {API}{PATH}: response is not valid Qualys XML"
        " (root <html>, expected HOST_LIST_VM_DETECTION_OUTPUT)"
    )


def test_detections_closed_before_the_horizon_are_left_out(qualys: FakeQualys) -> None:
    qualys.hosts = [
        shop_host(
            detection(1, 4, "Fixed", "2025-01-01T00:00:00Z", fixed="2025-02-01T00:00:00Z"),
            detection(2, 4, "Active", "2025-01-01T00:00:00Z"),
        )
    ]
    poll = source([NOW], horizon="180d").poll(SourceState())
    assert [event.key for event in poll.events] == ["qualys/101/2"]
