"""The Helm chart helm/kpi-exporter: rendered by the real Helm SDK (PyPI helm-python-sdk) with
each values file of helm/kpi-exporter/ci/, every object validated against the Kubernetes
schemas of two Kubernetes versions (PyPI kubernetes-validate, strict), the ServiceMonitor and
PrometheusRule against the prometheus-operator CRD schemas (npm
@kubernetes-models/prometheus-operator, pinned in helm/schema/), the rule groups with
promtool, the configuration with `kpi-exporter check-config`, and the container's command
line by starting the real exporter with it."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import requests
import yaml
from kubernetes_validate.utils import latest_version  # type: ignore[import-untyped]

from tests.process import LISTENING
from tests.support import npm_ci

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "kpi-exporter"
CACHE = ROOT / ".cache" / "prometheus-operator-schema"
RELEASE = "metrics"  # not the chart's name: the job label must not depend on it
NAMESPACE = "monitoring"
CASES = ("default", "full", "existing-secret", "shards", "emptydir")
MONITORING = "monitoring.coreos.com/v1"

Manifest = dict[str, Any]


def _kube_versions() -> tuple[str, str]:
    """The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest one
    kubernetes-validate ships schemas for."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    floor = re.fullmatch(r">=\s*(\d+\.\d+)\.0-0", chart["kubeVersion"])
    assert floor, f"Chart.yaml kubeVersion {chart['kubeVersion']!r} is not '>=X.Y.0-0'"
    newest = ".".join(str(latest_version()).split(".")[:2])
    return floor.group(1), newest


KUBE_VERSIONS = _kube_versions()


def _values(case: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(
        (CHART / "ci" / f"{case}-values.yaml").read_text(encoding="utf-8")
    )
    return values


def _objects(manifests: dict[str, str]) -> list[Manifest]:
    return [
        document
        for template, text in sorted(manifests.items())
        if not template.endswith("NOTES.txt")
        for document in yaml.safe_load_all(text)
        if document
    ]


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def rendered(chart: helm_python.Chart) -> dict[str, list[Manifest]]:
    """Every values file of ci/ rendered once: case -> objects."""
    return {
        case: _objects(chart.render(_values(case), name=RELEASE, namespace=NAMESPACE))
        for case in CASES
    }


def _render(chart: helm_python.Chart, values: dict[str, Any]) -> list[Manifest]:
    return _objects(chart.render(values, name=RELEASE, namespace=NAMESPACE))


def _one(objects: list[Manifest], kind: str) -> Manifest:
    found = [obj for obj in objects if obj["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def _kinds(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [obj for obj in objects if obj["kind"] == kind]


def _container(objects: list[Manifest]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = _one(objects, "StatefulSet")["spec"]["template"]["spec"][
        "containers"
    ]
    assert [c["name"] for c in containers] == ["kpi-exporter"]
    return containers[0]


def _config_map(objects: list[Manifest]) -> Manifest:
    found = [obj for obj in objects if obj["kind"] == "ConfigMap" and "config.yaml" in obj["data"]]
    assert len(found) == 1
    return found[0]


def _dashboard_maps(objects: list[Manifest], label: str = "grafana_dashboard") -> list[Manifest]:
    return [
        obj
        for obj in objects
        if obj["kind"] == "ConfigMap" and label in obj["metadata"].get("labels", {})
    ]


# Helm lint and the values schema


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", CASES)
def test_chart_lints_clean_in_strict_mode(case: str, version: str) -> None:
    report = helm_python.lint(
        CHART, _values(case), strict=True, namespace=NAMESPACE, kube_version=f"v{version}.0"
    )
    assert report["errors"] == []
    # The one INFO (severity 1) lint gives: the project has no icon of its own to point at.
    assert report["messages"] == [
        {"severity": 1, "path": "Chart.yaml", "error": "icon is recommended"}
    ]
    assert report["total_charts_linted"] == 1


def test_values_files_pass_the_values_schema(chart: helm_python.Chart) -> None:
    chart.validate_schema(chart.values)
    for case in CASES:
        chart.validate_schema(_values(case))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": "three"}, "at '/replicas': got string, want integer"),
        ({"replicas": 0}, "at '/replicas': minimum: got 0, want 1"),
        ({"serviceMonitor": {"enable": True}}, "additional properties 'enable' not allowed"),
        (
            {"serviceMonitor": {"labels": {"release": 1}}},
            "at '/serviceMonitor/labels/release': got number, want string",
        ),
        (
            {"prometheusRule": {"alerts": {"ChangeFailureRateHigh": {"for": "two hours"}}}},
            "at '/prometheusRule/alerts/ChangeFailureRateHigh/for': 'two hours' does not match",
        ),
        (
            {"prometheusRule": {"alerts": {"ChangeFailureRateHigh": {"threshold": "soon"}}}},
            "at '/prometheusRule/alerts/ChangeFailureRateHigh/threshold': 'soon' does not match",
        ),
        ({"persistence": {"size": "lots"}}, "at '/persistence/size': 'lots' does not match"),
        ({"secret": {"data": {"GITHUB-TOKEN": "x"}}}, "invalid propertyName 'GITHUB-TOKEN'"),
        ({"log": {"level": "verbose"}}, "at '/log/level': value must be one of"),
    ],
)
def test_values_schema_rejects_wrong_values_naming_the_key(
    chart: helm_python.Chart, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError) as error:
        chart.validate_schema(values)
    assert message in str(error.value)


def test_values_schema_lists_exactly_the_alerts_of_the_rule_groups() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    alerts = schema["properties"]["prometheusRule"]["properties"]["alerts"]
    groups = yaml.safe_load((CHART / "files" / "rules" / "groups.yaml").read_text("utf-8"))
    names = {
        rule["alert"] for group in groups["groups"] for rule in group["rules"] if "alert" in rule
    }
    assert set(alerts["propertyNames"]["enum"]) == names, "update values.schema.json"


def test_a_store_outside_the_data_volume_is_refused(chart: helm_python.Chart) -> None:
    with pytest.raises(helm_python.HelmRenderError) as error:
        _render(chart, {"config": {"store": {"path": "./kpi-exporter.db"}}})
    assert "config.store.path must be a file under /data/ (the store's volume" in str(error.value)
    assert 'got "./kpi-exporter.db"' in str(error.value)


# Kubernetes schemas


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", CASES)
def test_every_object_validates_against_the_kubernetes_schemas(
    rendered: dict[str, list[Manifest]], case: str, version: str
) -> None:
    problems = []
    for obj in rendered[case]:
        if obj["apiVersion"] == MONITORING:
            continue  # custom resources: validated against the CRD schemas below
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
    assert problems == []


def test_strict_kubernetes_validation_rejects_an_unknown_field(
    rendered: dict[str, list[Manifest]],
) -> None:
    statefulset = json.loads(json.dumps(_one(rendered["default"], "StatefulSet")))
    statefulset["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError) as error:
        kubernetes_validate.validate(statefulset, KUBE_VERSIONS[0], strict=True)
    assert "'readinessprobe' was unexpected" in error.value.message


def test_every_kind_is_validated_by_one_schema(rendered: dict[str, list[Manifest]]) -> None:
    kinds = {(obj["apiVersion"], obj["kind"]) for objects in rendered.values() for obj in objects}
    assert kinds == {
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("apps/v1", "StatefulSet"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        (MONITORING, "ServiceMonitor"),
        (MONITORING, "PrometheusRule"),
    }, "a new kind needs its schema check here"


# prometheus-operator CRD schemas (npm @kubernetes-models/prometheus-operator)


@pytest.fixture(scope="module")
def crd_validator() -> Path:
    """`npm ci` of the pinned packages of helm/schema/ into .cache/prometheus-operator-schema,
    with the script that validates objects read on stdin."""
    npm_ci(ROOT / "helm" / "schema", CACHE, "validate.mjs")
    return CACHE / "validate.mjs"


def _validate_crds(script: Path, objects: list[Manifest]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is missing: run scripts/install-system-deps.sh (installs nodejs and npm)"
    result = subprocess.run(
        [node, str(script)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    results: list[dict[str, Any]] = json.loads(result.stdout)
    return results


def test_everything_enabled_renders_the_servicemonitor_and_the_prometheusrule(
    rendered: dict[str, list[Manifest]],
) -> None:
    kinds = {obj["kind"] for obj in rendered["full"]}
    assert "ServiceMonitor" in kinds
    assert "PrometheusRule" in kinds, (
        "prometheusRule.enabled=true renders no PrometheusRule: "
        "templates/prometheusrule.yaml is missing or empty"
    )


def test_monitoring_objects_validate_against_the_prometheus_operator_crds(
    crd_validator: Path, rendered: dict[str, list[Manifest]]
) -> None:
    objects = [obj for objects in rendered.values() for obj in objects]
    monitoring = [obj for obj in objects if obj["apiVersion"] == MONITORING]
    assert {obj["kind"] for obj in monitoring} == {"ServiceMonitor", "PrometheusRule"}
    results = _validate_crds(crd_validator, monitoring)
    assert len(results) == len(monitoring)
    assert [r for r in results if r["error"] is not None] == []


def test_the_crd_validator_rejects_a_wrong_type(
    crd_validator: Path, rendered: dict[str, list[Manifest]]
) -> None:
    monitor = json.loads(json.dumps(_one(rendered["full"], "ServiceMonitor")))
    monitor["spec"]["endpoints"][0]["interval"] = 30
    [result] = _validate_crds(crd_validator, [monitor])
    assert "data/spec/endpoints/0/interval must be string" in result["error"]


def test_prometheus_rule_groups_pass_promtool_check_rules(
    rendered: dict[str, list[Manifest]], tmp_path: Path
) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/install-system-deps.sh (Debian prometheus)"
    rules = [(case, obj) for case in CASES for obj in _kinds(rendered[case], "PrometheusRule")]
    assert [case for case, _ in rules] == ["full"], "prometheusRule.enabled is set in full only"
    for case, rule in rules:
        path = tmp_path / f"{case}.rules.yaml"
        path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}), encoding="utf-8")
        result = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_alerts_are_overridden_and_disabled_from_values(
    rendered: dict[str, list[Manifest]],
) -> None:
    rule = _one(rendered["full"], "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {
        r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r
    }
    assert "ChangePickupTimeHigh" not in alerts  # enabled: false
    assert alerts["ChangeFailureRateHigh"]["for"] == "2h"
    assert "0.1" in alerts["ChangeFailureRateHigh"]["expr"]
    assert alerts["CriticalVulnerabilityPastSla"]["labels"]["severity"] == "critical"


# The ServiceMonitor and sharding


def test_service_monitor_keeps_the_rules_job_name_and_one_instance_per_pod(
    rendered: dict[str, list[Manifest]],
) -> None:
    monitor = _one(rendered["shards"], "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    service = _one(rendered["shards"], "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "http"
    assert endpoint["path"] == "/metrics"
    # The release is "metrics": the job is still the one the recording rules select.
    assert endpoint["relabelings"][:2] == [
        {"action": "replace", "targetLabel": "job", "replacement": "kpi-exporter"},
        {
            "action": "replace",
            "sourceLabels": ["__meta_kubernetes_pod_name"],
            "targetLabel": "instance",
        },
    ]
    rules = (ROOT / "alerts" / "rendered" / "rules.yaml").read_text(encoding="utf-8")
    assert 'job="kpi-exporter"' in rules
    full = _one(rendered["full"], "ServiceMonitor")["spec"]["endpoints"][0]
    assert full["relabelings"][2]["targetLabel"] == "cluster"  # the user's come after
    assert full["interval"] == "30s"
    assert full["scheme"] == "https"
    assert full["basicAuth"]["password"] == {"name": "kpi-exporter-scrape", "key": "password"}


def test_the_http_server_limits_are_values_passed_as_flags(
    rendered: dict[str, list[Manifest]],
) -> None:
    default = _container(rendered["default"])["args"]
    assert {"--web.max-connections=512", "--web.read-timeout=15", "--web.idle-timeout=60"} <= set(
        default
    )
    full = _container(rendered["full"])["args"]
    assert {"--web.max-connections=1024", "--web.read-timeout=7.5"} <= set(full)
    assert "--web.idle-timeout=120" in full


def test_replicas_are_shards_that_derive_their_index_from_the_pod_name(
    rendered: dict[str, list[Manifest]],
) -> None:
    statefulset = _one(rendered["shards"], "StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    container = _container(rendered["shards"])
    assert "--shard.count=3" in container["args"]
    assert "--shard.index=$(POD_NAME)" in container["args"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in (
        container["env"]
    )
    # Each shard has its own store.
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert "--shard.count=1" in _container(rendered["default"])["args"]
    budget = _one(rendered["shards"], "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"] == statefulset["spec"]["selector"]


# Storage


def test_persistence_claims_a_volume_per_pod_with_size_and_class(
    rendered: dict[str, list[Manifest]],
) -> None:
    [claim] = _one(rendered["full"], "StatefulSet")["spec"]["volumeClaimTemplates"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast-ssd",
        "resources": {"requests": {"storage": "5Gi"}},
    }
    assert claim["metadata"]["annotations"] == {"example.com/backup": "daily"}
    [default] = _one(rendered["default"], "StatefulSet")["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in default["spec"]  # the cluster's default class
    assert default["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_storage_class_dash_means_no_class(chart: helm_python.Chart) -> None:
    statefulset = _one(_render(chart, {"persistence": {"storageClass": "-"}}), "StatefulSet")
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == ""


def test_empty_dir_replaces_the_claim(rendered: dict[str, list[Manifest]]) -> None:
    statefulset = _one(rendered["emptydir"], "StatefulSet")
    assert "volumeClaimTemplates" not in statefulset["spec"]
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}
    assert {"name": "data", "mountPath": "/data"} in _container(rendered["emptydir"])[
        "volumeMounts"
    ]


# Configuration and secrets


def _exporter_config(objects: list[Manifest]) -> str:
    text: str = _config_map(objects)["data"]["config.yaml"]
    return text


def _check_config(
    config: str, tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(config, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_SECRET"))}
    return subprocess.run(
        [sys.executable, "-m", "kpi_exporter.cli", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
    )


def test_default_config_passes_check_config(
    rendered: dict[str, list[Manifest]], tmp_path: Path
) -> None:
    config = _exporter_config(rendered["default"])
    assert yaml.safe_load(config)["store"]["path"] == "/data/kpi-exporter.db"
    result = _check_config(config, tmp_path, {})
    assert result.returncode == 0, result.stderr
    assert "configuration OK: 0 source(s), store /data/kpi-exporter.db" in result.stdout


def test_the_chart_secret_provides_every_token_the_config_names(
    rendered: dict[str, list[Manifest]], tmp_path: Path
) -> None:
    objects = rendered["full"]
    secret = _one(objects, "Secret")
    env = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert env == {
        "GITHUB_TOKEN": "ghp_example",
        "KPI_INGEST_SECRET": "a-shared-secret-of-32-characters",
    }
    assert _container(objects)["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    config = _exporter_config(objects)
    result = _check_config(config, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "configuration OK: 2 source(s)" in result.stdout
    # Without the Secret's variables the same configuration is refused.
    missing = _check_config(config, tmp_path, {})
    assert missing.returncode == 2
    assert "GITHUB_TOKEN is not set" in missing.stderr


def test_an_existing_secret_is_used_and_none_is_created(
    rendered: dict[str, list[Manifest]],
) -> None:
    objects = rendered["existing-secret"]
    assert _kinds(objects, "Secret") == []
    container = _container(objects)
    assert container["envFrom"] == [{"secretRef": {"name": "kpi-exporter-tokens"}}]
    annotations = _one(objects, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/secret" not in annotations
    assert "envFrom" not in _container(rendered["default"])


def _checksums(objects: list[Manifest]) -> dict[str, str]:
    annotations: dict[str, str] = _one(objects, "StatefulSet")["spec"]["template"]["metadata"][
        "annotations"
    ]
    return {k: v for k, v in annotations.items() if k.startswith("checksum/")}


def test_pods_restart_when_the_config_or_the_secret_changes(
    chart: helm_python.Chart, rendered: dict[str, list[Manifest]]
) -> None:
    full = _values("full")
    before = _checksums(rendered["full"])
    assert set(before) == {"checksum/config", "checksum/secret"}
    assert _checksums(_render(chart, full)) == before
    config = json.loads(json.dumps(full))
    config["config"]["production_environments"] = "^production$"
    after_config = _checksums(_render(chart, config))
    assert after_config["checksum/config"] != before["checksum/config"]
    assert after_config["checksum/secret"] == before["checksum/secret"]
    secret = json.loads(json.dumps(full))
    secret["secret"]["data"]["GITHUB_TOKEN"] = "ghp_rotated"
    after_secret = _checksums(_render(chart, secret))
    assert after_secret["checksum/secret"] != before["checksum/secret"]
    assert after_secret["checksum/config"] == before["checksum/config"]


# The pod


@pytest.mark.parametrize("case", CASES)
def test_pod_is_hardened(rendered: dict[str, list[Manifest]], case: str) -> None:
    objects = rendered[case]
    pod = _one(objects, "StatefulSet")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container(objects)
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    account = _one(objects, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]


@pytest.mark.parametrize("case", CASES)
def test_probes_check_healthz_and_readyz_on_the_exporter_port(
    rendered: dict[str, list[Manifest]], case: str
) -> None:
    container = _container(rendered[case])
    assert container["ports"] == [{"name": "http", "containerPort": 9864, "protocol": "TCP"}]
    liveness, readiness = container["livenessProbe"], container["readinessProbe"]
    startup = container["startupProbe"]
    assert (startup["httpGet"]["path"], startup["httpGet"]["port"]) == ("/healthz", "http")
    # A full replay of 1M events takes ~27 s on one core (benchmarks/refresh.py): the start-up
    # budget leaves it 10 minutes, far above, so a slow pod is not killed in a loop.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    schemes = {probe["httpGet"].get("scheme", "HTTP") for probe in (startup, liveness, readiness)}
    assert len(schemes) == 1, "every probe speaks the same scheme (HTTPS when TLS is on)"
    assert (liveness["httpGet"]["path"], liveness["httpGet"]["port"]) == ("/healthz", "http")
    assert (readiness["httpGet"]["path"], readiness["httpGet"]["port"]) == ("/readyz", "http")
    assert liveness["failureThreshold"] > readiness["failureThreshold"]


def test_network_policy_admits_scrapes_from_the_given_peers_only(
    rendered: dict[str, list[Manifest]],
) -> None:
    policy = _one(rendered["full"], "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    [ingress] = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
    }
    assert len(policy["spec"]["egress"]) == 2
    assert _kinds(rendered["default"], "NetworkPolicy") == []


def _run_container(
    container: dict[str, Any], pod_name: str, mounts: dict[str, Path]
) -> subprocess.Popen[bytes]:
    """Start the container's command as Kubernetes would, with the exporter of this checkout:
    $(VAR) expanded from the container's environment, mount paths mapped to directories,
    the listen address on 127.0.0.1 and a free port."""
    env = {"POD_NAME": pod_name}
    args = []
    for arg in [*container["command"], *container["args"]]:
        arg = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg)
        for mount, directory in mounts.items():
            arg = arg.replace(f"={mount}/", f"={directory}/")
        arg = re.sub(r"^--web\.listen-address=:\d+$", "--web.listen-address=127.0.0.1:0", arg)
        args.append(arg)
    assert args[0] == "kpi-exporter"
    log = (mounts["/data"] / "exporter.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "kpi_exporter.cli", *args[1:]],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
    )


def test_the_container_command_starts_the_exporter_on_its_shard(
    rendered: dict[str, list[Manifest]], tmp_path: Path
) -> None:
    objects = rendered["shards"]
    container = _container(objects)
    mounts = {"/etc/kpi-exporter": tmp_path / "etc", "/data": tmp_path / "data"}
    for directory in mounts.values():
        directory.mkdir()
    config = _exporter_config(objects).replace("/data/", f"{mounts['/data']}/")
    (mounts["/etc/kpi-exporter"] / "config.yaml").write_text(config, encoding="utf-8")
    process = _run_container(container, f"{RELEASE}-kpi-exporter-2", mounts)
    log = mounts["/data"] / "exporter.log"
    try:
        port = 0
        deadline = time.monotonic() + 20
        while not port and time.monotonic() < deadline and process.poll() is None:
            match = LISTENING.search(log.read_text(errors="replace"))
            port = int(match.group(1)) if match else 0
            time.sleep(0.05)
        assert port, f"the exporter did not start:\n{log.read_text(errors='replace')}"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            path = container[probe]["httpGet"]["path"]
            deadline = time.monotonic() + 20
            status = 0
            while status != 200 and time.monotonic() < deadline:
                status = requests.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code
                time.sleep(0.05)
            assert status == 200, (path, log.read_text(errors="replace"))
        assert (mounts["/data"] / "kpi-exporter.db").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0, log.read_text(errors="replace")


# Grafana dashboards


def _provisioned_folders() -> dict[str, str]:
    """Dashboard directory -> Grafana folder, from dashboards/provisioning/dashboards.yaml."""
    providers = yaml.safe_load(
        (ROOT / "dashboards" / "provisioning" / "dashboards.yaml").read_text(encoding="utf-8")
    )["providers"]
    return {p["options"]["path"].rsplit("/", 1)[1]: p["folder"] for p in providers}


def test_dashboard_config_maps_hold_exactly_the_committed_dashboards(
    rendered: dict[str, list[Manifest]],
) -> None:
    committed = {
        path.relative_to(ROOT / "dashboards" / "rendered").as_posix(): path.read_text(
            encoding="utf-8"
        )
        for path in (ROOT / "dashboards" / "rendered").glob("*/*.json")
    }
    assert len(committed) >= 9
    folders = _provisioned_folders()
    shipped = {}
    for config_map in _dashboard_maps(rendered["default"]):
        metadata = config_map["metadata"]
        assert metadata["labels"]["grafana_dashboard"] == "1"
        assert metadata["namespace"] == NAMESPACE
        [(key, content)] = config_map["data"].items()  # one dashboard per ConfigMap
        assert len(content.encode()) < 1024 * 1024
        [directory] = [
            d for d, f in folders.items() if f == metadata["annotations"]["grafana_folder"]
        ]
        shipped[f"{directory}/{key}"] = content
    assert shipped == committed


def test_dashboard_label_folder_annotation_and_namespace_are_configurable(
    chart: helm_python.Chart, rendered: dict[str, list[Manifest]]
) -> None:
    values = {
        "dashboards": {
            "label": "kpi_dashboard",
            "labelValue": "yes",
            "folderAnnotation": "k8s-sidecar-target-directory",
            # null removes a default: the directory's own name is the folder.
            "folders": {"executive": "Board", "leadership": None},
            "namespace": "grafana",
        }
    }
    maps = _dashboard_maps(_render(chart, values), label="kpi_dashboard")
    assert len(maps) == len(_dashboard_maps(rendered["default"]))
    assert {m["metadata"]["labels"]["kpi_dashboard"] for m in maps} == {"yes"}
    assert {m["metadata"]["namespace"] for m in maps} == {"grafana"}
    annotations = {m["metadata"]["annotations"]["k8s-sidecar-target-directory"] for m in maps}
    assert annotations == {"Board", "leadership", "KPI Teams", "KPI Domains", "KPI Operations"}
    assert _dashboard_maps(_render(chart, {"dashboards": {"enabled": False}})) == []
    assert {m["metadata"]["namespace"] for m in _dashboard_maps(rendered["full"])} == {"grafana"}


# Documentation


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([A-Za-z0-9_.]+)` \|", readme, flags=re.MULTILINE)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    for key in documented:
        node = defaults
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"README documents unknown {key}"
            node = node[part]
    assert {key.split(".")[0] for key in documented} == set(defaults)
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert set(defaults) <= set(schema["properties"])
