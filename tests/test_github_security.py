"""The github_security source against a fake GitHub REST API (``responses``) whose payloads
follow the reference of ``GET /repos/{o}/{r}/dependabot/alerts``, ``.../code-scanning/alerts``,
``.../secret-scanning/alerts`` and the organisation-level lists: Link pagination, conditional
requests, state transitions of one alert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import responses

from kpi_exporter.config import parse_config
from kpi_exporter.model import Vulnerability
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll, SourceError
from kpi_exporter.sources.github_security import GitHubSecurity, GitHubSecuritySource
from kpi_exporter.store import SourceState, Store
from tests.support import ts, value

API = "https://api.github.test"
REPO = f"{API}/repos/acme/shop"
NOW = ts("2026-11-20T00:00:00Z")
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, repos: [acme/shop]}
  api: {team: platform, repos: [acme/api]}
"""


def dependabot(number: int, state: str = "open", severity: str = "critical", **extra: Any) -> Any:
    return {
        "number": number,
        "state": state,
        "created_at": "2026-11-01T00:00:00Z",
        "updated_at": extra.pop("updated_at", "2026-11-01T00:00:00Z"),
        "fixed_at": None,
        "dismissed_at": None,
        "security_advisory": {"ghsa_id": f"GHSA-{number}", "severity": severity},
        "security_vulnerability": {"severity": severity, "package": {"name": "lodash"}},
        **extra,
    }


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp-s3cret")


def source(**fields: Any) -> GitHubSecurity:
    values: dict[str, Any] = {
        "type": "github_security",
        "name": "security",
        "api_url": API,
        "token_env": "GH_TOKEN",
        "repos": ["acme/shop"],
        "alerts": ["dependabot"],
    }
    values.update(fields)
    config = GitHubSecuritySource(**values)
    return GitHubSecurity(config, Ownership(parse_config(CONFIG)), clock=lambda: NOW)


def by_key(poll: Poll) -> dict[str, Vulnerability]:
    return {event.key: event for event in poll.events if isinstance(event, Vulnerability)}


@responses.activate
def test_pages_are_followed_and_alerts_mapped() -> None:
    page2 = f"{REPO}/dependabot/alerts?page=2"
    responses.get(
        f"{REPO}/dependabot/alerts",
        json=[
            dependabot(1),
            dependabot(2, "dismissed", "high", dismissed_at="2026-11-03T00:00:00Z"),
        ],
        headers={"Link": f'<{page2}>; rel="next"', "ETag": '"p1"'},
    )
    responses.get(
        page2,
        json=[
            dependabot(3, "fixed", "medium", fixed_at="2026-11-02T00:00:00Z"),
            dependabot(4, "auto_dismissed", "low", auto_dismissed_at="2026-11-04T00:00:00Z"),
        ],
    )
    poll = source().poll(SourceState())
    found = by_key(poll)
    assert {key: (f.state, f.severity) for key, f in found.items()} == {
        "github/acme/shop/dependabot/1": ("open", "critical"),
        "github/acme/shop/dependabot/2": ("dismissed", "high"),
        "github/acme/shop/dependabot/3": ("fixed", "medium"),
        "github/acme/shop/dependabot/4": ("dismissed", "low"),
    }
    fixed = found["github/acme/shop/dependabot/3"]
    assert (fixed.app, fixed.team, fixed.scanner) == ("shop", "payments", "dependabot")
    assert fixed.closed_at == ts("2026-11-02T00:00:00Z")
    first = responses.calls[0].request
    assert first.headers["Authorization"] == "Bearer ghp-s3cret"
    assert "sort=updated" in str(first.url) and "per_page=100" in str(first.url)


@responses.activate
def test_an_unchanged_list_costs_one_304_and_no_event() -> None:
    responses.get(f"{REPO}/dependabot/alerts", json=[dependabot(1)], headers={"ETag": '"v1"'})
    security = source()
    first = security.poll(SourceState())
    responses.replace(responses.GET, f"{REPO}/dependabot/alerts", status=304)
    second = security.poll(SourceState(cursor=first.cursor, validators=first.validators))
    assert second.events == []
    assert responses.calls[1].request.headers["If-None-Match"] == '"v1"'
    assert len(responses.calls) == 2


@responses.activate
def test_an_alert_fixed_later_updates_the_same_key(tmp_path: Path) -> None:
    url = f"{REPO}/dependabot/alerts"
    responses.get(url, json=[dependabot(1), dependabot(2, severity="high")])
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: NOW)
    security = source()
    first = security.poll(SourceState())
    pipeline.record("security", first)
    # Alert 1 fixed 3 days after creation; it is now the most recently updated. Alert 2 is
    # older than the cursor: the page stops before it.
    responses.replace(
        responses.GET,
        url,
        json=[
            dependabot(
                1, "fixed", fixed_at="2026-11-04T00:00:00Z", updated_at="2026-11-04T00:00:00Z"
            ),
            {"number": 2, "updated_at": "2026-10-01T00:00:00Z"},  # not read: before the cursor
        ],
    )
    second = security.poll(SourceState(cursor=first.cursor))
    assert list(by_key(second)) == ["github/acme/shop/dependabot/1"]
    assert second.problems == []
    pipeline.record("security", second)
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    shop = {"app": "shop", "team": "payments"}
    assert value(text, "kpi_vulnerabilities_open", severity="critical", **shop) == 0
    assert value(text, "kpi_vulnerabilities_open", severity="high", **shop) == 1
    assert value(text, "kpi_vulnerabilities_fixed_total", severity="critical", **shop) == 1
    assert value(text, "kpi_vulnerability_fix_seconds_sum", severity="critical", **shop) == (
        3 * 86400
    )


@responses.activate
def test_code_and_secret_scanning_states_and_severities() -> None:
    base = {"created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"}
    responses.get(
        f"{REPO}/code-scanning/alerts",
        json=[
            {"number": 1, "state": "open", "rule": {"security_severity_level": "critical"}, **base},
            {"number": 2, "state": "open", "rule": {"severity": "warning"}, **base},
            {
                "number": 3,
                "state": "dismissed",
                "dismissed_at": "2026-11-02T00:00:00Z",
                "rule": {"severity": "error"},
                **base,
            },
        ],
    )
    responses.get(
        f"{REPO}/secret-scanning/alerts",
        json=[
            {"number": 7, "state": "open", **base},
            {
                "number": 8,
                "state": "resolved",
                "resolution": "revoked",
                "resolved_at": "2026-11-02T00:00:00Z",
                **base,
            },
            {
                "number": 9,
                "state": "resolved",
                "resolution": "false_positive",
                "resolved_at": "2026-11-02T00:00:00Z",
                **base,
            },
        ],
    )
    found = by_key(source(alerts=["code_scanning", "secret_scanning"]).poll(SourceState()))
    assert {key: (f.state, f.severity, f.scanner) for key, f in found.items()} == {
        "github/acme/shop/code_scanning/1": ("open", "critical", "code_scanning"),
        "github/acme/shop/code_scanning/2": ("open", "medium", "code_scanning"),
        "github/acme/shop/code_scanning/3": ("dismissed", "high", "code_scanning"),
        "github/acme/shop/secret_scanning/7": ("open", "high", "secret_scanning"),
        "github/acme/shop/secret_scanning/8": ("fixed", "high", "secret_scanning"),
        "github/acme/shop/secret_scanning/9": ("dismissed", "high", "secret_scanning"),
    }


@responses.activate
def test_org_alerts_take_the_app_of_their_repository() -> None:
    responses.get(
        f"{API}/orgs/acme/dependabot/alerts",
        json=[
            dependabot(5, repository={"full_name": "acme/api"}),
            dependabot(5, repository={"full_name": "acme/shop"}),
        ],
    )
    found = by_key(source(repos=[], org="acme").poll(SourceState()))
    assert {key: (f.app, f.team) for key, f in found.items()} == {
        "github/acme/api/dependabot/5": ("api", "platform"),
        "github/acme/shop/dependabot/5": ("shop", "payments"),
    }


@responses.activate
def test_a_list_that_cannot_be_read_is_a_problem_and_the_others_count() -> None:
    responses.get(f"{REPO}/dependabot/alerts", json=[dependabot(1)])
    responses.get(
        f"{API}/repos/acme/api/dependabot/alerts",
        status=403,
        json={"message": "Dependabot alerts are disabled for this repository."},
    )
    poll = source(repos=["acme/shop", "acme/api"]).poll(SourceState())
    assert list(by_key(poll)) == ["github/acme/shop/dependabot/1"]
    assert len(poll.problems) == 1 and poll.problems[0].startswith("acme/api: dependabot")
    assert "ghp-s3cret" not in poll.problems[0]


@responses.activate
def test_every_list_failing_fails_the_poll() -> None:
    responses.get(f"{REPO}/dependabot/alerts", status=404, json={"message": "Not Found"})
    with pytest.raises(SourceError):
        source().poll(SourceState())
