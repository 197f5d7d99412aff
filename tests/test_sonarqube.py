"""The SonarQube source against a fake Web API (``responses``) whose payloads follow
``GET /api/measures/component``: gauges per app, conditional requests, tokens, bad answers."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.model import Event, Gauge
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.sonarqube import SonarQube
from kpi_exporter.store import SourceState
from tests.support import SHOP_AND_BILLING, exposition, source_with_secret, ts, values

API = "https://sonar.example.test"
MEASURES = f"{API}/api/measures/component"
TOKEN = "squ_s3cret-token-value"
NOW = ts("2026-01-10T00:00:00Z")
CONFIG = SHOP_AND_BILLING


def answer(key: str, **values: str) -> dict[str, Any]:
    """A measures/component answer, with a new-code-only measure (no ``value``) besides."""
    measures = [
        {"metric": metric, "value": text, "bestValue": False} for metric, text in values.items()
    ]
    measures.append({"metric": "new_bugs", "periods": [{"index": 1, "value": "2"}]})
    return {"component": {"key": key, "name": key, "qualifier": "TRK", "measures": measures}}


def sonarqube(monkeypatch: pytest.MonkeyPatch, **config: Any) -> SonarQube:
    settings: dict[str, Any] = {"type": "sonarqube", "name": "sonar", "token_env": "SONAR_TOKEN"}
    settings |= {"api_url": API, "projects": {"acme_shop": "shop"}, **config}
    source: SonarQube = source_with_secret(monkeypatch, TOKEN, settings, CONFIG, clock=lambda: NOW)
    return source


def gauges(events: list[Event]) -> dict[tuple[str, str], float]:
    found = {}
    for event in events:
        assert isinstance(event, Gauge)
        found[(event.app, event.name)] = event.value
    return found


@responses.activate
def test_measures_become_gauges_of_the_app_and_a_304_keeps_them(monkeypatch):
    responses.get(
        MEASURES,
        json=answer(
            "acme_shop",
            sqale_debt_ratio="2.5",
            coverage="81.0",
            bugs="3",
            code_smells="120",
            vulnerabilities="1",
        ),
        headers={"ETag": '"m1"'},
    )
    responses.get(MEASURES, status=304)
    source = sonarqube(monkeypatch)

    first = source.poll(SourceState())
    second = source.poll(SourceState(validators=first.validators))

    # Percentages become ratios (0..1); counts stay counts; new-code measures are left out.
    assert gauges(first.events) == {
        ("shop", "sonarqube_debt_ratio"): 0.025,
        ("shop", "sonarqube_coverage_ratio"): 0.81,
        ("shop", "sonarqube_bugs"): 3,
        ("shop", "sonarqube_code_smells"): 120,
        ("shop", "sonarqube_vulnerabilities"): 1,
    }
    assert second.events == []
    query = parse_qs(urlsplit(str(responses.calls[0].request.url)).query)
    assert query == {
        "component": ["acme_shop"],
        "metricKeys": ["sqale_debt_ratio,coverage,bugs,code_smells,vulnerabilities"],
    }
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert responses.calls[1].request.headers["If-None-Match"] == '"m1"'

    text = exposition(first.events)
    expected = {
        "kpi_sonarqube_debt_ratio": 0.025,
        "kpi_sonarqube_coverage_ratio": 0.81,
        "kpi_sonarqube_bugs": 3,
        "kpi_sonarqube_code_smells": 120,
        "kpi_sonarqube_vulnerabilities": 1,
    }
    assert values(text, expected, app="shop", team="payments") == expected


@responses.activate
def test_basic_auth_sends_the_token_as_the_user_name(monkeypatch):
    responses.get(MEASURES, json=answer("acme_shop", bugs="0"))

    sonarqube(monkeypatch, auth="basic").poll(SourceState())

    expected = base64.b64encode(f"{TOKEN}:".encode()).decode()
    assert responses.calls[0].request.headers["Authorization"] == f"Basic {expected}"


@responses.activate
def test_an_answer_of_another_shape_fails_the_poll(monkeypatch):
    responses.get(MEASURES, json={"errors": [{"msg": "odd"}]})

    with pytest.raises(SourceError, match=r"project acme_shop: expected component\.measures"):
        sonarqube(monkeypatch).poll(SourceState())


@responses.activate
def test_a_missing_project_is_a_problem_and_the_others_count(monkeypatch):
    responses.get(
        MEASURES,
        status=404,
        json={"errors": [{"msg": "Component key 'acme_gone' not found"}]},
        match=[
            responses.matchers.query_param_matcher({"component": "acme_gone"}, strict_match=False)
        ],
    )
    responses.get(MEASURES, json=answer("acme_billing", bugs="4"))
    source = sonarqube(monkeypatch, projects={"acme_gone": "shop", "acme_billing": "billing"})

    poll = source.poll(SourceState())

    assert gauges(poll.events) == {("billing", "sonarqube_bugs"): 4}
    assert poll.problems == ["project acme_gone: not found (or not visible to the token)"]


def test_two_projects_of_one_app_are_refused():
    with pytest.raises(ConfigError, match="one project per app: shop named more than once"):
        parse_config("sources: [{type: sonarqube, name: sonar, projects: {a: shop, b: shop}}]")
