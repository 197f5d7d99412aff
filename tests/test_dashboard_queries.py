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

Each dashboard's variables are resolved as Grafana would: the values of its ``label_values``
query from the data (at least one must exist), then ``All`` (its ``allValue``) where the
variable includes All, else its first value, as on opening it; then again with teams or apps
picked (``SELECTIONS``), since panels read the organisation's, the teams' or the apps'
recorded series depending on the selection (lib/grafana.libsonnet). Every panel target is
then evaluated with ``/api/v1/query`` in every selection; each must succeed and return at
least one series. All failures are reported at once: selection / dashboard / panel title /
expression / reason. A second test checks that the level each selection reads gives what
summing the selected apps' series gives.

The fixture (events, backfill, blocks, Prometheus, variables) is tests/prometheus_fixture.py,
shared with benchmarks/dashboards.py.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kpi_exporter import backfill
from kpi_exporter.store import Store
from tests.process import program
from tests.prometheus_fixture import (
    APPS,
    DASHBOARDS,
    PrometheusClient,
    fill_store,
    history,
    panels,
    rule_files,
    start_prometheus,
    substitute,
    variables,
)
from tests.support import DAY

BUILT_IN = {"__rate_interval": "4h", "__interval": "1h", "__range": "1d"}
# What a user picks in the variables: nothing (All, as the dashboards open), one team of two
# apps, two teams, one app of All teams, one app of one team (checkout: the app with SLOs).
SELECTIONS: dict[str, dict[str, list[str]]] = {
    "all": {},
    "one team": {"team": ["payments"]},
    "two teams": {"team": ["payments", "team-a"]},
    "one app": {"app": ["checkout"]},
    "one team, one app": {"team": ["payments"], "app": ["checkout"]},
}
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
    try:
        body = PrometheusClient(url, timeout=10).query(expr)
    except RuntimeError as error:
        return str(error)
    if not body["data"]["result"]:
        return "no data"
    return None


def failures(url: str) -> tuple[int, list[str]]:
    evaluated = 0
    found = []
    for selection, picked in SELECTIONS.items():
        for path in DASHBOARDS:
            dashboard = json.loads(path.read_text())
            title = f"{selection} / {dashboard['title']}"
            values, problems = variables(url, dashboard, BUILT_IN, picked=picked)
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


@pytest.mark.timeout(300)
def test_every_panel_query_returns_data(prometheus: str) -> None:
    deadline = time.monotonic() + SETTLE
    evaluated, found = failures(prometheus)
    while found and time.monotonic() < deadline:
        time.sleep(1)  # chains of recording rules across groups take a few evaluations
        evaluated, found = failures(prometheus)
    assert evaluated > 0
    assert not found, f"{len(found)} of {evaluated} panel queries failed:\n" + "\n".join(found)


# --- each selection reads one level, and it answers what the selected apps' series give ---

SEL = 'team=~"$team", app=~"$app"'


def overall_median(metric: str) -> Callable[[dict[str, list[str]]], str]:
    """All: the organisation's median; teams picked: the slowest team's; apps: the slowest app's."""

    def reference(picked: dict[str, list[str]]) -> str:
        if "app" in picked:
            return f"max(app:{metric}{{{SEL}}})"
        if "team" in picked:
            return f'max(team:{metric}{{team=~"$team"}})'
        return f"org:{metric}"

    return reference


def breakdown(metric: str) -> Callable[[dict[str, list[str]]], str]:
    """All: one series per team (the sum of its apps); else one per selected app."""

    def reference(picked: dict[str, list[str]]) -> str:
        return f"app:{metric}{{{SEL}}}" if picked else f"sum by (team) (app:{metric}{{{SEL}}})"

    return reference


def outline(metric: str) -> Callable[[dict[str, list[str]]], str]:
    """The selection's own series (exact quantiles at every level): the organisation's, each
    selected team's, or each selected app's."""

    def reference(picked: dict[str, list[str]]) -> str:
        if "app" in picked:
            return f"app:{metric}{{{SEL}}}"
        if "team" in picked:
            return f'team:{metric}{{team=~"$team"}}'
        return f"org:{metric}"

    return reference


def fixed(expr: str) -> Callable[[dict[str, list[str]]], str]:
    return lambda picked: expr


# (dashboard uid, panel title, the level each selection should read: (all, teams, apps),
# what summing the selected apps' series gives). One check per helper of lib/grafana.libsonnet.
LEVEL_CHECKS: list[tuple[str, str, tuple[str, str, str], Callable[[dict[str, list[str]]], str]]] = [
    (
        "kpi-executive",
        "Deployment frequency: deployments per day (30d)",
        ("org", "team", "app"),
        fixed(f"sum(app:kpi_deployments:per_day_30d{{{SEL}}})"),
    ),
    (
        "kpi-executive",
        "Change fail rate and deployment rework rate (30d)",
        ("", "", ""),  # a ratio of two `overall` sums: its parts are checked above
        fixed(
            f"sum(app:kpi_deployments_failed:increase_30d{{{SEL}}})"
            f" / sum(app:kpi_deployments:increase_30d{{{SEL}}})"
        ),
    ),
    (
        "kpi-executive",
        "Change lead time, median (30d)",
        ("org", "team", "app"),
        overall_median("kpi_change_lead_time_seconds:p50_30d"),
    ),
    (
        "kpi-delivery",
        "Deployment frequency: deployments per day (7d)",
        ("team", "app", "app"),
        breakdown("kpi_deployments:per_day_7d"),
    ),
    (
        "kpi-delivery",
        "Change lead time (7d)",
        ("org", "team", "app"),
        outline("kpi_change_lead_time_seconds:p50_7d"),
    ),
    (
        "kpi-leadership",
        "Deployments per day (7d) by team",
        ("team", "team", "app"),
        fixed(f"sum by (team) (app:kpi_deployments:per_day_7d{{{SEL}}})"),
    ),
    (
        "kpi-leadership",
        "Change failure rate (7d)",
        ("team", "team", "app"),
        fixed(
            f"sum by (team) (app:kpi_deployments_failed:increase_7d{{{SEL}}})"
            f" / sum by (team) (app:kpi_deployments:increase_7d{{{SEL}}})"
        ),
    ),
    (
        "kpi-security",
        "Open findings by severity",
        ("org", "team", "app"),
        fixed(f"sum by (severity) (app:kpi_vulnerabilities_open:sum{{{SEL}}})"),
    ),
    (
        "kpi-cost",
        "Spend month to date by provider",
        ("org", "team", "app"),
        fixed(f'sum by (provider, currency) (kpi_cost_month_to_date{{job="kpi-exporter", {SEL}}})'),
    ),
]


def results(url: str, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The instant result of ``expr``: labels (without the name) -> value."""
    body = PrometheusClient(url, timeout=10).query(expr)
    return {
        tuple(sorted((k, v) for k, v in row["metric"].items() if k != "__name__")): float(
            row["value"][1]
        )
        for row in body["data"]["result"]
    }


def dashboard_of(uid: str) -> dict[str, Any]:
    """The rendered dashboard with this uid."""
    for path in DASHBOARDS:
        dashboard: dict[str, Any] = json.loads(path.read_text())
        if dashboard["uid"] == uid:
            return dashboard
    raise AssertionError(f"no dashboard {uid}")


def panel_expr(dashboard: dict[str, Any], title: str) -> str:
    """The first target's expression of the panel with this title."""
    for panel in panels(dashboard["panels"]):
        if panel.get("title") == title:
            return str(panel["targets"][0]["expr"])
    raise AssertionError(f"no panel {title!r} in dashboard {dashboard['uid']}")


def levels_read(url: str, expr: str) -> set[str]:
    """The levels (app, team, org) of the alternatives of ``expr`` (`a or b or c`) that
    return data."""
    return {
        re.search(r"\b(app|team|org):", alternative).group(1)  # type: ignore[union-attr]
        for alternative in expr.split(" or ")
        if results(url, alternative)
    }


@pytest.mark.timeout(120)
def test_each_selection_reads_one_level_and_sums_the_apps(prometheus: str) -> None:
    problems = []
    checked = 0
    for uid, title, expected, reference in LEVEL_CHECKS:
        dashboard = dashboard_of(uid)
        template = panel_expr(dashboard, title)
        for selection, picked in SELECTIONS.items():
            values, _ = variables(prometheus, dashboard, BUILT_IN, picked=picked)
            expr = substitute(template, values)
            level = expected[2] if "app" in picked else expected[1] if picked else expected[0]
            read = levels_read(prometheus, expr) if level else set()
            if level and read != {level}:
                problems.append(f"{selection} / {title}: reads {sorted(read)}, not {level}")
            got = results(prometheus, expr)
            want = results(prometheus, substitute(reference(picked), values))
            checked += 1
            if not want:
                problems.append(f"{selection} / {title}: the reference returns no data")
            elif got.keys() != want.keys() or any(
                not math.isclose(got[k], want[k], rel_tol=1e-9, abs_tol=1e-12) for k in want
            ):
                problems.append(f"{selection} / {title}: {got} != {want}")
    assert checked == len(LEVEL_CHECKS) * len(SELECTIONS)
    assert not problems, "\n".join(problems)
