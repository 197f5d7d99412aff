"""``kpi-exporter explain``: why each production deployment counts as failed, from a hand-built
store (outcomes written by the pipeline's linking, as in production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.cli import main
from kpi_exporter.explain import duration, explain
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings
from kpi_exporter.model import Event
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import deployment, incident

# Shop, production, default link settings (hotfix window 48 h, incident horizon 7 days):
# - d1 11-01 10:00: i1 (11-02 12:00, after d2) names d1's commit: explicit link; resolved
#   11-02 14:00, recovery 28 h.
# - d2 11-02 10:00: i2 (11-03 09:00) names nothing: last deployment before it; resolved
#   11-03 11:00, recovery 25 h.
# - d3 11-04 10:00 v1.2.0, rolled back by d4 11-05 10:00 v1.1.5 (older): recovery 24 h.
# - d4, followed by the hotfix d5 47 h later (11-07 09:00): failed, recovery 47 h.
# - d5 the hotfix: rework, healthy. d6 11-10 10:00: healthy, nothing after it.
EVENTS: list[Event] = [
    deployment("d1", "2026-11-01T10:00:00Z", version="v1.0.0", commit="a1b2c3d4e5f6a7b8"),
    deployment("d2", "2026-11-02T10:00:00Z", version="v1.1.0", commit="b2"),
    deployment("d3", "2026-11-04T10:00:00Z", version="v1.2.0"),
    deployment("d4", "2026-11-05T10:00:00Z", version="v1.1.5"),
    deployment("d5", "2026-11-07T09:00:00Z", version="v1.1.6", change_type="hotfix"),
    deployment("d6", "2026-11-10T10:00:00Z", version="v1.3.0"),
    deployment("s1", "2026-11-10T09:00:00Z", environment="staging"),
    incident(
        "i1",
        "2026-11-02T12:00:00Z",
        deployment_ref="a1b2c3d",
        resolved_at="2026-11-02T14:00:00Z",
    ),
    incident("i2", "2026-11-03T09:00:00Z", severity="high", resolved_at="2026-11-03T11:00:00Z"),
]


def stored(path: Path) -> Store:
    pipeline = Pipeline(Store(path))
    pipeline.record("test", Poll(events=EVENTS, cursor=None))
    return pipeline.store


def lines(tmp_path: Path, **options: Any) -> list[str]:
    store = stored(tmp_path / "s.db")
    return explain(store.iter_events(), KpiSettings(), LinkSettings(), **options)


def test_every_deployment_of_an_app_is_explained_newest_first(tmp_path):
    assert lines(tmp_path, app="shop") == [
        "app shop: 6 production deployment(s) stored, 4 failed; newest 6:",
        "test/d6 to production at 2026-11-10 10:00Z (version v1.3.0): ok",
        "  next deployment: none yet",
        "test/d5 to production at 2026-11-07 09:00Z (version v1.1.6, hotfix): ok; rework",
        "  next deployment: test/d6 (normal) 3d 1h later",
        "test/d4 to production at 2026-11-05 10:00Z (version v1.1.5): FAILED (hotfix); rework",
        "  next deployment: test/d5 (hotfix) 47h later: a hotfix within the 48h hotfix window",
        "  recovered 2026-11-07 09:00Z: recovery time 47h",
        "test/d3 to production at 2026-11-04 10:00Z (version v1.2.0): FAILED (rolled back)",
        "  next deployment: test/d4 (normal) 24h later: rolled it back",
        "  recovered 2026-11-05 10:00Z: recovery time 24h",
        "test/d2 to production at 2026-11-02 10:00Z (version v1.1.0, commit b2): FAILED (incident)",
        "  incident test/i2 (high), started 23h after the deployment, resolved 2026-11-03 11:00Z:"
        " linked by last production deployment before the incident started",
        "  next deployment: test/d3 (normal) 48h later",
        "  recovered 2026-11-03 11:00Z: recovery time 25h",
        "test/d1 to production at 2026-11-01 10:00Z (version v1.0.0, commit a1b2c3d4e5f6):"
        " FAILED (incident)",
        "  incident test/i1 (critical), started 26h after the deployment, resolved"
        " 2026-11-02 14:00Z: linked by explicit reference 'a1b2c3d'",
        "  next deployment: test/d2 (normal) 24h later",
        "  recovered 2026-11-02 14:00Z: recovery time 28h",
    ]


def test_the_limit_keeps_the_newest(tmp_path):
    shown = lines(tmp_path, app="shop", limit=2)
    assert shown[0] == "app shop: 6 production deployment(s) stored, 4 failed; newest 2:"
    assert [line.split(" to ")[0] for line in shown if not line.startswith(" ")][1:] == [
        "test/d6",
        "test/d5",
    ]


def test_one_deployment_by_commit_prefix_version_or_key(tmp_path):
    by_commit = lines(tmp_path, deployment="a1b2c3d")
    assert by_commit[0].startswith("test/d1 to production") and len(by_commit) == 4
    assert lines(tmp_path, deployment="v1.2.0")[0].endswith("FAILED (rolled back)")
    assert lines(tmp_path, deployment="test/s1") == [
        "test/s1 to staging at 2026-11-10 09:00Z: not counted"
        " (not a successful production deployment)"
    ]
    with pytest.raises(LookupError, match="no stored deployment matches 'nope'"):
        lines(tmp_path, deployment="nope")


def test_durations_read_in_the_largest_useful_units():
    assert [duration(s) for s in (40, 900, 9000, 47 * 3600, 3 * 86400 + 3600)] == [
        "40s",
        "15m",
        "2h 30m",
        "47h",
        "3d 1h",
    ]


def test_the_command_reads_the_store_and_prints_the_explanation(tmp_path, capsys):
    store = stored(tmp_path / "kpi.db")
    store.close()
    config = tmp_path / "config.yaml"
    config.write_text(f"store: {{path: {tmp_path / 'kpi.db'}}}\n")

    assert main(["explain", "--config", str(config), "--deployment", "d4"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "test/d4 to production at 2026-11-05 10:00Z (version v1.1.5): FAILED (hotfix); rework",
        "  next deployment: test/d5 (hotfix) 47h later: a hotfix within the 48h hotfix window",
        "  recovered 2026-11-07 09:00Z: recovery time 47h",
    ]
    assert main(["explain", "--config", str(config), "--app", "nope"]) == 1
    assert "no stored production deployment of app 'nope'" in capsys.readouterr().err
