"""Dashboards over 500 apps x 90 days: the backfill time, then each dashboard's summed query
time in a real Prometheus (target: under 1 s per dashboard, thanks to the recording rules).
Run alone with ``python -m benchmarks.dashboards`` (``--apps``, ``--days``, ``--step``).

Data. 500 apps in 50 teams, 90 days of the fixture events of tests/prometheus_fixture.py
(every exported family; the apps differ only in the minute of their daily events), backfilled
as tests/test_dashboard_queries.py does: ``kpi_exporter.backfill`` writes the OpenMetrics
history, the scrape labels are added and the file split per 2h block, the real ``promtool tsdb
create-blocks-from openmetrics`` runs on the files in parallel. The SLO rules' input, the
request series of app checkout, is backfilled as the test does, then served live on 127.0.0.1
(scraped every 15s), so that its 5m rates have samples while the benchmark runs.

Step: 1d, not 1h. promtool 2.42 cuts a 2h block for every 2 hours holding a sample, and every
block holds every series (the backfill forward-fills), so promtool's time, the TSDB's size and
the rules' reading grow with series x blocks. Measured on this 2-core machine: at 1h, 1,080
blocks of ~140k series at ~1.4 s each (~25 min for promtool alone); at 6h, 368 blocks, 442 s of
backfill, 4.8 GiB, and one evaluation of the rules over the uncompacted blocks ~600 CPU-s. At
1d ``increase()`` over the rules' 1d/7d/30d windows stays exact at the steps. The lookback
delta is twice the step, so that the history is "current" at any time.

Prometheus. The real ``prometheus`` (127.0.0.1, a free port) starts on the blocks without
rules; its first compaction (a minute after the start) is waited for, so that rules and queries
read the blocks as Prometheus keeps them, not promtool's 2h blocks. Then the rendered recording
rules are loaded, their group intervals dropped and evaluated every 5s until every recorded
series the dashboards read exists (bounded wait); then the rule files are put back as rendered
(groups every 1m) and reloaded: the measurements run with production's background rule
evaluation, whose CPU time alone is measured first. The rules are evaluated live, not
backfilled: recorded series hold minutes of history, not 30 days (``promtool tsdb
create-blocks-from rules`` in 2.42 runs one range query per rule per 2h block, ~130k queries
for 30 days, and chained rules need one pass per level). Hence the probe.

Dashboards, loaded as Grafana loads them: the variables' ``label_values`` over the dashboard's
time range (All where included, else the first value), then every panel target, sequentially,
each HTTP request timed from request to response: a range query over the dashboard's default
time range (``time.from``/``time.to``) at Grafana's step for a 1,000-px panel (range / 1,000
rounded as Grafana rounds, at least the datasource's scrape interval, assumed 1m; start and end
aligned to the step), an instant query at the end for targets marked instant. Each dashboard is
loaded ``REPEATS`` times: the sum of its query times (variables included), median and max over
the loads, with Prometheus' own ``execTotalTime`` and samples queried (``stats=all``); then one
more load with ``CONCURRENCY`` queries in flight as a browser would.

Probe: what 30 days of samples every 1m (a rule evaluated every 1m, a counter scraped every 1m)
cost to read. A separate Prometheus (no rules, the default 5m lookback, compacted as above)
serves one app-level series per app at that resolution for 30 days; the panel expression of
"Deployments per day (7d)" and its ``max()`` are timed on it, giving a cost per sample read and
per point returned. From them, estimates (not measurements): each dashboard with every range
target reading 1m samples over its whole range, and one evaluation of the rules reading
exported series scraped every 1m over their windows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from tests.prometheus_fixture import (
    BLOCK,
    DASHBOARDS,
    RULE_FILES,
    SLO_FAMILIES,
    App,
    fill_store,
    history,
    panels,
    prometheus_config,
    rule_files,
    slo_samples,
    start_prometheus,
    substitute,
    variables,
)
from tests.test_alerting_e2e import Server

from kpi_exporter import backfill
from kpi_exporter.backfill import parse_duration
from kpi_exporter.store import Store

from .common import memory_line, ms, verdict

APPS = 500
TEAMS = 50
DAYS = 90
STEP = "1d"
REPEATS = 5
CONCURRENCY = 6  # a browser's connections per host
TARGET_SECONDS = 1.0  # summed query time of one dashboard
WIDTH = 1000  # panel width in pixels: Grafana's maxDataPoints
SCRAPE = 60.0  # the datasource's scrape interval: Grafana's minimum step
PROMTOOL_WORKERS = 2
SETTLE_TIMEOUT = 600.0
RULES_WINDOW = 60.0  # seconds of rule evaluation alone, for its CPU time
DEFAULT_LOOKBACK = 300.0  # Prometheus' default --query.lookback-delta
PROBE = "app:kpi_probe:per_day_7d"
PROBE_PANEL = "Deployments per day (7d)"
PROBE_INTERVAL = 60.0  # the rendered rule groups' interval
PROBE_DAYS = 30
DAY = 86400.0

# Grafana's rounding of range / maxDataPoints (rangeutil.roundInterval): (below, rounded to).
ROUNDED = (
    (0.015, 0.01),
    (0.035, 0.02),
    (0.075, 0.05),
    (0.15, 0.1),
    (0.35, 0.2),
    (0.75, 0.5),
    (1.5, 1),
    (3.5, 2),
    (7.5, 5),
    (12.5, 10),
    (17.5, 15),
    (25, 20),
    (45, 30),
    (90, 60),
    (210, 120),
    (450, 300),
    (750, 600),
    (1050, 900),
    (1500, 1200),
    (2700, 1800),
    (5400, 3600),
    (9000, 7200),
    (16200, 10800),
    (32400, 21600),
    (86400, 43200),
    (604800, 86400),
    (1814400, 604800),
    (3628800, 2592000),
)
# A vector selector of a recorded (name with a colon) or exported (kpi_*) series.
SELECTOR = re.compile(r"\b([a-zA-Z_]\w*:[\w:]*|kpi_\w+)(\{[^}]*\})?")
WINDOW = re.compile(r"\[(\w+?)(?::\w+)?\]")  # a range or subquery's range: [7d], [6d23h:1d]
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY, "y": 365 * DAY}
TSDB_METRICS = (
    "prometheus_tsdb_blocks_loaded",
    "prometheus_tsdb_compactions_total",
    "prometheus_tsdb_head_series",
)


def make_apps(count: int = APPS, teams: int = TEAMS) -> list[App]:
    return [(f"app-{i:04d}", f"team-{i % teams:03d}") for i in range(count)]


def round_interval(seconds: float) -> float:
    return next((to for below, to in ROUNDED if seconds < below), 31536000.0)


def grafana_step(seconds: float) -> float:
    return max(round_interval(seconds / WIDTH), SCRAPE)


def promql_seconds(text: str) -> float:
    """A PromQL duration (``6d23h59m59s``) in seconds."""
    return sum(float(n) * UNITS[unit] for n, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text))


def duration(seconds: float) -> str:
    for unit, size in (("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def gib(size: float) -> str:
    return f"{size / 1024**3:.2f} GiB"


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def require(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"{name} not found: install the Debian package prometheus (make system-deps)")
    return path


# --- backfill ---------------------------------------------------------------------------


def build(
    tmp: Path, data: Path, start: float, now: float, apps: list[App], days: int, step: float
) -> None:
    """Store the fixture events, backfill them into blocks in ``data``; print the figures."""
    started = time.perf_counter()
    store = Store(tmp / "kpi.db")
    try:
        stored = fill_store(store, start, now, apps, days)
        print(
            f"  {stored:,} events stored in {time.perf_counter() - started:.1f} s "
            "(not part of the backfill)"
        )
        written = history(store, tmp, start, now, step, apps)
    finally:
        store.close()
    summary = written.summary
    print(
        f"  backfill: {summary.series:,} series (a histogram counts once), "
        f"{summary.samples:,} samples over {summary.steps:,} steps of {duration(step)}, "
        f"OpenMetrics {gib(written.openmetrics_bytes)}"
    )
    print(f"    write the OpenMetrics (kpi_exporter.backfill):  {written.backfill_seconds:7.1f} s")
    print(
        f"    scrape labels, split per 2h block (+ health):   {written.split_seconds:7.1f} s"
        f"  ({len(written.chunks):,} files)"
    )
    before = time.perf_counter()
    blocks = backfill.blocks_from_chunks(written.chunks, data, PROMTOOL_WORKERS)
    promtool = time.perf_counter() - before
    shutil.rmtree(tmp / "chunks")
    print(
        f"    promtool create-blocks-from openmetrics, x{PROMTOOL_WORKERS}:  {promtool:7.1f} s"
        f"  ({len(blocks):,} blocks)"
    )
    total = written.backfill_seconds + written.split_seconds + promtool
    print(f"    backfill total:                                 {total:7.1f} s")
    print(f"  TSDB on disk: {gib(size_of(data))}; python: {memory_line()}")


def write_probe(tmp: Path, data: Path, now: float, apps: list[App]) -> int:
    """``PROBE`` for every app every ``PROBE_INTERVAL`` over the last ``PROBE_DAYS`` days, as
    promtool blocks in ``data``; the samples written. Values change at every sample, as a
    recorded increase() over a sliding window does."""
    end = math.floor(now / PROBE_INTERVAL) * PROBE_INTERVAL
    first = end - PROBE_DAYS * DAY
    chunks: list[Path] = []
    samples = 0
    step = int(PROBE_INTERVAL)
    for block in range(int(first // BLOCK), int(end // BLOCK) + 1):
        low, high = max(first, block * BLOCK), min(end, block * BLOCK + BLOCK - 1)
        stamps = range(int(low), int(high) + 1, step)
        path = tmp / "probe" / str(block) / "probe.om"
        path.parent.mkdir(parents=True)
        with path.open("w") as out:
            out.write(f"# TYPE {PROBE} gauge\n")
            for n, (app, team) in enumerate(apps):
                prefix = f'{PROBE}{{app="{app}",team="{team}"}} '
                out.write(
                    "".join(f"{prefix}{1 + (t // step + n) % 997 / 997:.6f} {t}\n" for t in stamps)
                )
            out.write("# EOF\n")
        samples += len(stamps) * len(apps)
        chunks.append(path)
    backfill.blocks_from_chunks(chunks, data, PROMTOOL_WORKERS)
    shutil.rmtree(tmp / "probe")
    return samples


# --- Prometheus -------------------------------------------------------------------------


class Traffic(BaseHTTPRequestHandler):
    """App checkout's request series, live (the SLO rules' input; its history is backfilled):
    an exposition of :func:`slo_samples` at the time of each scrape since ``start``."""

    start = 0.0

    def do_GET(self) -> None:
        samples = slo_samples(self.start, time.time())
        lines = []
        for family, kind in SLO_FAMILIES.items():
            lines.append(f"# TYPE {family}{'_total' if kind == 'counter' else ''} {kind}")
            lines += samples[family]
        body = "".join(line + "\n" for line in lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_traffic(start: float) -> ThreadingHTTPServer:
    """:class:`Traffic` on 127.0.0.1, a free port, in a thread of its own."""
    handler = type("Traffic", (Traffic,), {"start": start})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, name="traffic", daemon=True).start()
    return httpd


class Client:
    """Prometheus' HTTP API over one kept-alive connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.counts: dict[str, int] = {}

    def get(self, path: str, params: dict[str, str]) -> tuple[float, Any]:
        """(wall seconds of the request, decoded body)."""
        started = time.perf_counter()
        response = self.session.get(f"{self.url}{path}", params=params, timeout=600)
        elapsed = time.perf_counter() - started
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return elapsed, body

    def value(self, expr: str) -> float:
        result = self.get("/api/v1/query", {"query": expr})[1]["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def count(self, selector: str) -> int:
        """Series of ``selector`` at the end of the history (cached)."""
        if selector not in self.counts:
            self.counts[selector] = int(self.value(f"count({selector})"))
        return self.counts[selector]

    def cpu(self, server: Server) -> float:
        """CPU seconds (user + system) the server's process has used."""
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self, server: Server) -> str:
        values = {}
        for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024
        return f"Prometheus RSS {values['VmRSS']:,.0f} MiB (peak {values['VmHWM']:,.0f} MiB)"

    def metrics(self) -> dict[str, float]:
        """Prometheus' own TSDB_METRICS."""
        text = self.session.get(f"{self.url}/metrics", timeout=60).text
        values = dict.fromkeys(TSDB_METRICS, 0.0)
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in values:
                values[name] = float(value)
        return values

    def tsdb(self) -> str:
        blocks, compactions, head = self.metrics().values()
        return f"{blocks:,.0f} blocks, {compactions:,.0f} compactions, {head:,.0f} head series"

    def compacted(self, timeout: float = 600.0) -> float:
        """Wait for the end of Prometheus' first compaction cycle (it starts a minute after
        Prometheus and runs until no plan is left): no new compaction for 3 times the
        longest gap between two so far, at least 15 s; the seconds until its last one."""
        started = time.monotonic()
        count, changed, longest = 0.0, started, 0.0
        while time.monotonic() - started < timeout:
            now = time.monotonic()
            found = self.metrics()["prometheus_tsdb_compactions_total"]
            if found != count:
                longest = max(longest, now - changed) if count else 0.0
                count, changed = found, now
            elif now - changed > (max(15.0, 3 * longest) if count else 150.0):
                break  # done, or nothing to compact
            time.sleep(1)
        return changed - started


def selectors(expr: str, recorded: bool = True) -> list[str]:
    """The vector selectors in ``expr`` of exported series, and of recorded ones if asked."""
    return [m.group(0) for m in SELECTOR.finditer(expr) if recorded or ":" not in m.group(1)]


def settle(client: Client, names: set[str]) -> tuple[float, set[str]]:
    """Wait until every name in ``names`` has a series; (seconds waited, names missing)."""
    started = time.monotonic()
    pattern = "|".join(sorted(names))
    query = f'group by (__name__) ({{__name__=~"{pattern}"}})'
    missing = set(names)
    while missing and time.monotonic() - started < SETTLE_TIMEOUT:
        result = client.get("/api/v1/query", {"query": query})[1]["data"]["result"]
        missing = names - {series["metric"]["__name__"] for series in result}
        if missing:
            time.sleep(2)
    return time.monotonic() - started, missing


def rule_round(client: Client) -> str:
    """The last evaluation of every rule group, from Prometheus' own evaluation times."""
    groups = client.get("/api/v1/rules", {"type": "record"})[1]["data"]["groups"]
    total = sum(group["evaluationTime"] for group in groups)
    rules = sum(len(group["rules"]) for group in groups)
    slowest = max(groups, key=lambda group: group["evaluationTime"])
    return (
        f"{rules} recording rules in {len(groups)} groups; their last evaluations took "
        f"{total:.1f} s summed (Prometheus' evaluationTime, groups running concurrently; "
        f"slowest {slowest['name']} {slowest['evaluationTime']:.1f} s)"
    )


def reload(
    client: Client, tmp: Path, rules: Sequence[Path], step: float, every: str, scrape: str
) -> None:
    """Prometheus' configuration rewritten with ``rules`` evaluated ``every``, reloaded."""
    prometheus_config(tmp, rules, step, every, [scrape])
    client.session.post(f"{client.url}/-/reload", timeout=600).raise_for_status()


# --- dashboards -------------------------------------------------------------------------


@dataclass(slots=True)
class Target:
    panel: str
    expr: str  # with the variables substituted
    instant: bool


@dataclass(slots=True)
class Timing:
    wall: float
    exec: float  # Prometheus' execTotalTime
    samples: int  # Prometheus' totalQueryableSamples
    series: int  # in the result


@dataclass(slots=True)
class Load:
    variables: float = 0.0  # wall seconds of the variable queries
    timings: list[Timing] = field(default_factory=list)  # one per target, in order

    @property
    def total(self) -> float:
        return self.variables + sum(timing.wall for timing in self.timings)


@dataclass(slots=True)
class Dashboard:
    title: str
    model: dict[str, Any]
    seconds: float  # its default time range, ending now
    step: float
    targets: list[Target] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    concurrent: float = 0.0
    problems: list[str] = field(default_factory=list)


def prepare(path: Path) -> Dashboard:
    model = json.loads(path.read_text())
    times = model.get("time", {"from": "now-6h", "to": "now"})
    assert times["to"] == "now", f"unsupported time range {times}"
    seconds = parse_duration(times["from"].removeprefix("now-"))
    return Dashboard(model["title"], model, seconds, grafana_step(seconds))


def recorded_names(dashboards: list[Dashboard]) -> set[str]:
    """The recorded series (names with a colon) the panels read."""
    return {
        match.group(1)
        for dashboard in dashboards
        for panel in panels(dashboard.model.get("panels", []))
        for target in panel.get("targets", [])
        for match in SELECTOR.finditer(target.get("expr", ""))
        if ":" in match.group(1)
    }


def resolve(client: Client, dashboard: Dashboard, now: float) -> tuple[float, list[Target]]:
    """The variables as Grafana resolves them; (wall seconds of their queries, targets)."""
    spent = [0.0]

    def get(url: str, params: dict[str, str]) -> Any:
        elapsed, body = client.get(url.removeprefix(client.url), params)
        spent[0] += elapsed
        return body

    rate = max(dashboard.step + SCRAPE, 4 * SCRAPE)
    built_in = {
        "__interval": f"{int(dashboard.step)}s",
        "__rate_interval": f"{int(rate)}s",
        "__range": f"{int(dashboard.seconds)}s",
    }
    window = {"start": str(int(now - dashboard.seconds)), "end": str(int(now))}
    values, problems = variables(client.url, dashboard.model, built_in, window, get)
    dashboard.problems = problems
    found = [
        Target(str(panel.get("title")), substitute(t["expr"], values), bool(t.get("instant")))
        for panel in panels(dashboard.model.get("panels", []))
        for t in panel.get("targets", [])
        if t.get("expr")
    ]
    return spent[0], found


def run(client: Client, dashboard: Dashboard, target: Target, now: float) -> Timing:
    """One target as Grafana queries it: instant at ``now``, or over the range at the step."""
    if target.instant:
        params = {"query": target.expr, "time": f"{now:.3f}", "stats": "all"}
        elapsed, body = client.get("/api/v1/query", params)
    else:
        step = dashboard.step
        params = {
            "query": target.expr,
            "start": str(math.floor((now - dashboard.seconds) / step) * step),
            "end": str(math.floor(now / step) * step),
            "step": str(step),
            "stats": "all",
        }
        elapsed, body = client.get("/api/v1/query_range", params)
    stats = body["data"].get("stats", {})
    return Timing(
        elapsed,
        float(stats.get("timings", {}).get("execTotalTime", 0.0)),
        int(stats.get("samples", {}).get("totalQueryableSamples", 0)),
        len(body["data"]["result"]),
    )


def load(client: Client, dashboard: Dashboard) -> Load:
    """One sequential load: the variables, then every target in panel order."""
    now = time.time()
    spent, dashboard.targets = resolve(client, dashboard, now)
    return Load(spent, [run(client, dashboard, target, now) for target in dashboard.targets])


def load_concurrently(url: str, dashboard: Dashboard) -> float:
    """Wall seconds of one load with ``CONCURRENCY`` target queries in flight."""
    started = time.perf_counter()
    now = time.time()
    _, found = resolve(Client(url), dashboard, now)
    clients = [Client(url) for _ in range(CONCURRENCY)]
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        jobs = [
            pool.submit(run, clients[i % CONCURRENCY], dashboard, target, now)
            for i, target in enumerate(found)
        ]
        for job in jobs:
            job.result()
    return time.perf_counter() - started


@dataclass(slots=True)
class Probe:
    """Costs measured on ``PROBE``: seconds per sample read, per point returned."""

    read: float
    out: float

    def range_target(self, dashboard: Dashboard, series_read: int, series_out: int) -> float:
        """Estimated seconds of a range target over ``dashboard``'s range, 1m samples."""
        samples = series_read * dashboard.seconds / PROBE_INTERVAL
        points = series_out * (dashboard.seconds / dashboard.step + 1)
        return self.read * samples + self.out * points


def probe(client: Client, apps: int) -> Probe:
    """Time the probe panel and its max(); print the figures."""
    seconds = PROBE_DAYS * DAY
    dashboard = Dashboard("probe", {}, seconds, grafana_step(seconds))
    selector = f'{PROBE}{{team=~".*", app=~".*"}}'
    medians = []
    for expr in (selector, f"max({selector})"):
        target = Target(PROBE_PANEL, expr, instant=False)
        timings = [run(client, dashboard, target, time.time()) for _ in range(REPEATS)]
        medians.append(statistics.median(t.wall for t in timings))
        print(
            f"    range query {expr} over {PROBE_DAYS}d, step {duration(dashboard.step)}: "
            f"median {ms(medians[-1]).strip()}, max {ms(max(t.wall for t in timings)).strip()}, "
            f"{timings[0].series} series returned"
        )
    samples = apps * seconds / PROBE_INTERVAL
    points = apps * (seconds / dashboard.step + 1)
    costs = Probe(medians[1] / samples, max(medians[0] - medians[1], 0.0) / points)
    print(
        f"    cost per sample read {costs.read * 1e9:.1f} ns, per point returned "
        f"{costs.out * 1e9:.1f} ns"
    )
    return costs


def rules_estimate(client: Client, costs: Probe) -> None:
    """Print the estimated seconds to read the exported samples of one evaluation of every
    recording rule if they were scraped every 1m."""
    estimates = []
    for source in RULE_FILES:
        for group in yaml.safe_load(source.read_text())["groups"]:
            for rule in group["rules"]:
                windows = sum(promql_seconds(w) for w in WINDOW.findall(rule.get("expr", "")))
                exported = selectors(rule.get("expr", ""), recorded=False)
                if "record" in rule and windows and exported:
                    series = sum(map(client.count, exported))
                    estimates.append((costs.read * series * windows / SCRAPE, rule["record"]))
    estimates.sort(reverse=True)
    total = sum(seconds for seconds, _ in estimates)
    print(
        f"  estimate, were the exported series scraped every {duration(SCRAPE)}: one evaluation "
        f"of the {len(estimates)} rules reading them spends {total:.0f} s reading samples (the "
        "rendered groups run every 1m); the costliest:"
    )
    for seconds, name in estimates[:3]:
        print(f"    {seconds:6.1f} s {name}")


def report(client: Client, dashboard: Dashboard, costs: Probe) -> bool:
    """Print one dashboard's figures; whether its summed query time met the target."""
    totals = [load.total for load in dashboard.loads]
    count = len(dashboard.targets)
    walls = [
        statistics.median(load.timings[i].wall for load in dashboard.loads) for i in range(count)
    ]
    slowest = max(range(count), key=walls.__getitem__)
    instant = sum(target.instant for target in dashboard.targets)
    execs = statistics.median(sum(t.exec for t in load.timings) for load in dashboard.loads)
    samples = statistics.median(sum(t.samples for t in load.timings) for load in dashboard.loads)
    variables_median = statistics.median(load.variables for load in dashboard.loads)
    met = max(totals) < TARGET_SECONDS
    target = dashboard.targets[slowest]
    queried = sum(v["type"] == "query" for v in dashboard.model["templating"]["list"])
    print(
        f"  {dashboard.title} (last {duration(dashboard.seconds)}, step "
        f"{duration(dashboard.step)}): {count} queries, {count - instant} range and {instant} "
        f"instant, + {queried} variables"
    )
    print(
        f"    summed query time: median {ms(statistics.median(totals)).strip()}, "
        f"max {ms(max(totals)).strip()} -> {'PASS' if met else 'FAIL'} (< {TARGET_SECONDS:.0f} s);"
        f" of which variables {ms(variables_median).strip()}"
    )
    print(
        f"    Prometheus execTotalTime {ms(execs).strip()}, {samples:,.0f} samples queried; "
        f"{CONCURRENCY} in flight: {ms(dashboard.concurrent).strip()} wall"
    )
    kind = "instant" if target.instant else "range"
    print(f"    slowest: {ms(walls[slowest]).strip()}, {kind}, '{target.panel}': {target.expr}")
    out = [max(load.timings[i].series for load in dashboard.loads) for i in range(count)]
    estimate = variables_median + sum(
        walls[i]
        if t.instant
        else costs.range_target(dashboard, sum(map(client.count, selectors(t.expr))), out[i])
        for i, t in enumerate(dashboard.targets)
    )
    print(
        f"    estimate with 1m samples over the whole range: {ms(estimate).strip()} "
        f"(target {verdict(estimate < TARGET_SECONDS)})"
    )
    for problem in dashboard.problems:
        print(f"    problem: {problem}")
    return met


# --- main -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Dashboards over a backfilled Prometheus")
    parser.add_argument("--apps", type=int, default=APPS)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--step", default=STEP, help=f"backfill step (default {STEP})")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers, clean up
    binary = require("prometheus")
    require("promtool")
    step = parse_duration(args.step)
    teams = min(TEAMS, args.apps)
    apps = make_apps(args.apps, teams)
    started = time.perf_counter()
    print(
        f"dashboards: {args.apps} apps in {teams} teams x {args.days} days, "
        f"backfilled at a {duration(step)} step"
    )
    with tempfile.TemporaryDirectory(prefix="kpi-bench-dashboards-") as name:
        tmp = Path(name)
        now = time.time()
        start = math.floor(now / DAY) * DAY - args.days * DAY
        build(tmp, tmp / "data", start, now, apps, args.days, step)
        (tmp / "probe").mkdir()
        before = time.perf_counter()
        written = write_probe(tmp / "probe", tmp / "probe" / "data", now, apps)
        print(
            f"  probe: {written:,} samples of {PROBE} ({len(apps)} apps, every "
            f"{PROBE_INTERVAL:.0f} s, {PROBE_DAYS} d) written as blocks in "
            f"{time.perf_counter() - before:.0f} s, for a Prometheus of their own"
        )
        servers: list[Server] = []
        traffic = serve_traffic(start)
        scrape = f"127.0.0.1:{traffic.server_address[1]}"
        try:
            before = time.perf_counter()
            lifecycle = ["--web.enable-lifecycle"]
            server, url = start_prometheus(
                binary, tmp / "data", tmp, [], step, "5s", lifecycle, 600, scrape=[scrape]
            )
            servers.append(server)
            client = Client(url)
            print(f"  Prometheus ready in {time.perf_counter() - before:.1f} s: {client.tsdb()}")
            probe_server, probe_url = start_prometheus(
                binary,
                tmp / "probe" / "data",
                tmp / "probe",
                [],
                PROBE_INTERVAL,
                "1m",
                (),
                600,
                lookback=DEFAULT_LOOKBACK,
            )
            servers.append(probe_server)
            seconds = client.compacted()
            print(
                f"  compaction (a minute after the start, no rules loaded yet) done after "
                f"{seconds:.0f} s: {client.tsdb()}, {gib(size_of(tmp / 'data'))} on disk; "
                f"{client.rss(server)}"
            )
            probe_client = Client(probe_url)
            probe_client.compacted()
            print(
                f"  probe's Prometheus (lookback 5m, the default), compacted: {probe_client.tsdb()}"
            )
            costs = probe(probe_client, len(apps))
            probe_server.stop()
            shutil.rmtree(tmp / "probe")
            measure(client, server, tmp, step, costs, scrape)
        finally:
            for each in servers:
                each.stop()
            traffic.shutdown()
            traffic.server_close()
    print(f"dashboards benchmark: {time.perf_counter() - started:.0f} s")
    return 0


def measure(
    client: Client, server: Server, tmp: Path, step: float, costs: Probe, scrape: str
) -> None:
    stored = client.value('count({job="kpi-exporter"})')
    print(f'  series with job="kpi-exporter" at the end of the history: {stored:,.0f}')
    dashboards = [prepare(path) for path in DASHBOARDS]
    names = recorded_names(dashboards)
    copies = rule_files(tmp)
    reload(client, tmp, copies, step, "5s", scrape)
    waited, missing = settle(client, names)
    print(
        f"  rules loaded, evaluated every 5s: after {waited:.0f} s, {len(names) - len(missing)}"
        f" of the {len(names)} recorded series the dashboards read exist"
        + (f"; MISSING: {', '.join(sorted(missing))}" if missing else "")
    )
    print(f"  {rule_round(client)}")
    for source, copy in zip(RULE_FILES, copies, strict=True):
        copy.write_text(source.read_text())  # same paths: the groups keep their series
    reload(client, tmp, copies, step, "1m", scrape)
    used, started = client.cpu(server), time.monotonic()
    time.sleep(RULES_WINDOW)
    used, elapsed = client.cpu(server) - used, time.monotonic() - started
    print(
        f"  rule files reloaded as rendered (groups every 1m): over {elapsed:.0f} s with no "
        f"query, Prometheus used {used:.0f} CPU-s ({used / elapsed:.0%} of one core); "
        f"{client.rss(server)}"
    )
    rules_estimate(client, costs)
    print(
        f"  dashboards, {REPEATS} sequential loads each ({WIDTH}-px panels, scrape interval "
        f"{duration(SCRAPE)}):"
    )
    passed = 0
    for dashboard in dashboards:
        dashboard.loads = [load(client, dashboard) for _ in range(REPEATS)]
        dashboard.concurrent = load_concurrently(client.url, dashboard)
        passed += report(client, dashboard, costs)
    print(f"  {passed} of {len(dashboards)} dashboards met the target; {client.rss(server)}")
    print(f"  {rule_round(client)}")
    print(f"  TSDB: {client.tsdb()}; python: {memory_line()}")
    raw = [
        f"{dashboard.title} / {target.panel}: {target.expr}"
        for dashboard in dashboards
        for target in dashboard.targets
        if not target.instant and selectors(target.expr, recorded=False)
    ]
    print(f"  range targets reading exported series, not recorded ones: {len(raw)}")
    for line in raw:
        print(f"    {line}")
    print(
        "  covered: the kpi_* history at its step; recorded series only since the rules were "
        "loaded (evaluated live, not backfilled), so the measured range queries read minutes "
        "of recorded samples: the estimates say what 30 days of 1m samples would cost."
    )


if __name__ == "__main__":
    sys.exit(main())
