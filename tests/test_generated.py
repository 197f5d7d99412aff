"""Generated files are in sync with their sources, and every exported metric is documented."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from kpi_exporter.kpis.business import SURVEY_FAMILIES
from kpi_exporter.kpis.code_quality import SONARQUBE_FAMILIES
from kpi_exporter.kpis.families import (
    EXPORTER_FAMILIES,
    FAMILIES,
    WINDOW_FAMILIES,
    WINDOW_OBSERVATION_FAMILIES,
    retracted_name,
)
from kpi_exporter.kpis.security import COVERAGE, DEPENDENCY_UPDATE
from kpi_exporter.kpis.settings import Budget, KpiSettings
from kpi_exporter.kpis.slo import COMPONENT_FAMILIES, SLO_FAMILIES
from kpi_exporter.model import (
    CostLine,
    Coverage,
    Defect,
    Event,
    Gauge,
    Identity,
    TestRun,
    Vulnerability,
    WorkItem,
)
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.render import reference
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import DAY, change, deployment, incident, samples, ts

ROOT = Path(__file__).resolve().parent.parent


def test_committed_generated_files_match_the_code() -> None:
    assert reference.stale(ROOT) == [], "run `make render` and commit the result"


def test_render_check_detects_drift(tmp_path: Path) -> None:
    reference.write(tmp_path)
    assert reference.stale(tmp_path) == []
    (tmp_path / "docs" / "metrics.md").write_text("edited by hand\n")
    assert reference.stale(tmp_path) == ["docs/metrics.md"]


def gauges(
    names: Iterable[str], key: str, app: str, labels: tuple[tuple[str, str], ...]
) -> Iterator[Gauge]:
    """A gauge of team-a, 0.5 at time 0, for each family of ``names``, keyed ``key/name``."""
    for name in names:
        yield Gauge("test", f"{key}/{name}", app, "team-a", name, 0.5, 0.0, labels)


def test_every_exported_family_is_in_the_catalogue_and_documented(tmp_path: Path) -> None:
    budget = Budget(app="shop", team="", currency="USD", amount=100.0)
    now = ts("2026-11-03T00:00:00Z")
    pipeline = Pipeline(Store(tmp_path / "s.db"), KpiSettings(budgets=(budget,)), clock=lambda: now)
    pipeline.health.register("test", "events_file")
    pipeline.health.request("test", 304, 4999)
    events: list[Event] = [
        deployment("d1", "2026-11-01T10:00:00Z"),
        deployment("d2", "2026-11-02T10:00:00Z", change_type="hotfix"),
        # It delivers the work item w1 (time to market).
        replace(change("c1", "2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z"), work_items=("W1",)),
        replace(
            change("c2", "2026-11-01T07:00:00Z", "2026-11-01T10:00:00Z"),
            opened_at=ts("2026-11-01T08:00:00Z"),
            first_review_at=ts("2026-11-01T08:30:00Z"),
            merged_at=ts("2026-11-01T09:30:00Z"),
            size_lines=120,
            reviewed=False,
        ),
        replace(
            change("c3", "2026-11-02T07:00:00Z", None),
            opened_at=ts("2026-11-02T08:00:00Z"),
            state="open",
        ),
        # An AI agent's change, reverted by the next one, and a bot's change, all reviewed.
        *(
            replace(
                change(key, f"2026-11-0{day}T07:00:00Z", None),
                first_review_at=ts(f"2026-11-0{day}T08:00:00Z"),
                merged_at=ts(f"2026-11-0{day}T09:00:00Z"),
                origin=origin,
                reverts=reverts,
            )
            for key, day, origin, reverts in (
                ("c4", 1, "ai_agent", ""),
                ("c5", 2, "human", "c4"),
                ("c6", 2, "bot", ""),
            )
        ),
        incident(
            "i1",
            "2026-11-01T11:00:00Z",
            resolved_at="2026-11-01T12:00:00Z",
            detected_at="2026-11-01T11:00:00Z",
            impact_started_at="2026-11-01T10:50:00Z",
            acknowledged_at="2026-11-01T11:05:00Z",
        ),
        incident("i2", "2026-11-02T11:00:00Z", component="payments"),
        # before any deployment: linked to none
        incident("i3", "2026-10-30T11:00:00Z"),
        Coverage("test", "coverage/shop/payments", "shop", "team-a", "payments", 4, 7, 0.0),
        TestRun("test", "junit/shop/abc/unit", "shop", "team-a", 0.0, tests=4, failures=1, flaky=2),
        *(
            Gauge("test", f"sonarqube/shop/{name}", "shop", "team-a", name, 1.0, 0.0)
            for name in SONARQUBE_FAMILIES
        ),
        Gauge(
            "test",
            "business/active_users",
            "shop",
            "team-a",
            "kpi_business_value",
            42.0,
            0.0,
            (("metric", "active_users"),),
        ),
        *gauges(SURVEY_FAMILIES, "survey", "", (("survey", "devex"), ("question", "nps"))),
        *gauges(SLO_FAMILIES, "datadog/s1", "shop", (("slo", "checkout"), ("window", "30d"))),
        *gauges(
            COMPONENT_FAMILIES,
            "azure/web",
            "shop",
            (("component", "web"), ("window", "30d"), ("percentile", "95")),
        ),
        *gauges(["kpi_monitors"], "datadog/monitor/1", "shop", (("state", "Alert"),)),
        Gauge(
            "test",
            "github/acme/shop/code_scanning",
            "shop",
            "team-a",
            COVERAGE,
            1.0,
            0.0,
            (("feature", "code_scanning"),),
        ),
        Gauge("test", "github/acme/shop/pull/1", "shop", "team-a", DEPENDENCY_UPDATE, 1.0, 0.0),
        Defect(
            **Identity(source="test", key="b1", app="shop", team="team-a"),
            created_at=ts("2026-11-01T09:00:00Z"),
            found_in="production",
            customer_reported=True,
            severity="high",
        ),
        Vulnerability("test", "v1", "shop", "team-a", "critical", 0.0, scanner="trivy"),
        Vulnerability(
            "test",
            "v2",
            "shop",
            "team-a",
            "high",
            ts("2026-10-31T00:00:00Z"),
            "fixed",
            ts("2026-11-01T00:00:00Z"),
            scanner="dependabot",
        ),
        Vulnerability("test", "v3", "shop", "team-a", "low", 0.0, "dismissed", 60.0),
        # A work item that waited, worked and was done, and one in progress.
        WorkItem(
            "test",
            "w1",
            "shop",
            "team-a",
            "new_capability",
            ts("2026-11-01T08:00:00Z"),
            (
                (ts("2026-11-01T08:00:00Z"), "To Do", "waiting"),
                (ts("2026-11-01T09:00:00Z"), "In Progress", "active"),
                (ts("2026-11-01T12:00:00Z"), "Done", "done"),
            ),
        ),
        WorkItem(
            "test",
            "w2",
            "shop",
            "team-a",
            "defect",
            ts("2026-11-02T08:00:00Z"),
            ((ts("2026-11-02T08:00:00Z"), "In Progress", "active"),),
        ),
        # Spend of yesterday (the pipeline's clock), for the month-to-date families.
        CostLine("test", "c1", "shop", "team-a", "AWS", (now // DAY - 1) * DAY, 2.5, "USD"),
    ]
    pipeline.record("test", Poll(events=events, cursor=None))
    pipeline.health.success("test", 0.1)
    pipeline.refresh()
    exported = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(pipeline.cache.current.text.decode())
    }
    catalogue = {family.name for family in (*FAMILIES, *EXPORTER_FAMILIES, *WINDOW_FAMILIES)}
    assert exported == catalogue, "this fixture should exercise every family"
    # The OpenMetrics body parses with the strict OpenMetrics parser and has the same samples.
    openmetrics = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in openmetrics_families(pipeline.cache.current.openmetrics.decode())  # type: ignore[no-untyped-call]
        for sample in family.samples
    }
    assert openmetrics == samples(pipeline.cache.current.text.decode())
    documented = set(re.findall(r"`(kpi_[a-z_]+)`", (ROOT / "docs" / "metrics.md").read_text()))
    assert catalogue <= documented
    # Published only after a correction, or by a sharded process: documented too.
    occasional = {retracted_name(f.name) for f in FAMILIES if f.type in ("counter", "histogram")}
    assert occasional | {f.name for f in WINDOW_OBSERVATION_FAMILIES} <= documented
