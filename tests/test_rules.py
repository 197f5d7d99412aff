"""The rendered rules, alerts and SLO rules (alerts/rendered/): promtool accepts them and their
unit tests (alerts/tests/, on the copy rendered with the fixed alerts/tests/thresholds.yaml)
pass; every alert has a positive and a negative case asserting every label and annotation; the
rules follow the conventions, read only series that exist and only the latest samples of the
exporter's windows, record every window and quantile, and a thresholds file changes them."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from kpi_exporter import cli
from kpi_exporter.config_base import parse_duration
from kpi_exporter.kpis import families
from kpi_exporter.kpis.settings import DEFAULT_QUANTILES, DEFAULT_WINDOWS
from kpi_exporter.render import bundle, reference
from tests.promql import metric_names

ROOT = Path(__file__).resolve().parent.parent
RENDERED = sorted((ROOT / "alerts" / "rendered").glob("*.yaml"))
# The promtool unit tests and the copy of the rule files they read, rendered with their own
# fixed thresholds file (not a unit test).
TESTS = ROOT / "alerts" / "tests"
TEST_THRESHOLDS = TESTS / "thresholds.yaml"
TEST_RENDERED = sorted((TESTS / "rendered").glob("*.yaml"))
UNIT_TESTS = sorted(path for path in TESTS.glob("*.yaml") if path != TEST_THRESHOLDS)
RUNBOOKS = ROOT / "docs" / "runbooks"
ANNOTATIONS = {"summary", "description", "runbook_url", "action"}
SEVERITIES = {"critical", "warning", "info"}
RECORD_NAME = re.compile(r"^(app|team|org|slo):[a-z][a-z0-9_]*:[a-z0-9_]+$")
ALERT_NAME = re.compile(r"^(?:[A-Z][a-z0-9]+)+$")

Rule = dict[str, Any]


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: install the Debian package prometheus (make system-deps)"
    return path


def rule_groups(paths: list[Path] = RENDERED) -> list[dict[str, Any]]:
    return [group for path in paths for group in yaml.safe_load(path.read_text())["groups"]]


def rules(paths: list[Path] = RENDERED) -> list[Rule]:
    return [rule for group in rule_groups(paths) for rule in group["rules"]]


def alerting_rules() -> list[Rule]:
    return [rule for rule in rules() if "alert" in rule]


def config() -> dict[str, Any]:
    value: dict[str, Any] = bundle.evaluate("config.libsonnet")
    return value


def unit_tests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in UNIT_TESTS:
        yield path, yaml.safe_load(path.read_text())


def alert_rule_tests() -> list[dict[str, Any]]:
    return [
        case
        for _, document in unit_tests()
        for group in document["tests"]
        for case in group.get("alert_rule_test", [])
    ]


def test_rendered_files_are_the_three_rule_files() -> None:
    assert [path.name for path in RENDERED] == ["alerts.yaml", "rules.yaml", "slo.yaml"]
    assert [path.name for path in TEST_RENDERED] == ["alerts.yaml", "rules.yaml", "slo.yaml"]


@pytest.mark.parametrize(
    "path", RENDERED + TEST_RENDERED, ids=lambda path: str(path.relative_to(ROOT / "alerts"))
)
def test_promtool_accepts_the_rendered_rule_file(path: Path) -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", *map(str, UNIT_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rendered_file_is_unit_tested_with_every_group_in_order() -> None:
    """promtool evaluates groups in random order unless the test file lists them: each test
    file lists every group of its rule files, in their order (recording groups before the
    groups that read them). The tests read the copy rendered with the fixed thresholds."""
    tested = set()
    for path, document in unit_tests():
        files = [(path.parent / name).resolve() for name in document["rule_files"]]
        tested.update(files)
        expected = [group["name"] for group in rule_groups(files)]
        assert document.get("group_eval_order") == expected, path.name
    assert tested == {path.resolve() for path in TEST_RENDERED}


def test_the_unit_tests_rule_files_are_the_rules_with_the_fixed_thresholds() -> None:
    """The same groups and rules as alerts/rendered/, only the thresholds file differs: a
    default changed in config.libsonnet changes no test, and the tests still test the rules."""
    for rendered, copy in zip(RENDERED, TEST_RENDERED, strict=True):
        shipped, tested = rule_groups([rendered]), rule_groups([copy])
        assert [g["name"] for g in shipped] == [g["name"] for g in tested], rendered.name
        assert [
            rule.get("record") or rule["alert"] for group in shipped for rule in group["rules"]
        ] == [rule.get("record") or rule["alert"] for group in tested for rule in group["rules"]]
    thresholds = bundle.load_thresholds(TEST_THRESHOLDS)
    assert set(thresholds["alerts"]) == set(config()["alerts"]), "pin every alert's settings"


def _matches(expected: dict[str, Any], rule: Rule) -> bool:
    labels = {key: str(value) for key, value in expected.get("exp_labels", {}).items()}
    return all(labels.get(key) == value for key, value in rule["labels"].items())


def test_every_alerting_rule_has_a_positive_and_a_negative_case() -> None:
    """Positive: a case expects the alert with the rule's labels. Negative: a case of the same
    alert name expects none with them (the KPI at its threshold, or not for long enough)."""
    cases = alert_rule_tests()
    missing = []
    for rule in alerting_rules():
        own = [case for case in cases if case["alertname"] == rule["alert"]]
        positive = any(any(_matches(a, rule) for a in case["exp_alerts"]) for case in own)
        negative = any(not any(_matches(a, rule) for a in case["exp_alerts"]) for case in own)
        labels = ",".join(f"{k}={v}" for k, v in sorted(rule["labels"].items()))
        if not positive:
            missing.append(f"{rule['alert']}{{{labels}}}: no positive case")
        if not negative:
            missing.append(f"{rule['alert']}{{{labels}}}: no negative case")
    assert missing == [], "add them to alerts/tests/*.yaml"


def test_every_expected_alert_asserts_its_labels_and_every_annotation() -> None:
    for case in alert_rule_tests():
        for alert in case["exp_alerts"]:
            assert alert["exp_labels"]["severity"] in SEVERITIES, case["alertname"]
            assert set(alert["exp_annotations"]) == ANNOTATIONS, case["alertname"]


def test_alerting_rules_follow_the_conventions() -> None:
    """Names CamelCase and at most 40 characters; severity one of three; summary static;
    description templated; runbook_url an existing runbook; an action; 20 rules a group."""
    base = config()["runbook_url"]
    problems = []
    for rule in alerting_rules():
        name, annotations = rule["alert"], rule["annotations"]
        if not ALERT_NAME.match(name) or len(name) > 40:
            problems.append(f"{name}: not CamelCase of at most 40 characters")
        if rule["labels"].get("severity") not in SEVERITIES:
            problems.append(f"{name}: severity {rule['labels'].get('severity')!r}")
        if set(annotations) != ANNOTATIONS:
            problems.append(f"{name}: annotations {sorted(annotations)}")
            continue
        if "{{" in annotations["summary"]:
            problems.append(f"{name}: the summary is templated")
        if not re.search(r"\{\{[^}]*\$(value|labels)", annotations["description"]):
            problems.append(f"{name}: the description uses neither $value nor $labels")
        if annotations["runbook_url"] != base % name:
            problems.append(f"{name}: runbook_url {annotations['runbook_url']}")
        if not (RUNBOOKS / f"{name}.md").is_file():
            problems.append(f"{name}: no docs/runbooks/{name}.md")
        if len(annotations["action"]) < 20:
            problems.append(f"{name}: no action")
    for group in rule_groups():
        if len(group["rules"]) > 20:
            problems.append(f"group {group['name']}: {len(group['rules'])} rules")
    assert problems == []


def test_recording_rules_are_named_level_metric_operation() -> None:
    names = [rule["record"] for rule in rules() if "record" in rule]
    assert names and [name for name in names if not RECORD_NAME.match(name)] == []


def test_every_catalogue_entry_lists_the_names_its_rules_record() -> None:
    """Each KPI of the catalogue writes its recorded names out in full (``recorded`` in
    alerts/kpis/*.libsonnet, for the default configuration), so that a search for
    app:kpi_deployments:per_day_7d finds the KPI that records it: KPI by KPI, the list is the
    names its rules record, in order, and together they are the rendered rule file's."""
    kpis = bundle.evaluate("docs.jsonnet")["kpis"]
    assert {kpi["name"]: kpi["recorded"] for kpi in kpis} == {
        kpi["name"]: kpi["records"] for kpi in kpis
    }
    listed = sorted(name for kpi in kpis for name in kpi["recorded"])
    rendered = rules([ROOT / "alerts" / "rendered" / "rules.yaml"])
    assert listed == sorted(rule["record"] for rule in rendered if "record" in rule)
    assert "app:kpi_deployments:per_day_7d" in listed


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'sum by (app, le) (rate(a_bucket{x="y{z}"}[5m])) > bool 0.5e3 '
        "or on (app) b:c:d unless ignoring (le) histogram_quantile(0.5, c_total) and 1e9"
    )
    assert metric_names(expr) == {"a_bucket", "b:c:d", "c_total"}


def exported_series() -> set[str]:
    """Every series the exporter publishes: its families, the window gauges and their
    observations (sharded installations), and the retractions of its counters and histograms."""
    retractions = [
        replace(family, name=families.retracted_name(family.name))
        for family in families.FAMILIES
        if family.type in ("counter", "histogram")
    ]
    windows = [windowed.family for windowed in families.WINDOWED]
    names = set()
    for family in (
        *families.FAMILIES,
        *retractions,
        *windows,
        *families.WINDOW_OBSERVATION_FAMILIES,
        *families.EXPORTER_FAMILIES,
    ):
        if family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        else:
            names.add(family.name)
    return names


def slo_inputs() -> set[str]:
    names = set()
    for slo in config()["slos"]:
        sli = slo["sli"]
        if sli["type"] == "availability":
            names |= metric_names(sli["good"]) | metric_names(sli["total"])
        else:
            names |= {sli["histogram"] + "_bucket", sli["histogram"] + "_count"}
    return names


def cost_per_unit_inputs() -> set[str]:
    """The traffic or business series of `cost_per_unit`: the user's, like the SLO inputs."""
    return {name for unit in config()["cost_per_unit"] for name in metric_names(unit["series"])}


def test_every_series_a_rule_reads_is_exported_recorded_or_a_configured_input() -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    known = exported_series() | recorded | slo_inputs() | cost_per_unit_inputs()
    unknown = {
        (rule.get("record") or rule["alert"], name)
        for rule in rules()
        for name in metric_names(rule["expr"])
        if name not in known
    }
    assert unknown == set()
    # Series read by annotation templates (the WIP limit in a description).
    in_templates = {
        name
        for rule in alerting_rules()
        for name in re.findall(r"\b(?:app|team|org|slo):\w+:\w+", str(rule["annotations"]))
    }
    assert in_templates <= recorded


_RANGE = re.compile(r"\[(\w+)(?::(\w*))?\]")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """A PromQL duration in seconds: 1h30m -> 5400."""
    parts = _DURATION.findall(duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def test_durations_are_read_like_promql() -> None:
    assert [seconds(d) for d in ("5m", "1h30m", "6d23h59m59s")] == [300, 5400, 604799]


def test_no_kpi_rule_reads_a_range_longer_than_an_hour() -> None:
    """The exporter computes every window: a KPI rule (SLO rules over the user's own series
    excepted) reads the latest samples, never days of a raw series (a range selector or a
    subquery longer than 1h). A raw counter windowed anyway is an exact difference (offset)."""
    slo_files = [path for path in RENDERED if path.name == "slo.yaml"]
    kpi_rules = rules([path for path in RENDERED if path not in slo_files])
    long_ranges = {
        (rule.get("record") or rule["alert"], match.group(0))
        for rule in kpi_rules
        for match in _RANGE.finditer(rule["expr"])
        if seconds(match.group(1)) > 3600
    }
    assert kpi_rules and long_ranges == set()
    # nor records of raw bucket increases to add up (app:<family>_bucket:increase_30d)
    assert [rule["record"] for rule in kpi_rules if "_bucket:" in rule.get("record", "")] == []


def test_every_window_and_quantile_is_recorded_at_every_level() -> None:
    """Every window of `windows.all` and every quantile of `quantiles`: each windowed count,
    deploy days and each quantile of the exporter's window families, at app, team and org."""
    settings = config()
    windows, quantiles = settings["windows"]["all"], settings["quantiles"]
    assert settings["windows"]["short"] in windows and settings["windows"]["long"] in windows
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    expected = set()
    by_origin = {w.family.name for w in families.WINDOW_CHANGE_REVIEW_SECONDS_BY_ORIGIN.values()}
    for windowed in families.WINDOWED:
        metric = "kpi_" + windowed.family.name.removeprefix("kpi_window_")
        if windowed.family.name in by_origin:  # one record with an `origin` label
            metric = "kpi_change_review_seconds_by_origin"
        for level in ("app", "team", "org"):
            for window in windows:
                if windowed.kind == "count":
                    expected.add(f"{level}:{metric}:increase_{window}")
                elif windowed.kind == "days":
                    expected.add(f"{level}:kpi_deployments:deploy_days_{window}")
                else:
                    expected |= {f"{level}:{metric}:p{round(q * 100)}_{window}" for q in quantiles}
    assert expected - recorded == set()
    # and each of them reads the exporter's window gauge of its window
    window_reads = {
        name
        for rule in rules()
        for name in metric_names(rule["expr"])
        if name.startswith("kpi_window_")
    }
    assert {windowed.family.name for windowed in families.WINDOWED} <= window_reads


def test_open_change_ages_in_rules_are_ones_the_exporter_counts() -> None:
    ages = {name for name, _ in families.AGE_THRESHOLDS}
    used = {age for rule in rules() for age in re.findall(r'older_than="([^"]*)"', rule["expr"])}
    assert used and used <= ages


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    names = {rule["alert"] for rule in alerting_rules()}
    pages = {path.stem for path in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == names
    index = (RUNBOOKS / "README.md").read_text()
    assert all(f"[{name}]({name}.md)" in index for name in names)


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_runbooks_link_existing_pages_and_headings_and_name_existing_series() -> None:
    known = exported_series() | {rule["record"] for rule in rules() if "record" in rule}
    for page in RUNBOOKS.glob("*.md"):
        text = page.read_text()
        for target, anchor in re.findall(r"\]\(\.\./([\w./-]+?)(?:#([\w-]+))?\)", text):
            linked = RUNBOOKS.parent / target
            assert linked.is_file(), f"{page.name}: {target}"
            assert not anchor or anchor in _anchors(linked.read_text()), f"{page.name}: {anchor}"
        named = {
            name
            for code in re.findall(r"`([^`\n]+)`", text)
            for name in re.findall(r"\b(?:kpi_\w+|(?:app|team|org|slo):\w+:\w+)", code)
        }
        inputs = slo_inputs() | cost_per_unit_inputs()
        assert named <= known | inputs, f"{page.name}: {sorted(named - known)}"


def write_thresholds(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thresholds.yaml"
    path.write_text(text)
    return path


THRESHOLDS = """\
# A team's own thresholds, merged over alerts/config.libsonnet
dora_report: "2023"
wip_limits:
  teams: {payments: 3}
alerts:
  ChangeFailureRateHigh: {threshold: 0.2, for: 2h}
  KpiExporterRateLimitLow: {enabled: false}
"""


def test_a_thresholds_file_changes_rules_runbooks_and_disables_alerts(tmp_path: Path) -> None:
    thresholds = write_thresholds(tmp_path, THRESHOLDS)
    out = tmp_path / "bundle"
    assert cli.main(["render", "--out", str(out), "--thresholds", str(thresholds)]) == 0
    alerts = {rule["alert"]: rule for rule in rules([out / "alerts/rendered/alerts.yaml"])}
    cfr = alerts["ChangeFailureRateHigh"]
    assert cfr["expr"].startswith("app:kpi_deployments_failed_per_deployments:ratio_7d > 0.2\n")
    assert cfr["for"] == "2h"
    assert "the target is at most 20%" in cfr["annotations"]["description"]
    assert (
        "More than 20% of the production deployments"
        in (out / "docs/runbooks/ChangeFailureRateHigh.md").read_text()
    )
    # a disabled alert has neither a rule nor a runbook
    assert "KpiExporterRateLimitLow" not in alerts
    assert not (out / "docs/runbooks/KpiExporterRateLimitLow.md").exists()
    recorded = {
        (rule["record"], rule.get("labels", {}).get("kpi")): rule
        for rule in rules([out / "alerts/rendered/rules.yaml"])
    }
    # the 2023 table: change failure rate limits 5, 10 and 15 %
    tier = recorded[("app:kpi_dora_tier:30d", "change_failure_rate")]
    assert tier["labels"]["dora_report"] == "2023"
    assert re.findall(r"bool ([\d.]+)", tier["expr"]) == ["0.05", "0.1", "0.15"]
    assert recorded[("team:kpi_changes_open:wip_limit", None)]["expr"] == (
        'label_replace(vector(3), "team", "payments", "", "") or 0 * team:kpi_changes_open:sum + 10'
    )
    # the same file checks clean against that output, and the committed files do not
    check = ["render", "--check", "--out", str(out), "--thresholds", str(thresholds)]
    assert cli.main(check) == 0
    assert cli.main(["render", "--check", "--out", str(out)]) == 1
    for path in (out / "alerts/rendered").glob("*.yaml"):
        result = subprocess.run(
            [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout


def test_a_thresholds_file_may_be_json(tmp_path: Path) -> None:
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text('{"alerts": {"TimeToDetectHigh": {"threshold": "10m"}}}')
    assert cli.main(["render", "--out", str(tmp_path), "--thresholds", str(thresholds)]) == 0
    alerts = {rule["alert"]: rule for rule in rules([tmp_path / "alerts/rendered/alerts.yaml"])}
    assert alerts["TimeToDetectHigh"]["expr"] == "app:kpi_incident_detect_seconds:p50_7d > 600"


def test_team_wip_limits_of_a_thresholds_file_are_evaluated(tmp_path: Path) -> None:
    """payments has a limit of 3 and 4 changes open: alert; discovery has the default 10."""
    thresholds = write_thresholds(tmp_path, "wip_limits: {default: 10, teams: {payments: 3}}\n")
    out = tmp_path / "bundle"
    assert cli.main(["render", "--out", str(out), "--thresholds", str(thresholds)]) == 0
    files = ["rules.yaml", "alerts.yaml"]
    series = 'kpi_changes_open{job="kpi-exporter", app="%s", team="%s"}'
    unit_test = {
        "rule_files": [str(out / "alerts/rendered" / name) for name in files],
        "evaluation_interval": "1m",
        "group_eval_order": [
            group["name"] for group in rule_groups([out / "alerts/rendered" / n for n in files])
        ],
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series % ("checkout", "payments"), "values": "4x90"},
                    {"series": series % ("search", "discovery"), "values": "5x90"},
                ],
                "promql_expr_test": [
                    {
                        "expr": "team:kpi_changes_open:wip_limit",
                        "eval_time": "1h",
                        "exp_samples": [
                            {
                                "labels": 'team:kpi_changes_open:wip_limit{team="payments"}',
                                "value": 3,
                            },
                            {
                                "labels": 'team:kpi_changes_open:wip_limit{team="discovery"}',
                                "value": 10,
                            },
                        ],
                    }
                ],
                "alert_rule_test": [
                    {
                        "alertname": "WorkInProgressAboveLimit",
                        "eval_time": "1h10m",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "team": "payments"},
                                "exp_annotations": {
                                    "summary": "The team has more changes open than its WIP limit.",
                                    "description": "Team payments has 4 changes open, above its"
                                    " WIP limit of 3.",
                                    "runbook_url": config()["runbook_url"]
                                    % "WorkInProgressAboveLimit",
                                    "action": config()["alerts"]["WorkInProgressAboveLimit"][
                                        "action"
                                    ],
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "wip.yaml"
    path.write_text(yaml.safe_dump(unit_test))
    result = subprocess.run(
        [promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "alerts: {ChangeFailureRateHigh: {treshold: 0.2}}",
            "alerts.ChangeFailureRateHigh.treshold: unknown key",
        ),
        ("alerts: {NoSuchAlert: {enabled: false}}", "alerts.NoSuchAlert: unknown key"),
        ("windows: {short: null}", "windows.short: null would remove it"),
        ("alerts: []", "alerts: expected a mapping"),
        ("- 1", "expected a mapping like alerts/config.libsonnet"),
    ],
)
def test_a_thresholds_file_the_config_does_not_know_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    thresholds = write_thresholds(tmp_path, text)
    assert cli.main(["render", "--out", str(tmp_path), "--thresholds", str(thresholds)]) == 2
    assert problem in capsys.readouterr().err
    assert not (tmp_path / "alerts").exists()


def test_a_thresholds_value_jsonnet_refuses_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thresholds = write_thresholds(tmp_path, 'alerts: {ChangesOpenTooLong: {threshold: "2d"}}')
    assert cli.main(["render", "--out", str(tmp_path), "--thresholds", str(thresholds)]) == 2
    assert "ChangesOpenTooLong.threshold must be one of 1h, 1d, 3d, 7d, 14d, 30d" in (
        capsys.readouterr().err
    )


def test_drift_of_a_rendered_file_or_a_leftover_runbook_is_detected(tmp_path: Path) -> None:
    reference.write(tmp_path)
    assert reference.stale(tmp_path) == []
    alerts = tmp_path / "alerts/rendered/alerts.yaml"
    alerts.write_text(alerts.read_text().replace("> 0.15", "> 0.5"))
    leftover = tmp_path / "docs/runbooks/RemovedAlert.md"
    leftover.write_text("an alert that no longer exists\n")
    assert reference.stale(tmp_path) == [
        "alerts/rendered/alerts.yaml",
        str(leftover.relative_to(tmp_path)),
    ]
    assert reference.write(tmp_path) == [
        "alerts/rendered/alerts.yaml",
        "docs/runbooks/RemovedAlert.md",
    ]
    assert not leftover.exists() and reference.stale(tmp_path) == []


def test_the_exporter_computes_every_window_and_quantile_the_rules_record() -> None:
    """The rules read the exporter's window gauges by their label values: the default
    windows and quantiles of both must be the same, or a recorded series reads nothing."""
    windows = config()["windows"]
    assert [label for label, _ in DEFAULT_WINDOWS] == windows["all"]
    assert {windows["short"], windows["long"]} <= set(windows["all"])
    assert [seconds for _, seconds in DEFAULT_WINDOWS] == [
        parse_duration(label) for label in windows["all"]
    ]
    assert list(DEFAULT_QUANTILES) == config()["quantiles"]
