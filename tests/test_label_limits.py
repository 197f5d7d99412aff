"""The limit on new label values (issue 19, item 9): a push of a new app over the limit is a
400 naming it, a polled source leaves the event out and logs it, both counted by reason;
events of known apps keep flowing; the configured apps are always accepted; a start from the
snapshot knows the same values as a replay."""

from __future__ import annotations

import json
import logging

import pytest

from kpi_exporter.cardinality import LabelLimits, LabelPolicy, LabelValues
from kpi_exporter.config import Config, parse_config
from kpi_exporter.health import Health
from kpi_exporter.model import Deployment, Event
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.faults_support import CONFIG, Running, deployment, signed, stored_deployments
from tests.support import value

LIMITED = CONFIG + "label_limits: {app: 3, team: 2, environment: 2}\n"


def deploy(id_: str, app: str, team: str = "payments", env: str = "production") -> Deployment:
    return Deployment(source="ci", key=id_, app=app, team=team, environment=env, finished_at=1.76e9)


def rejected(pipeline: Pipeline, source: str, reason: str) -> float:
    pipeline.refresh()
    text = pipeline.cache.body("", "")[0].decode()
    return value(text, "kpi_exporter_events_rejected_total", source=source, reason=reason)


@pytest.fixture(name="limited")
def limited_fixture(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("KPI_FAULTS_SECRET", "unused")
    return parse_config(LIMITED, "kpi.yml")


def polled_pipeline(store: Store, config: Config) -> Pipeline:
    health = Health()
    health.register("ci", "events_file")
    return Pipeline(store, config.kpi_settings(), health=health, labels=config.label_policy())


def test_new_values_are_admitted_up_to_the_limit_counting_the_batchs_own() -> None:
    policy = LabelPolicy(LabelLimits(app=3, team=10, environment=10))
    known = LabelValues()
    known.add(deploy("k1", "a"))
    events: list[Event] = [
        deploy("1", "a"),  # known
        deploy("2", "b"),  # new: 1 known + 0 added < 3
        deploy("3", "b"),  # b was added by this batch: not new any more
        deploy("4", "c"),  # new: 1 + 1 < 3
        deploy("5", "d"),  # new: 1 + 2 = 3, at the limit: refused
        deploy("6", "e"),  # refused
        deploy("7", "d"),  # refused again, the refusal named once
    ]
    admitted, refusals, refused = policy.admit(events, known)
    assert [e.key for e in admitted] == ["1", "2", "3", "4"]
    assert [(r.label, r.value) for r in refusals] == [("app", "d"), ("app", "e")]
    assert refused == 3
    assert str(refusals[0]) == (
        "new app 'd': the limit of 3 app values is reached (label_limits.app, besides the"
        " configured ones); events of known apps are accepted"
    )


def test_a_polled_source_leaves_out_new_apps_over_the_limit_and_logs_them(
    store: Store, limited: Config, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = polled_pipeline(store, limited)
    # shop is configured (its team payments too): accepted and not counted; a, b and c are
    # the 3 new apps that fit (limit 3); d and e are refused, a known app still flows.
    first: list[Event] = [deploy("1", "shop"), deploy("2", "a"), deploy("3", "b"), deploy("4", "c")]
    pipeline.record("ci", Poll(first, None))
    with caplog.at_level(logging.WARNING):
        pipeline.record(
            "ci",
            Poll([deploy("5", "d"), deploy("6", "a"), deploy("7", "e"), deploy("8", "d")], None),
        )
    # 6, of the known app a, is stored
    assert sorted(e.key for e in store.iter_events(["deployment"])) == ["1", "2", "3", "4", "6"]
    assert rejected(pipeline, "ci", "cardinality") == 3  # 5, 7 and 8
    assert rejected(pipeline, "ci", "invalid") == 0
    assert "source ci: refused 3 event(s): new app 'd'" in caplog.text
    assert "(and 1 more new values)" in caplog.text


def test_a_new_team_or_environment_over_its_limit_is_refused_too(
    store: Store, limited: Config
) -> None:
    pipeline = polled_pipeline(store, limited)
    # teams: payments (configured), then 2 new (limit 2), a third refused; environments:
    # production (always accepted), then 2 new (limit 2), a third refused.
    events: list[Event] = [
        deploy("1", "shop"),
        deploy("2", "shop", team="t1"),
        deploy("3", "shop", team="t2"),
        deploy("4", "shop", team="t3"),
        deploy("5", "shop", env="staging"),
        deploy("6", "shop", env="pr-1"),
        deploy("7", "shop", env="pr-2"),
    ]
    pipeline.record("ci", Poll(events, None))
    assert sorted(e.key for e in store.iter_events(["deployment"])) == ["1", "2", "3", "5", "6"]
    assert rejected(pipeline, "ci", "cardinality") == 2


def test_configured_apps_are_accepted_whatever_the_limit(store: Store) -> None:
    config = parse_config(
        "apps: {a: {team: x}, b: {team: x}, c: {team: x}}\nlabel_limits: {app: 1}\n", "kpi.yml"
    )
    pipeline = polled_pipeline(store, config)
    pipeline.record("ci", Poll([deploy(app, app, team="x") for app in "abcde"], None))
    # a, b, c named by the file and not counted; d is the one new app the limit allows
    assert sorted(e.app for e in store.iter_events(["deployment"])) == ["a", "b", "c", "d"]


def test_a_push_of_a_new_app_over_the_limit_is_a_400_naming_it(
    store: Store, limited: Config
) -> None:
    running = Running(store, limited)
    try:
        for app in ("shop", "a", "b", "c"):
            body = json.dumps(deployment(f"d-{app}", app=app)).encode()
            assert running.post(body, signed(body)).status_code == 200
        batch = {"events": [deployment("d-new", app="sha-0a1b2c"), deployment("d-shop2")]}
        body = json.dumps(batch).encode()
        refused = running.post(body, signed(body))
        # a known app still flows
        body = json.dumps(deployment("d-a2", app="a")).encode()
        known = running.post(body, signed(body))
        metrics = running.get("/metrics").text
    finally:
        running.server.stop()
    assert refused.status_code == 400
    assert refused.json()["error"] == (
        "new app 'sha-0a1b2c': the limit of 3 app values is reached (label_limits.app,"
        " besides the configured ones); events of known apps are accepted; nothing was stored"
    )
    assert known.status_code == 200
    # shop, a, b, c and the second of a: the refused batch is all or nothing
    assert stored_deployments(store) == 5
    # the batch's one event of the new app; the other was refused with it, not counted
    assert value(metrics, "kpi_exporter_events_rejected_total", reason="cardinality") == 1


def test_a_start_from_the_snapshot_knows_the_values_a_replay_knows(
    store: Store, limited: Config
) -> None:
    pipeline = polled_pipeline(store, limited)
    pipeline.record("ci", Poll([deploy("1", "a"), deploy("2", "b")], None))
    assert pipeline.save_snapshot()
    restarted = polled_pipeline(store, limited)
    assert restarted.from_snapshot
    assert restarted.aggregate.label_values.counts == pipeline.aggregate.label_values.counts
    restarted.record("ci", Poll([deploy("3", "c"), deploy("4", "a")], None))
    # a, b stored: c is the 3rd app (limit 3) and fits; then no 4th
    restarted.record("ci", Poll([deploy("5", "d")], None))
    assert sorted(e.key for e in store.iter_events(["deployment"])) == ["1", "2", "3", "4"]
