"""The azure_monitor source against a fake Application Insights query API
(tests/azure_monitor_fake.py): availability, failed request rate and p95 response time per
component, its SLOs (availability, success, latency) with the error budget left, a budget that
runs out, components without requests or tests, the window, throttling; exact values on
/metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.pipeline import Pipeline
from kpi_exporter.store import SourceState, Store
from tests.azure_monitor_fake import (
    API,
    CLIENT,
    LOGIN,
    SECRET,
    SHOP_ID,
    SHOP_WEB,
    TENANT,
    FakeApplicationInsights,
    Telemetry,
    error,
    requests_at,
)
from tests.findings_fixtures import NOW
from tests.support import built_source, installed, poll_error, poll_into, served, value

APPS = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments}
  api: {team: platform}
"""
DAY = 86400.0
GATEWAY_ID = "11111111-0000-4000-8000-00000000a002"
SHOP = {"app": "shop", "team": "payments"}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)


@pytest.fixture
def insights() -> Iterator[FakeApplicationInsights]:
    yield from installed(FakeApplicationInsights())


def settings(**fields: Any) -> dict[str, Any]:
    return {
        "type": "azure_monitor",
        "name": "azure",
        "token_env": "AZURE_CLIENT_SECRET",
        "api_url": API,
        "login_url": LOGIN,
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "components": [
            SHOP_WEB,
            {"name": "gateway", "app_id": GATEWAY_ID, "app": "api"},
        ],
        **fields,
    }


def source(clock: list[float], **fields: Any) -> Any:
    return built_source(settings(**fields), APPS, clock=lambda: clock[0])


def slo(text: str, family: str, name: str) -> float:
    return value(text, family, slo=name, window="30d", **SHOP)


def test_component_values_and_slos_and_a_budget_that_runs_out(
    insights: FakeApplicationInsights, tmp_path: Path
) -> None:
    shop = Telemetry(
        # 2,000 requests ten days ago: 1,950 at 120 ms, 50 at 900 ms, 5 failed; and one
        # failed slow request 31 days ago, outside the 30-day window.
        requests=[*requests_at(NOW - 10 * DAY, 1950, 50, 5), (NOW - 31 * DAY, 900.0, False)],
        # 400 availability tests, 399 passed.
        availability=[(NOW - DAY, index > 0) for index in range(400)],
    )
    gateway = Telemetry(
        requests=[(NOW - DAY, ms, ms != 300.0) for ms in (200.0, 300.0, 400.0, 1000.0)]
    )
    insights.components = {SHOP_ID: shop, GATEWAY_ID: gateway}
    clock = [NOW]
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: clock[0])
    polled = source(clock)

    first = poll_into(pipeline, polled)

    # One token, then one query per component over the 30 days ending now.
    span = "2026-10-21T00:00:00Z/2026-11-20T00:00:00Z"
    assert insights.seen == [
        f"POST /{TENANT}/oauth2/v2.0/token",
        f"POST /v1/apps/{SHOP_ID}/query {span}",
        f"POST /v1/apps/{GATEWAY_ID}/query {span}",
    ]
    assert first.problems == ["component gateway: no availability tests over the last 30d"]
    text = served(pipeline)
    web = {"component": "shop-web", "window": "30d", **SHOP}
    assert value(text, "kpi_component_availability_ratio", **web) == 0.9975  # 399 / 400
    assert value(text, "kpi_component_failed_requests_ratio", **web) == 0.0025  # 5 / 2000
    # Nearest rank ceil(0.95 * 2000) = 1900 of the sorted durations: 120 ms.
    assert value(text, "kpi_component_response_time_seconds", percentile="95", **web) == 0.12
    gw = {"component": "gateway", "window": "30d", "app": "api", "team": "platform"}
    assert value(text, "kpi_component_failed_requests_ratio", **gw) == 0.25  # 1 / 4
    # ceil(0.95 * 4) = 4th of 200, 300, 400, 1000 ms.
    assert value(text, "kpi_component_response_time_seconds", percentile="95", **gw) == 1.0
    assert "kpi_component_availability_ratio{" + 'app="api"' not in text
    # The SLOs, as Datadog's: objective, SLI, budget left = 1 - (100 - 100 SLI) / (100 - obj).
    assert slo(text, "kpi_slo_objective_ratio", "shop-web availability") == 0.995
    assert slo(text, "kpi_slo_sli_ratio", "shop-web availability") == 0.9975
    # 1 - 0.25 / 0.5: availability (1 of 400 failed) and success (5 of 2000 failed).
    assert slo(text, "kpi_slo_error_budget_remaining_ratio", "shop-web availability") == 0.5
    assert slo(text, "kpi_slo_error_budget_remaining_ratio", "shop-web success") == 0.5
    # Latency: 1950 of 2000 within 500 ms = 0.975; 1 - 2.5 / 5.
    assert slo(text, "kpi_slo_sli_ratio", "shop-web latency") == 0.975
    assert slo(text, "kpi_slo_error_budget_remaining_ratio", "shop-web latency") == 0.5
    assert 'slo="gateway' not in text  # no objective configured

    # An hour later 2,000 more requests: 1,750 fast, 250 slow, 25 failed. 4,000 in all,
    # 30 failed, 3,700 fast: the success and latency budgets run out.
    shop.requests += requests_at(NOW + 1800, 1750, 250, 25)
    clock[0] = NOW + 3600
    poll_into(pipeline, polled)
    text = served(pipeline)
    assert insights.seen[-2:] == [
        f"POST /v1/apps/{SHOP_ID}/query 2026-10-21T01:00:00Z/2026-11-20T01:00:00Z",
        f"POST /v1/apps/{GATEWAY_ID}/query 2026-10-21T01:00:00Z/2026-11-20T01:00:00Z",
    ]  # the token is kept: no second sign-in
    # 1 - (100 * 30 / 4000) / 0.5 = 1 - 0.75 / 0.5
    assert slo(text, "kpi_slo_error_budget_remaining_ratio", "shop-web success") == -0.5
    # 1 - (100 * 300 / 4000) / 5 = 1 - 7.5 / 5
    assert slo(text, "kpi_slo_error_budget_remaining_ratio", "shop-web latency") == -0.5
    assert value(text, "kpi_component_failed_requests_ratio", **web) == 0.0075  # 30 / 4000
    # ceil(0.95 * 4000) = 3800th: past the 3,700 fast ones, 900 ms.
    assert value(text, "kpi_component_response_time_seconds", percentile="95", **web) == 0.9
    assert slo(text, "kpi_slo_error_budget_remaining_ratio", "shop-web availability") == 0.5


def test_a_component_without_requests_is_a_problem_and_its_tests_count(
    insights: FakeApplicationInsights,
) -> None:
    insights.components = {
        SHOP_ID: Telemetry(availability=[(NOW - DAY, True), (NOW - DAY, False)]),
        GATEWAY_ID: Telemetry(requests=[(NOW - DAY, 100.0, True)]),
    }
    poll = source([NOW]).poll(SourceState())

    assert poll.problems == [
        "component shop-web: no requests over the last 30d",
        "component gateway: no availability tests over the last 30d",
    ]
    values = {(e.key, e.value) for e in poll.events}
    assert ("azure_monitor/shop-web/availability", 0.5) in values
    # Only the availability SLO has an SLI: 1 - (100 * 1 / 2) / 0.5 = -99.
    assert ("azure_monitor/shop-web/availability/budget", -99.0) in values
    assert not any(key.startswith("azure_monitor/shop-web/success") for key, _ in values)


def test_throttling_is_waited_out_from_retry_after(insights: FakeApplicationInsights) -> None:
    insights.components = {
        SHOP_ID: Telemetry(requests=[(NOW - DAY, 100.0, True)]),
        GATEWAY_ID: Telemetry(requests=[(NOW - DAY, 100.0, True)]),
    }
    throttled = error(429, "ThrottledError", "Too many requests", {"Retry-After": "12"})
    insights.queued.append(throttled)
    slept: list[float] = []
    polled = source([NOW])
    polled.sleep = slept.append

    poll = polled.poll(SourceState())

    assert slept == [12.0]
    # Failed rate and p95 of each; objective, SLI and budget of shop-web's success and latency.
    assert len(poll.events) == 2 * 2 + 2 * 3


def test_a_wrong_secret_names_entra_ids_error_and_an_unknown_component_the_api_error(
    insights: FakeApplicationInsights, monkeypatch: pytest.MonkeyPatch
) -> None:
    insights.components = {GATEWAY_ID: Telemetry()}
    assert poll_error(source([NOW])) == (
        f"POST {API}/v1/apps/{SHOP_ID}/query: HTTP 404 (The requested path does not exist:"
        f" {SHOP_ID})"
    )
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "revoked")
    assert poll_error(source([NOW])) == (
        f"POST {LOGIN}/{TENANT}/oauth2/v2.0/token: HTTP 401 (AADSTS7000215: Invalid client"
        " secret provided.)"
    )


def test_a_revoked_token_is_bought_again_at_the_next_poll(
    insights: FakeApplicationInsights,
) -> None:
    insights.components = {
        SHOP_ID: Telemetry(requests=[(NOW - DAY, 100.0, True)]),
        GATEWAY_ID: Telemetry(requests=[(NOW - DAY, 100.0, True)]),
    }
    polled = source([NOW])
    polled.poll(SourceState())
    insights.tokens.clear()

    assert poll_error(polled).endswith("HTTP 401 (Valid authentication was not provided)")
    polled.poll(SourceState())
    assert insights.issued == 2


def test_an_answer_without_the_summary_columns_fails_the_poll_naming_them(
    insights: FakeApplicationInsights,
) -> None:
    insights.components = {SHOP_ID: Telemetry(), GATEWAY_ID: Telemetry()}
    table = {"name": "PrimaryResult", "columns": [{"name": "total", "type": "long"}], "rows": [[0]]}
    insights.queued.append(
        (200, {"Content-Type": "application/json"}, json.dumps({"tables": [table]}))
    )
    assert poll_error(source([NOW])) == (
        f"POST {API}/v1/apps/{SHOP_ID}/query: expected one row with the columns total, failed,"
        " fast, p95, tests, passed (missing failed, fast, p95, tests, passed)"
    )
