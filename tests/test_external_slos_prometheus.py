"""SLOs kept outside Prometheus, end to end with the real programs: the exporter polls a fake
Application Insights (azure_monitor) and a fake Datadog (datadog, with monitors) served on
127.0.0.1, the real Prometheus scrapes it every second and evaluates the rendered rules, and
the records the SLO and Executive dashboards read hold the hand-computed values: Application
Insights' SLOs next to Datadog's, one whose budget ran out pending ErrorBudgetExhausted, the
components' p95 and the monitors by state; the Executive's "SLOs out of error budget" query,
taken from the rendered dashboard, counts them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import azure_monitor_fake as appinsights
from tests.datadog_fake import API_KEY, APPLICATION_KEY, FakeDatadog, monitor, slo
from tests.local_fake import LocalFake
from tests.process import Exporter, program
from tests.prometheus_fixture import PrometheusClient, rule_files, start_prometheus
from tests.support import value

ROOT = Path(__file__).resolve().parent.parent
SHOP = {"app": "shop", "team": "payments"}
DAY = 86400.0


@pytest.fixture
def fakes() -> Iterator[str]:
    now = time.time()
    insights = appinsights.FakeApplicationInsights()
    insights.components = {
        appinsights.SHOP_ID: appinsights.Telemetry(
            # 4,000 requests over the last 30 days: 3,700 at 120 ms and 300 at 900 ms, 30
            # failed; 400 availability tests, 399 passed.
            requests=appinsights.requests_at(now - 10 * DAY, 1950, 50, 5)
            + appinsights.requests_at(now - DAY, 1750, 250, 25),
            availability=[(now - DAY, index > 0) for index in range(400)],
        )
    }
    datadog = FakeDatadog(
        slos=[slo("s1", "Checkout availability", {"30d": 99.5}, ["app:shop"])],
        sli={"s1": 99.75},
        monitors=[
            monitor(1, "Checkout errors", "OK", ["app:shop"]),
            monitor(2, "Checkout latency", "OK", ["app:shop"]),
            monitor(3, "Gateway errors", "Alert", ["service:api-gw"]),
        ],
    )
    with LocalFake([*insights.routes(), *datadog.routes()]) as served:
        insights.api = served.url  # the token's scope names the API it is for
        yield served.url


@pytest.fixture
def exporter(tmp_path: Path, fakes: str) -> Iterator[Exporter]:
    config = {
        "store": {"path": "kpi.db"},
        "apps": {"shop": {"team": "payments"}, "api": {"team": "platform", "services": ["api-gw"]}},
        "sources": [
            {
                "type": "azure_monitor",
                "name": "azure",
                "interval": "1s",
                "api_url": fakes,
                "login_url": fakes,
                "tenant_id": appinsights.TENANT,
                "client_id": appinsights.CLIENT,
                "token_env": "AZURE_CLIENT_SECRET",
                "components": [appinsights.SHOP_WEB],
            },
            {
                "type": "datadog",
                "name": "datadog",
                "interval": "1s",
                "api_url": fakes,
                "token_env": "DD_API_KEY",
                "application_key_env": "DD_APP_KEY",
                "monitors": True,
            },
        ],
    }
    (tmp_path / "kpi.yaml").write_text(yaml.safe_dump(config))
    secrets = {
        "AZURE_CLIENT_SECRET": appinsights.SECRET,
        "DD_API_KEY": API_KEY,
        "DD_APP_KEY": APPLICATION_KEY,
    }
    with Exporter(tmp_path / "kpi.yaml", tmp_path, env=secrets) as running:
        running.wait_ready()
        yield running


@pytest.fixture
def prometheus(tmp_path: Path, exporter: Exporter) -> Iterator[str]:
    """The real Prometheus scraping the exporter every second as the job the rules select,
    the rendered rules (without their group intervals) evaluated every second."""
    server, url = start_prometheus(
        program("prometheus", "prometheus"),
        tmp_path / "prometheus",
        tmp_path,
        rule_files(tmp_path),
        step=1,
        evaluation="1s",
        lookback=60,
        scrape=[f"127.0.0.1:{exporter.port}"],
        scrape_job=("kpi-exporter", "1s"),
    )
    yield url
    server.stop()


def samples(client: PrometheusClient, expr: str) -> dict[str, float]:
    """``expr``'s series by the label that names them (slo, component or state) -> value."""
    found = {}
    for series in client.query(expr)["data"]["result"]:
        labels = series["metric"]
        name = labels.get("slo") or labels.get("component") or labels.get("state") or ""
        found[name] = float(series["value"][1])
    return found


def settled(client: PrometheusClient, expr: str, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(samples(client, expr)) < count:
        assert time.monotonic() < deadline, f"{expr}: fewer than {count} series"
        time.sleep(0.5)


@pytest.mark.timeout(120)
def test_external_slos_reach_the_records_the_dashboards_read(
    exporter: Exporter, prometheus: str
) -> None:
    # On /metrics: Application Insights' success SLO, 1 - (100 * 30 / 4000) / (100 - 99.5)
    # = 1 - 0.75 / 0.5, next to Datadog's, 1 - (100 - 99.75) / (100 - 99.5).
    text = exporter.metrics()
    budget = "kpi_slo_error_budget_remaining_ratio"
    assert value(text, budget, slo="shop-web success", window="30d", **SHOP) == -0.5
    assert value(text, budget, slo="Checkout availability", window="30d", **SHOP) == 0.5

    client = PrometheusClient(prometheus, timeout=10)
    settled(client, "slo:error_budget_remaining:ratio", 4)
    settled(client, "org:kpi_monitors:sum", 2)
    settled(client, "slo:component_response_time:seconds", 1)

    assert samples(client, "slo:error_budget_remaining:ratio") == {
        "shop-web availability": 0.5,  # 1 - (100 * 1 / 400) / 0.5
        "shop-web success": -0.5,
        "shop-web latency": -0.5,  # 1 - (100 * 300 / 4000) / (100 - 95) = 1 - 7.5 / 5
        "Checkout availability": 0.5,
    }
    # Next to the objectives of the configuration's SLOs (alerts/config.libsonnet's examples,
    # whose request series this Prometheus does not have: no budget of theirs above).
    assert samples(client, "slo:objective:ratio") == {
        "checkout-availability": 0.999,
        "checkout-latency": 0.95,
        "shop-web availability": 0.995,
        "shop-web success": 0.995,
        "shop-web latency": 0.95,
        "Checkout availability": 0.995,
    }
    # The SLI's error over 30 days, in ten-thousandths: 1 of 400, 30 of 4000, 300 of 4000,
    # 100 - 99.75 percent.
    errors = samples(client, "round(slo:sli_error:ratio_rate30d * 10000)")
    assert errors == {
        "shop-web availability": 25,
        "shop-web success": 75,
        "shop-web latency": 750,
        "Checkout availability": 25,
    }
    # ceil(0.95 * 4000) = 3800th of the sorted durations: past the 3,700 of 120 ms, 900 ms.
    assert samples(client, 'slo:component_response_time:seconds{percentile="95"}') == {
        "shop-web": 0.9
    }
    assert samples(client, "slo:component_failed_requests:ratio") == {"shop-web": 0.0075}
    assert samples(client, "slo:component_availability:ratio") == {"shop-web": 0.9975}
    # Monitors: two OK of shop, one in Alert of api (its service tag).
    assert samples(client, "org:kpi_monitors:sum") == {"OK": 2, "Alert": 1}
    assert samples(client, 'app:kpi_monitors:sum{app="api"}') == {"Alert": 1}

    # The two spent budgets are pending ErrorBudgetExhausted (it fires after its `for`).
    pending = 'ALERTS{alertname="ErrorBudgetExhausted", alertstate="pending"}'
    settled(client, pending, 2)
    assert set(samples(client, pending)) == {"shop-web success", "shop-web latency"}

    # The Executive dashboard's "SLOs out of error budget", as Grafana sends it under All.
    executive = json.loads((ROOT / "dashboards/rendered/executive/executive.json").read_text())
    (expr,) = [
        target["expr"]
        for row in executive["panels"]
        if row["type"] == "row"
        for panel in row["panels"]
        if panel["title"] == "SLOs out of error budget"
        for target in panel["targets"]
    ]
    everything = expr.replace("$team", ".*").replace("$app", ".*")
    assert client.value(everything) == 2
