"""Every panel query of every dashboard returns data from a real Prometheus.

Thirty days of fixture events (several apps and teams, every exported family) are backfilled
with ``kpi_exporter.backfill`` as hourly OpenMetrics, with the labels a scrape would add
(``job="kpi-exporter"``, ``instance``). Appended to that file: the exporter's own health
families (not backfilled: sampled from a live pipeline over the last hours) and the synthetic
request series the SLO rules read (``http_requests_total`` and
``http_request_duration_seconds`` of app ``checkout``). The real ``promtool`` turns the file
into blocks and the real ``prometheus`` serves them with the rendered recording rules loaded
(their group intervals dropped, all evaluated every 5s, so that chains of rules across groups
settle in seconds; a lookback of 2h so that the hourly history is "current"). Panels are
evaluated at "now", the end of the history, once the rules have settled.

Each dashboard's variables are resolved as Grafana would on opening it: the values of its
``label_values`` query from the data (at least one must exist), then ``All`` (its
``allValue``) where the variable includes All, else its first value. Every panel target is
then evaluated with ``/api/v1/query``; each must succeed and return at least one series.
All failures are reported at once: dashboard / panel title / expression / reason.

The fixture (events, backfill, blocks, Prometheus, variables) is tests/prometheus_fixture.py,
shared with benchmarks/dashboards.py.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

import pytest
import requests

from kpi_exporter import backfill
from kpi_exporter.store import Store
from tests.prometheus_fixture import (
    APPS,
    DASHBOARDS,
    fill_store,
    history,
    panels,
    rule_files,
    start_prometheus,
    substitute,
    variables,
)
from tests.support import DAY
from tests.test_alerting_e2e import program

BUILT_IN = {"__rate_interval": "4h", "__interval": "1h", "__range": "1d"}
SETTLE = 40.0  # seconds for chains of recording rules (evaluated every 5s) to settle


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = program("prometheus", "prometheus")
    program("promtool", "prometheus")
    tmp = tmp_path_factory.mktemp("dashboards")
    now = time.time()
    start = math.floor(now / DAY) * DAY - 30 * DAY
    store = Store(tmp / "kpi.db")
    try:
        fill_store(store, start, now, apps=APPS, days=30)
        chunks = history(store, tmp, start, now).chunks
    finally:
        store.close()
    assert backfill.blocks_from_chunks(chunks, tmp / "data", workers=8)
    server, url = start_prometheus(binary, tmp / "data", tmp, rule_files(tmp))
    try:
        yield url
    finally:
        server.stop()


def evaluate(url: str, expr: str) -> str | None:
    """Why ``expr`` fails to return data; None when it does."""
    response = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    if response.status_code != 200 or body.get("status") != "success":
        return f"{body.get('errorType')}: {body.get('error')}"
    if not body["data"]["result"]:
        return "no data"
    return None


def failures(url: str) -> tuple[int, list[str]]:
    evaluated = 0
    found = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        title = dashboard["title"]
        values, problems = variables(url, dashboard, BUILT_IN)
        found += [f"{title} / {problem}" for problem in problems]
        for panel in panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if not target.get("expr"):
                    continue
                expr = substitute(target["expr"], values)
                evaluated += 1
                reason = evaluate(url, expr)
                if reason:
                    found.append(f"{title} / {panel.get('title')} / {expr} / {reason}")
    return evaluated, found


@pytest.mark.timeout(120)
def test_every_panel_query_returns_data(prometheus: str) -> None:
    deadline = time.monotonic() + SETTLE
    evaluated, found = failures(prometheus)
    while found and time.monotonic() < deadline:
        time.sleep(1)  # chains of recording rules across groups take a few evaluations
        evaluated, found = failures(prometheus)
    assert evaluated > 0
    assert not found, f"{len(found)} of {evaluated} panel queries failed:\n" + "\n".join(found)
