"""Windowed KPIs computed by the exporter by event time: exact quantiles at the app, team and
organisation level, counts, deploy days, windows that slide with time, and counters that never
go down after a correction. Every expected value is computed by hand in the test."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_exporter.exposition import render
from kpi_exporter.kpis import KpiSettings, aggregate
from kpi_exporter.kpis import windows as windows_module
from kpi_exporter.kpis.observation import Dated
from kpi_exporter.kpis.windows import Windows, quantile
from kpi_exporter.model import Change, Deployment, Event, Identity, Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.scheduler import Scheduler
from kpi_exporter.sharding import Shard
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import DAY, HOUR, samples, ts

NOW = ts("2026-11-30T12:00:00Z")
WEEK_MONTH = (("7d", 7 * DAY), ("30d", 30 * DAY))
SETTINGS = KpiSettings(windows=WEEK_MONTH)


def exact(text: str, name: str, **labels: str) -> float | None:
    """The value of the one series called ``name`` with exactly these labels, or None."""
    wanted = frozenset(labels.items())
    found = [v for (sample, got), v in samples(text).items() if sample == name and got == wanted]
    assert len(found) <= 1
    return found[0] if found else None


def recorded(pipeline: Pipeline, *events: Event) -> str:
    """The exposition once ``events`` are recorded as one poll of source ci."""
    pipeline.record("ci", Poll(events=list(events), cursor=None))
    pipeline.refresh()
    return pipeline.cache.current.text.decode()


def deployed_change(key: str, app: str, team: str, deployed: str, lead_time: float) -> Change:
    at = ts(deployed)
    return Change(
        **Identity(source="git", key=key, app=app, team=team),
        first_commit_at=at - lead_time,
        merged_at=at - lead_time / 2,
        deployed_at=at,
        deployed_environment="production",
    )


def text_at(events: Sequence[Event], now: float, kpi: KpiSettings = SETTINGS) -> str:
    return render(aggregate(events, kpi, clock=lambda: now).exposition).text.decode()


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 0.5, 5.0),
        ([2.0, 12.0, 24.0], 0.5, 12.0),
        ([12.0, 24.0], 0.5, 18.0),  # an even count: the mean of the two middle values
        ([12.0, 24.0], 0.75, 21.0),  # 12 + 0.75 * (24 - 12)
        ([12.0, 24.0], 0.9, 22.8),
        ([2.0, 12.0, 24.0], 0.9, 21.6),  # position 1.8: 12 + 0.8 * 12
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9, 9.1),
    ],
)
def test_quantiles_are_exact_and_interpolated_between_the_closest_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert quantile(sorted(values), q) == pytest.approx(expected)


@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=2, max_size=50))
def test_quantiles_equal_pythons_inclusive_quantiles(values: list[float]) -> None:
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    for percent in (50, 75, 90):
        assert quantile(ordered, percent / 100) == pytest.approx(cuts[percent - 1], abs=1e-6)


LEAD_TIMES: list[Event] = [
    deployed_change("s1", "shop", "a", "2026-11-29T10:00:00Z", 24 * HOUR),
    deployed_change("s2", "shop", "a", "2026-11-25T00:00:00Z", 12 * HOUR),
    deployed_change("s3", "shop", "a", "2026-11-10T00:00:00Z", 36 * HOUR),
    deployed_change("s4", "shop", "a", "2026-10-20T00:00:00Z", 99 * HOUR),  # outside 30d
    deployed_change("c1", "cart", "a", "2026-11-28T00:00:00Z", 2 * HOUR),
    deployed_change("b1", "billing", "b", "2026-11-27T00:00:00Z", 48 * HOUR),
]
LEAD = "kpi_window_change_lead_time_seconds"


def test_a_team_median_is_the_median_of_its_changes_not_of_its_apps_medians() -> None:
    text = text_at(LEAD_TIMES, NOW)
    # 7d = (11-23 12:00, 11-30 12:00]: shop 12h, 24h; cart 2h; billing 48h.
    assert exact(text, LEAD, app="shop", team="a", window="7d", percentile="50") == 18 * HOUR
    assert exact(text, LEAD, app="cart", team="a", window="7d", percentile="50") == 2 * HOUR
    # Team a: [2h, 12h, 24h] -> 12h (the mean of the app medians would be 10h).
    assert exact(text, LEAD, team="a", window="7d", percentile="50") == 12 * HOUR
    assert exact(text, LEAD, team="a", window="7d", percentile="75") == 18 * HOUR
    assert exact(text, LEAD, team="a", window="7d", percentile="90") == pytest.approx(21.6 * HOUR)
    # Organisation: [2h, 12h, 24h, 48h] -> (12h + 24h) / 2.
    assert exact(text, LEAD, window="7d", percentile="50") == 18 * HOUR
    # 30d = (10-31 12:00, 11-30 12:00] adds shop's 36h (11-10), not 99h (10-20).
    assert exact(text, LEAD, app="shop", team="a", window="30d", percentile="50") == 24 * HOUR
    assert exact(text, LEAD, window="30d", percentile="50") == 24 * HOUR  # [2,12,24,36,48]


def test_windows_slide_with_time_and_hold_an_event_at_their_end_but_not_their_start() -> None:
    # At 12-03 00:00 shop's 11-25 change has left the week: shop [24h], cart [2h].
    later = ts("2026-12-03T00:00:00Z")
    text = text_at(LEAD_TIMES, later)
    assert exact(text, LEAD, team="a", window="7d", percentile="50") == 13 * HOUR
    # Exactly 7 days after 11-25 00:00 the window is (11-25 00:00, 12-02 00:00]: it is out.
    edge = ts("2026-12-02T00:00:00Z")
    assert exact(
        text_at(LEAD_TIMES, edge), LEAD, app="shop", team="a", window="7d", percentile="50"
    ) == (24 * HOUR)
    # A change deployed exactly now is in; one a second ahead (clocks apart) is not, yet.
    ahead = [*LEAD_TIMES, deployed_change("n1", "cart", "a", "2026-11-30T12:00:01Z", 40 * HOUR)]
    assert exact(text_at(ahead, NOW), LEAD, app="cart", team="a", window="7d", percentile="50") == (
        2 * HOUR
    )
    one_second_later = text_at(ahead, NOW + 1)
    assert exact(one_second_later, LEAD, app="cart", team="a", window="7d", percentile="50") == (
        21 * HOUR
    )


def test_no_observation_in_a_window_publishes_no_quantile_but_counts_stay_at_zero() -> None:
    events: list[Event] = [
        Deployment("ci", "d1", "shop", "a", "production", ts("2026-10-01T00:00:00Z")),
    ]
    text = text_at([*events, LEAD_TIMES[3]], NOW)
    assert exact(text, "kpi_window_deployments", app="shop", team="a", window="7d") == 0
    assert exact(text, "kpi_window_deployments", app="shop", team="a", window="30d") == 0
    assert exact(text, LEAD, app="shop", team="a", window="30d", percentile="50") is None


def test_deploy_days_count_the_utc_days_with_a_deployment_among_the_last_complete_days() -> None:
    def deploy(key: str, app: str, team: str, at: str) -> Deployment:
        return Deployment("ci", key, app, team, "production", ts(at))

    events: list[Event] = [
        deploy("1", "shop", "a", "2026-11-29T23:59:59Z"),
        deploy("2", "shop", "a", "2026-11-29T01:00:00Z"),  # the same UTC day
        deploy("3", "shop", "a", "2026-11-30T09:00:00Z"),  # today: not a complete day yet
        deploy("4", "cart", "a", "2026-11-23T00:00:00Z"),  # the 7th complete day back
        deploy("5", "cart", "a", "2026-11-22T23:00:00Z"),  # the 8th: out of 7d
        deploy("6", "cart", "a", "2026-11-29T05:00:00Z"),  # a day shop deployed too
        deploy(
            "7",
            "shop",
            "a",
            "2026-11-20T05:00:00Z",
        ),
        Deployment("ci", "8", "shop", "a", "staging", ts("2026-11-28T05:00:00Z")),
    ]
    text = text_at(events, NOW)
    days = "kpi_window_deployed_dates"
    assert exact(text, days, app="shop", team="a", window="7d") == 1  # 11-29
    assert exact(text, days, app="cart", team="a", window="7d") == 2  # 11-23, 11-29
    assert exact(text, days, team="a", window="7d") == 2  # 11-23, 11-29: days, not a sum
    assert exact(text, days, window="30d") == 4  # 11-20, 11-22, 11-23, 11-29
    assert exact(text, "kpi_window_deployments", app="shop", team="a", window="7d") == 3


def test_only_production_incidents_count_in_the_windows() -> None:
    def at(key: str, environment: str, severity: str = "critical") -> Incident:
        return Incident(
            "pd",
            key,
            "shop",
            "a",
            severity,
            ts("2026-11-29T00:00:00Z"),
            resolved_at=ts("2026-11-29T02:00:00Z"),
            environment=environment,
        )

    events: list[Event] = [at("1", "production"), at("2", "staging"), at("3", "prod-eu", "low")]
    text = text_at(events, NOW)
    # prod-eu matches the default production pattern; staging does not.
    assert exact(text, "kpi_window_incidents", app="shop", team="a", window="7d") == 2
    only_critical = KpiSettings(windows=WEEK_MONTH, incident_severities=("critical",))
    text = text_at(events, NOW, only_critical)
    assert exact(text, "kpi_window_incidents", app="shop", team="a", window="7d") == 1
    # The raw counter still counts every incident, by environment.
    assert sum(v for (name, _), v in samples(text).items() if name == "kpi_incidents_total") == 3


def test_a_sharded_process_publishes_bucket_counts_instead_of_team_and_org_quantiles() -> None:
    windows = Windows(WEEK_MONTH, (0.5,), exact_levels=())
    for at, value in ((NOW - HOUR, 30 * 60.0), (NOW - 2 * HOUR, 3 * HOUR), (NOW - 8 * DAY, DAY)):
        windows.add(Dated(LEAD, ("shop", "a"), at, value), 1)
    text = "".join(windows.exposition(NOW, openmetrics=False))
    assert exact(text, LEAD, app="shop", team="a", window="7d", percentile="50") == 6300.0
    assert exact(text, LEAD, team="a", window="7d", percentile="50") is None
    observed = LEAD + "_observations"
    # Lead time buckets: ... 30m, 1h, 2h, 4h, ...; cumulative.
    assert exact(text, observed, team="a", window="7d", le="1800.0") == 1
    assert exact(text, observed, team="a", window="7d", le="7200.0") == 1
    assert exact(text, observed, team="a", window="7d", le="14400.0") == 2
    assert exact(text, observed, window="30d", le="+Inf") == 3


def dated(draw: st.DrawFn) -> tuple[Dated, int]:
    app = draw(st.sampled_from(["shop", "cart", "billing"]))
    team = "b" if app == "billing" else "a"
    family = draw(st.sampled_from([LEAD, "kpi_window_deployments", "kpi_window_deployed_dates"]))
    at = NOW + draw(st.integers(-40, 3)) * DAY + draw(st.integers(0, 23)) * HOUR
    return Dated(family, (app, team), float(at), float(draw(st.integers(0, 5)))), draw(
        st.sampled_from([1, 1, -1])
    )


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.tuples(st.composite(dated)(), st.integers(0, 3 * 24)), max_size=30),
)
def test_cached_windows_equal_windows_computed_afresh_at_every_instant(
    steps: list[tuple[tuple[Dated, int], int]],
) -> None:
    """The cache (results held until the next observation enters or leaves a window) never
    shows what a computation from scratch at the same instant would not."""
    cached = Windows(WEEK_MONTH, (0.5, 0.9))
    kept: list[Dated] = []
    now = NOW
    for (observation, sign), hours in steps:
        if sign < 0 and observation not in kept:
            continue
        cached.add(observation, sign)
        if sign > 0:
            kept.append(observation)
        else:
            kept.remove(observation)
        now += hours * HOUR
        fresh = Windows(WEEK_MONTH, (0.5, 0.9))
        for item in kept:
            fresh.add(item, 1)
        assert "".join(cached.exposition(now, False)) == "".join(fresh.exposition(now, False))


BY_CATEGORY = "kpi_window_work_item_cycle_time_by_category_seconds"


@pytest.mark.parametrize(("seed", "family"), [(1, LEAD), (2, LEAD), (3, BY_CATEGORY)])
def test_the_organisation_quantiles_follow_the_clock_incrementally_and_stay_exact(
    seed: int, family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The organisation's sorted window values move on with the clock and the polls (values
    entering, leaving, added and taken out) rather than being sorted again; at every instant
    the exposition equals a computation from scratch, and the windows were gathered again
    only at the first render and after a jump of a window or more."""
    rng = random.Random(seed)
    gathered = 0
    original = windows_module._gathered

    def counting(*args: Any) -> Any:
        nonlocal gathered
        gathered += 1
        return original(*args)

    monkeypatch.setattr(windows_module, "_gathered", counting)
    apps: list[tuple[str, ...]] = [(f"app{i}", "a" if i < 3 else "b") for i in range(6)]
    if family == BY_CATEGORY:  # one organisation entry per category, each sliding apart
        apps = [(*app, category) for app in apps for category in ("defect", "new_capability")]
    kept = [
        Dated(family, rng.choice(apps), NOW + rng.uniform(-40, 1) * DAY, float(rng.randint(1, 99)))
        for _ in range(4000)
    ]
    cached = Windows(WEEK_MONTH, (0.5, 0.75, 0.9))
    for observation in kept:
        cached.add(observation, 1)
    now = NOW
    jumps = cached_gathers = 0
    for step in range(80):
        roll = rng.random()
        if roll < 0.3:  # a poll adds one, within the last days or just ahead
            added = Dated(family, rng.choice(apps), now + rng.uniform(-8, 0.2) * DAY, 7.0)
            cached.add(added, 1)
            kept.append(added)
        elif roll < 0.5:  # a correction takes one out
            taken = kept.pop(rng.randrange(len(kept)))
            cached.add(taken, -1)
        if step == 40:
            now += 9 * DAY  # more than the narrowest window: gathered again
            jumps += 1
        else:
            now += rng.choice([0, 60, 600, 3600])
        before = gathered
        text = "".join(cached.exposition(now, False))
        cached_gathers += gathered - before
        fresh = Windows(WEEK_MONTH, (0.5, 0.75, 0.9))
        for item in kept:
            fresh.add(item, 1)
        assert text == "".join(fresh.exposition(now, False))
    # Both windows gathered at the first render and after the jump; otherwise only when an
    # eighth of a window moved at once: a small share of the 80 renders.
    assert 2 * (1 + jumps) <= cached_gathers <= 2 * (1 + jumps) + 12


def test_the_entries_due_stay_few_and_right_when_polls_recompute_them_again_and_again() -> None:
    """Every poll recomputes the entries it touched and notes when each falls due; the
    notes of entries recomputed since are dropped once they outnumber the apps, and the
    exposition still equals a computation from scratch."""
    cached = Windows(WEEK_MONTH, (0.5,))
    kept: list[Dated] = []
    now = NOW
    for step in range(300):
        added = Dated(LEAD, (f"app{step % 2}", "a"), now - (step % 5) * HOUR, float(step))
        cached.add(added, 1)
        kept.append(added)
        now += 60
        text = "".join(cached.exposition(now, False))
        assert len(cached.families[LEAD].due) <= 2 * 2 + 64 + 1
    fresh = Windows(WEEK_MONTH, (0.5,))
    for item in kept:
        fresh.add(item, 1)
    assert text == "".join(fresh.exposition(now, False))
    # A week later every observation has left the 7d window, at the instant each was due.
    later = "".join(cached.exposition(now + 7 * DAY, False))
    assert 'window="7d"' not in later
    fresh = Windows(WEEK_MONTH, (0.5,))
    for item in kept:
        fresh.add(item, 1)
    assert later == "".join(fresh.exposition(now + 7 * DAY, False))


def test_a_correction_never_lowers_a_counter_and_a_restart_continues_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, SETTINGS, clock=lambda: NOW)
    good = Deployment("ci", "d1", "shop", "a", "production", ts("2026-11-29T00:00:00Z"))
    other = Deployment("ci", "d2", "shop", "a", "production", ts("2026-11-28T00:00:00Z"))
    before = recorded(pipeline, good, other)
    labels = {"app": "shop", "team": "a", "environment": "production"}
    assert exact(before, "kpi_deployments_total", **labels) == 2
    assert exact(before, "kpi_window_deployments", app="shop", team="a", window="7d") == 2
    # Re-sent as failed: no longer a deployment. The counter stays at 2, a retraction counts 1,
    # and the window (a gauge) goes down to the exact value.
    failed = Deployment("ci", "d1", "shop", "a", "production", good.finished_at, status="failure")
    after = recorded(pipeline, failed)
    assert exact(after, "kpi_deployments_total", **labels) == 2
    assert exact(after, "kpi_deployments_retracted_total", **labels) == 1
    assert exact(after, "kpi_window_deployments", app="shop", team="a", window="7d") == 1
    # Re-sent as successful again: counted again (3 contributions ever, 1 retracted).
    again = recorded(pipeline, good)
    assert exact(again, "kpi_deployments_total", **labels) == 3
    assert exact(again, "kpi_deployments_retracted_total", **labels) == 1
    assert exact(again, "kpi_window_deployments", app="shop", team="a", window="7d") == 2
    store.close()
    # A restart reads the same store: the same counters, nothing goes down.
    store = Store(tmp_path / "kpi.db")
    restarted = Pipeline(store, SETTINGS, clock=lambda: NOW).cache.current.text.decode()
    store.close()
    assert samples(restarted) == samples(again)


def team_series(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (sample, labels), v in samples(text).items() if sample == name and labels}


def test_sharded_by_team_each_shard_publishes_its_teams_exact_quantiles(tmp_path: Path) -> None:
    """Two shards by team hold, between them, exactly the unsharded team and app series; the
    organisation is left to the rules (per-bucket observations of every shard)."""
    teams = {"shop": "a", "cart": "a", "billing": "b"}
    unsharded = text_at(LEAD_TIMES, NOW)
    union: dict[frozenset[tuple[str, str]], float] = {}
    for index in range(2):
        shard = Shard(index, 2, "team", lambda app: teams.get(app, ""))
        store = Store(tmp_path / f"{index}.db")
        pipeline = Pipeline(store, SETTINGS, clock=lambda: NOW, shard=shard)
        pipeline.record("git", Poll(events=LEAD_TIMES, cursor=None))
        pipeline.refresh()
        text = pipeline.cache.current.text.decode()
        store.close()
        for labels, v in team_series(text, LEAD).items():
            assert labels not in union
            union[labels] = v
        assert exact(text, LEAD, window="7d", percentile="50") is None
        kept = [e for e in LEAD_TIMES if shard.keeps(e)]
        observed = exact(text, LEAD + "_observations", window="30d", le="+Inf")
        month = NOW - 30 * DAY
        in_30d = [
            e for e in kept if isinstance(e, Change) and e.deployed_at and e.deployed_at > month
        ]
        assert observed == (len(in_30d) or None)
    # Every app and team series of the unsharded exporter, and nothing else.
    expected = {
        labels: v
        for labels, v in team_series(unsharded, LEAD).items()
        if any(name == "team" for name, _ in labels)
    }
    assert union == expected
    # Sharded by app, a process cannot see a team whole: only app quantiles are exact.
    store = Store(tmp_path / "app.db")
    pipeline = Pipeline(store, SETTINGS, clock=lambda: NOW, shard=Shard(0, 2))
    pipeline.record("git", Poll(events=LEAD_TIMES, cursor=None))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    store.close()
    assert all(any(name == "app" for name, _ in labels) for labels in team_series(text, LEAD))


def test_the_scheduler_renders_again_on_a_timer_so_windows_slide_without_polls(
    tmp_path: Path,
) -> None:
    clock = [NOW]
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, SETTINGS, clock=lambda: clock[0])
    pipeline.record("git", Poll(events=LEAD_TIMES, cursor=None))
    pipeline.refresh()
    before = pipeline.cache.current.text.decode()
    assert exact(before, LEAD, team="a", window="7d", percentile="50") == 12 * HOUR
    clock[0] = ts("2026-12-03T00:00:00Z")  # shop's 11-25 change leaves the week
    scheduler = Scheduler(pipeline, [], refresh_interval=0.05)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while pipeline.cache.current.text.decode() == before and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
        store.close()
    after = pipeline.cache.current.text.decode()
    assert exact(after, LEAD, team="a", window="7d", percentile="50") == 13 * HOUR
