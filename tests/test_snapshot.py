"""A start loads the snapshot of the sums saved in the store when it matches exactly, and
renders byte for byte what a replay of every stored event renders; any mismatch, a corrupt
snapshot or a poison stored row falls back to the replay, which never stops the start."""

from __future__ import annotations

import json
import logging
import pickle
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_exporter.exposition import Rendered
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.model import Deployment, Event, to_json
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import DAY, change, deployment, incident
from tests.test_refresh import KPI, NOW, Clock, events, from_scratch


def history() -> list[Event]:
    return [
        deployment("d1", "2026-11-20T10:00:00Z"),
        deployment("d2", "2026-11-25T10:00:00Z", app="cart", team="b"),
        change("c1", "2026-11-18T10:00:00Z", "2026-11-20T10:00:00Z"),
        incident("i1", "2026-11-20T12:00:00Z", resolved_at=NOW - DAY),
    ]


def replayed(store: Store, clock: Clock, pipeline: Pipeline) -> Rendered:
    return from_scratch(store, clock, pipeline)


def saved_store(tmp_path: Path, clock: Clock) -> Path:
    path = tmp_path / "kpi.db"
    store = Store(path)
    pipeline = Pipeline(store, KPI, clock=clock)
    pipeline.record("ci", Poll(events=history(), cursor=None))
    # A correction: a retraction, kept in the snapshot too.
    failed = deployment("d1", "2026-11-20T10:00:00Z", status="failure")
    pipeline.record("ci", Poll(events=[failed], cursor=None))
    assert pipeline.save_snapshot()
    assert not pipeline.save_snapshot()  # nothing changed since
    store.close()
    return path


def test_a_start_from_the_snapshot_renders_what_a_replay_renders(tmp_path: Path) -> None:
    clock = Clock(NOW)
    store = Store(saved_store(tmp_path, clock))
    clock.now += 3 * DAY  # the windows moved on since the snapshot
    started = Pipeline(store, KPI, clock=clock)
    assert started.from_snapshot
    assert b"kpi_deployments_retracted_total" in started.cache.current.text
    reference = replayed(store, clock, started)
    assert started.cache.current.text == reference.text
    assert started.cache.current.openmetrics == reference.openmetrics
    store.close()


def test_a_write_since_the_snapshot_is_applied_from_the_journal(tmp_path: Path) -> None:
    clock = Clock(NOW)
    path = saved_store(tmp_path, clock)
    store = Store(path)
    assert store.journal_size() == 0  # emptied when the snapshot was saved
    with store.transaction() as tx:  # written by someone else than a pipeline
        tx.upsert(deployment("d3", "2026-11-28T10:00:00Z"))
    assert store.journal_size() == 1
    started = Pipeline(store, KPI, clock=clock)
    assert started.from_snapshot
    assert b'kpi_window_deployments{app="shop",team="team-a",window="7d"} 1.0' in (
        started.cache.current.text
    )
    assert started.cache.current.text == replayed(store, clock, started).text
    store.close()


def test_a_crash_after_corrections_starts_from_the_snapshot_and_its_journal(
    tmp_path: Path,
) -> None:
    """Polls after the snapshot, then no clean shutdown (nothing saved): the start applies
    the journal (inserts, corrections that retract, a deletion) and renders byte for byte
    what a replay renders, retraction counters included."""
    clock = Clock(NOW)
    path = saved_store(tmp_path, clock)
    store = Store(path)
    running = Pipeline(store, KPI, clock=clock)
    assert running.from_snapshot
    running.record("ci", Poll(events=[deployment("d4", "2026-11-29T10:00:00Z")], cursor=None))
    # d1 failed, then succeeded again (a retraction of its failure), d2 moved to team c.
    fixed = deployment("d1", "2026-11-20T10:00:00Z")
    moved = deployment("d2", "2026-11-25T10:00:00Z", app="cart", team="c")
    running.record("ci", Poll(events=[fixed, moved], cursor=None))
    with store.transaction():  # an event deleted by hand
        store._conn.execute("DELETE FROM events WHERE key = 'c1'")
    # The running process dies here: no snapshot saved since.
    assert store.journal_size() >= 4
    clock.now += DAY
    store.close()
    store = Store(path)
    started = Pipeline(store, KPI, clock=clock)
    assert started.from_snapshot
    reference = replayed(store, clock, started)
    assert started.cache.current.text == reference.text
    assert started.cache.current.openmetrics == reference.openmetrics
    assert b'kpi_deployments_failed_retracted_total{app="shop"' in started.cache.current.text
    # Saved again, the journal starts over.
    assert started.save_snapshot()
    assert store.journal_size() == 0
    store.close()


def test_a_journal_too_long_or_unreadable_replays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(NOW)
    path = saved_store(tmp_path, clock)
    store = Store(path)
    with store.transaction() as tx:
        tx.upsert(deployment("d3", "2026-11-28T10:00:00Z"))
        tx.upsert(deployment("d5", "2026-11-28T11:00:00Z"))
    monkeypatch.setattr("kpi_exporter.pipeline.JOURNAL_LIMIT", 1)
    with caplog.at_level(logging.INFO):
        assert not Pipeline(store, KPI, clock=clock).from_snapshot
    assert "the store changed by 2 writes since the snapshot, more than 1: replaying" in (
        caplog.text
    )
    monkeypatch.setattr("kpi_exporter.pipeline.JOURNAL_LIMIT", 30_000)
    with store.transaction():
        store._conn.execute(
            "UPDATE journal SET after = '{not json' WHERE seq = (SELECT max(seq) FROM journal)"
        )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        started = Pipeline(store, KPI, clock=clock)
    assert not started.from_snapshot
    assert "the snapshot cannot be read" in caplog.text
    assert "journal entry" in caplog.text
    assert started.cache.current.text == replayed(store, clock, started).text
    store.close()


def test_no_journal_without_a_snapshot_and_a_long_one_saves_even_when_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, KPI, clock=Clock(NOW))
    pipeline.record("ci", Poll(events=history(), cursor=None))
    assert store.journal_size() == 0  # nothing to apply it to
    assert pipeline.save_snapshot()
    pipeline.record("ci", Poll(events=[deployment("d3", "2026-11-28T10:00:00Z")], cursor=None))
    written = store.journal_size()  # the insert, and the update that derives its outcome
    assert written >= 1
    monkeypatch.setattr("kpi_exporter.pipeline.JOURNAL_LIMIT", written + 1)
    assert not pipeline.save_snapshot_when_idle(3600)  # busy, and the journal is short
    pipeline.record("ci", Poll(events=[deployment("d4", "2026-11-28T10:00:00Z")], cursor=None))
    assert store.journal_size() > written
    assert pipeline.save_snapshot_when_idle(3600)  # busy, but the journal is long
    assert store.journal_size() == 0
    store.close()


def test_other_settings_replay(tmp_path: Path) -> None:
    clock = Clock(NOW)
    store = Store(saved_store(tmp_path, clock))
    other = KpiSettings(windows=(("7d", 7 * DAY),))
    assert not Pipeline(store, other, clock=clock).from_snapshot
    store.close()


@pytest.mark.parametrize(
    "state",
    [
        b"not a pickle",
        pickle.dumps({"values": {}}),  # a key missing
        pickle.dumps(Deployment("ci", "d", "a", "t", "production", 0.0)),  # names a class
    ],
)
def test_a_corrupt_snapshot_replays_and_says_so(
    tmp_path: Path, state: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(NOW)
    path = saved_store(tmp_path, clock)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE snapshot SET state = ?", (state,))
    connection.close()
    store = Store(path)
    with caplog.at_level(logging.WARNING):
        started = Pipeline(store, KPI, clock=clock)
    assert not started.from_snapshot
    assert "the snapshot cannot be read" in caplog.text
    assert started.cache.current.text == replayed(store, clock, started).text
    store.close()


def test_a_poison_stored_row_is_skipped_and_logged_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kpi.db"
    store = Store(path)
    with store.transaction() as tx:
        tx.upsert(deployment("d1", "2026-11-20T10:00:00Z"))
    store.close()
    connection = sqlite3.connect(path)
    with connection:
        insert = "INSERT INTO events (kind, source, key, app, time, payload) VALUES (?,?,?,?,?,?)"
        connection.execute(insert, ("deployment", "ci", "bad-json", "shop", 0.0, "{not json"))
        connection.execute(insert, ("deployment", "ci", "bad-field", "shop", 0.0, '{"x": 1}'))
        connection.execute(insert, ("nokind", "ci", "bad-kind", "shop", 0.0, "{}"))
        connection.execute(  # decodes, but its time is not a number: the KPI functions fail
            insert,
            ("deployment", "ci", "bad-time", "shop", 0.0, deployment_payload(finished_at="x")),
        )
        connection.execute(
            "INSERT INTO retractions (family, labels, value, times) VALUES (?, ?, ?, ?)",
            ("kpi_deployments_total", "[not json", 1.0, 1),
        )
    connection.close()
    store = Store(path)
    with caplog.at_level(logging.ERROR):
        started = Pipeline(store, KPI, clock=Clock(NOW))
    assert caplog.text.count("quarantined the stored") == 4
    assert caplog.text.count("skipped a stored retraction that cannot be read") == 1
    text = started.cache.current.text
    assert b'kpi_deployments_total{app="shop",environment="production",team="team-a"} 1.0' in text
    # Moved out of the events as they were: the next start reads only the good row.
    assert store.quarantined() == {"deployment": 3, "nokind": 1}
    assert [e.key for e in store.iter_events()] == ["d1"]
    store.close()


def deployment_payload(**fields: object) -> str:
    data = json.loads(to_json(deployment("bad-time", "2026-11-20T10:00:00Z")))
    data.update(fields)
    return json.dumps(data)


@settings(max_examples=25, deadline=None)
@given(
    before=st.lists(st.lists(events(), max_size=5), min_size=1, max_size=6),
    after=st.lists(st.lists(events(), max_size=5), max_size=4),
    minutes=st.integers(0, 10 * 24 * 60),
)
def test_sums_loaded_from_a_snapshot_stay_equal_to_a_replay_after_more_polls(
    before: list[list[Event]], after: list[list[Event]], minutes: int
) -> None:
    store = Store(":memory:")
    clock = Clock(NOW)
    first = Pipeline(store, KPI, clock=clock)
    for polled in before:
        first.record("ci", Poll(events=polled, cursor=None))
    first.save_snapshot()
    clock.now += minutes * 60
    started = Pipeline(store, KPI, clock=clock)
    assert started.from_snapshot
    for polled in after:
        started.record("ci", Poll(events=polled, cursor=None))
    started.refresh()
    reference = replayed(store, clock, started)
    assert started.cache.current.text == reference.text
    assert started.cache.current.openmetrics == reference.openmetrics
    # A crash now (nothing saved since the snapshot): the next start applies the journal.
    restarted = Pipeline(store, KPI, clock=clock)
    assert restarted.from_snapshot
    assert restarted.cache.current.text == reference.text
    assert restarted.cache.current.openmetrics == reference.openmetrics
    store.close()


def test_the_snapshot_is_saved_once_idle_and_only_after_a_change(tmp_path: Path) -> None:
    store = Store(tmp_path / "kpi.db")
    pipeline = Pipeline(store, KPI, clock=Clock(NOW))
    pipeline.record("ci", Poll(events=history(), cursor=None))
    assert not pipeline.save_snapshot_when_idle(3600)  # a poll changed the store just now
    assert pipeline.save_snapshot_when_idle(0)
    assert not pipeline.save_snapshot_when_idle(0)  # nothing changed since
    pipeline.record("ci", Poll(events=history(), cursor=None))  # re-sent unchanged
    assert not pipeline.save_snapshot_when_idle(0)
    store.close()
