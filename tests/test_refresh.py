"""Refresh renders only what changed: after any sequence of polls (new events, corrections,
apps moving team) and clock moves, the exposition a running pipeline serves is byte for byte
the one rendered from scratch from the same store, in both formats, plain and gzipped."""

from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_exporter.exposition import Rendered, render
from kpi_exporter.kpis import KpiSettings, aggregate
from kpi_exporter.model import Change, Defect, Deployment, Event, Incident, Vulnerability
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import DAY, HOUR, ts

NOW = ts("2026-11-30T12:00:00Z")
KPI = KpiSettings(windows=(("7d", 7 * DAY), ("30d", 30 * DAY)))
APPS = (("shop", "a"), ("cart", "a"), ("search", "b"))
KEYS = 6  # few keys, so that events are often re-sent (corrections, retractions)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@st.composite
def events(draw: st.DrawFn) -> Event:
    """One event of a small universe: re-sent keys correct earlier versions, an app may be
    re-sent under another team, times fall around the windows' edges."""
    app, team = draw(st.sampled_from(APPS))
    team = draw(st.sampled_from((team, team, "c")))
    key = f"k{draw(st.integers(0, KEYS - 1))}"
    owned = (key, app, team)  # every event's key, app and team, after its source
    at = NOW + draw(st.integers(-40 * 24, 24)) * HOUR
    took = draw(st.integers(1, 30 * 24)) * HOUR
    kind = draw(st.sampled_from(("deployment", "change", "incident", "defect", "finding")))
    if kind == "deployment":
        return Deployment(
            "ci",
            *owned,
            draw(st.sampled_from(("production", "staging"))),
            at,
            status=draw(st.sampled_from(("success", "success", "failure"))),
            change_type=draw(st.sampled_from(("normal", "hotfix", "rollback"))),
        )
    if kind == "change":
        deployed = draw(st.booleans())
        return Change(
            "git",
            *owned,
            first_commit_at=at - took,
            opened_at=at - took / 2,
            merged_at=at - took / 4,
            size_lines=draw(st.integers(1, 900)),
            deployed_environment="production" if deployed else "",
            deployed_at=at if deployed else None,
            state=draw(st.sampled_from(("merged", "merged", "open"))),
        )
    if kind == "incident":
        return Incident(
            "pd",
            *owned,
            draw(st.sampled_from(("critical", "high"))),
            at,
            detected_at=at + HOUR,
            resolved_at=draw(st.sampled_from((None, at + took))),
        )
    if kind == "defect":
        return Defect(
            "jira",
            *owned,
            at,
            found_in=draw(st.sampled_from(("production", "pre-production"))),
            resolved_at=draw(st.sampled_from((None, at + took))),
        )
    state = draw(st.sampled_from(("open", "fixed", "dismissed")))
    return Vulnerability(
        "dependabot",
        *owned,
        draw(st.sampled_from(("critical", "high", "low"))),
        at - took,
        state=state,
        closed_at=None if state == "open" else at,
    )


def from_scratch(store: Store, clock: Clock, pipeline: Pipeline) -> Rendered:
    """The exposition computed from scratch: every stored event and retraction summed
    again, every series and window rendered again (no line nor window result kept from the
    additions), with the health families of ``pipeline``."""
    scratch = aggregate(store.iter_events(), pipeline.kpi, clock, store.retractions())
    scratch.invalidate()
    return render(scratch.exposition, pipeline._health_exposition)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.lists(events(), max_size=5), st.integers(0, 10 * 24 * 60)),
        min_size=1,
        max_size=12,
    )
)
def test_a_refresh_renders_what_a_render_from_scratch_renders(
    steps: list[tuple[list[Event], int]],
) -> None:
    store = Store(":memory:")
    clock = Clock(NOW)
    running = Pipeline(store, KPI, clock=clock)
    # Scrapes ask for gzip: each refresh compresses both formats ahead, reusing what it can.
    running.cache.body("text/plain", "gzip")
    running.cache.body("application/openmetrics-text", "gzip")
    for polled, minutes in steps:
        if polled:
            running.record("ci", Poll(events=polled, cursor=None))
        clock.now += minutes * 60
        running.refresh()
        expected = from_scratch(store, clock, running)
        current = running.cache.current
        assert current.text == expected.text
        assert current.openmetrics == expected.openmetrics
        assert gzip.decompress(current.body(False, True)) == expected.text
        assert gzip.decompress(current.body(True, True)) == expected.openmetrics
    store.close()
