"""Flow KPIs: stage times, size, merged and unreviewed changes, work in progress and its age,
and the oldest open incident; hand-computed, and incremental updates equal to from scratch."""

from __future__ import annotations

import random
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_exporter.exposition import render
from kpi_exporter.gofloat import go_float
from kpi_exporter.kpis import Aggregate, aggregate
from kpi_exporter.kpis.families import FLOW_BUCKETS, SIZE_BUCKETS
from kpi_exporter.model import Change, Event
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import DAY, HOUR, incident, samples, served_after_each, ts, value

SHOP = {"app": "shop", "team": "team-a"}
NOW = ts("2026-11-20T12:00:00Z")
THRESHOLDS = ("1h", "1d", "3d", "7d", "14d", "30d")


def pr(
    key: str,
    first_commit: str,
    *,
    opened: str | None = None,
    first_review: str | None = None,
    merged: str | None = None,
    deployed: str | None = None,
    environment: str = "production",
    state: str | None = None,
    size: int | None = None,
    reviewed: bool = True,
    app: str = "shop",
    team: str = "team-a",
) -> Change:
    """A pull request; merged when it has a merge time, else open (unless ``state`` says)."""
    return Change(
        source="test",
        key=key,
        app=app,
        team=team,
        first_commit_at=ts(first_commit),
        opened_at=ts(opened) if opened else None,
        first_review_at=ts(first_review) if first_review else None,
        merged_at=ts(merged) if merged else None,
        deployed_at=ts(deployed) if deployed else None,
        deployed_environment=environment if deployed else "",
        state=state or ("merged" if merged else "open"),
        size_lines=size,
        reviewed=reviewed,
    )


def text_at(events: list[Event], now: float = NOW) -> str:
    return render(aggregate(events, clock=lambda: now).exposition).text.decode()


def cumulative(text: str, name: str, bounds: tuple[float, ...], **labels: str) -> list[float]:
    """The cumulative bucket counts of one histogram series, +Inf last."""
    les = [go_float(bound) for bound in bounds] + ["+Inf"]
    return [value(text, f"{name}_bucket", le=le, **labels) for le in les]


def has_series(text: str, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(sample == name and wanted <= set(got) for sample, got in samples(text))


def by_age(text: str, **labels: str) -> dict[str, float]:
    return {
        older: value(text, "kpi_changes_open_by_age", older_than=older, **labels)
        for older in THRESHOLDS
    }


# c1 to c6 of shop: four merged (c1, c2, c3, c6), one open (c4), one closed unmerged (c5).
CHANGES = [
    # coding 1 h, pickup 10 min, review 4 h, deploy 30 min: every bound included (le)
    pr(
        "c1",
        "2026-11-02T08:00:00Z",
        opened="2026-11-02T09:00:00Z",
        first_review="2026-11-02T09:10:00Z",
        merged="2026-11-02T13:10:00Z",
        deployed="2026-11-02T13:40:00Z",
        size=10,
    ),
    # coding 7 days, pickup 1 day, review 1 h, deploy 1 day
    pr(
        "c2",
        "2026-10-26T09:00:00Z",
        opened="2026-11-02T09:00:00Z",
        first_review="2026-11-03T09:00:00Z",
        merged="2026-11-03T10:00:00Z",
        deployed="2026-11-04T10:00:00Z",
        size=250,
    ),
    # commits rebased after opening: coding -1 h counts as 0; no review: no pickup, no review
    # time, and unreviewed; deployed to staging only: no deploy time
    pr(
        "c3",
        "2026-11-02T09:00:00Z",
        opened="2026-11-02T08:00:00Z",
        merged="2026-11-02T12:00:00Z",
        deployed="2026-11-02T13:00:00Z",
        environment="staging",
        size=5000,
        reviewed=False,
    ),
    # open, already reviewed: no stage and no size until merged
    pr(
        "c4",
        "2026-11-02T08:00:00Z",
        opened="2026-11-02T09:00:00Z",
        first_review="2026-11-02T09:30:00Z",
        size=40,
    ),
    # closed without a merge: nothing but "not open"
    pr(
        "c5",
        "2026-11-01T08:00:00Z",
        opened="2026-11-01T09:00:00Z",
        first_review="2026-11-01T10:00:00Z",
        state="closed",
        size=30,
    ),
    # no opening time (local git style): deploy time only, 100 days: beyond 90 days, +Inf
    pr(
        "c6",
        "2026-06-30T00:00:00Z",
        merged="2026-07-01T00:00:00Z",
        deployed="2026-10-09T00:00:00Z",
    ),
]


def test_stage_histograms_hold_hand_computed_counts_and_sums() -> None:
    text = text_at(list(CHANGES))
    production = {**SHOP, "environment": "production"}
    # le:      5m 15m 30m 1h 2h 4h 8h 1d 2d 4d 7d 14d 30d 90d +Inf
    coding = [1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]
    pickup = [0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
    review = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    deploy = [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3]
    assert len(FLOW_BUCKETS) == 14
    assert cumulative(text, "kpi_change_coding_seconds", FLOW_BUCKETS, **SHOP) == coding
    assert cumulative(text, "kpi_change_pickup_seconds", FLOW_BUCKETS, **SHOP) == pickup
    assert cumulative(text, "kpi_change_review_seconds", FLOW_BUCKETS, **SHOP) == review
    assert cumulative(text, "kpi_change_deploy_seconds", FLOW_BUCKETS, **production) == deploy

    assert value(text, "kpi_change_coding_seconds_sum", **SHOP) == 0 + HOUR + 7 * DAY
    assert value(text, "kpi_change_pickup_seconds_sum", **SHOP) == 10 * 60 + DAY
    assert value(text, "kpi_change_review_seconds_sum", **SHOP) == 4 * HOUR + HOUR
    assert value(text, "kpi_change_deploy_seconds_sum", **production) == 30 * 60 + DAY + 100 * DAY
    assert value(text, "kpi_change_pickup_seconds_count", **SHOP) == 2
    assert not has_series(text, "kpi_change_deploy_seconds_count", environment="staging")


def test_the_stages_of_a_change_add_up_to_its_lead_time() -> None:
    text = text_at([CHANGES[0]])  # c1: first commit 08:00, deployed 13:40
    production = {**SHOP, "environment": "production"}
    stages = sum(
        value(text, f"kpi_change_{stage}_seconds_sum", **SHOP)
        for stage in ("coding", "pickup", "review")
    ) + value(text, "kpi_change_deploy_seconds_sum", **production)
    assert stages == value(text, "kpi_change_lead_time_seconds_sum", **production)
    assert stages == 5 * HOUR + 40 * 60


def test_size_buckets_and_merged_and_unreviewed_counters() -> None:
    text = text_at(list(CHANGES))
    # merged sizes 10 (bound included), 250 and 5000 lines; c6 has no size, c4 and c5 are
    # not merged
    # le:    10 25 50 100 200 400 800 1600 3200 +Inf
    size = [1, 1, 1, 1, 1, 2, 2, 2, 2, 3]
    assert cumulative(text, "kpi_change_size_lines", SIZE_BUCKETS, **SHOP) == size
    assert value(text, "kpi_change_size_lines_sum", **SHOP) == 10 + 250 + 5000
    assert value(text, "kpi_changes_merged_total", **SHOP) == 4
    assert value(text, "kpi_changes_merged_unreviewed_total", **SHOP) == 1
    assert value(text, "kpi_changes_open", **SHOP) == 1


def test_open_changes_gauge_goes_to_0_and_pickup_appears_when_the_change_is_merged(
    tmp_path: Path,
) -> None:
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: ts("2026-11-03T12:00:00Z"))
    opened = pr("pr-7", "2026-11-02T08:00:00Z", opened="2026-11-02T09:00:00Z")
    reviewed = replace(opened, first_review_at=ts("2026-11-02T10:30:00Z"))
    merged = replace(reviewed, state="merged", merged_at=ts("2026-11-02T12:30:00Z"))
    while_open, once_reviewed, once_merged = served_after_each(
        pipeline, "test", (opened, reviewed, merged)
    )

    # open 27 h at "now": older than 1 h and 1 day
    for text in (while_open, once_reviewed):
        assert value(text, "kpi_changes_open", **SHOP) == 1
        assert by_age(text, **SHOP) == {"1h": 1, "1d": 1, "3d": 0, "7d": 0, "14d": 0, "30d": 0}
        assert not has_series(text, "kpi_change_pickup_seconds_count")
        assert not has_series(text, "kpi_changes_merged_total")

    assert has_series(once_merged, "kpi_changes_open", **SHOP)
    assert value(once_merged, "kpi_changes_open", **SHOP) == 0
    assert by_age(once_merged, **SHOP) == dict.fromkeys(THRESHOLDS, 0)
    assert value(once_merged, "kpi_changes_merged_total", **SHOP) == 1
    assert value(once_merged, "kpi_change_coding_seconds_sum", **SHOP) == HOUR
    assert value(once_merged, "kpi_change_pickup_seconds_sum", **SHOP) == 1.5 * HOUR
    assert value(once_merged, "kpi_change_review_seconds_sum", **SHOP) == 2 * HOUR
    # nothing is kept in memory for a change that is no longer open
    live = pipeline.aggregate.live["kpi_changes_open_by_age"]
    assert [entry.since for entry in live.values()] == [{}]


def test_open_changes_by_age_at_a_fixed_now_and_a_day_later() -> None:
    def opened(key: str, at: str) -> Change:
        return pr(key, "2026-09-01T00:00:00Z", opened=at)

    events: list[Event] = [
        opened("o1", "2026-11-20T11:30:00Z"),  # 30 min
        opened("o2", "2026-11-20T11:00:00Z"),  # exactly 1 h: not older than 1 h
        opened("o3", "2026-11-20T10:00:00Z"),  # 2 h
        opened("o4", "2026-11-18T12:00:00Z"),  # 2 days
        opened("o5", "2026-11-10T12:00:00Z"),  # 10 days
        opened("o6", "2026-10-06T12:00:00Z"),  # 45 days
        pr("o7", "2026-10-31T12:00:00Z"),  # no opening time: 20 days since the first commit
        pr("m1", "2026-11-01T00:00:00Z", merged="2026-11-02T00:00:00Z", app="cart", team="b"),
        pr("x1", "2026-11-01T00:00:00Z", state="closed", app="blog", team="c"),
    ]
    clock = [NOW]
    result = aggregate(events, clock=lambda: clock[0])
    text = render(result.exposition).text.decode()
    assert value(text, "kpi_changes_open", **SHOP) == 7
    assert by_age(text, **SHOP) == {"1h": 5, "1d": 4, "3d": 3, "7d": 3, "14d": 2, "30d": 1}
    # every threshold is present, at 0, for an app and team with changes but none open
    for labels in ({"app": "cart", "team": "b"}, {"app": "blog", "team": "c"}):
        for older in THRESHOLDS:
            assert has_series(text, "kpi_changes_open_by_age", older_than=older, **labels)
        assert by_age(text, **labels) == dict.fromkeys(THRESHOLDS, 0)

    # The same sums a day later: o1 to o3 are now over a day old, o4 exactly 3 days (not over).
    clock[0] = NOW + DAY
    later = render(result.exposition).text.decode()
    assert by_age(later, **SHOP) == {"1h": 7, "1d": 7, "3d": 3, "7d": 3, "14d": 2, "30d": 1}


def test_oldest_open_incident_start_time_per_series_absent_when_none_is_open() -> None:
    critical = {**SHOP, "environment": "production", "severity": "critical"}
    name = "kpi_incidents_oldest_open_start_timestamp_seconds"
    later = incident("A", "2026-11-05T10:00:00Z")
    oldest = incident("B", "2026-11-05T08:00:00Z")
    events: list[Event] = [
        later,
        oldest,
        incident("C", "2026-11-05T06:00:00Z", resolved_at="2026-11-05T07:00:00Z"),
        incident("D", "2026-11-05T05:00:00Z", severity="low", resolved_at="2026-11-05T06:00:00Z"),
    ]
    result = aggregate(events, clock=lambda: NOW)
    text = render(result.exposition).text.decode()
    assert value(text, name, **critical) == ts("2026-11-05T08:00:00Z")  # B; C is resolved
    assert not has_series(text, name, severity="low")

    result.apply([(oldest, replace(oldest, resolved_at=ts("2026-11-05T12:00:00Z")))])
    text = render(result.exposition).text.decode()
    assert value(text, name, **critical) == ts("2026-11-05T10:00:00Z")  # now A

    result.apply([(later, replace(later, resolved_at=ts("2026-11-05T13:00:00Z")))])
    text = render(result.exposition).text.decode()
    assert not has_series(text, name)
    assert value(text, "kpi_incidents_open", **critical) == 0


def test_taking_out_an_open_change_returns_exactly_to_the_previous_exposition() -> None:
    result = Aggregate(clock=lambda: NOW)
    result.add(CHANGES[0])
    before = render(result.exposition).text
    moved = replace(CHANGES[3], team="team-b")  # open, in a team of its own
    result.add(moved)
    assert render(result.exposition).text != before
    result.add(moved, -1)
    assert render(result.exposition).text == before


# --- incremental == from scratch --------------------------------------------------------

moments = st.integers(0, 60 * 24).map(lambda hours: NOW - hours * HOUR)
optional_moments = st.one_of(st.none(), moments)


@st.composite
def versions(draw: st.DrawFn) -> Event:
    """One version of one of a few changes or incidents: the same key may come back in
    another state, another team, with or without times."""
    team = draw(st.sampled_from(["team-a", "team-b"]))
    if draw(st.booleans()):
        state = draw(st.sampled_from(["open", "merged", "closed"]))
        deployed = draw(optional_moments)
        return Change(
            source="test",
            key=f"c{draw(st.integers(0, 5))}",
            app="shop",
            team=team,
            first_commit_at=draw(moments),
            opened_at=draw(optional_moments),
            first_review_at=draw(optional_moments),
            merged_at=draw(moments) if state == "merged" else None,
            deployed_at=deployed,
            deployed_environment=draw(st.sampled_from(["production", "staging"]))
            if deployed
            else "",
            size_lines=draw(st.one_of(st.none(), st.integers(0, 5000))),
            reviewed=draw(st.booleans()),
            state=state,
        )
    return incident(
        f"i{draw(st.integers(0, 3))}",
        "2026-11-01T00:00:00Z",
        team=team,
        started_at=draw(moments),
        resolved_at=draw(optional_moments),
        severity=draw(st.sampled_from(["critical", "low"])),
    )


def domain_samples(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if line.startswith("kpi_") and not line.startswith("kpi_exporter_")
    ]


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(versions(), min_size=1, max_size=24),
    polls=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_incremental_updates_equal_a_computation_from_scratch(
    events: list[Event], polls: int, seed: int
) -> None:
    cut_count = min(polls - 1, len(events) + 1)
    cuts = sorted(random.Random(seed).sample(range(len(events) + 1), cut_count))
    batches = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    with tempfile.TemporaryDirectory() as directory:
        store = Store(Path(directory) / "s.db")
        pipeline = Pipeline(store, clock=lambda: NOW)
        for batch in batches:
            pipeline.record("test", Poll(events=batch, cursor=None))
        pipeline.refresh()
        incremental = domain_samples(pipeline.cache.current.text.decode())
        computed = aggregate(store.iter_events(), clock=lambda: NOW, retracted=store.retractions())
        from_scratch = domain_samples(render(computed.exposition).text.decode())
        store.close()
    assert incremental == from_scratch
