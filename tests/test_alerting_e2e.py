"""The alerting path with the real programs: the exporter serves an open incident older than
the 1 hour restore target, Prometheus scrapes it and evaluates the rendered rules, Alertmanager
routes the alert (alerts/alertmanager.yml) to a local webhook. Also: amtool accepts the
example routing, and a critical alert inhibits the warning of the same alert."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.process import Exporter, Server, free_port, program

ROOT = Path(__file__).resolve().parent.parent
ALERTMANAGER_CONFIG = ROOT / "alerts" / "alertmanager.yml"
Notification = dict[str, Any]


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every notification Alertmanager posts, with the
    path it was posted to (/pager, /ticket)."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, Notification]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    receiver.notifications.append((self.path, json.loads(body)))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(
        self, found: Callable[[str, Notification], bool], timeout: float
    ) -> tuple[str, Notification]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for path, notification in self.notifications:
                    if found(path, notification):
                        return path, notification
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such notification in {self.notifications}")
                self.arrived.wait(left)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


def serving(
    binary: str, workdir: Path, name: str, config: dict[str, Any], flags: list[str]
) -> Iterator[str]:
    """A fixture's body running ``binary`` (Prometheus, Alertmanager) on a free port with
    ``config`` as ``{name}.yml`` in ``workdir`` and ``flags``, its output in ``{name}.log``:
    yields its URL once ready, stops it when the fixture ends."""
    (workdir / f"{name}.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    server = Server(
        [
            binary,
            f"--config.file={workdir / f'{name}.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
            *flags,
        ],
        workdir / f"{name}.log",
        f"http://127.0.0.1:{port}/-/ready",
    )
    server.wait_ready()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[str]:
    """The real Alertmanager with the example routing, its webhooks pointed at the receiver
    and its group timings shortened from minutes to a second. Yields its URL."""
    binary = program("prometheus-alertmanager", "prometheus-alertmanager")
    workdir = tmp_path_factory.mktemp("alertmanager")
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for receiver_config in config["receivers"]:
        for webhook in receiver_config.get("webhook_configs", []):
            webhook["url"] = f"http://127.0.0.1:{receiver.port}/{receiver_config['name']}"
    flags = [f"--storage.path={workdir / 'data'}", "--cluster.listen-address="]
    yield from serving(binary, workdir, "alertmanager", config, flags)


def test_amtool_accepts_the_example_routing() -> None:
    amtool = program("amtool", "prometheus-alertmanager")
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("severity", "receiver_name"), [("critical", "pager"), ("warning", "ticket"), ("info", "null")]
)
def test_critical_pages_warning_tickets_info_is_not_routed(
    severity: str, receiver_name: str
) -> None:
    amtool = program("amtool", "prometheus-alertmanager")
    result = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_CONFIG}",
            f"--verify.receivers={receiver_name}",
            "alertname=ChangeFailureRateHigh",
            "app=checkout",
            "team=payments",
            f"severity={severity}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    """The real exporter with one app whose incident started two hours ago and is open."""
    (tmp_path / "events.jsonl").write_text(
        json.dumps(
            {
                "type": "incident",
                "id": "INC-42",
                "app": "checkout",
                "severity": "critical",
                "started_at": int(time.time()) - 2 * 3600,
            }
        )
        + "\n"
    )
    (tmp_path / "kpi.yaml").write_text(
        "store: {path: kpi.db}\n"
        "apps: {checkout: {team: payments}}\n"
        "sources:\n"
        "  - {type: events_file, name: ci-events, interval: 1s, paths: [events.jsonl]}\n"
    )
    with Exporter(tmp_path / "kpi.yaml", tmp_path) as exporter:
        exporter.wait_ready()
        yield exporter


@pytest.fixture
def rule_files(tmp_path: Path) -> Path:
    """The rules, rendered by the real command with a thresholds file that evaluates every
    second and fires at once; the thresholds themselves stay the shipped ones."""
    (tmp_path / "thresholds.yaml").write_text(
        "rule_interval: 1s\nalerts: {IncidentOpenTooLong: {for: 0s}}\n"
    )
    command = [sys.executable, "-m", "kpi_exporter.cli", "render", "--out", str(tmp_path)]
    # The whole bundle (dashboards, the chart and the unit tests' rule files included): ~50
    # CPU-s of Jsonnet on this 2-core machine, more when other tests share it.
    render = subprocess.run(
        [*command, "--thresholds", str(tmp_path / "thresholds.yaml")],
        capture_output=True,
        text=True,
        timeout=240,  # render evaluates every Jsonnet file: tens of seconds on 2 busy cores
    )
    assert render.returncode == 0, render.stderr
    return tmp_path / "alerts" / "rendered"


@pytest.fixture
def prometheus(
    tmp_path: Path, exporter: Exporter, rule_files: Path, alertmanager: str
) -> Iterator[str]:
    """The real Prometheus: scrapes the exporter every second, evaluates the rule files and
    sends alerts to Alertmanager, resending every second. Yields its URL."""
    binary = program("prometheus", "prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in sorted(rule_files.glob("*.yaml"))],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager.split("//")[1]]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "kpi-exporter",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}],
            }
        ],
    }
    flags = [f"--storage.tsdb.path={tmp_path / 'prometheus'}", "--rules.alert.resend-delay=1s"]
    yield from serving(binary, tmp_path, "prometheus", config, flags)


@pytest.mark.timeout(240)  # the fixtures' render of the whole bundle included
def test_an_incident_open_past_its_target_pages_through_alertmanager(
    receiver: Receiver, prometheus: str, rule_files: Path
) -> None:
    started = time.monotonic()
    path, notification = receiver.wait_for(
        lambda _, n: n["groupLabels"].get("alertname") == "IncidentOpenTooLong", timeout=40
    )
    print(f"Prometheus ready -> notification on the webhook: {time.monotonic() - started:.1f}s")

    assert path == "/pager"
    assert notification["receiver"] == "pager" and notification["status"] == "firing"
    [alert] = notification["alerts"]
    assert alert["labels"] == {
        "alertname": "IncidentOpenTooLong",
        "app": "checkout",
        "team": "payments",
        "severity": "critical",
    }
    rule = next(
        rule
        for group in yaml.safe_load((rule_files / "alerts.yaml").read_text())["groups"]
        for rule in group["rules"]
        if rule["alert"] == "IncidentOpenTooLong"
    )
    assert alert["annotations"]["summary"] == rule["annotations"]["summary"]
    assert alert["annotations"]["action"] == rule["annotations"]["action"]
    assert alert["annotations"]["action"].startswith("Restore service before")
    assert alert["annotations"]["description"].startswith(
        "The oldest open incident of checkout (team payments) started 2h"
    )
    assert alert["annotations"]["runbook_url"].endswith("/docs/runbooks/IncidentOpenTooLong.md")


@pytest.mark.timeout(60)
def test_a_critical_alert_inhibits_the_warning_of_the_same_alert(
    receiver: Receiver, alertmanager: str
) -> None:
    """ErrorBudgetBurn pages and tickets at once when an SLO burns fast: the ticket is
    inhibited. A warning of another alert still opens its ticket."""
    labels = {"alertname": "ErrorBudgetBurn", "app": "shop", "team": "team-a", "slo": "shop"}
    other = {"alertname": "ReworkRateHigh", "app": "shop", "team": "team-a"}
    alerts = [
        {"labels": {**labels, "severity": "critical"}},
        {"labels": {**labels, "severity": "warning"}},
        {"labels": {**other, "severity": "warning"}},
    ]
    requests.post(f"{alertmanager}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()

    def about(name: str) -> Callable[[str, Notification], bool]:
        return lambda _, n: n["groupLabels"] == {"alertname": name, "app": "shop", "team": "team-a"}

    path, _ = receiver.wait_for(about("ErrorBudgetBurn"), timeout=30)
    assert path == "/pager"
    path, _ = receiver.wait_for(about("ReworkRateHigh"), timeout=30)
    assert path == "/ticket"
    time.sleep(3)  # three more group intervals: an uninhibited ticket would have come
    tickets = [
        alert["labels"]
        for path, notification in receiver.notifications
        if path == "/ticket"
        for alert in notification["alerts"]
    ]
    assert [alert for alert in tickets if alert["alertname"] == "ErrorBudgetBurn"] == []
