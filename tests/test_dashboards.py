"""The Grafana dashboards: rendered from dashboards/*.jsonnet, checked against Grafana's own
dashboard types (npm @grafana/schema, converted to a JSON Schema by ts-json-schema-generator),
and against the metrics, recording rules, runbooks and configuration they read."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kpi_exporter.kpis.families import EXPORTER_FAMILIES, FAMILIES
from kpi_exporter.render import dashboards, reference
from tests.promql import metric_names
from tests.support import npm_ci

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "grafana-schema"
TYPES = "node_modules/@grafana/schema/dist/types"
MOUNT = "/var/lib/kpi-exporter/dashboards/"


def _load() -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((ROOT / dashboards.path_of(name)).read_text(encoding="utf-8"))
        for name in dashboards.DASHBOARDS
    }


DASHBOARDS = _load()


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    """Every panel's queries, those inside collapsed rows too."""
    inside = [panel for row in dashboard["panels"] for panel in row.get("panels", [])]
    everyone = _panels(dashboard) + inside
    return [target["expr"] for panel in everyone for target in panel["targets"]]


@pytest.fixture(scope="session")
def grafana_schema() -> dict[str, Any]:
    """Grafana's Dashboard type as a JSON Schema: `npm ci` of the pinned packages of
    dashboards/schema/ into .cache/grafana-schema, then ts-json-schema-generator."""
    npm_ci(ROOT / "dashboards" / "schema", CACHE)
    output = CACHE / "dashboard.schema.json"
    subprocess.run(
        [
            str(CACHE / "node_modules" / ".bin" / "ts-json-schema-generator"),
            "--path",
            f"{TYPES}/raw/dashboard/x/types.gen.d.ts",
            "--type",
            "Dashboard",
            "--no-type-check",
            "--out",
            str(output),
        ],
        cwd=CACHE,
        check=True,
        timeout=600,
    )
    schema: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return schema


def test_rendered_dashboards_match_their_jsonnet_sources() -> None:
    assert reference.stale(ROOT) == []
    for name in dashboards.DASHBOARDS:
        assert dashboards.path_of(name) in reference.generated_files()


def test_version_moves_with_the_content() -> None:
    dashboard = DASHBOARDS["executive"]
    assert dashboard["version"] == dashboards.version(dashboard)
    changed = {**dashboard, "title": dashboard["title"] + "!"}
    assert dashboards.version(changed) != dashboard["version"]


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_dashboard_validates_against_grafanas_dashboard_type(
    grafana_schema: dict[str, Any], name: str
) -> None:
    jsonschema.validate(DASHBOARDS[name], grafana_schema)


def test_panel_types_are_grafana_core_panels() -> None:
    # The panel plugins whose options @grafana/schema types (raw/composable/<id>/panelcfg).
    composable = CACHE / TYPES / "raw" / "composable"
    known = {path.parent.name for path in composable.glob("*/panelcfg")}
    assert {"stat", "timeseries", "table", "bargauge", "heatmap"} <= known
    for dashboard in DASHBOARDS.values():
        for panel in _panels(dashboard):
            assert panel["type"] in known, (dashboard["uid"], panel["title"])


def test_uids_are_unique_and_stable() -> None:
    uids = [dashboard["uid"] for dashboard in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids)
    assert all(uid.startswith("kpi-") and len(uid) <= 40 for uid in uids)
    assert all("kpi-exporter" in dashboard["tags"] for dashboard in DASHBOARDS.values())


def test_every_panel_has_a_unit_and_the_datasource_variable() -> None:
    for dashboard in DASHBOARDS.values():
        for panel in _panels(dashboard):
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            for target in panel["targets"]:
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_every_dashboard_has_datasource_app_team_environment_variables() -> None:
    for dashboard in DASHBOARDS.values():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert {"datasource", "app", "team", "environment"} <= set(variables)
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for name in ("app", "team", "environment"):
            assert variables[name]["datasource"]["uid"] == "${datasource}"


def _catalogue() -> list[dict[str, Any]]:
    import _gojsonnet

    snippet = (
        "local config = (import 'alerts/lib/settings.libsonnet')({});"
        " [{meaning: k.meaning, alerts: [a.name for a in k.alerts if a.settings.enabled]}"
        " for k in (import 'alerts/catalogue.libsonnet')(config).kpis]"
    )
    kpis: list[dict[str, Any]] = json.loads(
        _gojsonnet.evaluate_snippet("catalogue", snippet, jpathdir=[str(ROOT)])
    )
    return kpis


def test_kpi_panels_link_to_the_runbooks_of_their_alerts() -> None:
    kpis = _catalogue()
    checked = 0
    for dashboard in DASHBOARDS.values():
        for panel in _panels(dashboard):
            urls = [link["url"] for link in panel["links"]]
            for url in urls:
                runbook = ROOT / "docs" / "runbooks" / url.rsplit("/", 1)[1]
                assert runbook.is_file(), (panel["title"], url)
            for kpi in kpis:
                if panel["description"] == kpi["meaning"] and kpi["alerts"]:
                    checked += 1
                    for alert in kpi["alerts"]:
                        assert any(url.endswith(f"/{alert}.md") for url in urls), (
                            panel["title"],
                            alert,
                        )
    assert checked > 30


def test_raw_rates_use_rate_interval() -> None:
    window = re.compile(r"\b(?:rate|irate|increase|delta)\([^()]*\[([^\]]+)\]")
    for dashboard in DASHBOARDS.values():
        for expr in _exprs(dashboard):
            for found in window.findall(expr):
                assert found == "$__rate_interval", expr


def test_audiences_have_their_panel_counts() -> None:
    executive = _panels(DASHBOARDS["executive"])
    assert 6 <= len(executive) <= 8
    assert all(panel["type"] == "stat" for panel in executive)
    assert all(panel["options"]["showPercentChange"] for panel in executive)
    assert any("Time to market" in panel["title"] for panel in executive)
    # DORA's grouping: throughput, then instability (change fail rate and rework rate); the
    # tier, a 2023 or 2024 benchmark, and the SLOs open on demand under the eight numbers.
    rows = [p for p in DASHBOARDS["executive"]["panels"] if p["type"] == "row"]
    assert [row["title"] for row in rows] == [
        "DORA throughput",
        "DORA instability",
        "Time to market, quality, security and cost",
        "DORA 2024 benchmark tier",
        "Service levels: SLOs (Prometheus, Datadog, Application Insights) and monitors",
    ]
    (tier,) = rows[3]["panels"]
    assert "DORA 2024 benchmark tier" in tier["title"]
    assert 15 <= len(_panels(DASHBOARDS["leadership"])) <= 20
    rows = [p["title"] for p in DASHBOARDS["leadership"]["panels"] if p["type"] == "row"]
    assert rows == ["Velocity", "Reliability", "Security", "Business and cost"]


def test_slos_of_every_kind_show_on_the_executive_and_slo_dashboards() -> None:
    """Under the Executive's headline numbers, a collapsed row holds every SLO's budget (the
    slo:* records, Prometheus and external alike) and the monitors in Alert; the SLO
    dashboard shows the Application Insights components and the monitors by state."""
    (row,) = [
        p
        for p in DASHBOARDS["executive"]["panels"]
        if p["type"] == "row" and p["title"].startswith("Service levels")
    ]
    assert row["collapsed"] is True
    inside = " ".join(t["expr"] for panel in row["panels"] for t in panel["targets"])
    assert "slo:error_budget_remaining:ratio{" in inside and "kpi_monitors:sum{" in inside
    slo = " ".join(_exprs(DASHBOARDS["slo"]))
    for record in (
        "slo:error_budget_remaining:ratio",
        "slo:component_availability:ratio",
        "slo:component_failed_requests:ratio",
        "slo:component_response_time:seconds",
        "kpi_monitors:sum",
    ):
        assert record + "{" in slo, record


def test_metric_names_parser_reads_series_only() -> None:
    expr = (
        'sum by (team) (app:a:increase_7d{team=~"$team"}) / on (team) '
        "team:b:wip_limit + increase(kpi_c_total[$__rate_interval]) or vector(0)"
    )
    assert metric_names(expr) == {"app:a:increase_7d", "team:b:wip_limit", "kpi_c_total"}


def test_every_metric_is_exported_or_recorded() -> None:
    exported = set()
    for family in (*FAMILIES, *EXPORTER_FAMILIES):
        exported.add(family.name)
        if family.type == "histogram":
            exported |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    recorded = {
        rule["record"]
        for path in (ROOT / "alerts" / "rendered").glob("*.yaml")
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    for dashboard in DASHBOARDS.values():
        queries = _exprs(dashboard) + [
            v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"
        ]
        for query in queries:
            query = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query)
            for name in metric_names(query):
                assert name in exported | recorded, (dashboard["uid"], name, query)


def test_provider_paths_resolve_to_the_committed_dashboards() -> None:
    provisioning = ROOT / "dashboards" / "provisioning"
    providers = yaml.safe_load((provisioning / "dashboards.yaml").read_text())
    assert providers["apiVersion"] == 1
    covered = set()
    for provider in providers["providers"]:
        assert provider["type"] == "file"
        path = provider["options"]["path"]
        assert path.startswith(MOUNT)
        folder = ROOT / "dashboards" / "rendered" / path.removeprefix(MOUNT)
        files = sorted(folder.glob("*.json"))
        assert files, path
        covered |= {str(file.relative_to(ROOT)) for file in files}
    assert covered == {dashboards.path_of(name) for name in dashboards.DASHBOARDS}
    datasources = yaml.safe_load((provisioning / "datasources.yaml").read_text())
    assert datasources["apiVersion"] == 1
    assert datasources["datasources"][0]["type"] == "prometheus"
    assert datasources["datasources"][0]["url"] == "$PROMETHEUS_URL"
