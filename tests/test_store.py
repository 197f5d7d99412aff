"""The SQLite store: idempotent upserts, net changes, atomic polls, migrations."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from kpi_exporter.store import MIGRATIONS, Store, Validator
from tests.support import deployment, incident, ts


def test_the_same_event_twice_is_stored_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    event = deployment("d1", "2026-11-02T10:00:00Z")
    with store.transaction() as tx:
        assert tx.upsert(event) is True
        assert tx.upsert(event) is False
    with store.transaction() as tx:
        assert tx.upsert(event) is False
        assert tx.changes() == []
    assert store.count() == 1


def test_an_updated_event_replaces_the_stored_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    open_incident = incident("INC-1", "2026-11-02T10:00:00Z")
    resolved = replace(open_incident, resolved_at=ts("2026-11-02T11:00:00Z"))
    with store.transaction() as tx:
        tx.upsert(open_incident)
    with store.transaction() as tx:
        tx.upsert(resolved)
        assert tx.changes() == [(open_incident, resolved)]
    assert list(store.iter_events()) == [resolved]


def test_changes_are_net_within_a_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    first = deployment("d1", "2026-11-02T10:00:00Z", version="1.0.0")
    with store.transaction() as tx:
        tx.upsert(first)
    with store.transaction() as tx:
        tx.upsert(replace(first, version="2.0.0"))
        tx.upsert(first)  # back to what was stored: no net change
        assert tx.changes() == []


def test_cursor_validators_and_events_commit_together(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with store.transaction() as tx:
        tx.upsert(deployment("d1", "2026-11-02T10:00:00Z"))
        tx.set_cursor("src", "cursor-1")
        tx.set_validators("src", {"https://api/x": Validator(etag='"abc"')})
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.upsert(deployment("d2", "2026-11-03T10:00:00Z"))
        tx.set_cursor("src", "cursor-2")
        raise RuntimeError("crash in the middle of a poll")
    state = store.state("src")
    assert state.cursor == "cursor-1"
    assert state.validators == {"https://api/x": Validator(etag='"abc"')}
    assert [e.key for e in store.iter_events()] == ["d1"]


def test_store_survives_reopening_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    with store.transaction() as tx:
        tx.upsert(deployment("d1", "2026-11-02T10:00:00Z"))
        tx.set_cursor("src", "c")
    store.close()
    reopened = Store(path)
    assert reopened.count() == 1
    assert reopened.state("src").cursor == "c"
    assert reopened.schema_version == len(MIGRATIONS)
    (mode,) = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this kpi-exporter supports"):
        Store(path)


def test_events_since_reads_one_app_in_time_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with store.transaction() as tx:
        tx.upsert(deployment("late", "2026-11-05T10:00:00Z"))
        tx.upsert(deployment("early", "2026-11-01T10:00:00Z"))
        tx.upsert(deployment("other", "2026-11-03T10:00:00Z", app="other"))
        keys = [e.key for e in tx.events("deployment", "shop", ts("2026-11-01T10:00:00Z"))]
        assert keys == ["early", "late"]
        later = [e.key for e in tx.events("deployment", "shop", ts("2026-11-02T00:00:00Z"))]
        assert later == ["late"]
