"""The snyk source against a fake Snyk REST API (tests/snyk_fake.py): open issues by severity,
an issue fixed and one fixed then reopened, an ignored one, projects mapped to apps,
``links.next`` pages, incremental reads by ``updated_after``; exact values on /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.pipeline import Pipeline
from kpi_exporter.store import SourceState, Store
from tests.findings_fixtures import API_APP, DAY, NOW, OTHER, SHOP, findings_source
from tests.snyk_fake import API, ORG, TOKEN, FakeSnyk, issue, project
from tests.support import installed, poll_error, poll_into, served, value


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNYK_TOKEN", TOKEN)


@pytest.fixture
def snyk() -> Iterator[FakeSnyk]:
    fake = FakeSnyk(page_size=2)
    fake.projects = [
        project("p-shop", "acme/shop:package.json"),  # its repository is shop's
        project("p-api", "acme/api:pom.xml"),  # the projects glob says api
        project("p-tools", "acme/tools:go.mod"),  # nobody's: the default app
    ]
    yield from installed(fake)


def source(clock: list[float], **fields: Any) -> Any:
    settings = {"org_id": ORG, "projects": {"acme/api*": "api"}, **fields}
    return findings_source("snyk", "SNYK_TOKEN", API, clock, **settings)


def test_open_fixed_reopened_and_ignored_issues_on_metrics(snyk: FakeSnyk, tmp_path: Path) -> None:
    snyk.add(
        issue("i1", "critical", "2026-11-01T00:00:00Z", project_id="p-shop"),
        issue("i2", "critical", "2026-11-02T00:00:00Z", project_id="p-shop"),
        issue("i3", "high", "2026-11-03T00:00:00Z", project_id="p-api"),
        issue(
            "i4",
            "medium",
            "2026-11-01T00:00:00Z",
            project_id="p-shop",
            status="resolved",
            resolved="2026-11-03T00:00:00Z",
            updated="2026-11-03T00:00:00Z",
        ),
        issue(
            "i5",
            "low",
            "2026-11-05T00:00:00Z",
            project_id="p-shop",
            ignored=True,
            updated="2026-11-06T00:00:00Z",
        ),
        issue("i6", "high", "2026-11-04T00:00:00Z", project_id="p-shop", kind="license"),
        issue("i7", "info", "2026-11-04T00:00:00Z", project_id="p-tools"),
    )
    clock = [NOW]
    snyk_source = source(clock)
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: clock[0])

    first = poll_into(pipeline, snyk_source)

    assert first.problems == []
    # 3 projects and 7 issues, 2 a page: 2 + 4 requests; no updated_after on a first sync.
    assert len(snyk.seen) == 2 + 4
    assert all("version=2024-10-15" in seen and "limit=100" in seen for seen in snyk.seen)
    assert not any("updated_after" in seen for seen in snyk.seen)
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 2  # i1, i2
    assert value(text, "kpi_vulnerabilities_open", severity="high", **API_APP) == 1  # i3
    assert value(text, "kpi_vulnerabilities_open", severity="low", **OTHER) == 1  # i7: info
    assert value(text, "kpi_vulnerabilities_open", severity="medium", **SHOP) == 0  # i4 fixed
    assert value(text, "kpi_vulnerabilities_open", severity="high", **SHOP) == 0  # i6: license
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="medium", **SHOP) == 1
    # i4: created 11-01, resolved 11-03: 2 days.
    assert value(text, "kpi_vulnerability_fix_seconds_sum", severity="medium", **SHOP) == 2 * DAY
    assert value(text, "kpi_vulnerabilities_dismissed_total", severity="low", **SHOP) == 1  # i5
    assert value(text, "kpi_vulnerabilities_open", severity="low", **SHOP) == 0

    # Later: i1 is fixed, i4 is found again (reopened). Both were updated after the cursor.
    snyk.add(
        issue(
            "i1",
            "critical",
            "2026-11-01T00:00:00Z",
            project_id="p-shop",
            status="resolved",
            resolved="2026-11-20T00:10:00Z",
            updated="2026-11-20T00:10:00Z",
        ),
        issue(
            "i4",
            "medium",
            "2026-11-01T00:00:00Z",
            project_id="p-shop",
            updated="2026-11-20T00:30:00Z",
        ),
    )
    snyk.seen.clear()
    clock[0] = NOW + 3600

    second = poll_into(pipeline, snyk_source)

    # The newest updated_at seen was i5's (11-06), less a minute of overlap. Updated since:
    # i1, i4 and i5 (read again, unchanged): 2 pages; 2 + 2 requests.
    issues = [seen for seen in snyk.seen if "/issues" in seen]
    assert "updated_after=2026-11-05T23%3A59%3A00Z" in issues[0]
    assert len(snyk.seen) == 2 + 2
    assert sorted(event.key for event in second.events) == [
        f"snyk/{ORG}/i1",
        f"snyk/{ORG}/i4",
        f"snyk/{ORG}/i5",
    ]
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **SHOP) == 1  # i2
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="critical", **SHOP) == 1
    # i1: created 11-01 00:00, resolved 11-20 00:10: 19 days and 600 s.
    fixed_i1 = 19 * DAY + 600
    assert value(text, "kpi_vulnerability_fix_seconds_sum", severity="critical", **SHOP) == (
        fixed_i1
    )
    # i4 reopened: open again; its fix stays counted and shows as retracted.
    assert value(text, "kpi_vulnerabilities_open", severity="medium", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="medium", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_fixed_retracted_total", severity="medium", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_dismissed_total", severity="low", **SHOP) == 1

    # Steady state, nothing changed: i4 (updated 00:30) is after 00:29 and read again.
    snyk.seen.clear()
    clock[0] = NOW + 7200
    third = poll_into(pipeline, snyk_source)
    assert [event.key for event in third.events] == [f"snyk/{ORG}/i4"]
    assert "updated_after=2026-11-20T00%3A29%3A00Z" in snyk.seen[-1]
    assert len(snyk.seen) == 2 + 1
    text = served(pipeline)
    assert value(text, "kpi_vulnerabilities_open", severity="medium", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="medium", **SHOP) == 1
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="critical", **SHOP) == 1


def test_a_429_is_waited_out_and_a_bad_issue_is_a_problem(snyk: FakeSnyk) -> None:
    snyk.add(
        issue("i1", "high", "2026-11-01T00:00:00Z", project_id="p-shop"),
        {"id": "i2", "type": "issue", "attributes": {"type": "code", "status": "open"}},
        issue("i3", "low", "2026-11-01T00:00:00Z", project_id="p-shop", status="unknown"),
    )
    snyk.queued.append((429, {"Retry-After": "12"}, '{"errors": [{"status": "429"}]}'))
    slept: list[float] = []
    snyk_source = source([NOW])
    snyk_source.sleep = slept.append

    poll = snyk_source.poll(SourceState())

    assert slept == [12.0]
    assert [event.key for event in poll.events] == [f"snyk/{ORG}/i1"]
    assert poll.problems == [
        "issue i2: skipped: ValueError no created_at",
        "issue i3: skipped: ValueError status 'unknown'",
    ]


def test_issues_closed_before_the_horizon_are_left_out(snyk: FakeSnyk) -> None:
    snyk.add(
        issue(
            "old",
            "high",
            "2025-01-01T00:00:00Z",
            project_id="p-shop",
            status="resolved",
            resolved="2025-02-01T00:00:00Z",
        ),
        issue("new", "high", "2025-01-01T00:00:00Z", project_id="p-shop"),
    )
    poll = source([NOW], horizon="180d").poll(SourceState())
    assert [event.key for event in poll.events] == [f"snyk/{ORG}/new"]


def test_a_json_api_error_is_named_in_the_failed_poll(
    snyk: FakeSnyk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNYK_TOKEN", "revoked-token")
    assert poll_error(source([NOW])) == f"GET {API}/orgs/{ORG}/projects: HTTP 401 (Unauthorized)"


def test_next_links_with_or_without_the_rest_prefix_resolve_to_the_same_page() -> None:
    snyk_source = source([NOW])
    page = f"{API}/orgs/{ORG}/issues?starting_after=v1.2&version=2024-10-15"
    assert snyk_source.next_url(f"/orgs/{ORG}/issues?starting_after=v1.2&version=2024-10-15") == (
        page
    )
    assert snyk_source.next_url(
        f"/rest/orgs/{ORG}/issues?starting_after=v1.2&version=2024-10-15"
    ) == (page)
    assert snyk_source.next_url(page) == page
    assert snyk_source.next_url(None) is None


def test_a_changed_project_mapping_starts_over_with_a_first_sync(snyk: FakeSnyk) -> None:
    snyk.add(issue("i1", "high", "2026-11-01T00:00:00Z", project_id="p-tools"))
    first = source([NOW]).poll(SourceState())
    assert [(e.app, e.team) for e in first.events] == [("unknown", "unassigned")]
    snyk.seen.clear()
    remapped = source([NOW], projects={"acme/tools*": "api"})
    second = remapped.poll(SourceState(cursor=first.cursor))
    assert not any("updated_after" in seen for seen in snyk.seen)
    assert [(e.app, e.team) for e in second.events] == [("api", "platform")]
