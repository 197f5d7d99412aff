"""Every file of the shared real artifacts is tested (a file added there and forgotten here
fails), the generators' sources are the files the generated reports name, and the folder's
absence is a skip on a developer machine but a failure under ``CI=true``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import test_real_coverage_junit as reports
from tests import test_real_scans_cost as scans
from tests.real_data import artifact, artifact_files, real_data_dir, under

# The generated reports' inputs, kept to reproduce them (generators/README.md); what each is
# checked against is below.
GENERATORS = {
    "python/shop/__init__.py",
    "python/shop/util.py",
    "python/shop/billing/__init__.py",
    "python/shop/billing/invoice.py",
    "python/shop/catalog/__init__.py",
    "python/shop/catalog/search.py",
    "python/tests/__init__.py",
    "python/tests/test_shop.py",
    "c/src/core/mathx.c",
    "c/src/core/mathx.h",
    "c/src/io/fmt.c",
    "c/src/io/fmt.h",
    "c/tests/main.c",
    "js/jest.config.js",
    "js/src/cart/total.js",
    "js/src/search/find.js",
    "js/__tests__/cart.test.js",
}
# Tested by the native webhook work of issue 14 (item 12), on its own branch: named here so
# that the listing stays complete; move it to that test's table when it lands.
ELSEWHERE = {"events/github-deployment_status.payload.json"}


def test_every_real_artifact_is_tested() -> None:
    tested = (
        under("coverage", reports.COVERAGE)
        | under("junit", reports.JUNIT)
        | under("scan", scans.TRIVY)
        | under("scan", scans.OSV)
        | {"focus/focus_sample.csv", "sonarqube/measures-component-example.json"}
        | under("generators", GENERATORS)
        | ELSEWHERE
    )
    assert artifact_files() == tested


# Generated report -> (generator folder, the covered paths it names, relative to it).
COVERED = {
    "coverage/coveragepy-cobertura.xml": ("python", r'filename="([^"]+)"'),
    "coverage/gcovr-cobertura.xml": ("c", r'filename="([^"]+)"'),
    "coverage/istanbul-jest-cobertura.xml": ("js", r'filename="([^"]+)"'),
    "coverage/geninfo-capture.info": ("c", r"^SF:/builds/acme/cproj/(.+)$"),
}


@pytest.mark.parametrize("report", sorted(COVERED))
def test_the_generated_reports_cover_the_generators_own_files(report: str) -> None:
    folder, pattern = COVERED[report]
    text = artifact(report).read_text()
    named = set(re.findall(pattern, text, re.MULTILINE))
    assert named
    sources = artifact(f"generators/{folder}")
    for path in sorted(named):
        source = sources / path
        assert source.is_file(), f"{report} covers {path}, not in generators/{folder}"
        # Every covered line number exists in the source file.
        numbers = [int(n) for n in re.findall(r'number="(\d+)"', _class_of(text, path))]
        if report.endswith(".info"):
            numbers = [int(n) for n in re.findall(r"^DA:(\d+),", _record_of(text, path), re.M)]
        length = len(source.read_text().splitlines())
        assert max(numbers, default=0) <= length, f"{path}: line {max(numbers)} > {length}"


def _class_of(text: str, path: str) -> str:
    found = re.search(rf'<class [^>]*filename="{re.escape(path)}".*?</class>', text, re.S)
    return found.group(0) if found else ""


def _record_of(text: str, path: str) -> str:
    found = re.search(rf"^SF:.*{re.escape(path)}$.*?^end_of_record$", text, re.S | re.M)
    return found.group(0) if found else ""


def test_the_generators_tests_are_the_cases_of_the_generated_junit_reports() -> None:
    python = artifact("generators/python/tests/test_shop.py").read_text()
    pytest_report = artifact("junit/pytest-junit.xml").read_text()
    # 9 test functions, 9 <testcase> (tests="9").
    defined = re.findall(r"^def (test_\w+)", python, re.M)
    assert sorted(defined) == sorted(re.findall(r'name="(test_\w+)"', pytest_report))
    assert len(defined) == 9
    javascript = artifact("generators/js/__tests__/cart.test.js").read_text()
    jest_report = artifact("junit/jest-junit.xml").read_text()
    # 6 tests (test, test.skip, test.todo): 6 <testcase>.
    assert len(re.findall(r"^\s*test(?:\.skip|\.todo)?\(", javascript, re.M)) == 6
    assert jest_report.count("<testcase ") == 6


@pytest.mark.parametrize(("ci", "outcome"), [("true", "failed"), ("", "skipped")])
def test_a_missing_real_data_folder_fails_under_ci_and_is_skipped_elsewhere(
    tmp_path: Path, ci: str, outcome: str
) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "from tests.real_data import real_data_dir\n\ndef test_needs_it():\n    real_data_dir()\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(probe)],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "CI": ci, "KPI_REAL_DATA": str(tmp_path / "nowhere")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"1 {outcome}" in result.stdout, result.stdout
    assert f"the real data folder {tmp_path / 'nowhere'} is missing" in result.stdout
    if ci:
        assert "under CI=true this is a failure, not a skip" in result.stdout


def test_the_real_data_folder_is_found_next_to_the_checkout() -> None:
    assert (real_data_dir() / "artifacts").is_dir()
