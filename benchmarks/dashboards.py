"""Dashboards over 500 apps x 90 days: the backfill time, then each dashboard's summed query
time in a real Prometheus, with 30 days of recorded series (target: under 1 s per dashboard,
thanks to the recording rules).
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
backfill, 4.8 GiB, and one evaluation of the rules over the uncompacted blocks ~600 CPU-s. The
rules read the latest sample of the exporter's window gauges, so a 1d step loses nothing
they read; only the few exact differences (``x - x offset 30d``) need the history. The lookback
delta is twice the step, so that the history is "current" at any time.

Prometheus. The real ``prometheus`` (127.0.0.1, a free port) starts on the blocks without
rules; its first compaction (a minute after the start) is waited for, so that rules and queries
read the blocks as Prometheus keeps them, not promtool's 2h blocks. Then the rendered recording
rules are loaded, their group intervals dropped and evaluated every 5s until every recorded
series the dashboards read exist (bounded wait); then the rule files are put back as rendered
and reloaded: the KPI groups at their ``interval`` (read from alerts/rendered/rules.yaml, see
:func:`rule_interval`), groups without one at the global evaluation interval ``EVALUATION``.
The measurements run with production's background rule evaluation, whose CPU time alone is
measured first. The rules are evaluated live, not backfilled from the rules: ``promtool tsdb
create-blocks-from rules`` in 2.42 runs one range query per rule per 2h block, ~130k queries for
30 days, and chained rules need one pass per level. So the first ("live") load of the dashboards
reads minutes of recorded samples; the recorded history phase then gives them their history.

Dashboards, loaded as Grafana loads them: the variables' ``label_values`` over the dashboard's
time range (All where included, else the first value), then every panel target outside
collapsed rows, sequentially,
each HTTP request timed from request to response: a range query over the dashboard's default
time range (``time.from``/``time.to``) at Grafana's step for a 1,000-px panel (range / 1,000
rounded as Grafana rounds, at least the datasource's scrape interval, assumed 1m, and the
panel's "Min interval" (``interval``: 1h on KPI panels over time); start and end aligned to the
step; ``$__interval`` and ``$__rate_interval`` follow it), an instant query at the end for
targets marked instant. Two selections:
every variable at All ("All teams"), and one team picked (the first value of ``team``; the
variables after it, app and environment, resolved again for that team, at All); a dashboard
whose team variable has no All (the team dashboard) is already one team, one selection. Each
selection is loaded ``REPEATS`` times: the sum of its query times (variables included), median
and max over the loads, with Prometheus' own ``execTotalTime`` and samples queried
(``stats=all``); then one more load with ``CONCURRENCY`` queries in flight as a browser would.
The target applies to each selection. A collapsed row is queried by Grafana only when it is
opened: each is measured apart, as it opens (its panels' targets, no variable query), and
meets the same target.

Recorded history (the verdict). The recorded series the dashboards' range targets select (their
selectors of recorded names, variables substituted, in every selection: ``/api/v1/series``) are
backfilled, as a Prometheus evaluating the rules for the last 30 days would hold them: one
sample every interval of the series' rule group, from the start of the longest dashboard range
to shortly before the rules were first loaded (the live samples follow), each value the series'
current one varied by 1% along a sine of the time (so that every sample differs, as recordings
do; whole numbers stay whole, 0 stays 0), written one OpenMetrics file per 2h block and turned
into blocks by promtool in parallel. Prometheus is stopped, the blocks moved into its data
directory, and it is started again with the same flags and the rules as rendered; its
compaction (merging the new blocks with the stored ones) is waited for, then every dashboard
is loaded again in each selection: these figures decide PASS or FAIL. Not covered: the values
are shaped from the current ones, not recomputed by the rules over history (right in number and
change of samples, not in meaning); the exported series stay at the backfill step.

Probe, for the one remaining estimate: what samples every rule interval cost to read. A
separate Prometheus (no rules, the default 5m lookback, compacted as above) serves one
app-level series per app at that resolution for 30 days; the panel expression of "Deployments
per day (7d)" and its ``max()`` are timed on it, giving a cost per sample read and per point
returned. From them, an estimate (not a measurement): one evaluation of the rules reading
exported series scraped every 1m over their windows.
"""

from __future__ import annotations

import argparse
import copy
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

import yaml
from tests.process import Server
from tests.prometheus_fixture import (
    BLOCK,
    DASHBOARDS,
    RULE_FILES,
    SLO_FAMILIES,
    App,
    PrometheusClient,
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

from kpi_exporter import backfill
from kpi_exporter.backfill import parse_duration
from kpi_exporter.exposition import format_value, label_block
from kpi_exporter.store import Store

from .common import memory_line, ms

APPS = 500
TEAMS = 50
DAYS = 90
STEP = "1d"
REPEATS = 5
SLOWEST = 3  # targets printed per selection
CONCURRENCY = 6  # a browser's connections per host
TARGET_SECONDS = 1.0  # summed query time of one dashboard
WIDTH = 1000  # panel width in pixels: Grafana's maxDataPoints
SCRAPE = 60.0  # the datasource's scrape interval: Grafana's minimum step
PROMTOOL_WORKERS = 2
SETTLE_TIMEOUT = 600.0
RULES_WINDOW = 60.0  # seconds of rule evaluation alone, for its CPU time
DEFAULT_LOOKBACK = 300.0  # Prometheus' default --query.lookback-delta
PROBE = "app:kpi_probe:per_day_7d"
PROBE_PANEL = "Deployment frequency: deployments per day (7d)"
PROBE_DAYS = 30
KPI_RULES = RULE_FILES[0]  # alerts/rendered/rules.yaml: the KPI recording groups
EVALUATION = "1m"  # the global evaluation_interval: groups without an interval of their own
VARIATION = 0.01  # of the recorded history's values, along a sine of the time
HOUR = 3600.0
COMPACTION_TIMEOUT = 1800.0  # the new blocks are merged with the stored ones
LIFECYCLE = ("--web.enable-lifecycle",)  # the benchmark's Prometheus: reloads over HTTP
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


def grafana_step(seconds: float, min_interval: float = 0.0) -> float:
    """Grafana's step over ``seconds`` for a ``WIDTH``-px panel: rounded, at least the
    datasource's scrape interval and the panel's "Min interval"."""
    return max(round_interval(seconds / WIDTH), SCRAPE, min_interval)


def panel_step(dashboard: Dashboard, panel: dict[str, Any]) -> float:
    """The step of the panel's range queries."""
    interval = panel.get("interval")
    return grafana_step(dashboard.seconds, parse_duration(interval) if interval else 0.0)


def built_ins(dashboard: Dashboard, step: float) -> dict[str, str]:
    """Grafana's built-in variables for a panel of the dashboard with that step."""
    rate = max(step + SCRAPE, 4 * SCRAPE)
    return {
        "__interval": f"{int(step)}s",
        "__rate_interval": f"{int(rate)}s",
        "__range": f"{int(dashboard.seconds)}s",
    }


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


# --- rule intervals ---------------------------------------------------------------------


def group_interval(group: dict[str, Any]) -> float:
    """Seconds between two evaluations of a rule group: its own ``interval``, else the global
    evaluation interval."""
    return promql_seconds(group.get("interval", EVALUATION))


def rule_interval() -> float:
    """The interval of the KPI recording groups, as rendered in alerts/rendered/rules.yaml (the
    shortest, should they differ)."""
    groups = yaml.safe_load(KPI_RULES.read_text())["groups"]
    return min(
        group_interval(group)
        for group in groups
        if any("record" in rule for rule in group["rules"])
    )


def record_intervals() -> dict[str, float]:
    """Each recorded name of the rendered rule files -> its group's interval."""
    return {
        rule["record"]: group_interval(group)
        for source in RULE_FILES
        for group in yaml.safe_load(source.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def rendered_rules(tmp: Path) -> list[Path]:
    """The rule files as rendered (groups at their own interval), copied into ``tmp`` where
    :func:`rule_files` puts its copies: same paths, so that a reload keeps the groups' series."""
    copies = [tmp / source.name for source in RULE_FILES]
    for source, path in zip(RULE_FILES, copies, strict=True):
        path.write_text(source.read_text())
    return copies


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


def write_probe(tmp: Path, data: Path, now: float, apps: list[App], interval: float) -> int:
    """``PROBE`` for every app every ``interval`` over the last ``PROBE_DAYS`` days, as
    promtool blocks in ``data``; the samples written. Values change at every sample, as a
    recorded window over sliding time does."""
    end = math.floor(now / interval) * interval
    first = end - PROBE_DAYS * DAY
    chunks: list[Path] = []
    samples = 0
    step = int(interval)
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


class Client(PrometheusClient):
    """The shared client, and what the benchmark reads of the Prometheus process."""

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
    step: float  # of a range query: Grafana's for the dashboard, at least the panel's interval


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
class Selection:
    """A dashboard opened with some variable values, and what its loads measured."""

    model: dict[str, Any]  # the dashboard as opened: for one team, its team variable without All
    name: str = ""  # once resolved: "All teams" or "one team (team-000)"
    targets: list[Target] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    concurrent: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Dashboard:
    """A dashboard as it opens (the panels of its collapsed rows left out), or one of its
    collapsed rows as it opens on a click (``row``: its title; ``model``: the dashboard with
    only that row's panels)."""

    title: str
    model: dict[str, Any]
    seconds: float  # its default time range, ending now
    step: float
    selections: list[Selection] = field(default_factory=list)
    row: str = ""


def team_variable(model: dict[str, Any]) -> dict[str, Any] | None:
    """The dashboard's ``team`` query variable, if it has one."""
    found = model.get("templating", {}).get("list", [])
    return next((v for v in found if v["name"] == "team" and v["type"] == "query"), None)


def selections(model: dict[str, Any]) -> list[Selection]:
    """The dashboard as it opens (All teams, where the team variable includes All); and, if it
    does, with one team picked: a copy whose team variable has no All, so that its first value
    is used and the variables after it (app, environment) are resolved for that team."""
    found = [Selection(model)]
    team = team_variable(model)
    if team is not None and team.get("includeAll"):
        picked = copy.deepcopy(model)
        picked_team = team_variable(picked)
        assert picked_team is not None
        picked_team["includeAll"] = False
        picked_team["multi"] = False
        found.append(Selection(picked))
    return found


def selection_name(model: dict[str, Any], values: dict[str, str]) -> str:
    """How the selection is reported: "All teams", or the team picked."""
    team = team_variable(model)
    if team is None:
        return "as opened"
    if team.get("includeAll"):
        return "All teams"
    return f"one team ({values['team']})"


def collapsed(panel: dict[str, Any]) -> bool:
    return panel.get("type") == "row" and bool(panel.get("collapsed"))


def prepare(path: Path) -> list[Dashboard]:
    """The dashboard as it opens, then each of its collapsed rows as it opens on a click.
    Grafana queries the panels of a collapsed row only once the row is opened, with the
    variables as they are (no variable query)."""
    model = json.loads(path.read_text())
    times = model.get("time", {"from": "now-6h", "to": "now"})
    assert times["to"] == "now", f"unsupported time range {times}"
    seconds = parse_duration(times["from"].removeprefix("now-"))
    step = grafana_step(seconds)

    def with_panels(panels: list[dict[str, Any]], row: str = "") -> Dashboard:
        shown = {**model, "panels": panels}
        return Dashboard(model["title"], shown, seconds, step, selections(shown), row)

    top = model.get("panels", [])
    closed = [{**panel, "panels": []} if collapsed(panel) else panel for panel in top]
    rows = [panel for panel in top if collapsed(panel)]
    return [with_panels(closed)] + [with_panels(row["panels"], row["title"]) for row in rows]


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


def resolve(
    client: Client, dashboard: Dashboard, selection: Selection, now: float
) -> tuple[float, list[Target]]:
    """The selection's variables as Grafana resolves them; (wall seconds of their queries,
    targets)."""
    spent = [0.0]

    def get(url: str, params: dict[str, str]) -> Any:
        elapsed, body = client.get(url.removeprefix(client.url), params)
        spent[0] += elapsed
        return body

    window = {"start": str(int(now - dashboard.seconds)), "end": str(int(now))}
    values, problems = variables(
        client.url, selection.model, built_ins(dashboard, dashboard.step), window, get
    )
    selection.problems = problems
    selection.name = selection_name(selection.model, values)
    found = []
    for panel in panels(selection.model.get("panels", [])):
        step = panel_step(dashboard, panel)
        panel_values = {**values, **built_ins(dashboard, step)}
        found += [
            Target(
                str(panel.get("title")),
                substitute(t["expr"], panel_values),
                bool(t.get("instant")),
                step,
            )
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
        step = target.step
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


def load(client: Client, dashboard: Dashboard, selection: Selection) -> Load:
    """One sequential load: the variables, then every target in panel order. A row opened
    queries no variable: their time is not counted."""
    now = time.time()
    spent, selection.targets = resolve(client, dashboard, selection, now)
    timings = [run(client, dashboard, target, now) for target in selection.targets]
    return Load(0.0 if dashboard.row else spent, timings)


def load_concurrently(url: str, dashboard: Dashboard, selection: Selection) -> float:
    """Wall seconds of one load with ``CONCURRENCY`` target queries in flight."""
    started = time.perf_counter()
    now = time.time()
    _, found = resolve(Client(url), dashboard, selection, now)
    clients = [Client(url) for _ in range(CONCURRENCY)]
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        jobs = [
            pool.submit(run, clients[i % CONCURRENCY], dashboard, target, now)
            for i, target in enumerate(found)
        ]
        for job in jobs:
            job.result()
    return time.perf_counter() - started


def load_all(client: Client, dashboards: list[Dashboard]) -> str:
    """Load every dashboard, and every collapsed row, in each of its selections (``REPEATS``
    sequential loads, then one concurrent load) and print its figures; how many met the
    target, in words."""
    met = []
    for dashboard in dashboards:
        for selection in dashboard.selections:
            selection.loads = [load(client, dashboard, selection) for _ in range(REPEATS)]
            selection.concurrent = load_concurrently(client.url, dashboard, selection)
        met.append(report(dashboard))
    pairs = list(zip(dashboards, met, strict=True))
    opened = [passed for dashboard, passed in pairs if not dashboard.row]
    rows = [passed for dashboard, passed in pairs if dashboard.row]
    return (
        f"{sum(opened)} of {len(opened)} dashboards (as they open) and {sum(rows)} of "
        f"{len(rows)} collapsed rows (as they open on a click) met the target"
    )


@dataclass(slots=True)
class Probe:
    """Costs measured on ``PROBE``: seconds per sample read, per point returned."""

    read: float
    out: float


def probe(client: Client, apps: int, interval: float) -> Probe:
    """Time the probe panel and its max() (``PROBE`` has a sample every ``interval``); print
    the figures."""
    seconds = PROBE_DAYS * DAY
    dashboard = Dashboard("probe", {}, seconds, grafana_step(seconds))
    selector = f'{PROBE}{{team=~".*", app=~".*"}}'
    medians = []
    for expr in (selector, f"max({selector})"):
        target = Target(PROBE_PANEL, expr, instant=False, step=dashboard.step)
        timings = [run(client, dashboard, target, time.time()) for _ in range(REPEATS)]
        medians.append(statistics.median(t.wall for t in timings))
        print(
            f"    range query {expr} over {PROBE_DAYS}d, step {duration(dashboard.step)}: "
            f"median {ms(medians[-1]).strip()}, max {ms(max(t.wall for t in timings)).strip()}, "
            f"{timings[0].series} series returned"
        )
    samples = apps * seconds / interval
    points = apps * (seconds / dashboard.step + 1)
    costs = Probe(medians[1] / samples, max(medians[0] - medians[1], 0.0) / points)
    print(
        f"    cost per sample read {costs.read * 1e9:.1f} ns, per point returned "
        f"{costs.out * 1e9:.1f} ns"
    )
    return costs


def rules_estimate(client: Client, costs: Probe, interval: float) -> None:
    """Print the estimated seconds to read the exported samples of one evaluation of every
    recording rule if they were scraped every ``SCRAPE``; the KPI groups run every
    ``interval``."""
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
        f"rendered KPI groups run every {duration(interval)}); the costliest:"
    )
    for seconds, name in estimates[:3]:
        print(f"    {seconds:6.1f} s {name}")


def min_intervals(dashboard: Dashboard) -> str:
    """ ", panels with a Min interval at least 1h" when some panels have a "Min interval"
    longer than the dashboard's step."""
    longer = {
        panel["interval"]
        for panel in panels(dashboard.model.get("panels", []))
        if panel.get("interval") and parse_duration(panel["interval"]) > dashboard.step
    }
    return f", panels with a Min interval at least {', '.join(sorted(longer))}" if longer else ""


def report(dashboard: Dashboard) -> bool:
    """Print one dashboard's figures, selection by selection; whether every selection met the
    target."""
    targets = dashboard.selections[0].targets
    instant = sum(target.instant for target in targets)
    queried = sum(v["type"] == "query" for v in dashboard.model["templating"]["list"])
    variables = f"+ {queried} variables" if not dashboard.row else "no variable query"
    opened = f", row '{dashboard.row}' opened" if dashboard.row else ""
    print(
        f"  {dashboard.title}{opened} (last {duration(dashboard.seconds)}, step "
        f"{duration(dashboard.step)}{min_intervals(dashboard)}): {len(targets)} queries, "
        f"{len(targets) - instant} range and {instant} instant, {variables}"
    )
    met = [report_selection(selection) for selection in dashboard.selections]
    return all(met)


def report_selection(selection: Selection) -> bool:
    """Print the figures of one selection's loads; whether its summed query time met the
    target in every load."""
    totals = [load.total for load in selection.loads]
    count = len(selection.targets)
    walls = [
        statistics.median(load.timings[i].wall for load in selection.loads) for i in range(count)
    ]
    slowest = sorted(range(count), key=walls.__getitem__, reverse=True)[:SLOWEST]
    execs = statistics.median(sum(t.exec for t in load.timings) for load in selection.loads)
    samples = statistics.median(sum(t.samples for t in load.timings) for load in selection.loads)
    variables_median = statistics.median(load.variables for load in selection.loads)
    met = max(totals) < TARGET_SECONDS
    print(
        f"    {selection.name}: summed query time median {ms(statistics.median(totals)).strip()},"
        f" max {ms(max(totals)).strip()} -> {'PASS' if met else 'FAIL'} "
        f"(< {TARGET_SECONDS:.0f} s); of which variables {ms(variables_median).strip()}"
    )
    print(
        f"      Prometheus execTotalTime {ms(execs).strip()}, {samples:,.0f} samples queried; "
        f"{CONCURRENCY} in flight: {ms(selection.concurrent).strip()} wall"
    )
    for i in slowest:
        target = selection.targets[i]
        kind = "instant" if target.instant else "range"
        print(f"      slow: {ms(walls[i]).strip()}, {kind}, '{target.panel}': {target.expr}")
    for problem in selection.problems:
        print(f"      problem: {problem}")
    return met


# --- recorded history -------------------------------------------------------------------

Series = tuple[str, str]  # (name, its other labels as an OpenMetrics label block)


def series_of(labels: dict[str, str]) -> Series:
    """A series as the API gives its labels (``__name__`` included) -> (name, label block)."""
    rest = {name: value for name, value in labels.items() if name != "__name__"}
    return labels["__name__"], label_block(tuple(rest), tuple(rest.values()))


def range_selectors(dashboards: list[Dashboard]) -> set[str]:
    """The selectors of recorded series (whole: name and every matcher) in the range targets
    of every selection, as last loaded (variables substituted)."""
    return {
        match.group(0)
        for dashboard in dashboards
        for selection in dashboard.selections
        for target in selection.targets
        if not target.instant
        for match in SELECTOR.finditer(target.expr)
        if ":" in match.group(1)
    }


def recorded_series(client: Client, matchers: set[str], since: float) -> dict[Series, float]:
    """The series any of ``matchers`` selects since ``since`` (``/api/v1/series``, each once),
    sorted by name, -> its current value (one instant query per name; 0 if it has none)."""
    if not matchers:
        return {}
    found = {series_of(labels) for labels in client.series(sorted(matchers), since)}
    current: dict[Series, float] = {}
    for name in sorted({name for name, _ in found}):
        query = {"query": f'{{__name__="{name}"}}'}
        result = client.get("/api/v1/query", query)[1]["data"]["result"]
        current.update((series_of(item["metric"]), float(item["value"][1])) for item in result)
    return {series: current.get(series, 0.0) for series in sorted(found)}


def sample_times(low: float, high: float, interval: float) -> tuple[list[str], list[float]]:
    """The multiples of ``interval`` from ``low`` to ``high``: each as the end of an OpenMetrics
    sample line (`` <seconds>\\n``), and each one's factor ``1 + VARIATION * sin(t / 1h)``."""
    first = math.ceil(low / interval) * interval
    times = range(int(first), int(high) + 1, int(interval))
    return [f" {t}\n" for t in times], [1 + VARIATION * math.sin(t / HOUR) for t in times]


def sample_lines(series: str, value: float, times: list[str], factors: list[float]) -> str:
    """The samples of ``series`` (name and label block) at ``times``: ``value`` times each
    factor, rounded if ``value`` is a whole number; 0, NaN and infinities unchanged."""
    if value == 0 or not math.isfinite(value):
        line = f"{series} {format_value(value)}"
        return "".join(line + at for at in times)
    pairs = zip(factors, times, strict=True)
    if value.is_integer():
        return "".join(f"{series} {value * factor:.0f}{at}" for factor, at in pairs)
    return "".join(f"{series} {value * factor!r}{at}" for factor, at in pairs)


def write_recorded(
    series: dict[Series, float],
    intervals: dict[str, float],
    first: float,
    last: float,
    directory: Path,
) -> tuple[list[Path], int]:
    """The history of ``series`` (sorted by name) from ``first`` to ``last`` as OpenMetrics,
    one file per 2h block under ``directory`` (promtool reads its whole input once per block):
    each series a sample at every multiple of its group's interval (``intervals``, by name),
    valued by :func:`sample_lines`. The files in time order, and the samples written."""
    chunks = []
    samples = 0
    for block in range(int(first // BLOCK), int(last // BLOCK) + 1):
        low, high = max(first, block * BLOCK), min(last, block * BLOCK + BLOCK - 1)
        times = {every: sample_times(low, high, every) for every in set(intervals.values())}
        path = directory / str(block) / "recorded.om"
        path.parent.mkdir(parents=True)
        with path.open("w") as out:
            family = ""
            for (name, labels), value in series.items():
                if name != family:  # the samples of a family under one header
                    out.write(f"# TYPE {name} gauge\n")
                    family = name
                stamps, factors = times[intervals[name]]
                text = f"{name}{{{labels}}}" if labels else name
                out.write(sample_lines(text, value, stamps, factors))
                samples += len(stamps)
            out.write("# EOF\n")
        chunks.append(path)
    return chunks, samples


def backfill_recorded(
    client: Client, dashboards: list[Dashboard], loaded: float, tmp: Path
) -> tuple[list[str], str]:
    """The history of the recorded series the dashboards' range targets select, up to shortly
    before ``loaded`` (when the rules were first loaded), as blocks in tmp/recorded-blocks;
    print the figures. (The blocks' names, the history in words.)"""
    interval = rule_interval()
    series = recorded_series(client, range_selectors(dashboards), loaded)
    longest = max(dashboard.seconds + dashboard.step for dashboard in dashboards)
    first, last = time.time() - longest, loaded - interval
    names = len({name for name, _ in series})
    print(
        f"  recorded history: the {len(series):,} series of {names} recorded names that the "
        "range targets select (every selection), from the start of the longest dashboard "
        f"range to {duration(interval)} before the rules were loaded"
    )
    groups = record_intervals()
    intervals = {name: groups.get(name, interval) for name, _ in series}
    before = time.perf_counter()
    chunks, samples = write_recorded(series, intervals, first, last, tmp / "recorded")
    written = time.perf_counter() - before
    print(
        f"    {samples:,} samples (one per series every rule interval) over "
        f"{(last - first) / DAY:.1f} days, OpenMetrics {gib(size_of(tmp / 'recorded'))}"
    )
    print(
        f"    write the OpenMetrics, one file per 2h block:     {written:7.1f} s"
        f"  ({len(chunks):,} files)"
    )
    before = time.perf_counter()
    blocks = backfill.blocks_from_chunks(chunks, tmp / "recorded-blocks", PROMTOOL_WORKERS)
    promtool = time.perf_counter() - before
    shutil.rmtree(tmp / "recorded")
    print(
        f"    promtool create-blocks-from openmetrics, x{PROMTOOL_WORKERS}:  {promtool:7.1f} s"
        f"  ({len(blocks):,} blocks)"
    )
    history = f"{(last - first) / DAY:.0f} days of recorded history"
    return blocks, f"{history} at the {duration(interval)} rule interval"


def restart(
    binary: str, tmp: Path, step: float, scrape: str, blocks: list[str]
) -> tuple[Server, str]:
    """Move ``blocks`` (from tmp/recorded-blocks) into the data directory of the stopped
    Prometheus and start it again on it with the same flags, the rules as rendered; (server,
    URL) once ready."""
    for block in blocks:
        shutil.move(tmp / "recorded-blocks" / block, tmp / "data" / block)
    rules = rendered_rules(tmp)
    return start_prometheus(
        binary, tmp / "data", tmp, rules, step, EVALUATION, LIFECYCLE, 600, scrape=[scrape]
    )


def measure_recorded(
    client: Client, server: Server, tmp: Path, dashboards: list[Dashboard], history: str
) -> str:
    """Wait for the compaction of the restarted Prometheus, then load every dashboard again;
    the verdict (how many dashboards met the target) as a line."""
    seconds = client.compacted(COMPACTION_TIMEOUT)
    print(
        f"  compaction done after {seconds:.0f} s: {client.tsdb()}, "
        f"{gib(size_of(tmp / 'data'))} on disk; {client.rss(server)}"
    )
    print(
        f"  dashboards with {history}, {REPEATS} sequential loads each ({WIDTH}-px panels, "
        f"scrape interval {duration(SCRAPE)}):"
    )
    verdict = load_all(client, dashboards)
    print(f"  {rule_round(client)}")
    print(f"  TSDB: {client.tsdb()}; {client.rss(server)}; python: {memory_line()}")
    return f"{verdict} with {history}"


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
    interval = rule_interval()
    started = time.perf_counter()
    print(
        f"dashboards: {args.apps} apps in {teams} teams x {args.days} days, "
        f"backfilled at a {duration(step)} step; KPI rule groups every {duration(interval)}"
    )
    with tempfile.TemporaryDirectory(prefix="kpi-bench-dashboards-") as name:
        tmp = Path(name)
        now = time.time()
        start = math.floor(now / DAY) * DAY - args.days * DAY
        build(tmp, tmp / "data", start, now, apps, args.days, step)
        (tmp / "probe").mkdir()
        before = time.perf_counter()
        written = write_probe(tmp / "probe", tmp / "probe" / "data", now, apps, interval)
        print(
            f"  probe: {written:,} samples of {PROBE} ({len(apps)} apps, every "
            f"{duration(interval)}, {PROBE_DAYS} d) written as blocks in "
            f"{time.perf_counter() - before:.0f} s, for a Prometheus of their own"
        )
        servers: list[Server] = []
        traffic = serve_traffic(start)
        scrape = f"127.0.0.1:{traffic.server_address[1]}"
        try:
            before = time.perf_counter()
            server, url = start_prometheus(
                binary, tmp / "data", tmp, [], step, "5s", LIFECYCLE, 600, scrape=[scrape]
            )
            servers.append(server)
            client = Client(url)
            print(f"  Prometheus ready in {time.perf_counter() - before:.1f} s: {client.tsdb()}")
            probe_server, probe_url = start_prometheus(
                binary,
                tmp / "probe" / "data",
                tmp / "probe",
                [],
                interval,
                EVALUATION,
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
            costs = probe(probe_client, len(apps), interval)
            probe_server.stop()
            shutil.rmtree(tmp / "probe")
            dashboards = [each for path in DASHBOARDS for each in prepare(path)]
            loaded = measure(client, server, tmp, step, costs, scrape, dashboards)
            blocks, history = backfill_recorded(client, dashboards, loaded, tmp)
            server.stop()
            before = time.perf_counter()
            server, url = restart(binary, tmp, step, scrape, blocks)
            servers.append(server)
            client = Client(url)
            print(
                f"  Prometheus stopped, the blocks moved into its data directory, started again"
                f" (rules as rendered) in {time.perf_counter() - before:.1f} s: {client.tsdb()}"
            )
            verdict_line = measure_recorded(client, server, tmp, dashboards, history)
        finally:
            for each in servers:
                each.stop()
            traffic.shutdown()
            traffic.server_close()
    print(f"dashboards benchmark ({time.perf_counter() - started:.0f} s): {verdict_line}")
    return 0


def measure(
    client: Client,
    server: Server,
    tmp: Path,
    step: float,
    costs: Probe,
    scrape: str,
    dashboards: list[Dashboard],
) -> float:
    """The live phase: the rules loaded and settled, their CPU time, every dashboard loaded
    with minutes of recorded samples; when the rules were first loaded."""
    stored = client.value('count({job="kpi-exporter"})')
    print(f'  series with job="kpi-exporter" at the end of the history: {stored:,.0f}')
    names = recorded_names(dashboards)
    copies = rule_files(tmp)
    loaded = time.time()
    reload(client, tmp, copies, step, "5s", scrape)
    waited, missing = settle(client, names)
    print(
        f"  rules loaded, evaluated every 5s: after {waited:.0f} s, {len(names) - len(missing)}"
        f" of the {len(names)} recorded series the dashboards read exist"
        + (f"; MISSING: {', '.join(sorted(missing))}" if missing else "")
    )
    print(f"  {rule_round(client)}")
    reload(client, tmp, rendered_rules(tmp), step, EVALUATION, scrape)
    used, started = client.cpu(server), time.monotonic()
    time.sleep(RULES_WINDOW)
    used, elapsed = client.cpu(server) - used, time.monotonic() - started
    interval = rule_interval()
    print(
        f"  rule files reloaded as rendered (KPI groups every {duration(interval)}): over "
        f"{elapsed:.0f} s with no query, Prometheus used {used:.0f} CPU-s "
        f"({used / elapsed:.0%} of one core); {client.rss(server)}"
    )
    rules_estimate(client, costs, interval)
    print(
        f"  live: dashboards with minutes of recorded history, {REPEATS} sequential loads each "
        f"({WIDTH}-px panels, scrape interval {duration(SCRAPE)}):"
    )
    verdict = load_all(client, dashboards)
    print(
        f"  live: {verdict} (not the verdict: "
        f"recorded series hold minutes of history); {client.rss(server)}"
    )
    print(f"  {rule_round(client)}")
    print(f"  TSDB: {client.tsdb()}; python: {memory_line()}")
    raw = {
        f"{dashboard.title} / {target.panel}: {target.expr}"
        for dashboard in dashboards
        for selection in dashboard.selections
        for target in selection.targets
        if not target.instant and selectors(target.expr, recorded=False)
    }
    print(f"  range targets reading exported series, not recorded ones: {len(raw)}")
    for line in sorted(raw):
        print(f"    {line}")
    return loaded


if __name__ == "__main__":
    sys.exit(main())
