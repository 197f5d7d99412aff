"""The real exporter process: quick start, promtool, SIGKILL mid-poll, SIGTERM."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.process import Exporter
from tests.support import value

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_serves_every_core_family_from_the_checkout(tmp_path: Path) -> None:
    with Exporter(ROOT / "examples" / "quickstart.yaml", tmp_path) as exporter:
        exporter.wait_ready()
        text = exporter.metrics()
    # the checkout's own history: at least one release-train deployment with lead times
    assert value(text, "kpi_deployments_total", app="kpi-exporter") >= 1
    assert value(text, "kpi_change_lead_time_seconds_count", app="kpi-exporter") >= 1
    # the sample events (examples/events): hand-counted in the files
    assert value(text, "kpi_deployments_total", app="checkout") == 6
    assert value(text, "kpi_deployments_total", app="search") == 2
    assert value(text, "kpi_deployments_failed_total", app="checkout") == 3
    assert value(text, "kpi_deployments_failed_total", app="search") == 1
    assert value(text, "kpi_deployments_rework_total", app="checkout") == 2
    assert value(text, "kpi_incidents_total", app="checkout") == 1
    assert value(text, "kpi_incidents_total", app="search") == 3
    assert value(text, "kpi_incidents_open") == 1
    assert value(text, "kpi_incident_restore_seconds_count", app="search") == 2
    # the samples (examples/samples, written by examples/samples.py): billing's 10
    # deployments, 19 pull requests (18 reviewed: the hotfix was not), and two incidents,
    # both resolved
    billing = {
        "kpi_deployments_total": 10,
        "kpi_change_coding_seconds_count": 19,
        "kpi_change_review_seconds_count": 18,
        "kpi_changes_merged_unreviewed_total": 1,
        "kpi_incidents_total": 2,
        "kpi_incident_restore_seconds_count": 2,
    }
    assert {name: value(text, name, app="billing") for name in billing} == billing
    assert value(text, "kpi_exporter_source_up", source="self") == 1
    assert value(text, "kpi_exporter_source_up", source="ci-events") == 1


def test_promtool_accepts_the_exposition(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (make test installs the Debian package prometheus)"
    with Exporter(ROOT / "examples" / "quickstart.yaml", tmp_path) as exporter:
        exporter.wait_ready()
        text = exporter.metrics()
        openmetrics = exporter.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        ).text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )
    assert openmetrics.endswith("# EOF\n")


def write_deployments(path: Path, first: int, count: int) -> None:
    with path.open("a") as file:
        for index in range(first, first + count):
            line = {
                "type": "deployment",
                "id": f"deploy-{index}",
                "app": f"app-{index % 50}",
                "environment": "production",
                "finished_at": 1_790_000_000 + index * 60,
                "changes": [{"id": f"c-{index}", "first_commit_at": 1_789_990_000 + index * 60}],
            }
            file.write(json.dumps(line) + "\n")


def counters(text: str) -> tuple[float, float]:
    return (
        value(text, "kpi_deployments_total"),
        value(text, "kpi_change_lead_time_seconds_count"),
    )


@pytest.mark.timeout(240)
def test_sigkill_mid_poll_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    total = 20_000
    write_deployments(events, 0, total)
    config = tmp_path / "kpi.yaml"
    config.write_text(
        "store: {path: kpi.db}\n"
        "sources:\n"
        "  - {type: events_file, name: ci, interval: 1s, paths: [events.jsonl]}\n"
    )
    last = (0.0, 0.0)
    # Kill at different moments: before, during and after the first big poll's write.
    for delay in (0.3, 0.8, 1.5, 3.0):
        exporter = Exporter(config, tmp_path).start()
        try:
            seen = counters(exporter.metrics())
            assert seen >= last, f"counters went back after a restart: {seen} < {last}"
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:
                seen = counters(exporter.metrics())
                assert seen >= last
                last = seen
                time.sleep(0.05)
        finally:
            exporter.kill()  # SIGKILL: no chance to finish the write in progress
        # appending between runs must be picked up once, not re-counted
        write_deployments(events, total, 100)
        total += 100
    with Exporter(config, tmp_path) as exporter:
        exporter.wait_ready()
        deadline = time.monotonic() + 60
        while counters(exporter.metrics()) != (total, total) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert counters(exporter.metrics()) == (total, total)
        assert exporter.stop() == 0
    rows = (
        sqlite3.connect(tmp_path / "kpi.db")
        .execute(
            "SELECT kind, count(*), count(DISTINCT key) FROM events GROUP BY kind ORDER BY kind"
        )
        .fetchall()
    )
    assert rows == [
        ("change", total, total),
        ("deployment", total, total),
        ("outcome", total, total),
    ]
    assert "stopped" in exporter.log.read_text()


def test_a_failing_source_keeps_its_metrics_and_shows_down(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_deployments(events, 0, 10)
    config = tmp_path / "kpi.yaml"
    config.write_text(
        "store: {path: kpi.db}\n"
        "sources:\n"
        "  - {type: events_file, name: ci, interval: 1s, paths: [events.jsonl]}\n"
        "  - {type: git, name: broken, interval: 1s, path: not-a-repo}\n"
    )
    with Exporter(config, tmp_path) as exporter:
        exporter.wait_ready()
        deadline = time.monotonic() + 20
        while value(exporter.metrics(), "kpi_deployments_total") < 10:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        events.unlink()  # the events source now fails too: its data must stay
        deadline = time.monotonic() + 20
        while value(exporter.metrics(), "kpi_exporter_source_up", source="ci") != 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        text = exporter.metrics()
        page = exporter.get("/").text
    assert value(text, "kpi_deployments_total") == 10
    assert value(text, "kpi_exporter_source_up", source="broken") == 0
    assert value(text, "kpi_exporter_source_polls_total", source="broken", result="failure") >= 1
    assert "not-a-repo: no such directory" in page
