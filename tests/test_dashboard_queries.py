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
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from kpi_exporter import backfill
from kpi_exporter.kpis.business import SURVEY_FAMILIES
from kpi_exporter.kpis.code_quality import SONARQUBE_FAMILIES
from kpi_exporter.kpis.settings import Budget, KpiSettings
from kpi_exporter.model import (
    Change,
    CostLine,
    Coverage,
    Defect,
    Deployment,
    DeploymentOutcome,
    Event,
    Gauge,
    Incident,
    TestRun,
    Vulnerability,
)
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.store import Store
from tests.support import DAY, HOUR
from tests.test_alerting_e2e import Server, free_port, program

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "dashboards" / "rendered").rglob("*.json"))
RULE_FILES = [
    ROOT / "alerts" / "rendered" / "rules.yaml",
    ROOT / "alerts" / "rendered" / "slo.yaml",
]
SCRAPE_LABELS = 'job="kpi-exporter",instance="kpi-exporter:9464"'
APPS = (("shop", "team-a"), ("search", "team-b"), ("checkout", "payments"))
BUILT_IN = {"__rate_interval": "4h", "__interval": "1h", "__range": "1d"}
SETTLE = 40.0  # seconds for chains of recording rules (evaluated every 5s) to settle


def events(start: float, now: float) -> list[Event]:
    """About a month of events for every app: every family the exporter exports."""
    result: list[Event] = []
    today = math.floor(now / DAY) * DAY
    for n, (app, team) in enumerate(APPS):
        for day in range(1, 29):
            at = start + day * DAY + 10 * HOUR + n * 600
            key = f"{app}-{day}"
            failed = day % 5 == 0
            result.append(
                Deployment(
                    "test",
                    f"d-{key}",
                    app,
                    team,
                    "production",
                    at,
                    status="failure" if day % 7 == 0 else "success",
                    change_type="hotfix" if day % 6 == 0 else "normal",
                    reported_failed=day % 9 == 0,
                )
            )
            result.append(Deployment("test", f"s-{key}", app, team, "staging", at - HOUR))
            result.append(
                DeploymentOutcome(
                    "test",
                    f"d-{key}",
                    app,
                    team,
                    "production",
                    at,
                    failed,
                    rework=day % 4 == 0,
                    reasons=("rolled back",) if day % 10 == 5 else (),
                    recovered_at=at + 3 * HOUR if failed else None,
                )
            )
            result.append(
                Change(
                    "test",
                    f"c-{key}",
                    app,
                    team,
                    first_commit_at=at - 30 * HOUR,
                    opened_at=at - 20 * HOUR,
                    first_review_at=at - 18 * HOUR,
                    approved_at=at - 10 * HOUR,
                    merged_at=at - 5 * HOUR,
                    size_lines=40 + 10 * day,
                    reviewed=day % 3 != 0,
                    deployed_environment="production",
                    deployed_at=at,
                    deployment_key=f"d-{key}",
                )
            )
            if day % 4 == 1:
                result.append(
                    Incident(
                        "test",
                        f"i-{key}",
                        app,
                        team,
                        "critical" if day % 8 == 1 else "high",
                        at + HOUR,
                        detected_at=at + HOUR + 300,
                        acknowledged_at=at + HOUR + 900,
                        resolved_at=at + 4 * HOUR,
                        impact_started_at=at + HOUR - 300,
                        component="payments" if day % 2 else "api",
                    )
                )
            if day % 3 == 0:
                result.append(
                    Defect(
                        "test",
                        f"b-{key}",
                        app,
                        team,
                        at,
                        found_in="production" if day % 2 else "pre-production",
                        customer_reported=day % 4 == 0,
                        severity="high",
                        resolved_at=at + DAY if day < 20 else None,
                    )
                )
            if day % 2 == 0:
                result.append(
                    TestRun("test", f"t-{key}", app, team, at, tests=100, failures=day % 3, flaky=2)
                )
            if day % 5 == 0:
                state = ("open", "fixed", "dismissed")[day // 5 % 3]
                closed = None if state == "open" else at + 2 * DAY
                result.append(
                    Vulnerability(
                        "test", f"v-{key}", app, team, "high", at, state, closed, scanner="trivy"
                    )
                )
        first = start + 2 * DAY
        result += [
            Change("test", f"open-{app}", app, team, first, opened_at=first, state="open"),
            Change("test", f"young-{app}", app, team, now - 2 * DAY, state="open"),
            Incident("test", f"open-{app}", app, team, "high", now - 2 * DAY),
            Vulnerability("test", f"v-crit-{app}", app, team, "critical", first),
            Vulnerability(
                "test", f"v-fix-{app}", app, team, "critical", first, "fixed", first + 2 * DAY
            ),
            *(
                Coverage("test", f"cov/{app}/{c}", app, team, c, 70, 100, first)
                for c in ("payments", "api")
            ),
            *(
                Gauge("test", f"sonarqube/{app}/{name}", app, team, name, 1.0, first)
                for name in SONARQUBE_FAMILIES
            ),
            Gauge(
                "test",
                f"business/{app}/active_users",
                app,
                team,
                "kpi_business_value",
                1000.0,
                first,
                (("metric", "active_users"),),
            ),
            *(
                Gauge(
                    "test",
                    f"survey/{team}/{name}",
                    "",
                    team,
                    name,
                    0.5,
                    first,
                    (("survey", "devex"), ("question", "nps")),
                )
                for name in SURVEY_FAMILIES
            ),
            *(
                CostLine("test", f"cost-{app}-{d}", app, team, "AWS", today - d * DAY, 10.0, "USD")
                for d in range(29)  # today too: month to date has spend on the 1st
            ),
        ]
    return result


def settings() -> KpiSettings:
    budgets = [Budget(app=app, team="", currency="USD", amount=500.0) for app, _ in APPS]
    budgets += [Budget(app="", team=team, currency="USD", amount=900.0) for _, team in APPS]
    return KpiSettings(budgets=tuple(budgets))


def scraped(line: str) -> str:
    """A sample line with the labels a scrape of the exporter adds."""
    name, rest = line.split("{", 1)
    return f"{name}{{{SCRAPE_LABELS}{'' if rest.startswith('}') else ','}{rest}"


def health_families(store: Store, stamps: list[float]) -> str:
    """The exporter's own families, sampled at ``stamps`` (counters rising to their value)."""
    pipeline = Pipeline(store, settings())
    health = pipeline.health
    health.register("github", "github")
    health.request("github", 200, 4999, "core")
    health.request("github", 500, None)
    health.failure("github", 0.2, "boom")
    health.success("github", 0.1, rejected=2)
    pipeline.refresh()
    text = pipeline.cache.current.openmetrics.decode()
    out: list[str] = []
    kind = ""
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(" ")
            if len(parts) > 2 and parts[2].startswith("kpi_exporter_"):
                out.append(line)
                kind = parts[3] if parts[1] == "TYPE" else kind
            continue
        if not line.startswith("kpi_exporter_"):
            continue
        series, value = line.rsplit(" ", 1)
        for index, stamp in enumerate(stamps):
            shown = float(value)
            if kind == "counter":
                shown *= (index + 1) / len(stamps)
            out.append(f"{scraped(series)} {shown} {int(stamp)}")
    return "".join(line + "\n" for line in out)


def slo_inputs(start: float, now: float) -> str:
    """Request counters and a latency histogram of app checkout: hourly, then every 30s for
    the last two hours (so that the 5m rates have samples)."""
    stamps = [float(s) for s in range(int(start), int(now) - 2 * 3600, 3600)]
    stamps += [float(s) for s in range(int(stamps[-1]) + 30, int(now), 30)]
    lines = ["# TYPE http_requests counter"]
    for code, per_second in (("200", 10.0), ("500", 0.005)):
        lines += [
            f'http_requests_total{{app="checkout",code="{code}"}} '
            f"{math.floor((s - start) * per_second)} {int(s)}"
            for s in stamps
        ]
    lines.append("# TYPE http_request_duration_seconds histogram")
    for s in stamps:
        total = math.floor((s - start) * 10)
        fast = math.floor(total * 0.99)
        block = 'http_request_duration_seconds_bucket{app="checkout",le='
        lines += [
            f'{block}"0.5"}} {fast} {int(s)}',
            f'{block}"+Inf"}} {total} {int(s)}',
            f'http_request_duration_seconds_count{{app="checkout"}} {total} {int(s)}',
            f'http_request_duration_seconds_sum{{app="checkout"}} {total * 0.1:.1f} {int(s)}',
        ]
    return "".join(line + "\n" for line in lines)


def openmetrics(store: Store, path: Path, start: float, now: float) -> None:
    summary = backfill.backfill(store, settings(), path, start, now, HOUR)
    assert summary.series > 0
    body = path.read_text().removesuffix("# EOF\n")
    lines = [line if line.startswith("#") else scraped(line) for line in body.splitlines()]
    stamps = [summary.last - i * HOUR for i in range(12, -1, -1)]
    text = "\n".join(lines) + "\n" + health_families(store, stamps) + slo_inputs(start, now)
    path.write_text(text + "# EOF\n")


def split_by_day(path: Path, directory: Path) -> list[Path]:
    """The OpenMetrics file as one file per UTC day, every family header in each.

    promtool 2.42 reads its whole input once per 2h block, so a month in one file takes
    minutes; a day per file (run in parallel) takes seconds. Day boundaries are 2h block
    boundaries, so the blocks of different days do not overlap."""
    days: dict[int, list[str]] = {}
    headers: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                if line != "# EOF\n":
                    headers.append(line)
                    for chunk in days.values():
                        chunk.append(line)
                continue
            day = int(float(line.rsplit(" ", 1)[1]) // DAY)
            if day not in days:
                days[day] = list(headers)
            days[day].append(line)
    chunks = []
    for day, chunk in sorted(days.items()):
        out = directory / str(day) / "history.om"
        out.parent.mkdir(parents=True)
        out.write_text("".join([*chunk, "# EOF\n"]), encoding="utf-8")
        chunks.append(out)
    return chunks


def rule_files(directory: Path) -> list[Path]:
    """The rendered rule files without their group intervals (the global one applies)."""
    copies = []
    for source in RULE_FILES:
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            group.pop("interval", None)
        copy = directory / source.name
        copy.write_text(yaml.safe_dump(rules))
        copies.append(copy)
    return copies


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = program("prometheus", "prometheus")
    program("promtool", "prometheus")
    tmp = tmp_path_factory.mktemp("dashboards")
    now = time.time()
    start = math.floor(now / DAY) * DAY - 30 * DAY
    store = Store(tmp / "kpi.db")
    try:
        with store.transaction() as tx:
            for event in events(start, now):
                tx.upsert(event)
        openmetrics(store, tmp / "history.om", start, now)
    finally:
        store.close()
    data = tmp / "data"
    data.mkdir()
    chunks = split_by_day(tmp / "history.om", tmp / "chunks")
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda chunk: backfill.create_blocks(chunk, chunk.parent), chunks))
    assert any(created)
    for chunk in chunks:
        for block in chunk.parent.iterdir():
            if block.is_dir():
                shutil.move(block, data / block.name)
    config = tmp / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1h", "evaluation_interval": "5s"},
                "rule_files": [str(path) for path in rule_files(tmp)],
            }
        )
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=10y",
            "--query.lookback-delta=2h",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp / "prometheus.log",
        f"{url}/-/ready",
    )
    try:
        server.wait_ready(timeout=30)
        yield url
    finally:
        server.stop()


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def substitute(expr: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return values.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", value, expr)


def label_values(url: str, query: str) -> list[str]:
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
    assert match, f"unsupported variable query {query!r}"
    response = requests.get(
        f"{url}/api/v1/label/{match.group(2)}/values",
        params={"match[]": match.group(1)},
        timeout=10,
    )
    response.raise_for_status()
    return sorted(response.json()["data"])


def variables(url: str, dashboard: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The variable values Grafana would use on opening the dashboard; problems found."""
    values = dict(BUILT_IN)
    problems = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        found = label_values(url, substitute(query, values))
        name = variable["name"]
        if not found:
            problems.append(f"variable ${name}: no value for {query}")
        if variable.get("includeAll"):
            values[name] = variable.get("allValue") or "|".join(map(re.escape, found))
        else:
            values[name] = re.escape(found[0]) if found else ""
    return values, problems


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
        values, problems = variables(url, dashboard)
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
