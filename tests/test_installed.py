"""The package as a user installs it: a wheel built from this checkout, installed in a fresh
virtual environment outside it, renders the rules and dashboards with its own thresholds from
the Jsonnet sources the wheel carries (the chart's threshold overrides and the container image
need that), the same bytes as the checkout renders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
import yaml

from kpi_exporter.render import bundle, dashboards, sources

ROOT = Path(__file__).resolve().parent.parent
# The installed package only: no PYTHONPATH of the caller's (it would show this checkout).
CLEAN = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
THRESHOLDS = {"alerts": {"ChangeFailureRateHigh": {"threshold": 0.27}}}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel installed; its dependencies are read from this
    environment's site-packages through a .pth line (a plain path: the editable install's
    own .pth there is not processed, so `kpi_exporter` is the wheel's)."""
    folder = tmp_path_factory.mktemp("installed")
    # Built from a copy: a build writes its egg-info and build/ next to the sources.
    source = folder / "source"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "rendered")
    for name in ("exporter", "alerts", "dashboards"):
        shutil.copytree(ROOT / name, source / name, ignore=skip)
    wheels = folder / "wheels"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", str(source), "--wheel-dir", str(wheels)),
        ],
        check=True,
        cwd=folder,
        timeout=300,
        env=CLEAN,
    )
    (wheel,) = wheels.glob("kpi_exporter-*.whl")
    environment = folder / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        env=CLEAN,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        timeout=300,
        env=CLEAN,
    )
    return environment


def test_the_wheel_carries_every_jsonnet_source(installed: Path) -> None:
    share = installed / sources.INSTALLED
    carried = sorted(p.relative_to(share).as_posix() for p in share.rglob("*") if p.is_file())
    wanted = sorted(
        p.relative_to(ROOT).as_posix()
        for folder in ("alerts", "dashboards")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in {".jsonnet", ".libsonnet"} and "rendered" not in p.parts
    )
    assert carried == sorted([*wanted, "alerts/tests/thresholds.yaml"])


def test_render_with_thresholds_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    thresholds = tmp_path / "mine.yaml"
    thresholds.write_text(yaml.safe_dump(THRESHOLDS))
    out = tmp_path / "out"
    command = [str(installed / "bin" / "kpi-exporter"), "render", "--thresholds", str(thresholds)]
    result = subprocess.run(
        [*command, "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=CLEAN,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    located = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "from kpi_exporter.render import sources; print(sources.ROOT)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=CLEAN,
    ).stdout.strip()
    assert Path(located) == installed / sources.INSTALLED  # not this checkout
    expected = bundle.rendered_files(bundle.load_thresholds(thresholds))
    for name in ("alerts/rendered/alerts.yaml", "alerts/rendered/rules.yaml"):
        assert (out / name).read_text(encoding="utf-8") == expected[name], name
    assert "0.27" in (out / "alerts/rendered/alerts.yaml").read_text(encoding="utf-8")
    executive = dashboards.path_of("executive")
    assert (out / executive).is_file()
