"""The datadog source against a fake Datadog SLO API (tests/datadog_fake.py): objective, SLI
and error budget left per SLO, SLOs mapped to apps, an SLO whose budget runs out, SLOs without
a threshold of the window or without data, rate limits; exact values on /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.cli import build_sources
from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.store import SourceState, Store
from tests.datadog_fake import (
    API,
    API_KEY,
    APPLICATION_KEY,
    FakeDatadog,
    monitor,
    rate_limit,
    slo,
)
from tests.findings_fixtures import NOW
from tests.support import built_source, installed, poll_error, poll_into, served, value

APPS = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments}
  api: {team: platform, services: [api-gw]}
"""
WINDOW = 30 * 86400


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DD_API_KEY", API_KEY)
    monkeypatch.setenv("DD_APP_KEY", APPLICATION_KEY)


@pytest.fixture
def datadog() -> Iterator[FakeDatadog]:
    yield from installed(FakeDatadog())


def settings(**fields: Any) -> dict[str, Any]:
    return {
        "type": "datadog",
        "name": "datadog",
        "token_env": "DD_API_KEY",
        "application_key_env": "DD_APP_KEY",
        "api_url": API,
        "slos": {"Search*": "api"},
        **fields,
    }


def source(clock: list[float], **fields: Any) -> Any:
    return built_source(settings(**fields), APPS, clock=lambda: clock[0])


def slo_value(text: str, family: str, slo_name: str) -> float:
    return value(text, family, slo=slo_name, window="30d")


def test_objective_sli_and_budget_per_slo_and_a_budget_that_runs_out(
    datadog: FakeDatadog, tmp_path: Path
) -> None:
    datadog.slos = [
        slo("s1", "Checkout availability", {"30d": 99.5, "7d": 99.9}, ["app:shop", "env:prod"]),
        slo("s2", "Gateway latency", {"30d": 99.0}, ["service:api-gw"]),
        slo("s3", "Search uptime", {"30d": 99.5}, []),
        slo("s4", "Batch freshness", {"7d": 99.0}, ["app:shop"]),  # no 30d threshold
        slo("s5", "New SLO", {"30d": 99.9}, ["app:shop"]),  # no data yet
    ]
    datadog.sli = {"s1": 99.75, "s2": 99.75, "s3": 99.25, "s5": None}
    clock = [NOW]
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: clock[0])
    polled = source(clock)

    first = poll_into(pipeline, polled)

    # The list, then the history of each SLO with a 30d threshold (s1, s2, s3, s5).
    assert len(datadog.seen) == 1 + 4
    assert datadog.seen[1] == f"/api/v1/slo/s1/history?from_ts={int(NOW) - WINDOW}&to_ts={int(NOW)}"
    assert first.problems == [
        "SLO Batch freshness: no 30d threshold with a target under 100",
        "SLO New SLO: no SLI over the last 30d (no data yet)",
    ]
    text = served(pipeline)
    shop = {"app": "shop", "team": "payments"}
    assert value(text, "kpi_slo_objective_ratio", slo="Checkout availability", **shop) == 0.995
    assert value(text, "kpi_slo_sli_ratio", slo="Checkout availability", **shop) == 0.9975
    # 1 - (100 - 99.75) / (100 - 99.5) = 1 - 0.25 / 0.5
    assert slo_value(text, "kpi_slo_error_budget_remaining_ratio", "Checkout availability") == 0.5
    # Gateway latency: the service tag is api's; 1 - 0.25 / 1.0.
    api = {"app": "api", "team": "platform"}
    assert value(text, "kpi_slo_error_budget_remaining_ratio", slo="Gateway latency", **api) == 0.75
    # Search uptime: the glob says api; 1 - 0.75 / 0.5: the objective is missed.
    assert value(text, "kpi_slo_error_budget_remaining_ratio", slo="Search uptime", **api) == -0.5
    assert value(text, "kpi_slo_objective_ratio", slo="Batch freshness") == 0

    # An hour later the checkout's SLI fell to 99.375: its budget runs out.
    datadog.sli["s1"] = 99.375
    clock[0] = NOW + 3600
    poll_into(pipeline, polled)
    text = served(pipeline)
    # 1 - 0.625 / 0.5 = -0.25; one series per SLO still (the gauge is replaced).
    assert slo_value(text, "kpi_slo_error_budget_remaining_ratio", "Checkout availability") == -0.25
    assert slo_value(text, "kpi_slo_sli_ratio", "Checkout availability") == 0.99375


def test_a_rate_limit_is_waited_out_from_its_reset_in_seconds(datadog: FakeDatadog) -> None:
    datadog.slos = [slo("s1", "Checkout availability", {"30d": 99.5}, ["app:shop"])]
    datadog.sli = {"s1": 99.75}
    datadog.queued.append((429, rate_limit(remaining=0, reset=7), '{"errors": ["Rate limited"]}'))
    slept: list[float] = []
    polled = source([NOW])
    polled.sleep = slept.append

    poll = polled.poll(SourceState())

    assert slept == [7 + 1.0]  # the reset, and a second more
    assert len(poll.events) == 3


def test_a_wrong_key_names_datadogs_error(
    datadog: FakeDatadog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DD_APP_KEY", "revoked")
    assert poll_error(source([NOW])) == f"GET {API}/api/v1/slo: HTTP 403 (Forbidden)"


def test_a_missing_application_key_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DD_APP_KEY")
    entry = ", ".join(f"{key}: {value!r}" for key, value in settings(slos={}).items())
    config = parse_config(APPS + f"sources:\n  - {{{entry}}}\n")
    with pytest.raises(ConfigError) as raised:
        build_sources(config, Ownership(config))
    assert raised.value.problems == [
        "sources[datadog]: environment variable DD_APP_KEY is not set or empty"
    ]


def test_monitors_are_counted_per_app_and_state_and_a_deleted_one_no_longer_counts(
    datadog: FakeDatadog, tmp_path: Path
) -> None:
    # 1,001 monitors: two pages of 1,000. 998 OK ones of shop, one of shop in Alert, one of
    # api (by its service tag) in Warn, and one without an app tag in No Data (the source's
    # app: api).
    datadog.monitors = [monitor(i, f"disk {i}", "OK", ["app:shop"]) for i in range(1, 999)] + [
        monitor(999, "Checkout errors", "Alert", ["app:shop", "env:prod"]),
        monitor(1000, "Gateway latency", "Warn", ["service:api-gw"]),
        monitor(1001, "Batch heartbeat", "No Data", []),
    ]
    clock = [NOW]
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: clock[0])
    polled = source(clock, monitors=True, app="api")

    poll_into(pipeline, polled)

    assert datadog.seen == [
        "/api/v1/slo?limit=1000&offset=0",
        "/api/v1/monitor?page=0&page_size=1000",
        "/api/v1/monitor?page=1&page_size=1000",
    ]
    text = served(pipeline)
    shop = {"app": "shop", "team": "payments"}
    api = {"app": "api", "team": "platform"}
    assert value(text, "kpi_monitors", state="OK", **shop) == 998
    assert value(text, "kpi_monitors", state="Alert", **shop) == 1
    assert value(text, "kpi_monitors", state="Warn", **api) == 1
    assert value(text, "kpi_monitors", state="No Data", **api) == 1

    # The checkout monitor recovers, the heartbeat monitor is deleted.
    datadog.monitors[998]["overall_state"] = "OK"
    del datadog.monitors[1000]
    poll_into(pipeline, polled)
    text = served(pipeline)
    assert value(text, "kpi_monitors", state="OK", **shop) == 999  # 998 + the checkout one
    assert value(text, "kpi_monitors", state="Alert", **shop) == 0
    assert value(text, "kpi_monitors", state="No Data", **api) == 0
    assert value(text, "kpi_monitors", state="Warn", **api) == 1


def test_monitor_tags_select_the_monitors(datadog: FakeDatadog) -> None:
    datadog.monitors = [
        monitor(1, "Checkout errors", "Alert", ["app:shop", "env:prod"]),
        monitor(2, "Checkout errors (staging)", "Alert", ["app:shop", "env:staging"]),
    ]
    poll = source([NOW], monitors=True, monitor_tags="env:prod").poll(SourceState())

    assert datadog.seen[-1] == "/api/v1/monitor?monitor_tags=env%3Aprod&page=0&page_size=1000"
    assert [(e.key, e.value) for e in poll.events] == [("datadog/monitor/1", 1.0)]
