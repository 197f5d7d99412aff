"""A real Prometheus holding backfilled fixture history of every exported family, with the
rendered recording rules, and Grafana's way of resolving a dashboard's variables.

Shared by tests/test_dashboard_queries.py (3 apps, a month: every panel query returns data)
and benchmarks/dashboards.py (500 apps, 90 days: how long each dashboard's queries take).

The fixture events of each app cover every exported family. They are backfilled with
``kpi_exporter.backfill`` as OpenMetrics with the labels a scrape would add
(``job="kpi-exporter"``, ``instance``); appended to that: the exporter's own health families
(not backfilled: sampled from a live pipeline over the last hours) and the synthetic request
series the SLO rules read (``http_requests_total`` and ``http_request_duration_seconds`` of app
``checkout``). The real ``promtool`` turns the file, split per 2h block, into blocks (run in
parallel) and the real ``prometheus`` serves them with the rendered recording rules loaded
(their group intervals dropped, all evaluated every few seconds, so that chains of rules across
groups settle in seconds; a lookback of twice the step so that the history is "current").
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from kpi_exporter import backfill
from kpi_exporter.config_base import parse_duration
from kpi_exporter.kpis.business import SURVEY_FAMILIES
from kpi_exporter.kpis.code_quality import SONARQUBE_FAMILIES
from kpi_exporter.kpis.families import MONITORS
from kpi_exporter.kpis.security import COVERAGE, DEPENDENCY_UPDATE
from kpi_exporter.kpis.settings import Budget, KpiSettings
from kpi_exporter.kpis.slo import COMPONENT_FAMILIES
from kpi_exporter.kpis.slo import SLO_FAMILIES as EXTERNAL_SLO_FAMILIES
from kpi_exporter.model import (
    Change,
    ChangeRevert,
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
    WorkItem,
    WorkItemDelivery,
)
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.store import Store
from tests.process import Server, free_port
from tests.support import DAY, HOUR

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "dashboards" / "rendered").rglob("*.json"))
RULE_FILES = [
    ROOT / "alerts" / "rendered" / "rules.yaml",
    ROOT / "alerts" / "rendered" / "slo.yaml",
]
SCRAPE = {"job": "kpi-exporter", "instance": "kpi-exporter:9464"}  # what a scrape adds
SCRAPE_LABELS = ",".join(f'{name}="{value}"' for name, value in SCRAPE.items())
App = tuple[str, str]  # (app, team)
APPS: tuple[App, ...] = (
    ("shop", "team-a"),
    ("search", "team-b"),
    ("checkout", "payments"),
    ("ledger", "payments"),  # a team of two apps: its series are sums, not copies of one app's
)
SLO_APP = "checkout"
BLOCK = backfill.BLOCK_SECONDS  # promtool's block duration


def events(start: float, now: float, apps: Sequence[App] = APPS, days: int = 30) -> Iterator[Event]:
    """``days`` days (from ``start``) of events for every app: every family the exporter
    exports. Apps differ only in the minute of their daily events."""
    today = math.floor(now / DAY) * DAY
    for n, (app, team) in enumerate(apps):
        for day in range(1, days - 1):
            yield from _day(app, team, start + day * DAY + 10 * HOUR + n % 36 * 600, day)
        first = start + 2 * DAY
        yield from (
            Change("test", f"open-{app}", app, team, first, opened_at=first, state="open"),
            Change("test", f"young-{app}", app, team, now - 2 * DAY, state="open"),
            Incident("test", f"open-{app}", app, team, "high", now - 2 * DAY),
            WorkItem(
                "test",
                f"w-open-{app}",
                app,
                team,
                "new_capability",
                now - 3 * DAY,
                ((now - 3 * DAY, "To Do", "waiting"), (now - 2 * DAY, "In Progress", "active")),
            ),
            WorkItem(
                "test",
                f"w-backlog-{app}",
                app,
                team,
                "defect",
                now - 3 * DAY,
                ((now - 3 * DAY, "To Do", "waiting"),),
            ),
            Vulnerability("test", f"v-crit-{app}", app, team, "critical", first),
            Vulnerability(
                "test", f"v-fix-{app}", app, team, "critical", first, "fixed", first + 2 * DAY
            ),
        )
        yield from (
            Coverage("test", f"cov/{app}/{c}", app, team, c, 70, 100, first)
            for c in ("payments", "api")
        )
        yield from (
            Gauge("test", f"sonarqube/{app}/{name}", app, team, name, 1.0, first)
            for name in SONARQUBE_FAMILIES
        )
        yield from (  # github_coverage: one repository per app with each feature
            Gauge("test", f"github/{app}/{f}", app, team, COVERAGE, 1.0, first, (("feature", f),))
            for f in ("code_scanning", "secret_scanning")
        )
        yield Gauge("test", f"github/{app}/pull/1", app, team, DEPENDENCY_UPDATE, 1.0, first)
        yield Gauge(
            "test",
            f"business/{app}/active_users",
            app,
            team,
            "kpi_business_value",
            1000.0,
            first,
            (("metric", "active_users"),),
        )
        yield from (
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
        )
        yield from external_reliability(app, team, first)
        yield from (  # today too: month to date has spend on the 1st
            CostLine("test", f"cost-{app}-{d}", app, team, "AWS", today - d * DAY, 10.0, "USD")
            for d in range(days - 1)
        )


def _origin(day: int) -> str:
    """Where the day's change comes from: an AI agent every third day, a bot every seventh
    (3, 10, 17, 24), a person the other days."""
    return "ai_agent" if day % 3 == 1 else "bot" if day % 7 == 3 else "human"


def external_reliability(app: str, team: str, at: float) -> Iterator[Event]:
    """An app's SLO kept outside Prometheus, its Application Insights component and its
    Datadog monitors (one OK, one in Alert), as the datadog and azure_monitor sources write
    them."""
    slo = (("slo", f"{app} availability"), ("window", "30d"))
    component = (("component", f"{app}-web"), ("window", "30d"), ("percentile", "95"))
    for names, key, labels in (
        (EXTERNAL_SLO_FAMILIES, "slo", slo),
        (COMPONENT_FAMILIES, "web", component),
    ):
        yield from (
            Gauge("test", f"{key}/{app}/{name}", app, team, name, 0.5, at, labels) for name in names
        )
    for state in ("OK", "Alert"):
        key = f"monitor/{app}/{state}"
        yield Gauge("test", key, app, team, MONITORS.name, 1.0, at, (("state", state),))


def _day(app: str, team: str, at: float, day: int) -> Iterator[Event]:
    """The events of one app on one day of the history, ``at`` its production deployment."""
    key = f"{app}-{day}"
    failed = day % 5 == 0
    production = ("test", f"d-{key}", app, team, "production", at)
    yield Deployment(
        *production,
        status="failure" if day % 7 == 0 else "success",
        change_type="hotfix" if day % 6 == 0 else "normal",
        reported_failed=day % 9 == 0,
    )
    yield Deployment("test", f"s-{key}", app, team, "staging", at - HOUR)
    yield DeploymentOutcome(
        *production,
        failed,
        rework=day % 4 == 0,
        reasons=("rolled back",) if day % 10 == 5 else (),
        recovered_at=at + 3 * HOUR if failed else None,
        release_type=("major", "minor", "patch", "unknown")[day % 4],
    )
    yield Change(
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
        origin=_origin(day),
        work_items=(f"W-{key}".upper(),),
    )
    if day % 5 == 2:  # reverted the next day
        yield ChangeRevert(
            "test",
            f"c-{key}",
            app,
            team,
            merged_at=at - 5 * HOUR,
            reverted_at=at + DAY,
            origin=_origin(day),
            reverted_by=f"revert-{key}",
        )
    if day % 4 == 1:
        yield Incident(
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
    if day % 3 == 0:
        yield Defect(
            "test",
            f"b-{key}",
            app,
            team,
            at,
            found_in="production" if day % 2 else "pre-production",
            customer_reported=day % 4 == 0,
            severity="high",
            resolved_at=at + DAY if day < 20 else None,
            escape_phase=("unit", "integration", "staging", "")[day % 4],
        )
    # A work item done at the deployment: 1 day to do, 1 in progress, 1 in review (a queue),
    # 1 in progress again; one investment category after the other.
    moves = (("To Do", "waiting"), ("In Progress", "active"), ("In Review", "waiting"))
    yield WorkItem(
        "test",
        f"w-{key}",
        app,
        team,
        ("new_capability", "defect", "tech_debt", "maintenance")[day % 4],
        at - 4 * DAY,
        (
            *((at - (4 - i) * DAY, status, stage) for i, (status, stage) in enumerate(moves)),
            (at - DAY, "In Progress", "active"),
            (at, "Done", "done"),
        ),
    )
    # Its time to market: the change above names it and shipped with the deployment; asked
    # for 4 to 6 days before.
    category = ("new_capability", "defect", "tech_debt", "maintenance")[day % 4]
    yield WorkItemDelivery(
        "test", f"w-{key}", app, team, category, at - (4 + day % 3) * DAY, at, f"test/c-{key}"
    )
    if day % 2 == 0:
        yield TestRun("test", f"t-{key}", app, team, at, tests=100, failures=day % 3, flaky=2)
    if day % 5 == 0:
        state = ("open", "fixed", "dismissed")[day // 5 % 3]
        closed = None if state == "open" else at + 2 * DAY
        yield Vulnerability(
            "test", f"v-{key}", app, team, "high", at, state, closed, scanner="trivy"
        )


def fill_store(store: Store, start: float, now: float, apps: Sequence[App], days: int) -> int:
    """Store the fixture events; how many."""
    stored = 0
    with store.transaction() as tx:
        for event in events(start, now, apps, days):
            tx.upsert(event)
            stored += 1
    return stored


def settings(apps: Sequence[App] = APPS) -> KpiSettings:
    budgets = [Budget(app=app, team="", currency="USD", amount=500.0) for app, _ in apps]
    teams = dict.fromkeys(team for _, team in apps)
    budgets += [Budget(app="", team=team, currency="USD", amount=900.0) for team in teams]
    return KpiSettings(budgets=tuple(budgets))


def scraped(line: str) -> str:
    """A sample line with the labels a scrape of the exporter adds."""
    if "{}" in line:
        return line.replace("{}", f"{{{SCRAPE_LABELS}}}", 1)
    return line.replace("{", f"{{{SCRAPE_LABELS},", 1)


def health_families(store: Store, stamps: list[float], apps: Sequence[App] = APPS) -> str:
    """The exporter's own families, sampled at ``stamps`` (counters rising to their value)."""
    pipeline = Pipeline(store, settings(apps))
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


SLO_FAMILIES = {"http_requests": "counter", "http_request_duration_seconds": "histogram"}


def slo_samples(start: float, at: float) -> dict[str, list[str]]:
    """The request series of app checkout at ``at`` (10 requests a second since ``start``, 1 in
    2,000 failed, 99% within 0.5s), by family: sample lines without a timestamp."""
    total = math.floor((at - start) * 10)
    fast = math.floor(total * 0.99)
    requests = f'http_requests_total{{app="{SLO_APP}",code='
    latency = "http_request_duration_seconds"
    return {
        "http_requests": [
            f'{requests}"200"}} {total}',
            f'{requests}"500"}} {math.floor((at - start) * 0.005)}',
        ],
        latency: [
            f'{latency}_bucket{{app="{SLO_APP}",le="0.5"}} {fast}',
            f'{latency}_bucket{{app="{SLO_APP}",le="+Inf"}} {total}',
            f'{latency}_count{{app="{SLO_APP}"}} {total}',
            f'{latency}_sum{{app="{SLO_APP}"}} {total * 0.1:.1f}',
        ],
    }


def slo_inputs(start: float, now: float, step: float = HOUR) -> str:
    """The request series of app checkout: every ``step``, then every 30s for the last two
    hours (so that the 5m rates have samples)."""
    stamps = [float(s) for s in range(int(start), int(now) - 2 * 3600, int(step))]
    stamps += [float(s) for s in range(int(stamps[-1]) + 30, int(now), 30)]
    samples = [slo_samples(start, s) for s in stamps]
    lines = []
    for family, kind in SLO_FAMILIES.items():
        lines.append(f"# TYPE {family} {kind}")
        lines += [
            f"{line} {int(s)}" for s, at in zip(stamps, samples, strict=True) for line in at[family]
        ]
    return "".join(line + "\n" for line in lines)


@dataclass(slots=True)
class History:
    """What :func:`history` wrote and how long it took (wall seconds)."""

    summary: backfill.Summary  # the backfilled kpi_* families (health and SLO inputs not counted)
    openmetrics_bytes: int  # the backfill's file, as ``kpi-exporter backfill`` writes it
    chunks: list[Path]  # the same samples, scrape labels added, one file per 2h block
    backfill_seconds: float  # replay and write (kpi_exporter.backfill.backfill)
    split_seconds: float  # scrape labels added, split per block, health and SLO inputs


def history(
    store: Store,
    directory: Path,
    start: float,
    now: float,
    step: float = HOUR,
    apps: Sequence[App] = APPS,
) -> History:
    """The stored history as OpenMetrics files, one per 2h block, under ``directory``."""
    started = time.perf_counter()
    path = directory / "history.om"
    summary = backfill.backfill(store, settings(apps), path, start, now, step, SCRAPE)
    assert summary.series > 0
    size = path.stat().st_size
    written = time.perf_counter()
    stamps = [summary.last - i * HOUR for i in range(12, -1, -1)]
    extra = health_families(store, stamps, apps) + slo_inputs(start, now, step)
    with path.open(encoding="utf-8") as lines:
        chunks = backfill.split_by_block(
            [lines, extra.splitlines(keepends=True)], directory / "chunks"
        )
    path.unlink()  # as big as the chunks
    return History(summary, size, chunks, written - started, time.perf_counter() - written)


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


def prometheus_config(
    directory: Path,
    rules: Sequence[Path],
    step: float = HOUR,
    evaluation: str = "5s",
    scrape: Sequence[str] = (),
    scrape_job: tuple[str, str] = ("live", "15s"),
) -> Path:
    """Prometheus' configuration: ``rules`` evaluated every ``evaluation`` (groups without an
    interval of their own); the ``scrape`` targets (host:port) scraped, if any, as the job
    and at the interval of ``scrape_job``."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": f"{int(step)}s", "evaluation_interval": evaluation},
        "rule_files": [str(path) for path in rules],
    }
    if scrape:
        name, every = scrape_job
        timeout = min(10.0, parse_duration(every))
        job = {"job_name": name, "scrape_interval": every, "scrape_timeout": f"{timeout:g}s"}
        config["scrape_configs"] = [{**job, "static_configs": [{"targets": list(scrape)}]}]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_prometheus(
    binary: str,
    data: Path,
    directory: Path,
    rules: Sequence[Path],
    step: float = HOUR,
    evaluation: str = "5s",
    extra_args: Sequence[str] = (),
    ready_timeout: float = 30,
    lookback: float | None = None,
    scrape: Sequence[str] = (),
    scrape_job: tuple[str, str] = ("live", "15s"),
) -> tuple[Server, str]:
    """The real Prometheus on 127.0.0.1 (a free port) serving the blocks in ``data`` with
    ``rules`` evaluated every ``evaluation``, a lookback of ``lookback`` (default: twice
    ``step``) and the ``scrape`` targets scraped (job name and interval: ``scrape_job``);
    (server, URL) once ready."""
    config = prometheus_config(directory, rules, step, evaluation, scrape, scrape_job)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=10y",
            f"--query.lookback-delta={int(lookback or 2 * step)}s",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra_args,
        ],
        directory / "prometheus.log",
        f"{url}/-/ready",
    )
    server.wait_ready(timeout=ready_timeout)
    return server, url


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def substitute(expr: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return values.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", value, expr)


def regular_escape(value: str) -> str:
    """A single value as Grafana puts it in a PromQL string (prometheusRegularEscape)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def regex_escape(value: str) -> str:
    """One of several values as Grafana puts it in a PromQL regex
    (prometheusSpecialRegexEscape): regex metacharacters escaped for the regex, then for the
    string."""
    return regular_escape(re.sub(r"[$^*{}\[\]'+?.()|\\]", lambda m: "\\" + m.group(0), value))


Getter = Callable[[str, dict[str, str]], Any]


def get_json(url: str, params: dict[str, str]) -> Any:
    response = requests.get(url, params=params, timeout=60)
    response.raise_for_status()
    return response.json()


def label_values(url: str, query: str, window: dict[str, str], get: Getter = get_json) -> list[str]:
    """Grafana's ``label_values(selector, label)``, over ``window`` (start and end, if any)."""
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
    assert match, f"unsupported variable query {query!r}"
    body = get(f"{url}/api/v1/label/{match.group(2)}/values", {"match[]": match.group(1), **window})
    return sorted(body["data"])


def picked_value(values: Sequence[str]) -> str:
    """Values picked in a multi-value variable as Grafana puts them in PromQL: each escaped,
    several as a group of alternatives."""
    escaped = [regex_escape(value) for value in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def variables(
    url: str,
    dashboard: dict[str, Any],
    built_in: dict[str, str],
    window: dict[str, str] | None = None,
    get: Getter = get_json,
    picked: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The variable values Grafana would use on opening the dashboard, or with the values
    ``picked`` by the user for some variables; problems found."""
    values = dict(built_in)
    problems = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        found = label_values(url, substitute(query, values), window or {}, get)
        name = variable["name"]
        if not found:
            problems.append(f"variable ${name}: no value for {query}")
        if picked and name in picked:
            missing = sorted(set(picked[name]) - set(found))
            if missing:
                problems.append(f"variable ${name}: {missing} not among its values {found}")
            multi = variable.get("multi")
            values[name] = picked_value(picked[name]) if multi else regular_escape(picked[name][0])
        elif variable.get("includeAll"):
            values[name] = variable.get("allValue") or "|".join(map(regex_escape, found))
        else:
            values[name] = regular_escape(found[0]) if found else ""
    return values, problems


class PrometheusClient:
    """Prometheus' HTTP API over one kept-alive connection (the tests' and the benchmarks')."""

    def __init__(self, url: str, timeout: float = 600.0) -> None:
        self.url = url
        self.timeout = timeout  # seconds per request (the benchmark's queries are long)
        self.session = requests.Session()
        self.counts: dict[str, int] = {}

    def get(self, path: str, params: dict[str, str]) -> tuple[float, Any]:
        """(wall seconds of the request, decoded body)."""
        started = time.perf_counter()
        response = self.session.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        elapsed = time.perf_counter() - started
        return elapsed, self.decoded(response, f"{path} {params}")

    def decoded(self, response: requests.Response, what: str) -> Any:
        """The body of a successful API response; else an error naming ``what``."""
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise RuntimeError(f"{what}: {body.get('errorType')}: {body.get('error')}")
        return body

    def series(self, matchers: Sequence[str], start: float) -> list[dict[str, str]]:
        """The label sets of the series any of ``matchers`` selects since ``start``
        (``/api/v1/series``, posted: the matchers may not fit in a URL)."""
        form = {"match[]": list(matchers), "start": f"{start:.3f}"}
        response = self.session.post(f"{self.url}/api/v1/series", data=form, timeout=self.timeout)
        data: list[dict[str, str]] = self.decoded(response, "/api/v1/series")["data"]
        return data

    def query(self, expr: str) -> Any:
        """The body of an instant query; RuntimeError naming the query when it fails."""
        return self.get("/api/v1/query", {"query": expr})[1]

    def value(self, expr: str) -> float:
        result = self.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def count(self, selector: str) -> int:
        """Series of ``selector`` at the end of the history (cached)."""
        if selector not in self.counts:
            self.counts[selector] = int(self.value(f"count({selector})"))
        return self.counts[selector]
