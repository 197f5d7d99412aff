"""`make demo` (scripts/demo.py): the exporter on the quick start, its history backfilled into a
real Prometheus that evaluates the rendered rules; every record the script shows answers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)
def test_demo_answers_promql_on_recorded_series(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: make test installs Debian's package")
    command = [sys.executable, str(ROOT / "scripts" / "demo.py"), "--check"]
    command += ["--dir", str(tmp_path / "demo"), "--days", "30"]
    command += ["--port", str(free_port()), "--prometheus-port", str(free_port())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=540, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every query printed a series with a value, none "(no data yet)".
    assert "(no data yet)" not in result.stdout
    assert "app:kpi_deployments:increase_30d" in result.stdout
    assert "'team': 'platform'} = " in result.stdout
    assert "org:kpi_deployments_failed_per_deployments:ratio_30d'} = " in result.stdout
