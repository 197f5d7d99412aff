"""The contract every HTTP source keeps, whatever its API (and the report sources reading URLs):
each source is built the way the exporter builds it (its registered type, from a configuration
entry), then polled against an API that answers every request the same way (``responses``):

- 5xx: retried up to the attempt limit with jittered backoff through the injected sleep, then
  the poll fails naming the status;
- 429 with ``Retry-After``: the source waits that long (through the injected sleep) first;
- a malformed answer (a proxy's HTML page): the poll fails as a SourceError, nothing else;
- a missing token: a configuration error naming the entry and the variable, at start;
- the token never shows: not in errors, logs, the health metrics.

A source without a token (OpenCost) keeps the first three.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import responses

from kpi_exporter.cli import build_sources
from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.health import Health
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources import Poll, SourceError, registry
from kpi_exporter.sources.azure_monitor import AzureMonitor
from kpi_exporter.sources.coverage import CoverageReports
from kpi_exporter.sources.datadog import Datadog
from kpi_exporter.sources.defender import Defender
from kpi_exporter.sources.github import GitHub
from kpi_exporter.sources.github_coverage import GitHubCoverage
from kpi_exporter.sources.github_issues import GitHubIssues
from kpi_exporter.sources.github_security import GitHubSecurity
from kpi_exporter.sources.gitlab import GitLab
from kpi_exporter.sources.gitlab_issues import GitLabIssues
from kpi_exporter.sources.http_json import HttpJson
from kpi_exporter.sources.jira import Jira
from kpi_exporter.sources.jsm_ops import JsmOps
from kpi_exporter.sources.linear import Linear
from kpi_exporter.sources.opencost import OpenCost
from kpi_exporter.sources.opsgenie import Opsgenie
from kpi_exporter.sources.pagerduty import PagerDuty
from kpi_exporter.sources.qualys import Qualys
from kpi_exporter.sources.scan_reports import ScanReports
from kpi_exporter.sources.snyk import Snyk
from kpi_exporter.sources.sonarqube import SonarQube
from kpi_exporter.store import SourceState
from tests.support import ts

TOKEN = "contract-s3cret-token-value"
ENV = "KPI_CONTRACT_TOKEN"
NOW = ts("2026-03-05T12:00:00Z")
CONFIG = "defaults: {app: unknown, team: unassigned}\napps:\n  shop: {team: payments}\n"
ATTEMPTS = 5  # the shared client's limit


@dataclass(frozen=True)
class Case:
    """One HTTP source: its configuration entry (``{token}``: the token reference), the
    API root every request goes to and the class the registry builds."""

    kind: str
    entry: str
    api: str
    made: type[Any]
    # How the poll's error starts for a proxy's HTML page instead of the answer ({url}: the
    # URL asked): API sources name the request, report sources the report and its format.
    malformed: str = "GET {url}: response is not valid JSON"

    def config(self, token: str = f"token_env: {ENV}") -> str:
        return CONFIG + "sources:\n  - " + self.entry.format(token=token) + "\n"


CASES = [
    Case(
        "github",
        "{{type: github, name: src, {token}, api_url: 'https://gh.test', repos: [acme/shop]}}",
        "https://gh.test",
        GitHub,
    ),
    Case(
        "github_security",
        "{{type: github_security, name: src, {token}, api_url: 'https://ghs.test',"
        " repos: [acme/shop]}}",
        "https://ghs.test",
        GitHubSecurity,
    ),
    Case(
        "github_issues",
        "{{type: github_issues, name: src, {token}, api_url: 'https://ghi.test',"
        " repos: [acme/shop]}}",
        "https://ghi.test",
        GitHubIssues,
    ),
    Case(
        "gitlab_issues",
        "{{type: gitlab_issues, name: src, {token}, api_url: 'https://gli.test/api/v4',"
        " projects: [acme/shop]}}",
        "https://gli.test/api/v4",
        GitLabIssues,
    ),
    Case(
        "github_coverage",
        "{{type: github_coverage, name: src, {token}, api_url: 'https://ghc.test',"
        " repos: [acme/shop]}}",
        "https://ghc.test",
        GitHubCoverage,
    ),
    Case(
        "gitlab",
        "{{type: gitlab, name: src, {token}, api_url: 'https://gl.test/api/v4',"
        " projects: [acme/shop]}}",
        "https://gl.test/api/v4",
        GitLab,
    ),
    Case(
        "jira",
        "{{type: jira, name: src, {token}, flavour: datacenter, api_url: 'https://jira.test',"
        " incident_jql: 'type = Incident'}}",
        "https://jira.test",
        Jira,
    ),
    Case(
        "linear",
        "{{type: linear, name: src, {token}, api_url: 'https://linear.test/graphql'}}",
        "https://linear.test/graphql",
        Linear,
        malformed="POST {url}: response is not valid JSON",
    ),
    Case(
        "pagerduty",
        "{{type: pagerduty, name: src, {token}, api_url: 'https://pd.test'}}",
        "https://pd.test",
        PagerDuty,
    ),
    Case(
        "opsgenie",
        "{{type: opsgenie, name: src, {token}, api_url: 'https://og.test'}}",
        "https://og.test",
        Opsgenie,
    ),
    Case(
        "jsm_ops",
        "{{type: jsm_ops, name: src, {token}, api_url: 'https://jsm.test', email: a@b.test,"
        " cloud_id: c1}}",
        "https://jsm.test/jsm/ops/api/c1",
        JsmOps,
    ),
    Case(
        "sonarqube",
        "{{type: sonarqube, name: src, {token}, api_url: 'https://sonar.test',"
        " projects: {{acme_shop: shop}}}}",
        "https://sonar.test",
        SonarQube,
    ),
    Case(
        "snyk",
        "{{type: snyk, name: src, {token}, api_url: 'https://snyk.test/rest', org_id: acme}}",
        "https://snyk.test/rest",
        Snyk,
    ),
    Case(
        "defender",
        "{{type: defender, name: src, {token}, api_url: 'https://defender.test',"
        " login_url: 'https://login.defender.test', tenant_id: t1, client_id: c1}}",
        "https://login.defender.test",  # the client secret buys a token first
        Defender,
        malformed="POST {url}: response is not valid JSON",
    ),
    Case(
        "qualys",
        "{{type: qualys, name: src, {token}, api_url: 'https://qualys.test', username: u}}",
        "https://qualys.test",
        Qualys,
        malformed="GET {url}: response is not valid Qualys XML",
    ),
    Case(
        "datadog",
        # The application key from a variable every process has: the contract is the API key's.
        "{{type: datadog, name: src, {token}, application_key_env: PATH,"
        " api_url: 'https://dd.test'}}",
        "https://dd.test",
        Datadog,
    ),
    Case(
        "azure_monitor",
        "{{type: azure_monitor, name: src, {token}, api_url: 'https://appinsights.test',"
        " login_url: 'https://login.azure.test', tenant_id: t1, client_id: c1,"
        " components: [{{name: web, app_id: a1, app: shop}}]}}",
        "https://login.azure.test",  # the client secret buys a token first
        AzureMonitor,
        malformed="POST {url}: response is not valid JSON",
    ),
    Case(
        "http_json",
        "{{type: http_json, name: src, {token}, url: 'https://json.test/v1/users',"
        " measures: [{{metric: users}}]}}",
        "https://json.test",
        HttpJson,
    ),
    Case(
        "coverage",
        "{{type: coverage, name: src, {token}, urls: ['https://ci.test/coverage.xml']}}",
        "https://ci.test",
        CoverageReports,
        "{url}: not a Cobertura report",
    ),
    Case(
        "scan_report",
        "{{type: scan_report, name: src, {token}, urls: ['https://ci.test/trivy.json']}}",
        "https://ci.test",
        ScanReports,
        "{url}: not valid JSON",
    ),
]
IDS = [case.kind for case in CASES]
# HTTP sources without a token: the answers' part of the contract.
TOKENLESS = [
    Case(
        "opencost",
        "{{type: opencost, name: src, api_url: 'https://opencost.test'}}",
        "https://opencost.test",
        OpenCost,
    ),
]
ANSWERED = CASES + TOKENLESS
ANSWERED_IDS = [case.kind for case in ANSWERED]


def test_every_http_source_is_a_case() -> None:
    """A new source that reads an API or report URLs joins the contract: in CASES with a
    token, in TOKENLESS without."""
    fields = {kind.name: kind.model.model_fields for kind in registry.TYPES}
    http = {name for name, f in fields.items() if {"api_url", "url", "urls"} & set(f)}
    assert {case.kind for case in ANSWERED} == http
    assert {case.kind for case in CASES} == {name for name in http if "token_env" in fields[name]}


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@dataclass
class Built:
    source: Any
    health: Health
    slept: list[float]


def build(case: Case, monkeypatch: pytest.MonkeyPatch) -> Built:
    """The source as the exporter builds it, with an injected sleep and clock."""
    monkeypatch.setenv(ENV, TOKEN)
    config = parse_config(case.config())
    health = Health()
    polled, _ = build_sources(config, Ownership(config), health)
    assert [type(source) for source in polled] == [case.made]
    source: Any = polled[0]
    slept: list[float] = []
    source.sleep = slept.append
    source.clock = lambda: NOW
    return Built(source, health, slept)


def failed_poll(
    case: Case,
    monkeypatch: pytest.MonkeyPatch,
    api: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    answer: tuple[int, str, dict[str, str]],
) -> tuple[Built, SourceError]:
    """The source of ``case`` and the error of its poll when every request gets ``answer``
    (status, body, headers); no secret shows in the error, the log or the health metrics."""
    built = build(case, monkeypatch)
    status, body, headers = answer

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "text/html", **headers}, body

    for method in (responses.GET, responses.POST):
        api.add_callback(method, re.compile(".*"), callback=callback)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as raised:
        poll: Poll = built.source.poll(SourceState())
        raise AssertionError(f"the poll succeeded: {poll}")
    assert_secret_hidden(built, str(raised.value), caplog.text)
    return built, raised.value


def assert_secret_hidden(built: Built, *texts: str) -> None:
    metrics = "".join(built.health.exposition(Counter(), openmetrics=False))
    assert 'source="src"' in metrics
    for text in (*texts, metrics):
        assert TOKEN not in text


@pytest.mark.parametrize("case", ANSWERED, ids=ANSWERED_IDS)
def test_a_5xx_is_retried_to_the_limit_then_fails_the_poll_naming_the_status(
    case: Case, monkeypatch: pytest.MonkeyPatch, api: responses.RequestsMock, caplog
) -> None:
    built, error = failed_poll(case, monkeypatch, api, caplog, (503, "Service Unavailable", {}))

    assert "503" in str(error) and f"after {ATTEMPTS} attempts" in str(error)
    first = api.calls[0].request.url
    assert first is not None and first.startswith(case.api)
    assert [call.request.url for call in api.calls[:ATTEMPTS]] == [first] * ATTEMPTS
    assert len(built.slept) >= ATTEMPTS - 1
    backoff = built.slept[: ATTEMPTS - 1]  # 1, 2, 4, 8 s, each x 0.5..1.5
    assert all(0.5 * 2**i <= wait <= 1.5 * 2**i for i, wait in enumerate(backoff)), backoff
    assert built.health.api_requests[("src", "503")] >= ATTEMPTS


@pytest.mark.parametrize("case", ANSWERED, ids=ANSWERED_IDS)
def test_a_429_waits_for_retry_after_through_the_injected_sleep(
    case: Case, monkeypatch: pytest.MonkeyPatch, api: responses.RequestsMock, caplog
) -> None:
    answer = (429, "Too Many Requests", {"Retry-After": "7"})
    built, error = failed_poll(case, monkeypatch, api, caplog, answer)

    assert "HTTP 429" in str(error) and built.slept[0] == 7.0
    assert built.health.api_requests[("src", "429")] >= 1


@pytest.mark.parametrize("case", ANSWERED, ids=ANSWERED_IDS)
def test_a_malformed_answer_fails_the_poll_as_a_source_error(
    case: Case, monkeypatch: pytest.MonkeyPatch, api: responses.RequestsMock, caplog
) -> None:
    _, error = failed_poll(case, monkeypatch, api, caplog, (200, "<html>proxy error</html>", {}))

    first = urlsplit(api.calls[0].request.url or "")
    url = f"{first.scheme}://{first.netloc}{first.path}"
    assert str(error).startswith(case.malformed.format(url=url))
    assert "?" not in str(error)  # the query string is left out of errors


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_missing_token_is_a_configuration_error_naming_the_entry(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    config = parse_config(case.config())

    with pytest.raises(ConfigError) as raised:
        build_sources(config, Ownership(config))

    problem = f"sources[src]: environment variable {ENV} is not set or empty"
    assert raised.value.problems == [problem]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_missing_token_file_is_a_configuration_error_naming_the_entry(case: Case) -> None:
    config = parse_config(case.config("token_file: /nonexistent/token"))

    with pytest.raises(ConfigError, match=r"sources\[src\]: cannot read secret file /nonexistent"):
        build_sources(config, Ownership(config))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_token_file_that_vanishes_fails_the_poll_not_the_process(
    case: Case, monkeypatch: pytest.MonkeyPatch, tmp_path, caplog
) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    config = parse_config(case.config(f"token_file: '{secret}'"))
    (source,), _ = build_sources(config, Ownership(config))
    secret.unlink()

    with pytest.raises(SourceError, match=r"sources\[src\]: cannot read secret file") as raised:
        source.poll(SourceState())
    assert TOKEN not in str(raised.value)
