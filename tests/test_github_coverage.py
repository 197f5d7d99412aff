"""The github_coverage source against tests/github_fake.py: code scanning and secret scanning
coverage of an organisation's repositories and the dependency update pull requests left open,
hand-computed through the pipeline, with conditional requests on the second poll."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses

from kpi_exporter.config import parse_config
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources.github_coverage import GitHubCoverage, GitHubCoverageSource
from kpi_exporter.store import Store
from tests.github_fake import FakeGitHub, Node, bot, org_repository, pull
from tests.support import DAY, poll_into, served, ts, value

TOKEN_ENV = "GH_COVERAGE_TOKEN"
NOW = ts("2026-11-20T00:00:00Z")
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, repos: [acme/shop, acme/shop-web]}
  api: {team: platform, repos: [acme/api]}
"""


def security(secret: str | None) -> dict[str, Any]:
    """A repository's ``security_and_analysis`` as GitHub shows it to an admin (None: as it
    shows it to others, null)."""
    if secret is None:
        return {"security_and_analysis": None}
    return {"security_and_analysis": {"secret_scanning": {"status": secret}}}


def update(number: int, created: str, author: str = "dependabot", **fields: Any) -> Node:
    """A pull request opened by a bot (REST login ``<author>[bot]``)."""
    node = pull(number, created=created, first_commit=created, **fields)
    return {**node, "author": bot(author)}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.setenv(TOKEN_ENV, "ghp-coverage-s3cret")
    github = FakeGitHub()
    github.orgs["acme"] = [
        org_repository("acme", "shop", **security("enabled")),
        org_repository("acme", "shop-web", **security("disabled")),
        org_repository("acme", "api", **security("enabled")),
        org_repository("acme", "tools", **security(None)),  # not shown: not assessed
        org_repository("acme", "old", archived=True, **security("enabled")),  # left out
    ]
    shop = github.repo("acme/shop", code_scanning="analysed")
    shop.pulls = [
        update(1, "2026-11-01T00:00:00Z"),  # 19 days open
        update(2, "2026-11-18T00:00:00Z", author="renovate"),  # 2 days open
        pull(3, created="2026-10-01T00:00:00Z", first_commit="2026-10-01T00:00:00Z"),  # a person
        update(4, "2026-10-15T00:00:00Z", merged="2026-10-16T00:00:00Z"),  # merged: closed
    ]
    github.repo("acme/shop-web", code_scanning="none")  # 404: no analysis found
    api = github.repo("acme/api", code_scanning="disabled")  # 403
    api.pulls = [update(7, "2026-11-12T00:00:00Z")]  # 8 days open
    github.repo("acme/tools", code_scanning="analysed")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        github.register_on(mock)
        yield github


def source(fake: FakeGitHub, **fields: Any) -> GitHubCoverage:
    values: dict[str, Any] = {
        "type": "github_coverage",
        "name": "coverage",
        "api_url": fake.api,
        "token_env": TOKEN_ENV,
        "org": "acme",
    }
    values.update(fields)
    config = GitHubCoverageSource.model_validate(values)
    return GitHubCoverage(config, Ownership(parse_config(CONFIG)), clock=lambda: NOW)


def coverage(text: str, feature: str, **owner: str) -> tuple[float, float]:
    """(repositories enabled, repositories assessed) of one app."""
    enabled = value(text, "kpi_security_repositories_enabled", feature=feature, **owner)
    return enabled, value(text, "kpi_security_repositories", feature=feature, **owner)


def open_by_age(text: str, **owner: str) -> dict[str, float]:
    ages = ("1d", "3d", "7d", "14d", "30d")
    name = "kpi_dependency_updates_open_by_age"
    return {age: value(text, name, older_than=age, **owner) for age in ages}


SHOP = {"app": "shop", "team": "payments"}
API = {"app": "api", "team": "platform"}
TOOLS = {"app": "unknown", "team": "unassigned"}


def test_coverage_and_dependency_updates_through_the_pipeline(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), clock=lambda: NOW)
    github = source(fake)
    poll = poll_into(pipeline, github)
    # acme/tools: security_and_analysis is not shown to the token; old is archived.
    assert poll.problems == [
        "acme/tools: secret scanning not assessed (security_and_analysis is shown only to"
        " admins and security managers of an organisation's repository)"
    ]
    text = served(pipeline)
    # shop: shop analysed, shop-web 404 -> 1 of 2; secret scanning: enabled, disabled -> 1 of 2
    assert coverage(text, "code_scanning", **SHOP) == (1, 2)
    assert coverage(text, "secret_scanning", **SHOP) == (1, 2)
    # api: code scanning 403 -> 0 of 1; secret scanning enabled -> 1 of 1
    assert coverage(text, "code_scanning", **API) == (0, 1)
    assert coverage(text, "secret_scanning", **API) == (1, 1)
    # tools (the default app): code scanning analysed, secret scanning not assessed
    assert coverage(text, "code_scanning", **TOOLS) == (1, 1)
    assert (
        "kpi_security_repositories{" + 'app="unknown",team="unassigned",feature="secret' not in text
    )
    # Dependency updates: shop #1 (19 days) and #2 (2 days); #3 is a person's, #4 merged.
    assert value(text, "kpi_dependency_updates_open", **SHOP) == 2
    assert open_by_age(text, **SHOP) == {"1d": 2, "3d": 1, "7d": 1, "14d": 1, "30d": 0}
    assert value(text, "kpi_dependency_updates_open", **API) == 1  # #7, 8 days
    assert open_by_age(text, **API) == {"1d": 1, "3d": 1, "7d": 1, "14d": 0, "30d": 0}
    # 1 organisation listing + 4 repositories x (code scanning + pulls) = 9 requests
    assert len(fake.calls) == 9
    assert not any(conditional for _, _, conditional in fake.calls)

    # A week later nothing changed but #1 was merged and shop-web archived.
    fake.reset_calls()
    fake.repos["acme/shop"].pulls[0] = update(
        1, "2026-11-01T00:00:00Z", merged="2026-11-20T00:00:00Z"
    )
    fake.orgs["acme"][1] = org_repository("acme", "shop-web", archived=True, **security("disabled"))
    poll = poll_into(pipeline, github)
    text = served(pipeline)
    # shop-web left the coverage: shop is 1 of 1 for both features now.
    assert coverage(text, "code_scanning", **SHOP) == (1, 1)
    assert coverage(text, "secret_scanning", **SHOP) == (1, 1)
    assert value(text, "kpi_dependency_updates_open", **SHOP) == 1  # #2
    assert open_by_age(text, **SHOP) == {"1d": 1, "3d": 0, "7d": 0, "14d": 0, "30d": 0}
    assert value(text, "kpi_dependency_updates_open", **API) == 1
    # 1 listing + 3 repositories x 2 = 7 requests; conditional: the listing (changed: 200),
    # the code scanning of shop and tools (304: only a 200 carries an ETag), the pulls of
    # shop (changed: 200), api and tools (304).
    assert len(fake.calls) == 7
    conditional = sorted(
        (urlsplit(url).path, status)
        for (_, url, sent), status in zip(fake.calls, fake.statuses, strict=True)
        if sent
    )
    assert conditional == [
        ("/orgs/acme/repos", 200),
        ("/repos/acme/api/pulls", 304),
        ("/repos/acme/shop/code-scanning/alerts", 304),
        ("/repos/acme/shop/pulls", 200),
        ("/repos/acme/tools/code-scanning/alerts", 304),
        ("/repos/acme/tools/pulls", 304),
    ]
    pipeline.store.close()


def test_a_day_later_the_ages_move_without_a_poll(fake: FakeGitHub, tmp_path: Path) -> None:
    now = [NOW]
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), clock=lambda: now[0])
    poll_into(pipeline, source(fake))
    now[0] = NOW + 6 * DAY  # api #7: 14 days open; shop #2: 8 days
    text = served(pipeline)
    assert open_by_age(text, **API) == {"1d": 1, "3d": 1, "7d": 1, "14d": 0, "30d": 0}
    now[0] = NOW + 6 * DAY + 1  # 14 days and a second: older than 14d
    text = served(pipeline)
    assert open_by_age(text, **API)["14d"] == 1
    assert open_by_age(text, **SHOP) == {"1d": 2, "3d": 2, "7d": 2, "14d": 1, "30d": 0}
    pipeline.store.close()


def test_the_bots_are_configurable_and_listed_repositories_join_the_organisation(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    fake.repo("other/lib", code_scanning="analysed").pulls = [
        update(5, "2026-11-19T00:00:00Z", author="my-updater")
    ]
    pipeline = Pipeline(Store(tmp_path / "kpi.db"), clock=lambda: NOW)
    github = source(
        fake,
        org=None,
        repos=["acme/shop", "other/lib"],
        dependency_bots=["my-updater[bot]"],
        features=["code_scanning", "dependency_updates"],
    )
    poll = poll_into(pipeline, github)
    assert poll.problems == []
    text = served(pipeline)
    assert coverage(text, "code_scanning", **SHOP) == (1, 1)
    assert coverage(text, "code_scanning", **TOOLS) == (1, 1)  # other/lib: the default app
    # Only my-updater's pull requests count: other/lib #5; none of shop's.
    assert value(text, "kpi_dependency_updates_open", **TOOLS) == 1
    assert value(text, "kpi_dependency_updates_open", **SHOP) == 0
    pipeline.store.close()
