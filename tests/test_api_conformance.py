"""The exporter speaks the vendors' APIs as their own descriptions define them
(``../shared/real-data/api-specs/``), and the fakes the other tests use answer as those
descriptions say.

- GraphQL: every document the GitHub source can send (each combination of the connections
  it reads in one query) validates against GitHub's public schema (graphql-core), and so do
  the documents and variables a poll against the fake actually sends.
- REST: each source polls its fake (the fake of its own test module) with every request
  recorded: the method and path must be an operation of the vendor's description, each query
  parameter one it declares (value within its enum, integer, maximum), a JSON request body
  must fit its schema, each payload the fake answered must use only fields of the response
  schema with their types, and every field the source looked up in an answer (present or
  not) must exist in that schema.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from graphql import GraphQLSchema, build_schema, parse, validate
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode

# The registry before the GitHub package, which it loads (importing the package first is a
# circular import).
import kpi_exporter.sources.registry  # noqa: F401
from kpi_exporter.sources.github import queries
from kpi_exporter.sources.github_issues import issues_query as ghi_query
from kpi_exporter.sources.http import HttpClient, Response
from kpi_exporter.store import SourceState
from tests import test_github as gh
from tests import test_github_coverage as cov
from tests import test_github_issues as ghi
from tests import test_github_security as sec
from tests import test_jira as jira
from tests import test_jsm_ops as jsm
from tests import test_opsgenie as og
from tests import test_pagerduty as pd
from tests.alerts_fake import API_OPEN, CHECKOUT, UNMAPPED
from tests.api_specs import (
    Spec,
    dotted,
    has_field,
    parameter_problems,
    problems,
    spec,
    specs_dir,
    watched,
)
from tests.github_fake import FakeGitHub, labeled, org_repository, work_issue, workflow_run


@cache
def github_schema() -> GraphQLSchema:
    path = specs_dir() / "github-schema.graphql"
    return build_schema(path.read_text(), assume_valid=True)


def graphql_problems(query: str, variables: dict[str, Any]) -> list[str]:
    """Validation errors of the document, then of its variables' values."""
    schema = github_schema()
    document = parse(query)
    errors = [error.message for error in validate(schema, document)]
    if errors:
        return errors
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    return [error.message for error in coerced] if isinstance(coerced, list) else []


CONNECTIONS = (
    queries.PULL_REQUESTS,
    queries.HISTORY,
    queries.DEPLOYMENTS,
    queries.RELEASES,
    queries.TAGS,
    queries.ISSUES,
)
VALUES = {
    "historySince": "2026-01-01T00:00:00Z",
    "issueLabels": ["incident", "bug"],
    "issuesSince": "2026-01-01T00:00:00Z",
}


def test_every_graphql_document_the_github_source_can_send_validates_against_github_schema():
    # 6 connections: 2**6 - 1 = 63 non-empty combinations, each also on a second page.
    checked = 0
    for size in range(1, len(CONNECTIONS) + 1):
        for combination in itertools.combinations(CONNECTIONS, size):
            for after in (None, "Y3Vyc29yOnYyOjEwMA=="):
                wanted = [(queries.Want(c, VALUES), after) for c in combination]
                query, variables = queries.build_query(wanted)
                variables.update(owner="acme", name="shop")
                names = [c.name for c in combination]
                assert graphql_problems(query, variables) == [], names
                checked += 1
    assert checked == 63 * 2


def test_an_invalid_document_is_caught_by_the_schema_check():
    # The check itself: a field Repository does not have, and a variable of the wrong type.
    assert graphql_problems('query { repository(owner: "a", name: "b") { colour } }', {}) == [
        "Cannot query field 'colour' on type 'Repository'."
    ]
    query, variables = queries.build_query([(queries.Want(queries.ISSUES, VALUES), None)])
    variables.update(owner="acme", name="shop", issueLabels=[12])
    assert graphql_problems(query, variables) != []


# --- REST: recording what a poll sends and reads ----------------------------------------------


@dataclass
class Call:
    response: Response
    sent: bytes | None
    read: set[tuple[str, ...]] = field(default_factory=set)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Call]]:
    """Every response the HTTP client got, with the request body it sent and the fields the
    source looked up in its JSON."""
    calls: list[Call] = []
    request = HttpClient.request
    decode = Response.json

    def recording(self: HttpClient, method: str, url: str, **kwargs: Any) -> Response:
        response = request(self, method, url, **kwargs)
        calls.append(Call(response, kwargs.get("data")))
        return response

    def reading(self: Response) -> Any:
        value = decode(self)
        call = next(c for c in reversed(calls) if c.response is self)
        return watched(value, (), call.read)

    monkeypatch.setattr(HttpClient, "request", recording)
    monkeypatch.setattr(Response, "json", reading)
    yield calls


# Operations the exporter calls that the stored subsets did not cut out: only their path is
# checked (it is in the description's list of every path). The tag refs list answers
# ``[{ref, node_id, url, object: {sha, type, url}}]`` in GitHub's reference.
NOT_CUT_OUT = frozenset({"/repos/{owner}/{repo}/git/matching-refs/{ref}"})


def conformance(calls: list[Call], described: Spec, root: str) -> list[str]:
    """What in the recorded calls the description does not have."""
    found: list[str] = []
    prefix = urlsplit(root).path.rstrip("/")
    for call in calls:
        response = call.response
        parts = urlsplit(response.url)
        path = parts.path.removeprefix(prefix)
        where = f"{response.method} {path}"
        operation = described.operation(response.method, path)
        if operation is None:
            if any(described.has_path(path, template) for template in NOT_CUT_OUT):
                continue
            known = "described but not cut out" if described.has_path(path) else "no such path"
            found.append(f"{where}: not an operation of {described.name} ({known})")
            continue
        found += [f"{where}: {p}" for p in parameter_problems(operation, parse_qsl(parts.query))]
        body = operation.spec.get("requestBody")
        if call.sent is not None and isinstance(body, dict):
            sent = json.loads(call.sent)
            found += [f"{where} request body: {p}" for p in problems(sent, body)]
        schema = operation.response(response.status)
        if response.status == 304:
            continue
        if schema is None:
            found.append(f"{where}: status {response.status} is not described")
            continue
        if response.body:
            payload = json.loads(response.body)
            found += [f"{where} answer: {p}" for p in problems(payload, schema)]
        for read in sorted(call.read):
            if not has_field(schema, read):
                found.append(f"{where}: reads {dotted(read)}, which the answer does not have")
    return found


def conforms(calls: list[Call], described: Spec, root: str) -> None:
    found = conformance(calls, described, root)
    assert not found, f"{len(found)} problems:\n" + "\n".join(found)


def test_the_check_finds_an_invented_field_a_bad_parameter_and_an_unknown_path():
    pagerduty = spec("pagerduty-rest-subset")
    operation = pagerduty.operation("GET", "/incidents")
    assert operation is not None
    assert parameter_problems(operation, [("sort_by", "created_at:asc"), ("limit", "100")]) == []
    assert parameter_problems(operation, [("colour", "red")]) == [
        "query parameter 'colour' is not declared"
    ]
    schema = operation.response(200)
    assert schema is not None
    assert problems({"incidents": [{"id": "P1", "status": "resolved"}]}, schema) == []
    assert problems({"incidents": [{"id": "P1", "description": "x"}]}, schema) == [
        "$.incidents[0].description: no such field"
    ]
    assert problems({"incidents": [{"id": "P1", "status": "gone"}]}, schema) != []
    assert not has_field(schema, ("incidents", "[]", "description"))
    assert has_field(schema, ("incidents", "[]", "service", "summary"))
    assert pagerduty.operation("GET", "/nowhere") is None


# --- each source against its fake --------------------------------------------------------------


def test_the_github_source_and_its_fake_follow_github_s_descriptions(recorded, monkeypatch):
    # Token auth with each deployment signal; then App auth over an organisation's listing
    # with workflow runs as the signal, so that every operation the source calls is sent.
    monkeypatch.setenv(gh.KEY_ENV, gh.pkcs8(gh.app_key()))
    monkeypatch.setenv(gh.TOKEN_ENV, gh.TOKEN)
    clock = gh.Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeGitHub(clock=clock)
        fake.register_on(mock)
        gh.shop_and_search(fake)
        fake.orgs["acme"] = [org_repository("acme", "shop"), org_repository("acme", "search")]
        fake.repos["acme/shop"].runs = [
            workflow_run(9001, "s2", "2026-03-03T16:00:00Z", "2026-03-03T16:30:00Z")
        ]
        for signal in ("deployments", "releases", "tags"):
            assert gh.source(fake, clock, deploy_signal=signal).poll(SourceState()).problems == []
        app = {"app_id": 12345, "installation_id": 678, "private_key_env": gh.KEY_ENV}
        github = gh.source(
            fake, clock, app=app, org="acme", deploy_signal="workflow_runs", workflow="deploy.yml"
        )
        assert github.poll(SourceState()).problems == []
        graphql = list(fake.queries)
    rest = [c for c in recorded if not c.response.url.endswith("/graphql")]
    # the last segment of each path (``tags`` is git/matching-refs/tags)
    sent = {(c.response.method, urlsplit(c.response.url).path.rsplit("/", 1)[-1]) for c in rest}
    assert sent == {
        ("GET", name)
        for name in ("pulls", "commits", "deployments", "releases", "tags", "issues", "runs")
    } | {("GET", "repos"), ("POST", "access_tokens")}
    for name in ("github-rest-subset", "github-ghes-3.17-rest-subset"):
        conforms(rest, spec(name), fake.api)
    assert graphql, "the polls sent no GraphQL query"
    for payload in graphql:
        assert graphql_problems(payload["query"], payload["variables"]) == []


def test_the_pagerduty_source_and_its_fake_follow_pagerduty_s_description(
    recorded, monkeypatch, tmp_path
):
    monkeypatch.setenv("PD_TOKEN", pd.TOKEN)
    with responses.mock:
        fake = pd.FakePagerDuty()
        pd.serve(fake)
        source = pd.pagerduty()
        poll = source.poll(SourceState())
        assert poll.problems == []
    paths = {urlsplit(c.response.url).path for c in recorded}
    assert paths == {"/incidents", "/incidents/PABC1/log_entries"}
    conforms(recorded, spec("pagerduty-rest-subset"), pd.API)


def test_the_opsgenie_source_and_its_fake_follow_opsgenie_s_description(recorded, monkeypatch):
    monkeypatch.setenv("OPSGENIE_KEY", og.KEY)
    with responses.mock:
        fake = og.FakeOpsgenie()
        fake.add(CHECKOUT, API_OPEN, UNMAPPED)
        assert og.opsgenie().poll(SourceState()).problems == []
    assert recorded
    conforms(recorded, spec("opsgenie-subset"), og.API)


def test_the_jsm_ops_fake_s_alerts_have_opsgenie_s_alert_fields(monkeypatch):
    """No description of the Jira Service Management ops API is stored; Atlassian keeps
    Opsgenie's alert fields there, so the JSM fake's alerts are held to Opsgenie's alert
    schema (in Opsgenie's envelope), the top-level times seen in JSM answers apart."""
    monkeypatch.setenv("JSM_TOKEN", jsm.TOKEN)
    with responses.mock:
        fake = jsm.FakeJsmOps()
        fake.add(CHECKOUT, API_OPEN, UNMAPPED)
        params = {"query": fake.query, "sort": "updatedAt", "order": "desc"}
        answer = requests.get(fake.url, params={**params, "offset": "0", "size": "100"}, timeout=5)
    operation = spec("opsgenie-subset").operation("GET", "/v2/alerts")
    schema = None if operation is None else operation.response(200)
    assert schema is not None
    envelope = {"data": answer.json()["values"], "requestId": "r", "took": 0.1}
    assert len(envelope["data"]) == 3 and problems(envelope, schema) == []


def test_the_jira_cloud_source_and_its_fake_follow_jira_s_description(recorded, monkeypatch):
    monkeypatch.setenv("JIRA_TOKEN", jira.TOKEN)
    with responses.mock:
        fake = jira.FakeJira(jira.CLOUD, "cloud")
        jira.serve_all(fake)
        assert jira.jira(jira.CLOUD, "cloud").poll(SourceState()).problems == []
    assert {urlsplit(c.response.url).path for c in recorded} == {
        "/rest/api/3/status",
        "/rest/api/3/search/jql",
    }
    conforms(recorded, spec("jira-cloud-v3-subset"), jira.CLOUD)


def test_the_github_security_source_follows_github_s_descriptions(recorded, monkeypatch):
    # The three alert lists of a repository and of an organisation, with payloads as the
    # security source's own tests write them.
    monkeypatch.setenv("GH_TOKEN", "ghp-s3cret")
    base = {"created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"}
    code = [{"number": 1, "state": "open", "rule": {"security_severity_level": "high"}, **base}]
    secrets = [{"number": 7, "state": "resolved", "resolution": "revoked", **base}]
    shop: dict[str, Any] = {"repository": {"full_name": "acme/shop"}}
    with responses.RequestsMock() as mock:
        for root, extra in ((sec.REPO, {}), (f"{sec.API}/orgs/acme", shop)):
            mock.get(f"{root}/dependabot/alerts", json=[{**sec.dependabot(1), **extra}])
            mock.get(f"{root}/code-scanning/alerts", json=[{**code[0], **extra}])
            mock.get(f"{root}/secret-scanning/alerts", json=[{**secrets[0], **extra}])
        alerts = ["dependabot", "code_scanning", "secret_scanning"]
        assert sec.source(alerts=alerts).poll(SourceState()).problems == []
        assert sec.source(alerts=alerts, repos=[], org="acme").poll(SourceState()).problems == []
    assert len(recorded) == 6
    for name in ("github-rest-subset", "github-ghes-3.17-rest-subset"):
        conforms(recorded, spec(name), sec.API)


def test_the_github_issues_source_and_its_fake_follow_github_s_descriptions(recorded, monkeypatch):
    # The repositories of an organisation, each repository's issue list, a page of issues with
    # their Projects status and an issue's further timeline events: every call the source makes.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeGitHub(clock=lambda: ghi.NOW)
        fake.register_on(mock)
        flips = [labeled(f"2026-03-07T00:{m:02d}:00Z", "blocked") for m in range(60)]
        shop = fake.repo("acme/shop")
        shop.issues = [
            ghi.REOPENED,
            ghi.ON_THE_BOARD,
            work_issue(9, "2026-03-07T00:00:00Z", [], flips * 2),
        ]
        shop.pulls = [ghi.PULL]
        fake.orgs["acme"] = [org_repository("acme", "shop")]
        assert ghi.source(monkeypatch, repos=[], org="acme").poll(SourceState()).problems == []
        graphql = list(fake.queries)
    rest = [c for c in recorded if not c.response.url.endswith("/graphql")]
    assert {urlsplit(c.response.url).path for c in rest} == {
        "/orgs/acme/repos",
        "/repos/acme/shop/issues",
    }
    for name in ("github-rest-subset", "github-ghes-3.17-rest-subset"):
        conforms(rest, spec(name), fake.api)
    assert len(graphql) == 2  # the issues, then the 120-event issue's second page
    for payload in graphql:
        assert graphql_problems(payload["query"], payload["variables"]) == []
    # and the document without the Projects field
    plain = ghi_query(None)
    assert graphql_problems(plain, {"owner": "a", "name": "b", "since": None, "after": None}) == []


def test_the_github_coverage_source_and_its_fake_follow_github_s_descriptions(
    recorded, monkeypatch
):
    # The organisation's listing with security_and_analysis, code scanning alerts and open
    # pull requests of each repository (every repository analysed: the descriptions hold the
    # 200 answers only).
    monkeypatch.setenv(cov.TOKEN_ENV, "ghp-coverage-s3cret")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeGitHub()
        fake.register_on(mock)
        fake.orgs["acme"] = [org_repository("acme", "shop", **cov.security("enabled"))]
        shop = fake.repo("acme/shop", code_scanning="analysed")
        shop.pulls = [cov.update(1, "2026-11-01T00:00:00Z")]
        assert cov.source(fake).poll(SourceState()).problems == []
    paths = {urlsplit(c.response.url).path for c in recorded}
    assert paths == {
        "/orgs/acme/repos",
        "/repos/acme/shop/code-scanning/alerts",
        "/repos/acme/shop/pulls",
    }
    for name in ("github-rest-subset", "github-ghes-3.17-rest-subset"):
        conforms(recorded, spec(name), fake.api)
