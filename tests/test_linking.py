"""Failed deployments, rework and recovery: hand-built scenarios and order-independence."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings, assess, link_incident
from kpi_exporter.model import Deployment, DeploymentOutcome, Event, Incident
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import DAY, HOUR, deployment, incident, net_samples, ts, value

SHOP = {"app": "shop", "team": "team-a", "environment": "production"}

# Seven production deployments of "shop" (times UTC, November 2026).
DEPLOYMENTS = [
    deployment("d1", "2026-11-01T10:00:00Z", version="1.0.0", commit="aaaaaaa1" + "0" * 32),
    deployment("d2", "2026-11-03T10:00:00Z", version="1.1.0", commit="bbbbbbb2" + "0" * 32),
    # an older version than d2: d2 was rolled back; d3 itself is rework
    deployment("d3", "2026-11-04T10:00:00Z", version="1.0.0"),
    deployment("d4", "2026-11-06T10:00:00Z", version="1.2.0"),
    # a hotfix 47 h after d4: d4 failed
    deployment("d5", "2026-11-08T09:00:00Z", version="1.2.1", change_type="hotfix"),
    deployment("d6", "2026-11-10T10:00:00Z", version="1.3.0"),
    # a hotfix 49 h after d6: outside the 48 h window, d6 did not fail
    deployment("d7", "2026-11-12T11:00:00Z", version="1.3.1", change_type="hotfix"),
    # staging deployments never count
    deployment("s1", "2026-11-02T09:00:00Z", environment="staging", version="9.9.9"),
]
INCIDENTS = [
    # names d1's SHA explicitly (8 characters), although d2 is the last deployment before it
    incident(
        "I1", "2026-11-03T12:00:00Z", resolved_at="2026-11-03T14:00:00Z", deployment_ref="aaaaaaa1"
    ),
    # no reference: the last production deployment before it is d5
    incident("I2", "2026-11-09T12:00:00Z", resolved_at="2026-11-09T12:30:00Z"),
    # before any deployment: linked to nothing
    incident("I3", "2026-10-25T00:00:00Z", resolved_at="2026-10-25T01:00:00Z"),
]


def outcomes_by_key(events: list[Event]) -> dict[str, DeploymentOutcome]:
    deployments = [e for e in events if isinstance(e, Deployment)]
    incidents = [e for e in events if isinstance(e, Incident)]
    return {o.key: o for o in assess(deployments, incidents, KpiSettings(), LinkSettings())}


def test_each_failure_rule_on_a_hand_built_scenario() -> None:
    outcomes = outcomes_by_key([*DEPLOYMENTS, *INCIDENTS])
    assert {k for k, o in outcomes.items() if o.failed} == {"d1", "d2", "d4", "d5"}
    assert outcomes["d1"].reasons == ("incident",)
    assert outcomes["d1"].incident_keys == ("test/I1",)
    assert outcomes["d2"].reasons == ("rolled back",)
    assert outcomes["d4"].reasons == ("hotfix",)
    assert outcomes["d5"].incident_keys == ("test/I2",)
    assert not outcomes["d6"].failed  # hotfix after 49 h
    assert {k for k, o in outcomes.items() if o.rework} == {"d3", "d5", "d7"}
    # recovery: d1 when I1 resolved (52 h), d2 at the rollback d3 (24 h),
    # d4 at the hotfix d5 (47 h), d5 when I2 resolved (27.5 h)
    assert outcomes["d1"].recovered_at == ts("2026-11-03T14:00:00Z")
    assert outcomes["d2"].recovered_at == ts("2026-11-04T10:00:00Z")
    assert outcomes["d4"].recovered_at == ts("2026-11-08T09:00:00Z")
    assert outcomes["d5"].recovered_at == ts("2026-11-09T12:30:00Z")


def test_only_production_incidents_in_the_deployments_environment_fail_it() -> None:
    d = deployment("d1", "2026-11-01T10:00:00Z")  # to production
    after = "2026-11-01T12:00:00Z"
    cases = [
        # (incident environment, linking environments, failed)
        ("production", "same", True),
        ("staging", "same", False),  # not a production incident
        ("staging", "any", False),
        ("prod-eu", "same", False),  # production, but another environment than d1's
        ("prod-eu", "any", True),  # any production deployment of the app
    ]
    for environment, environments, failed in cases:
        i = incident("I", after, environment=environment)
        outcome = assess([d], [i], KpiSettings(), LinkSettings(environments=environments))[0]
        assert outcome.failed is failed, (environment, environments)


def test_production_incidents_linked_to_no_deployment_are_counted(tmp_path: Path) -> None:
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, clock=lambda: ts("2026-11-12T00:00:00Z"))
    pipeline.record("test", Poll(events=[*DEPLOYMENTS, *INCIDENTS], cursor=None))
    # I3 started before any deployment; a staging incident is no production incident.
    staging = incident("I4", "2026-11-10T00:00:00Z", environment="staging")
    pipeline.record("test", Poll(events=[staging], cursor=None))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    store.close()
    assert value(text, "kpi_incidents_unlinked_total", app="shop") == 1
    # A deployment before I3 arrives late: I3 is linked now, and the counter does not drop.
    late = deployment("d0", "2026-10-24T00:00:00Z")
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, clock=lambda: ts("2026-11-12T00:00:00Z"))
    pipeline.record("test", Poll(events=[late], cursor=None))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    store.close()
    assert value(text, "kpi_incidents_unlinked_total", app="shop") == 1
    assert value(text, "kpi_incidents_unlinked_retracted_total", app="shop") == 1
    assert value(text, "kpi_window_incidents_unlinked", app="shop", window="30d") == 0


def test_incident_without_an_earlier_deployment_links_to_nothing() -> None:
    production = sorted(DEPLOYMENTS[:7], key=lambda d: d.finished_at)
    linked, how = link_incident(INCIDENTS[2], production, LinkSettings())
    assert linked is None and how == ""
    linked, how = link_incident(INCIDENTS[0], production, LinkSettings())
    assert linked is not None and linked.key == "d1" and how == "explicit"


def test_incident_beyond_the_horizon_links_to_nothing() -> None:
    late = incident("late", "2026-11-20T12:00:00Z")  # 8 days after d7, horizon 7 days
    outcomes = outcomes_by_key([*DEPLOYMENTS, late])
    assert not outcomes["d7"].failed


def test_an_open_incident_leaves_the_deployment_unrecovered() -> None:
    open_incident = incident("I9", "2026-11-12T12:00:00Z")
    outcome = outcomes_by_key([*DEPLOYMENTS, open_incident])["d7"]
    assert outcome.failed and outcome.recovered_at is None


def record(tmp_path: Path, polls: list[list[Event]], name: str = "s.db") -> str:
    # One fixed "now" for every pipeline, so time-dependent series compare equal.
    pipeline = Pipeline(Store(tmp_path / name), clock=lambda: ts("2026-12-15T00:00:00Z"))
    for events in polls:
        pipeline.record("test", Poll(events=events, cursor=None))
    pipeline.refresh()
    return pipeline.cache.current.text.decode()


def test_change_failure_rate_rework_restore_and_recovery_per_app(tmp_path: Path) -> None:
    text = record(tmp_path, [[*DEPLOYMENTS, *INCIDENTS]])
    # CFR = 4 failed / 7 production deployments; rework = 3 / 7
    assert value(text, "kpi_deployments_total", **SHOP) == 7
    assert value(text, "kpi_deployments_failed_total", **SHOP) == 4
    assert value(text, "kpi_deployments_rework_total", **SHOP) == 3
    # release failures: d2 rolled back and d4 hotfixed (d1 and d5 failed by incidents only)
    assert value(text, "kpi_deployments_release_failed_total", **SHOP) == 2
    recovery = "kpi_failed_deployment_recovery_seconds"
    assert value(text, f"{recovery}_count", **SHOP) == 4
    assert value(text, f"{recovery}_sum", **SHOP) == 52 * HOUR + DAY + 47 * HOUR + 27.5 * HOUR
    restore = "kpi_incident_restore_seconds"
    assert value(text, f"{restore}_count", app="shop") == 3
    assert value(text, f"{restore}_sum", app="shop") == 2 * HOUR + 0.5 * HOUR + HOUR


def test_a_resolution_arriving_later_updates_recovery_without_double_counting(
    tmp_path: Path,
) -> None:
    open_i2 = incident("I2", "2026-11-09T12:00:00Z")
    text = record(tmp_path, [[*DEPLOYMENTS, INCIDENTS[0], open_i2], [INCIDENTS[1]]])
    assert value(text, "kpi_deployments_failed_total", **SHOP) == 4
    assert value(text, "kpi_incidents_total", app="shop") == 2
    assert value(text, "kpi_incidents_open", app="shop") == 0
    assert value(text, "kpi_failed_deployment_recovery_seconds_count", **SHOP) == 4


# --- order independence -------------------------------------------------------------------

START = ts("2026-09-01T00:00:00Z")
times = st.floats(min_value=0, max_value=90 * DAY).map(lambda offset: START + round(offset))


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Random deployments and incidents of two apps, with versions, hotfixes, rollbacks and
    explicit references, over 90 days."""
    events: list[Event] = []
    for index in range(draw(st.integers(1, 14))):
        app = draw(st.sampled_from(["shop", "cart"]))
        events.append(
            deployment(
                f"d{index}",
                "2026-09-01T00:00:00Z",
                app=app,
                finished_at=draw(times),
                environment=draw(st.sampled_from(["production", "production", "staging"])),
                version=f"1.{draw(st.integers(0, 5))}.0",
                change_type=draw(st.sampled_from(["normal", "normal", "hotfix", "rollback"])),
                reported_failed=draw(st.sampled_from([False, False, False, True])),
                commit=f"{index:07d}" + "f" * 33,
            )
        )
    for index in range(draw(st.integers(0, 8))):
        started = draw(times)
        duration = draw(st.one_of(st.none(), st.floats(0, 3 * DAY)))
        resolved = None if duration is None else started + duration
        ref = draw(st.sampled_from(["", "", f"d{draw(st.integers(0, 13))}", "0000003"]))
        events.append(
            incident(
                f"i{index}",
                "2026-09-01T00:00:00Z",
                app=draw(st.sampled_from(["shop", "cart"])),
                started_at=started,
                resolved_at=resolved,
                deployment_ref=ref,
            )
        )
    return events


def shuffled_polls(events: list[Event], seed: int, polls: int) -> list[list[Event]]:
    """``events`` shuffled (by ``seed``) and cut into at most ``polls`` polls."""
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    cut_count = min(polls - 1, len(shuffled) + 1)
    cuts = sorted(random.Random(seed + 1).sample(range(len(shuffled) + 1), cut_count))
    return [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]


@settings(max_examples=100, deadline=None)
@given(events=histories(), seed=st.integers(0, 2**32 - 1), polls=st.integers(1, 4))
def test_links_and_counters_do_not_depend_on_arrival_order_or_poll_windows(
    events: list[Event], seed: int, polls: int
) -> None:
    batches = shuffled_polls(events, seed, polls)
    with tempfile.TemporaryDirectory() as directory:
        at_once = record(Path(directory), [events], "once.db")
        in_pieces = record(Path(directory), batches, "pieces.db")
        # Corrections met on the way are retractions: the net values are the same.
        assert net_samples(at_once) == net_samples(in_pieces)
        stored = {
            (e.source, e.key): e
            for e in Store(Path(directory) / "pieces.db").iter_events(["outcome"])
        }
    expected = {}
    for app in ("shop", "cart"):
        mine = [e for e in events if e.app == app]
        expected.update({(o.source, o.key): o for o in outcomes_by_key(mine).values()})
    assert stored == expected


def test_only_dotted_versions_are_compared_for_rollbacks() -> None:
    from kpi_exporter.linking import _version

    assert _version("v1.10.0") == (1, 10, 0) and _version("2.1") == (2, 1)
    assert _version("1.2.3-rc.1") == (1, 2, 3)
    # a merge commit's abbreviated SHA or a release-train date is not a version
    assert _version("9f3a2b1c0d4e") is None and _version("1a2b3c4d5e6f") is None
    assert _version("2026-11-23T00:00:00Z") is None
