"""Which deployment first shipped a change (shipping.py): the earliest shipment that still
counts, whatever the order the statements arrive in; a deployment re-sent as failed or to
another environment releases its changes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kpi_exporter.model import Change, Deployment, Event
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import HOUR, samples, ts

FIRST_COMMIT = ts("2026-11-20T00:00:00Z")
D1 = Deployment("ci", "d1", "shop", "a", "production", ts("2026-11-21T00:00:00Z"))
D2 = Deployment("ci", "d2", "shop", "a", "production", ts("2026-11-22T00:00:00Z"))


def change_in(deployment: Deployment | None) -> Change:
    return Change(
        source="ci",
        key="c1",
        app="shop",
        team="a",
        first_commit_at=FIRST_COMMIT,
        merged_at=FIRST_COMMIT + HOUR,
        deployed_at=deployment.finished_at if deployment else None,
        deployed_environment=deployment.environment if deployment else "",
        deployment_key=deployment.key if deployment else "",
    )


FAILED_D1 = replace(D1, status="failure")
STAGING_D1 = replace(D1, environment="staging")


@pytest.mark.parametrize(
    ("polls", "deployed_by"),
    [
        # The first production deployment that contains the change counts.
        ([[D1, change_in(D1)], [D2, change_in(D2)]], "d1"),
        # ... whatever the order its statements arrive in.
        ([[D2, change_in(D2)], [D1, change_in(D1)]], "d1"),
        ([[change_in(D2)], [change_in(D1)], [D1, D2]], "d1"),
        # d1 re-sent as failed releases the change: it counts from d2.
        ([[D1, change_in(D1)], [D2, change_in(D2)], [FAILED_D1]], "d2"),
        # ... or waits undeployed, when no other deployment shipped it.
        ([[D1, change_in(D1)], [FAILED_D1]], None),
        # d1 re-sent to staging is no production deployment either.
        ([[D1, change_in(D1)], [D2, change_in(D2)], [STAGING_D1]], "d2"),
        # d1 successful again: the change is d1's again.
        ([[D1, change_in(D1)], [D2, change_in(D2)], [FAILED_D1], [D1]], "d1"),
        # A failure known first: the change is shipped by the next deployment that counts.
        ([[FAILED_D1], [change_in(D1)], [D2, change_in(D2)]], "d2"),
        # A change only shipped to staging keeps that (shown, never a lead time).
        ([[STAGING_D1, change_in(STAGING_D1)]], "d1"),
    ],
)
def test_a_change_counts_from_the_first_shipment_that_still_counts(
    tmp_path: Path, polls: list[list[Event]], deployed_by: str | None
) -> None:
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store)
    for events in polls:
        pipeline.record("ci", Poll(events=events, cursor=None))
    stored = next(e for e in store.iter_events(["change"]) if isinstance(e, Change))
    store.close()
    if deployed_by is None:
        assert stored.deployed_at is None and stored.deployment_key == ""
    else:
        assert stored.deployment_key == deployed_by


def test_a_released_change_moves_its_lead_time_without_lowering_a_counter(tmp_path: Path) -> None:
    now = ts("2026-11-30T00:00:00Z")
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, clock=lambda: now)
    pipeline.record("ci", Poll(events=[D1, change_in(D1), D2, change_in(D2)], cursor=None))
    pipeline.record("ci", Poll(events=[FAILED_D1], cursor=None))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    store.close()
    got = samples(text)
    lead = "kpi_window_change_lead_time_seconds"
    labels = frozenset({"app": "shop", "team": "a", "window": "30d", "percentile": "50"}.items())
    # Lead time first commit (11-20) -> d2 (11-22): 48 h, no longer 24 h.
    assert got[(lead, labels)] == 48 * HOUR
    production = {"app": "shop", "team": "a", "environment": "production"}
    count = frozenset(production.items())
    # 24 h was observed, then retracted; 48 h observed: two ever, one retracted.
    assert got[("kpi_change_lead_time_seconds_count", count)] == 2
    assert got[("kpi_change_lead_time_retracted_seconds_count", count)] == 1
    assert got[("kpi_deployments_total", count)] == 2
    assert got[("kpi_deployments_retracted_total", count)] == 1
