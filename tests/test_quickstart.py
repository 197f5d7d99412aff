"""The quick start fills every headline family, and its KPI page, loaded in a real headless
Chromium, shows the numbers /metrics serves, with no console error and no CSP violation.

The exporter runs on examples/quickstart.yaml with the sample files written for today (the
windows are by event time: the files in the repository, dated 2026-12-02, slide out of them
as time passes), on this checkout's own git history."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kpi_exporter.page.headlines import SPECS, format_value
from tests.chromium import Chromium, colours, png_pixels
from tests.process import Exporter
from tests.support import samples, value

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SAMPLES_DAY = date(2026, 12, 2)  # the day examples/samples/ was written for
VIEWPORT = (1024, 768)


def load_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quickstart_samples", EXAMPLES / "samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    """The quick start as `make run` starts it, its samples dated today."""
    work = tmp_path_factory.mktemp("quickstart")
    examples = work / "examples"
    shutil.copytree(EXAMPLES / "events", examples / "events")
    load_samples().write(examples / "samples", datetime.now(UTC).date())
    config = (EXAMPLES / "quickstart.yaml").read_text()
    # The checkout's own history, as from examples/ in the checkout.
    config = config.replace('[".."]', f'["{ROOT}"]').replace("path: ..\n", f"path: {ROOT}\n")
    (examples / "quickstart.yaml").write_text(config)
    with Exporter(examples / "quickstart.yaml", work) as running:
        running.wait_ready()
        yield running


def test_samples_in_the_repository_are_what_the_script_writes():
    written = load_samples().files(SAMPLES_DAY)

    on_disk = {p.name: p.read_text() for p in (EXAMPLES / "samples").iterdir()}
    assert on_disk == written


# Every family the KPI page and the README's table promise, with the labels that must have a
# sample above 0 (windows: the 30d window).
HEADLINE_FAMILIES: tuple[tuple[str, dict[str, str]], ...] = (
    *(
        (name, {"window": "30d"})
        for name in (
            "kpi_window_deployments",
            "kpi_window_deployments_failed",
            "kpi_window_deployments_rework",
            "kpi_window_change_lead_time_seconds",
            "kpi_window_failed_deployment_recovery_seconds",
            "kpi_window_change_coding_seconds",
            "kpi_window_change_pickup_seconds",
            "kpi_window_change_review_seconds",
            "kpi_window_change_size_lines",
            "kpi_window_changes_merged_unreviewed",
            "kpi_window_incidents",
            "kpi_window_incident_restore_seconds",
            "kpi_window_incidents_by_component",
            "kpi_window_defects",
            "kpi_window_defects_escaped",
            "kpi_window_defects_customer_reported",
            "kpi_window_test_runs",
            "kpi_window_tests_flaky",
            "kpi_window_test_runs_failed",
        )
    ),
    ("kpi_defects_open", {}),
    ("kpi_window_vulnerabilities_fixed", {"window": "90d"}),
    ("kpi_window_vulnerability_fix_seconds", {"window": "90d"}),
    ("kpi_coverage_lines_covered", {}),
    ("kpi_coverage_lines_valid", {}),
    ("kpi_vulnerabilities_open", {"severity": "critical"}),
    ("kpi_vulnerabilities_sla_breached", {"severity": "critical"}),
    ("kpi_vulnerabilities_sla_breached", {"severity": "high"}),
    ("kpi_cost_forecast_month_end", {}),
    ("kpi_cost_budget_month", {}),
    ("kpi_survey_score", {}),
    ("kpi_survey_nps_ratio", {}),
)


def test_quickstart_fills_every_headline_family(exporter):
    text = exporter.metrics()

    empty = [
        f"{name}{labels}" for name, labels in HEADLINE_FAMILIES if not value(text, name, **labels)
    ]
    assert empty == []
    # Month to date is 0 on the first of a month (the samples end yesterday): present.
    assert any(name == "kpi_cost_month_to_date" for name, _ in samples(text))


# --- the page in Chromium ---------------------------------------------------------------------

ROWS_JS = """JSON.stringify([...document.querySelectorAll('section.scope')].map(s => ({
  team: s.dataset.team,
  rows: [...s.querySelectorAll('tr[data-kpi]')].map(r => ({
    kpi: r.dataset.kpi,
    numbers: [...r.querySelectorAll('.num')].map(n => ({
      value: n.dataset.value === undefined ? null : Number(n.dataset.value),
      window: n.dataset.window || '', currency: n.dataset.currency || '',
      text: n.textContent}))}))})))"""
SPEC = {spec.key: spec for spec in SPECS}
WINDOW_DAYS = {"7d": 7, "30d": 30, "90d": 90}


def expected(text: str, team: str, kpi: str, window: str, currency: str) -> float | None:
    """What the page must show for ``kpi`` of ``team`` ("" the organisation), computed from
    the /metrics text as the recording rules do."""
    spec = SPEC[kpi]
    scope = {"team": team} if team else {}
    if spec.kind == "median":
        level = {"team": team, "app": ""} if team else {"team": "", "app": ""}
        found = [
            v
            for (name, labels), v in samples(text).items()
            if name == spec.family
            and dict(labels).get("window") == window
            and dict(labels).get("percentile") == "50"
            and all(dict(labels).get(k, "") == want for k, want in level.items())
        ]
        return found[0] if found else None
    if spec.kind in ("count", "per_day", "ratio"):
        total = summed(text, spec.family, window=window, **scope)
        if spec.kind == "ratio":  # as the rules: (part or 0 * whole) / (whole > 0)
            deployments = summed(text, spec.of, window=window, **scope)
            return (total or 0.0) / deployments if deployments else None
        if total is None or spec.kind == "count":
            return total
        return total / WINDOW_DAYS[window]
    selected = dict(("severity", severity) for _, severity in spec.select)
    if currency:
        selected["currency"] = currency
    return summed(text, spec.family, **scope, **selected)


def summed(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of ``name`` with ``labels``; None when there is none (the page
    shows "-" where /metrics has no series)."""
    wanted = set(labels.items())
    found = [v for (n, ls), v in samples(text).items() if n == name and wanted <= ls]
    return sum(found) if found else None


def check_page(rows: list[dict[str, Any]], text: str) -> list[str]:
    """The page's numbers that differ from /metrics; every number of the page is checked."""
    wrong, checked = [], 0
    for scope in rows:
        for row in scope["rows"]:
            for number in row["numbers"]:
                kpi = row["kpi"]
                want = expected(text, scope["team"], kpi, number["window"], number["currency"])
                shown = format_value(want, SPEC[kpi].unit)
                checked += 1
                if number["value"] != want or number["text"] != shown:
                    wrong.append(f"{scope['team'] or 'org'} {kpi} {number}: want {want}")
    # 4 scopes x 7 windowed headlines x 3 windows = 84, + 3 findings numbers x 4 scopes = 12,
    # + spend and forecast of the organisation and of payments (billing's FOCUS rows) = 4.
    assert checked == 84 + 12 + 4
    return wrong


def test_page_in_chromium_shows_the_metrics_without_errors(exporter, tmp_path):
    with Chromium(tmp_path / "profile") as browser:
        browser.send("Runtime.enable")
        browser.send("Log.enable")
        browser.send("Page.enable")
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=VIEWPORT[0],
            height=VIEWPORT[1],
            deviceScaleFactor=1,
            mobile=False,
        )
        before = exporter.metrics()
        browser.send("Page.navigate", url=exporter.url + "/")
        browser.wait_for("Page.loadEventFired")
        rows = browser.evaluate(ROWS_JS)
        after = exporter.metrics()
        # A crossed threshold in view (the samples always have a critical finding past its
        # SLA), whatever has aged out of the windows above it.
        browser.evaluate("document.querySelector('tr.crossed').scrollIntoView(), true")
        png = browser.screenshot()
        problems = browser.problems()

    assert problems == []
    rows = json.loads(rows)
    assert [scope["team"] for scope in rows] == ["", "discovery", "payments", "platform"]
    # The page shows the values of the last rendering of /metrics: those of the scrape before
    # it or, when a refresh came in between, of the one after.
    assert check_page(rows, before) == [] or check_page(rows, after) == []

    width, height, pixels = png_pixels(png)
    assert (width, height) == VIEWPORT
    seen = colours(pixels, len(pixels[0]) // width)
    # Not blank, and styled: the red of the crossed threshold's badge (#ffebe9) and the
    # page's text colour (#1f2328) are there.
    assert len(seen) > 50
    assert (0xFF, 0xEB, 0xE9) in seen and (0x1F, 0x23, 0x28) in seen
    (tmp_path / "page.png").write_bytes(png)


def test_the_page_reads_without_css_or_javascript(exporter):
    """Readable as plain HTML: the headline numbers are text in tables."""
    page = exporter.get("/").text
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", body)
    for words in ("Deployment frequency", "Change failure rate", "Open critical findings"):
        assert words in text
    assert "<script" not in page
