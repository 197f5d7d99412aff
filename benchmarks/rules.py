"""Samples the rendered rules read per evaluation round, on a real Prometheus holding 30 days of
every series they read, at 5 and 20 apps; the linear fit in apps and the extrapolation to 500
apps at a 1m scrape (target: at most 2e7 samples a round; the rules that computed windows over
raw series read 9.3e9). Run alone with ``python -m benchmarks.rules`` (``--apps 5 20``).

Data. For N apps over 2 teams (apps alternate), every series the rule files rules.yaml and
alerts.yaml read (their metric names, matched against the exporter's families in
kpis/families.py): the window gauges (counts per app and window; quantiles and deploy days at
app, team and organisation level, per window and quantile), the raw histogram the per-severity
time to fix still windows and its retractions (a fifth of the apps had one), and the other
families the rules read (open counts, coverage, SonarQube, security, cost, budgets, surveys,
the exporter's health), with the label values an installation has (2 environments' worth of
nothing: production only; 3 components, 4 finding severities, 2 scanners, 2 providers...). An
unsharded exporter: no ``_observations`` series (the rules' fallback reads none). Samples every
minute for the last 3 hours (the rules read the latest ones; a 1h range reads 60) and every day
before, back 30 days, aligned on the evaluation instant, so that ``offset 30d`` finds a sample
exactly. The SLO rules (slo.yaml) read the example SLOs' request series of app ``checkout`` at
1m for the whole 30 days (their 30d windows read every sample), measured apart: they do not
grow with apps.

Measure. The OpenMetrics history is split per 2h block and turned into blocks by the real
``promtool`` (in parallel), served by the real ``prometheus`` with the rule files loaded (group
intervals dropped, evaluated every ``EVALUATION``; lookback delta 1h, so the history stays
current while the benchmark runs: an instant selector reads one sample a series whatever the
lookback). Once every group has been evaluated three times (chains of records across groups
settled), each rule's expression runs as an instant query with ``stats=all`` at the current
time (the recorded series it reads exist by then), and its ``totalQueryableSamples`` is
summed per group and in total: the samples one evaluation round reads. Each group's
``evaluationTime`` is read from ``/api/v1/rules`` (the median of three readings an evaluation
apart). The history's 30 daily samples sit in 30 uncompacted 2h blocks (promtool's), which
makes ``offset 30d`` reads slower than in a Prometheus that has compacted its month. Nothing
is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path
from typing import Any

import yaml
from tests.prometheus_fixture import SCRAPE_LABELS, PrometheusClient, slo_samples, start_prometheus
from tests.promql import metric_names

from kpi_exporter import backfill
from kpi_exporter.exposition import Family
from kpi_exporter.kpis.families import (
    AGE_THRESHOLDS,
    EXPORTER_FAMILIES,
    FAMILIES,
    WINDOWED,
    retracted_name,
)
from kpi_exporter.kpis.windows import percentile_label
from kpi_exporter.render import bundle

ROOT = Path(__file__).resolve().parent.parent
RENDERED = ROOT / "alerts" / "rendered"
KPI_FILES = ("rules.yaml", "alerts.yaml")
SLO_FILE = "slo.yaml"
TEAMS = 2
DAYS = 30
FINE_HOURS = 3  # of 1m samples before the evaluation instant
MINUTE, DAY = 60, 86400
EVALUATION = "15s"
TARGET_APPS = 500
BUDGET = 2e7
OLD_RULES = 9.3e9  # samples a round at 500 apps, measured before the exporter computed windows
PROMTOOL_WORKERS = 2

# Label values of an installation, by label name (app and team come from the apps; window,
# quantile and le from the configuration and the families).
VALUES: dict[str, tuple[str, ...]] = {
    "environment": ("production",),
    "component": ("api", "web", "worker"),
    "scanner": ("dependabot", "trivy"),
    "older_than": tuple(name for name, _ in AGE_THRESHOLDS),
    "provider": ("aws", "gcp"),
    "currency": ("USD",),
    "metric": ("active_users",),
    "survey": ("dx",),
    "question": ("recommend", "tooling"),
    "source": ("github", "pagerduty", "jira"),
    "type": ("github",),
    "kind": ("deployment", "change", "incident"),
    "code": ("200", "304"),
    "resource": ("core",),
    "result": ("success",),
    "version": ("1.0.0",),
    "python_version": ("3.11.2",),
    "shard": ("0",),
    "shards": ("1",),
}
SEVERITIES = {"incident": ("critical", "high"), "defect": ("critical", "high", "low")}
FINDING_SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True, slots=True)
class App:
    name: str
    team: str


def apps_of(count: int) -> list[App]:
    return [App(f"app-{i:03d}", f"team-{i % TEAMS}") for i in range(count)]


def families_read(paths: Sequence[Path]) -> list[Family]:
    """The exporter's families whose series the rules of ``paths`` read."""
    names = {
        name
        for path in paths
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        for name in metric_names(rule["expr"])
    }
    retractions = [
        replace(family, name=retracted_name(family.name))
        for family in FAMILIES
        if family.type in ("counter", "histogram")
    ]
    known = [*FAMILIES, *retractions, *(w.family for w in WINDOWED), *EXPORTER_FAMILIES]
    return [
        family
        for family in known
        if family.name in names or (family.type == "histogram" and family.name + "_bucket" in names)
    ]


def _values(family: Family, label: str) -> tuple[str, ...]:
    if label == "severity":
        for word, severities in SEVERITIES.items():
            if word in family.name:
                return severities
        return FINDING_SEVERITIES
    if label == "window":
        return tuple(bundle.evaluate("config.libsonnet")["windows"]["all"])
    if label == "percentile":
        return tuple(percentile_label(q) for q in bundle.evaluate("config.libsonnet")["quantiles"])
    return VALUES[label]


def label_sets(family: Family, apps: Sequence[App]) -> Iterator[dict[str, str]]:
    """Every label set of ``family`` an installation of ``apps`` publishes (without ``le``)."""
    levelled = {w.family.name for w in WINDOWED if w.kind in ("quantiles", "days")}
    teams = sorted({app.team for app in apps})
    owners: list[dict[str, str]]
    if "app" in family.labels:
        owners = [{"app": app.name, "team": app.team} for app in apps]
        if family.name in levelled:  # the team and organisation levels too
            owners += [{"team": team} for team in teams] + [{}]
        elif family.name == "kpi_cost_budget_month":  # app budgets and team budgets
            owners = [{"app": app.name, "team": ""} for app in apps]
            owners += [{"app": "", "team": team} for team in teams]
        elif family.name.endswith("_retracted_seconds"):  # a fifth of the apps had one
            owners = owners[::5]
    elif "team" in family.labels:
        owners = [{"team": team} for team in teams]
    else:
        owners = [{}]
    others = [label for label in family.labels if label not in ("app", "team")]
    for owner in owners:
        for values in product(*(_values(family, label) for label in others)):
            labels = {**owner, **dict(zip(others, values, strict=True))}
            if family.name.endswith("_retracted_seconds") and labels["severity"] != "critical":
                continue
            yield labels


def series_of(family: Family, apps: Sequence[App]) -> list[tuple[str, bool]]:
    """(series with its labels and the scrape's, whether it counts up) of ``family``."""
    counting = family.type in ("counter", "histogram")
    out = []
    for labels in label_sets(family, apps):
        text = ",".join(f'{name}="{value}"' for name, value in labels.items())
        selector = "{" + SCRAPE_LABELS + ("," + text if text else "") + "}"
        if family.type == "histogram":
            bounds = [f"{bound:g}" for bound in family.buckets or ()] + ["+Inf"]
            out += [(f'{family.name}_bucket{selector[:-1]},le="{le}"}}', counting) for le in bounds]
        else:
            out.append((family.name + selector, counting))
    return out


def stamps(now: int) -> list[int]:
    """A sample a day for 30 days, then a minute for the last hours, ending at ``now``."""
    daily = [now - day * DAY for day in range(DAYS, 0, -1)]
    fine = [now - minute * MINUTE for minute in range(FINE_HOURS * 60, -1, -1)]
    return [stamp for stamp in daily if stamp < fine[0]] + fine


def history(apps: Sequence[App], now: int) -> Iterator[str]:
    """The OpenMetrics sample lines of every series the KPI rules read."""
    times = stamps(now)
    for family in families_read([RENDERED / name for name in KPI_FILES]):
        for series, counting in series_of(family, apps):
            for index, stamp in enumerate(times):
                value = index if counting else (now - 3600 if "timestamp" in series else 1)
                yield f"{series} {value} {stamp}\n"


def slo_history(now: int) -> Iterator[str]:
    """The example SLOs' request series (app checkout), every minute for 30 days."""
    start = now - DAYS * DAY
    for stamp in range(start, now + 1, MINUTE):
        for lines in slo_samples(start, stamp).values():
            for line in lines:
                yield f"{line} {stamp}\n"


def copies(directory: Path, names: Sequence[str]) -> list[Path]:
    """The rendered rule files without their group intervals (evaluated every EVALUATION)."""
    paths = []
    for name in names:
        rules = yaml.safe_load((RENDERED / name).read_text())
        for group in rules["groups"]:
            group.pop("interval", None)
        path = directory / name
        path.write_text(yaml.safe_dump(rules))
        paths.append(path)
    return paths


def rule_groups(client: PrometheusClient) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = client.get("/api/v1/rules", {})[1]["data"]["groups"]
    return groups


def wait_evaluated(client: PrometheusClient, timeout: float = 300) -> list[dict[str, Any]]:
    """The rule groups once each has been evaluated (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        groups = rule_groups(client)
        if groups and all(g["lastEvaluation"] > "2000" for g in groups):
            return groups
        time.sleep(1)
    raise AssertionError("the rule groups were not all evaluated in time")


def evaluation_times(client: PrometheusClient, reads: int = 3) -> dict[str, float]:
    """Each group's evaluation time in seconds: the median of its last evaluation read
    ``reads`` times, an evaluation interval apart (one evaluation can catch a compaction)."""
    interval = float(EVALUATION.removesuffix("s"))
    readings: dict[str, list[float]] = {}
    for read in range(reads):
        if read:
            time.sleep(interval)
        for group in rule_groups(client):
            readings.setdefault(group["name"], []).append(float(group["evaluationTime"]))
    return {name: statistics.median(values) for name, values in readings.items()}


def samples_read(client: PrometheusClient, expr: str, at: float) -> int:
    params = {"query": expr, "time": f"{at:.3f}", "stats": "all"}
    answer = client.get("/api/v1/query", params)[1]  # fails naming the query
    total: int = answer["data"]["stats"]["samples"]["totalQueryableSamples"]
    return total


@dataclass(slots=True)
class Round:
    """Samples read and evaluation time per group of one measured Prometheus."""

    samples: dict[str, int]
    seconds: dict[str, float]
    series: int


def measure(
    binary: str, lines: Iterator[str], names: Sequence[str], directory: Path, now: int
) -> Round:
    started = time.perf_counter()
    chunks = backfill.split_by_block([lines], directory / "chunks")
    data = directory / "data"
    backfill.blocks_from_chunks(chunks, data, PROMTOOL_WORKERS)
    rules = copies(directory, names)
    server, url = start_prometheus(
        binary, data, directory, rules, step=MINUTE, evaluation=EVALUATION, lookback=3600
    )
    client = PrometheusClient(url, timeout=120)
    try:
        wait_evaluated(client)
        # Groups read records of other groups (cost -> budgets -> alerts): two more rounds
        # and every chain has its records.
        time.sleep(2 * float(EVALUATION.removesuffix("s")))
        groups = rule_groups(client)
        print(f"  data and start: {time.perf_counter() - started:.0f} s", flush=True)
        at = time.time()
        samples = {
            g["name"]: sum(samples_read(client, rule["query"], at) for rule in g["rules"])
            for g in groups
        }
        seconds = evaluation_times(client)
        count = int(client.value("count({__name__=~'.+'})"))
    finally:
        server.stop()
    return Round(samples, seconds, count)


def kpi_round(binary: str, apps: int, tmp: Path) -> Round:
    now = int(time.time()) // MINUTE * MINUTE
    directory = tmp / f"apps-{apps}"
    directory.mkdir()
    print(f"{apps} apps:", flush=True)
    return measure(binary, history(apps_of(apps), now), KPI_FILES, directory, now)


def slo_round(binary: str, tmp: Path) -> Round:
    now = int(time.time()) // MINUTE * MINUTE
    directory = tmp / "slo"
    directory.mkdir()
    print("SLO rules:", flush=True)
    return measure(binary, slo_history(now), (SLO_FILE,), directory, now)


def fit(points: dict[int, float]) -> tuple[float, float]:
    """(intercept, slope) of the line through the first and last point."""
    (n0, s0), (n1, s1) = min(points.items()), max(points.items())
    slope = (s1 - s0) / (n1 - n0)
    return s0 - slope * n0, slope


def report(rounds: dict[int, Round], slo: Round) -> None:
    counts = sorted(rounds)
    names = list(rounds[counts[0]].samples)
    width = max(len(name) for name in names)
    header = "".join(f"{f'samples N={n}':>16}{f'eval N={n}':>12}" for n in counts)
    print(f"\n{'group':<{width}}{header}{'at 500 apps':>14}")
    for name in names:
        intercept, slope = fit({n: rounds[n].samples[name] for n in counts})
        cells = "".join(
            f"{rounds[n].samples[name]:>16,}{rounds[n].seconds[name] * 1000:>10.1f}ms"
            for n in counts
        )
        print(f"{name:<{width}}{cells}{intercept + slope * TARGET_APPS:>14.3g}")
    totals = {n: sum(rounds[n].samples.values()) for n in counts}
    evaluation = {n: sum(rounds[n].seconds.values()) for n in counts}
    intercept, slope = fit({n: float(total) for n, total in totals.items()})
    at_target = intercept + slope * TARGET_APPS
    print()
    for n in counts:
        print(
            f"N={n}: {rounds[n].series:,} series stored; {totals[n]:,} samples read per round;"
            f" evaluation of all groups {evaluation[n] * 1000:.0f} ms (slowest group"
            f" {max(rounds[n].seconds.values()) * 1000:.1f} ms)"
        )
    print(f"linear fit: samples per round = {intercept:,.0f} + {slope:,.1f} x apps")
    print(
        f"at {TARGET_APPS} apps, 1m scrape: {at_target:.3g} samples per round (budget"
        f" {BUDGET:.0e}: {'met' if at_target <= BUDGET else 'NOT met'}; the rules over raw"
        f" series read {OLD_RULES:.2g}, {OLD_RULES / at_target:,.0f}x as many)"
    )
    slo_total = sum(slo.samples.values())
    print(
        f"\nSLO rules (slo.yaml, {len(slo.samples)} groups, the 2 example SLOs, independent of"
        f" apps): {slo_total:,} samples per round, evaluation"
        f" {sum(slo.seconds.values()) * 1000:.0f} ms"
    )
    for name in slo.samples:
        print(f"  {name}: {slo.samples[name]:,} samples, {slo.seconds[name] * 1000:.1f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[5, 20])
    args = parser.parse_args(argv)
    binary = "prometheus"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kpi-rules-bench-") as scratch:
        tmp = Path(scratch)
        rounds = {apps: kpi_round(binary, apps, tmp) for apps in args.apps}
        slo = slo_round(binary, tmp)
    report(rounds, slo)
    print(f"benchmark: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
