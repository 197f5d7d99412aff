"""The chart's PrometheusRule equals ``kpi-exporter render --thresholds`` for the same values.

Helm cannot run Jsonnet: the chart fills the threshold markers of the generated
``files/rules/groups.yaml`` (see ``kpi_exporter.render.helm``) from its values. These tests
render the real chart (helm-python-sdk) and compare its rule groups with the Jsonnet rendering
of the same overrides, with the default thresholds and with overrides of every kind of
threshold (ratio, count, duration as text or seconds, a label value, a percentage in text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from kpi_exporter.render import bundle, helm

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / helm.CHART
RULE_FILES = ("rules", "alerts", "slo")

OVERRIDES: dict[str, dict[str, Any]] = {
    "ChangeFailureRateHigh": {"threshold": 0.2, "for": "2h"},  # a ratio (and percent text)
    "ChangeLeadTimeHigh": {"threshold": "2d"},  # a duration: seconds and text
    "TimeToAcknowledgeHigh": {"threshold": "1h30m", "severity": "critical"},
    "VulnerabilityFixTimeHigh": {"threshold": 1209600},  # seconds as a number
    "DeveloperSatisfactionLow": {"threshold": 0.35},  # a score, and in hundredths
    "ChangesOpenTooLong": {"threshold": "14d"},  # a label value
    "KpiExporterRateLimitLow": {"threshold": 250},  # a count
    "CriticalVulnerabilityPastSla": {"threshold": 2},
    "SpendForecastOverBudget": {"threshold": 1.25},
    "ReworkRateHigh": {"enabled": False},
    "KpiExporterSourceDown": {"for": "30m"},  # an alert without a threshold
}


def chart_groups(alerts: dict[str, Any]) -> list[Any]:
    chart = helm_python.Chart.load(str(CHART))
    values = {"prometheusRule": {"enabled": True, "alerts": alerts}}
    manifests = chart.render(values, name="kpi", namespace="monitoring")
    [text] = [text for path, text in manifests.items() if path.endswith("prometheusrule.yaml")]
    document = yaml.safe_load(text)
    assert document["kind"] == "PrometheusRule"
    groups: list[Any] = document["spec"]["groups"]
    return groups


def jsonnet_groups(files: dict[str, str]) -> list[Any]:
    return [
        group
        for name in RULE_FILES
        for group in yaml.safe_load(files[f"alerts/rendered/{name}.yaml"])["groups"]
    ]


def test_with_default_values_the_chart_rules_are_the_rendered_rule_files() -> None:
    committed = {
        f"alerts/rendered/{name}.yaml": (ROOT / "alerts" / "rendered" / f"{name}.yaml").read_text()
        for name in RULE_FILES
    }
    groups = chart_groups({})
    assert groups == jsonnet_groups(committed)
    assert sum(1 for g in groups for r in g["rules"] if "alert" in r) > 30
    assert "@@" not in yaml.safe_dump(groups)


def test_threshold_overrides_in_values_equal_render_with_a_thresholds_file() -> None:
    groups = chart_groups(OVERRIDES)
    expected = jsonnet_groups(bundle.rendered_files({"alerts": OVERRIDES}))
    assert groups == expected
    alerts = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert "ReworkRateHigh" not in alerts
    assert alerts["ChangeFailureRateHigh"]["for"] == "2h"
    assert "0.2" in alerts["ChangeFailureRateHigh"]["expr"]
    assert "20%" in alerts["ChangeFailureRateHigh"]["annotations"]["description"]
    assert "172800" in alerts["ChangeLeadTimeHigh"]["expr"]
    assert "5400" in alerts["TimeToAcknowledgeHigh"]["expr"]
    assert alerts["TimeToAcknowledgeHigh"]["labels"]["severity"] == "critical"
    assert 'older_than="14d"' in alerts["ChangesOpenTooLong"]["expr"]


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        # values.schema.json lists the alerts
        ({"ChangeFailureRate": {"threshold": 0.2}}, "invalid propertyName 'ChangeFailureRate'"),
        (
            {"ChangeLeadTimeHigh": {"threshold": "one day"}},
            "at '/prometheusRule/alerts/ChangeLeadTimeHigh/threshold': 'one day' does not match",
        ),
        # the template knows which alerts have a threshold
        (
            {"KpiExporterSourceDown": {"threshold": 3}},
            "prometheusRule.alerts.KpiExporterSourceDown.threshold: this alert has no threshold",
        ),
    ],
)
def test_a_wrong_alert_override_fails_the_render_naming_the_value(
    alerts: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmError) as error:
        chart_groups(alerts)
    assert message in str(error.value)


def test_the_generated_chart_files_are_the_rendered_dashboards_and_rules() -> None:
    files = helm.rendered_files()
    dashboards = [path for path in files if "/files/dashboards/" in path]
    assert len(dashboards) == len(list((ROOT / "dashboards" / "rendered").rglob("*.json")))
    for path in dashboards:
        source = ROOT / "dashboards" / "rendered" / path.split("/files/dashboards/")[1]
        assert files[path] == source.read_text()
    thresholds = yaml.safe_load(files[helm.THRESHOLDS])
    assert thresholds["ChangeFailureRateHigh"] == 0.15
    assert thresholds["ChangeLeadTimeHigh"] == "1d"


def test_additional_groups_are_appended_as_they_are() -> None:
    chart = helm_python.Chart.load(str(CHART))
    extra = {"name": "my-slos", "rules": [{"record": "my:ratio", "expr": "vector(1)"}]}
    values = {"prometheusRule": {"enabled": True, "additionalGroups": [extra]}}
    manifests = chart.render(values, name="kpi", namespace="monitoring")
    [text] = [text for path, text in manifests.items() if path.endswith("prometheusrule.yaml")]
    groups = yaml.safe_load(text)["spec"]["groups"]
    assert groups[-1] == extra
    assert groups[:-1] == chart_groups({})
