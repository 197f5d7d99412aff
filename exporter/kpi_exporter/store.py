"""The SQLite store: events by natural key, plus per-source cursors and HTTP validators.

Everything a poll produces (events, the new cursor, new ETag/Last-Modified validators) is
written in ONE transaction, so a crash either keeps the whole poll or none of it. Upserts are
idempotent: writing an event that is already stored unchanged is a no-op, and a changed event
replaces the old version under the same key.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .kpis.observation import Observation
from .model import Change, Deployment, Event, event_problem, from_json, to_json


def _counted(*tables: str) -> str:
    """The triggers that bump the change counter on every insert, update and delete of
    ``tables``, as released in ``MIGRATIONS[4]`` (the same text, written once)."""
    return "".join(
        f"CREATE TRIGGER {table}_{done} AFTER {verb} ON {table}\n"
        "    BEGIN UPDATE changes SET count = count + 1; END;\n    "
        for table in tables
        for done, verb in (("inserted", "INSERT"), ("updated", "UPDATE"), ("deleted", "DELETE"))
    )


# Versioned migrations: entry i brings the schema from version i to version i + 1.
# Never edit a released entry; append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        app TEXT NOT NULL,
        time REAL NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (kind, source, key)
    ) WITHOUT ROWID;
    CREATE INDEX events_by_app ON events (kind, app, time);
    CREATE TABLE cursors (
        source TEXT PRIMARY KEY,
        cursor TEXT NOT NULL
    );
    CREATE TABLE validators (
        source TEXT NOT NULL,
        url TEXT NOT NULL,
        etag TEXT NOT NULL DEFAULT '',
        last_modified TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (source, url)
    );
    """,
    """
    CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # Counter and histogram contributions taken out by corrections (see kpis.aggregate):
    # kept so that a restart publishes the same never-decreasing counters.
    """
    CREATE TABLE retractions (
        family TEXT NOT NULL,
        labels TEXT NOT NULL,
        value REAL NOT NULL,
        times INTEGER NOT NULL,
        PRIMARY KEY (family, labels, value)
    ) WITHOUT ROWID;
    """,
    # Every deployment a source said contains a change (see shipping.py), from the changes
    # stored so far.
    """
    CREATE TABLE shipments (
        source TEXT NOT NULL,
        change_key TEXT NOT NULL,
        deployment_key TEXT NOT NULL,
        environment TEXT NOT NULL,
        deployed_at REAL NOT NULL,
        PRIMARY KEY (source, change_key, deployment_key)
    ) WITHOUT ROWID;
    CREATE INDEX shipments_by_deployment ON shipments (source, deployment_key);
    INSERT INTO shipments (source, change_key, deployment_key, environment, deployed_at)
        SELECT source, key, coalesce(json_extract(payload, '$.deployment_key'), ''),
               coalesce(json_extract(payload, '$.deployed_environment'), ''),
               json_extract(payload, '$.deployed_at')
        FROM events
        WHERE kind = 'change' AND json_extract(payload, '$.deployed_at') IS NOT NULL;
    """,
    # A change counter that every write to the events and retractions bumps (whoever writes:
    # the triggers see every connection), and the snapshot of the running sums that a start
    # loads instead of replaying every event when the counter still matches (see snapshot).
    """
    CREATE TABLE changes (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        count INTEGER NOT NULL
    );
    INSERT INTO changes (id, count) VALUES (1, 0);
    """
    + _counted("events", "retractions")
    + """CREATE TABLE snapshot (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        changes INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        state BLOB NOT NULL
    );
    """,
    # Signed pushes accepted within the ingest endpoint's skew window (sources/ingest.py),
    # by a digest of their signature: a replay is refused, after a restart too.
    """
    CREATE TABLE pushes (
        source TEXT NOT NULL,
        digest TEXT NOT NULL,
        sent_at REAL NOT NULL,
        PRIMARY KEY (source, digest)
    ) WITHOUT ROWID;
    CREATE INDEX pushes_by_time ON pushes (sent_at);
    """,
    # Stored rows that cannot be read or counted (written by an older version, edited by
    # hand): moved out of the events at a start, kept as they were with the reason, so that
    # one row never stops a start again and nothing is deleted (see Store.quarantine).
    """
    CREATE TABLE quarantine (
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        app TEXT NOT NULL,
        time REAL,
        payload TEXT NOT NULL,
        reason TEXT NOT NULL,
        quarantined_at REAL NOT NULL,
        PRIMARY KEY (kind, source, key)
    ) WITHOUT ROWID;
    """,
    # Every write to the events since the snapshot was saved, in order: a start loads the
    # snapshot and applies these instead of replaying every event, after a crash too (see
    # Pipeline._load_snapshot). Written by triggers, whoever writes, only while a snapshot
    # exists; emptied when one is saved.
    """
    CREATE TABLE journal (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        before TEXT,
        after TEXT
    );
    CREATE TRIGGER events_journal_inserted AFTER INSERT ON events
        WHEN EXISTS (SELECT 1 FROM snapshot)
        BEGIN INSERT INTO journal (kind, before, after) VALUES (new.kind, NULL, new.payload); END;
    CREATE TRIGGER events_journal_updated AFTER UPDATE ON events
        WHEN EXISTS (SELECT 1 FROM snapshot)
        BEGIN INSERT INTO journal (kind, before, after) VALUES (new.kind, old.payload, new.payload);
        END;
    CREATE TRIGGER events_journal_deleted AFTER DELETE ON events
        WHEN EXISTS (SELECT 1 FROM snapshot)
        BEGIN INSERT INTO journal (kind, before, after) VALUES (old.kind, old.payload, NULL); END;
    """,
    # Work items and the changes that reference them, by the item's reference (PROJ-12):
    # where a work item's time to market ends (see delivery.py). Stored work items are
    # indexed at once; stored changes reference nothing before this version.
    """
    CREATE TABLE work_references (
        reference TEXT NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (reference, kind, source, key)
    ) WITHOUT ROWID;
    CREATE INDEX work_references_by_event ON work_references (kind, source, key);
    INSERT INTO work_references (reference, kind, source, key)
        SELECT upper(substr(key, instr(key, '/') + 1)), kind, source, key
        FROM events WHERE kind = 'workitem';
    """,
)


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None when there is none."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def statements(script: str) -> Iterator[str]:
    """The SQL statements of a migration, split at the semicolons that end one (a trigger's
    body holds semicolons of its own)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        yield pending


@dataclass(frozen=True, slots=True)
class Validator:
    """HTTP cache validators of one URL, for conditional requests."""

    etag: str = ""
    last_modified: str = ""


@dataclass(slots=True)
class SourceState:
    """What a source resumes from: its cursor and the validators of the URLs it polls."""

    cursor: str | None = None
    validators: dict[str, Validator] = field(default_factory=dict)


class Shipment(NamedTuple):
    """A source's word that the deployment ``deployment_key`` ("" when it names none) to
    ``environment``, finished at ``deployed_at``, contains the change ``change_key``."""

    source: str
    change_key: str
    deployment_key: str
    environment: str
    deployed_at: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A saved snapshot: the change counter and fingerprint it was saved at, its state, and
    the change counter of the store when it was read (it matches when the two are equal)."""

    changes: int
    fingerprint: str
    state: bytes
    store_changes: int


class Row(NamedTuple):
    """The natural key of a stored row."""

    kind: str
    source: str
    key: str


EventChange = tuple[Event | None, Event]
"""(stored version before, stored version after) of one event whose stored text changed."""


class Transaction:
    """Writes of one transaction. Tracks the net change of every event it touched."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        # natural key -> (payload before the transaction, latest event written)
        self._touched: dict[tuple[str, str, str], tuple[str | None, Event]] = {}

    def upsert(self, event: Event) -> bool:
        """Store ``event``; return True when it was new or different from the stored one."""
        natural_key = (event.kind, event.source, event.key)
        payload = to_json(event)
        row = self._conn.execute(
            "SELECT payload FROM events WHERE kind = ? AND source = ? AND key = ?", natural_key
        ).fetchone()
        before: str | None = row[0] if row else None
        if before == payload:
            return False
        self._conn.execute(
            "INSERT INTO events (kind, source, key, app, time, payload) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, source, key) DO UPDATE SET"
            " app = excluded.app, time = excluded.time, payload = excluded.payload",
            (*natural_key, event.app, event.time, payload),
        )
        original = self._touched[natural_key][0] if natural_key in self._touched else before
        self._touched[natural_key] = (original, event)
        return True

    def set_setting(self, name: str, value: str) -> None:
        """Remember a setting the stored events were derived with (see :meth:`Store.setting`)."""
        self._conn.execute(
            "INSERT INTO settings (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def earliest(self, kinds: tuple[str, ...]) -> dict[str, float]:
        """Per app, the time of its earliest stored event of ``kinds``."""
        marks = ",".join("?" * len(kinds))
        rows = self._conn.execute(
            f"SELECT app, MIN(time) FROM events WHERE kind IN ({marks}) GROUP BY app", kinds
        )
        return {str(app): float(first) for app, first in rows}

    def get(self, event: Event) -> Event | None:
        """The stored version of ``event`` (same natural key), if any."""
        return self._get(event.kind, event.source, event.key)

    def set_cursor(self, source: str, cursor: str | None) -> None:
        if cursor is None:
            self._conn.execute("DELETE FROM cursors WHERE source = ?", (source,))
        else:
            self._conn.execute(
                "INSERT INTO cursors (source, cursor) VALUES (?, ?)"
                " ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor",
                (source, cursor),
            )

    def set_validators(self, source: str, validators: dict[str, Validator]) -> None:
        for url, validator in validators.items():
            self._conn.execute(
                "INSERT INTO validators (source, url, etag, last_modified) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source, url) DO UPDATE SET"
                " etag = excluded.etag, last_modified = excluded.last_modified",
                (source, url, validator.etag, validator.last_modified),
            )

    def add_shipment(self, shipment: Shipment) -> None:
        """Keep a shipment; a deployment re-sent with another time or environment updates
        it, and of unnamed deployments the earliest is kept."""
        if shipment.deployment_key:
            condition = ""
        else:
            condition = " WHERE excluded.deployed_at < shipments.deployed_at"
        self._conn.execute(
            "INSERT INTO shipments (source, change_key, deployment_key, environment, deployed_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, change_key, deployment_key) DO UPDATE"
            " SET environment = excluded.environment, deployed_at = excluded.deployed_at"
            + condition,
            shipment,
        )

    def shipments(self, source: str, change_key: str) -> list[Shipment]:
        """The shipments of a change, earliest first."""
        rows = self._conn.execute(
            "SELECT source, change_key, deployment_key, environment, deployed_at FROM shipments"
            " WHERE source = ? AND change_key = ? ORDER BY deployed_at, deployment_key",
            (source, change_key),
        )
        return [Shipment(*row) for row in rows]

    def shipped_by(self, source: str, deployment_key: str) -> list[str]:
        """The keys of the changes a deployment shipped."""
        rows = self._conn.execute(
            "SELECT change_key FROM shipments WHERE source = ? AND deployment_key = ?",
            (source, deployment_key),
        )
        return [key for (key,) in rows]

    def set_references(self, kind: str, source: str, key: str, references: Iterable[str]) -> None:
        """The work-item references of one event (a work item's own, a change's), replacing
        those it had."""
        self._conn.execute(
            "DELETE FROM work_references WHERE kind = ? AND source = ? AND key = ?",
            (kind, source, key),
        )
        self._conn.executemany(
            "INSERT OR IGNORE INTO work_references (reference, kind, source, key)"
            " VALUES (?, ?, ?, ?)",
            [(reference, kind, source, key) for reference in references],
        )

    def referencing(self, kind: str, reference: str) -> list[Event]:
        """The stored events of ``kind`` with the work-item reference ``reference``."""
        rows = self._conn.execute(
            "SELECT e.payload FROM work_references r JOIN events e"
            " ON e.kind = r.kind AND e.source = r.source AND e.key = r.key"
            " WHERE r.reference = ? AND r.kind = ? ORDER BY r.source, r.key",
            (reference, kind),
        )
        return [from_json(kind, payload) for (payload,) in rows]

    def deployment(self, source: str, key: str) -> Deployment | None:
        stored = self._get("deployment", source, key)
        return stored if isinstance(stored, Deployment) else None

    def get_change(self, source: str, key: str) -> Change | None:
        stored = self._get("change", source, key)
        return stored if isinstance(stored, Change) else None

    def get_kind(self, kind: str, source: str, key: str) -> Event | None:
        """The stored event of ``kind`` with this source and key, if any."""
        return self._get(kind, source, key)

    def _get(self, kind: str, source: str, key: str) -> Event | None:
        row = self._conn.execute(
            "SELECT payload FROM events WHERE kind = ? AND source = ? AND key = ?",
            (kind, source, key),
        ).fetchone()
        return from_json(kind, row[0]) if row else None

    def add_retractions(self, retracted: Iterable[Observation]) -> None:
        """Count counter and histogram contributions taken out by this transaction."""
        for observation in retracted:
            self._conn.execute(
                "INSERT INTO retractions (family, labels, value, times) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (family, labels, value) DO UPDATE SET times = times + 1",
                (observation.family, json.dumps(observation.labels), observation.value),
            )

    def events(self, kind: str, app: str, since: float = float("-inf")) -> list[Event]:
        """Stored events of ``kind`` for ``app`` at or after ``since``, oldest first
        (this transaction's own writes included)."""
        rows = self._conn.execute(
            "SELECT payload FROM events WHERE kind = ? AND app = ? AND time >= ?"
            " ORDER BY time, source, key",
            (kind, app, since),
        )
        return [from_json(kind, payload) for (payload,) in rows]

    def events_before(self, kind: str, app: str, before: float) -> Iterator[Event]:
        """Stored events of ``kind`` for ``app`` before ``before``, newest first, read as
        they are consumed."""
        rows = self._conn.execute(
            "SELECT payload FROM events WHERE kind = ? AND app = ? AND time < ?"
            " ORDER BY time DESC, source DESC, key DESC",
            (kind, app, before),
        )
        for (payload,) in rows:
            yield from_json(kind, payload)

    def changes(self) -> list[EventChange]:
        """Net changes: events whose stored text differs from before the transaction."""
        result: list[EventChange] = []
        for (kind, _, _), (before, after) in self._touched.items():
            if before is not None and before == to_json(after):
                continue
            result.append((from_json(kind, before) if before is not None else None, after))
        return result


class StoreError(Exception):
    """A store that cannot be opened or used; the message names the file (one line)."""


class StoreGone(sqlite3.OperationalError):
    """The store's file was deleted or replaced while open: a write would land in a file
    nobody can open again, so it is refused."""


class Store:
    """One SQLite file in WAL mode, shared by the poll threads and the ingest endpoint.

    ``max_size`` (bytes) bounds the file (``PRAGMA max_page_count``): a write beyond it fails
    as a full disk would, and commits nothing. Opening raises :class:`StoreError`, one line
    naming the file, when the file is not a store, cannot be opened or its directory made."""

    def __init__(self, path: str | Path, max_size: int | None = None) -> None:
        self.path = str(path)
        self.empty_file = False  # a 0-byte file was found: it starts as an empty store
        self.read_only = ""  # why the store takes no write ("" when it does)
        self._identity: tuple[int, int] | None = None
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self.empty_file = Path(self.path).is_file() and Path(self.path).stat().st_size == 0
            self._lock = threading.RLock()
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"{self.path}: cannot open the store: {_reason(error)}") from None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process (the WAL survives); only an OS crash
            # may lose the last transaction, which the next poll fetches again.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            if max_size is not None:
                (page_size,) = self._conn.execute("PRAGMA page_size").fetchone()
                self._conn.execute(f"PRAGMA max_page_count = {max(1, max_size // page_size)}")
            self._migrate()
            self._conn.execute("SELECT count(*) FROM changes").fetchone()
            self.read_only = self._refuses_writes()
        except sqlite3.Error as error:
            self._conn.close()
            raise StoreError(f"{self.path}: not a usable store: {_reason(error)}") from None
        if self.path != ":memory:":
            self._identity = _identity(self.path)

    def _refuses_writes(self) -> str:
        """Why the store takes no write ("" when it does): a write rolled back at once. A
        store busy with another writer is not read-only: its writes will wait their turn."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        except sqlite3.OperationalError as error:
            return str(error) if "readonly" in str(error) else ""
        finally:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        return ""

    def check_file(self) -> None:
        """Raise :class:`StoreGone` when the store's file was deleted or replaced while open."""
        if self._identity is not None and _identity(self.path) != self._identity:
            raise StoreGone(f"{self.path} was deleted or replaced while the exporter ran")

    def _number(self, sql: str) -> int:
        """The one number a query answers."""
        with self._lock:
            (value,) = self._conn.execute(sql).fetchone()
            return int(value)

    @property
    def schema_version(self) -> int:
        return self._number("PRAGMA user_version")

    def _migrate(self) -> None:
        with self._lock:
            current = self.schema_version
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"{self.path}: store schema version {current} is newer than this "
                    f"kpi-exporter supports ({len(MIGRATIONS)}); upgrade kpi-exporter"
                )
            for version in range(current, len(MIGRATIONS)):
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in statements(MIGRATIONS[version]):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {version + 1}")
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One atomic write: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
                self.check_file()
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk does that).
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def state(self, source: str) -> SourceState:
        """The cursor and validators a source resumes from."""
        with self._lock:
            row = self._conn.execute(
                "SELECT cursor FROM cursors WHERE source = ?", (source,)
            ).fetchone()
            validators = {
                url: Validator(etag, last_modified)
                for url, etag, last_modified in self._conn.execute(
                    "SELECT url, etag, last_modified FROM validators WHERE source = ?",
                    (source,),
                )
            }
        return SourceState(cursor=row[0] if row else None, validators=validators)

    def claim_shard(self, shard: str, owns: Callable[[str], bool]) -> list[str]:
        """Make the store hold one shard's apps (``shard`` names the assignment, like "1/3").

        When it held another assignment (the number of shards changed), the events of the
        apps it no longer owns are deleted (their new shard reads them from the sources) and
        every cursor and validator is dropped, so the sources read their whole horizon again
        and pick up the apps this shard gained; re-read events replace themselves (upsert), so
        nothing is counted twice. Returns the apps dropped."""
        if self.setting("shard") == shard:  # the usual case, all a read-only store allows
            return []
        with self.transaction() as tx:
            held = self.setting("shard")
            if held == shard:
                return []
            dropped: list[str] = []
            if held is not None or shard != "0/1":
                apps = [app for (app,) in self._conn.execute("SELECT DISTINCT app FROM events")]
                dropped = sorted(app for app in apps if not owns(app))
                self._conn.executemany("DELETE FROM events WHERE app = ?", [(a,) for a in dropped])
                self._conn.execute("DELETE FROM cursors")
                self._conn.execute("DELETE FROM validators")
            tx.set_setting("shard", shard)
            return dropped

    def iter_events(
        self,
        kinds: Iterable[str] | None = None,
        ordered: bool = False,
        unreadable: Callable[[Row, Exception], None] | None = None,
    ) -> Iterator[Event]:
        """Every stored event (of ``kinds``), read in batches to keep memory flat;
        ``ordered``: oldest ``time`` first (SQLite sorts, spilling to disk if needed).
        ``unreadable``: called with a row's natural key and the error for a row that cannot
        be decoded, which is then skipped (without it, the error is raised)."""
        order = " ORDER BY time, kind, source, key" if ordered else ""
        columns = "kind, source, key, payload"
        with self._lock:
            if kinds is None:
                cursor = self._conn.execute(f"SELECT {columns} FROM events{order}")
            else:
                wanted = sorted(set(kinds))
                marks = ",".join("?" * len(wanted))
                cursor = self._conn.execute(
                    f"SELECT {columns} FROM events WHERE kind IN ({marks}){order}", wanted
                )
            while batch := cursor.fetchmany(5000):
                for kind, source, key, payload in batch:
                    if unreadable is None:
                        yield from_json(kind, payload)
                        continue
                    try:
                        event = from_json(kind, payload)
                    except Exception as error:  # a poison row must not stop a start
                        unreadable(Row(kind, source, key), error)
                        continue
                    yield event

    def usable_events(
        self,
        skipped: Callable[[Row, str], None],
        kinds: Iterable[str] | None = None,
        ordered: bool = False,
        now: float | None = None,
    ) -> Iterator[Event]:
        """The stored events a start would count: a row that cannot be read or whose times
        are outside 1970 to a year after ``now`` (see :func:`~kpi_exporter.model.event_problem`)
        is left out and passed to ``skipped`` with the reason."""
        now = time.time() if now is None else now

        def unreadable(row: Row, error: Exception) -> None:
            skipped(row, f"cannot be read: {error}")

        for event in self.iter_events(kinds, ordered, unreadable):
            if (problem := event_problem(event, now)) is not None:
                skipped(Row(event.kind, event.source, event.key), problem)
            else:
                yield event

    def quarantine(self, rows: Iterable[tuple[Row, str]], now: float) -> int:
        """Move stored rows (natural key, reason) from the events to the quarantine table,
        as they are, in one transaction; the number moved."""
        moved = 0
        with self.transaction():
            for row, reason in rows:
                cursor = self._conn.execute(
                    "INSERT OR REPLACE INTO quarantine"
                    " (kind, source, key, app, time, payload, reason, quarantined_at)"
                    " SELECT kind, source, key, app, time, payload, ?, ? FROM events"
                    " WHERE kind = ? AND source = ? AND key = ?",
                    (reason, now, *row),
                )
                self._conn.execute(
                    "DELETE FROM events WHERE kind = ? AND source = ? AND key = ?", row
                )
                moved += cursor.rowcount
        return moved

    def quarantined(self) -> dict[str, int]:
        """How many rows the quarantine holds, by kind."""
        with self._lock:
            rows = self._conn.execute("SELECT kind, count(*) FROM quarantine GROUP BY kind")
            return {str(kind): int(count) for kind, count in rows}

    def setting(self, name: str) -> str | None:
        """A setting remembered with :meth:`Transaction.set_setting`; None if never set."""
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM settings WHERE name = ?", (name,)
            ).fetchone()
            return str(row[0]) if row else None

    def change_count(self) -> int:
        """The change counter: bumped by every write to the events or the retractions."""
        with self._lock:
            (count,) = self._conn.execute("SELECT count FROM changes").fetchone()
            return int(count)

    def snapshot(self) -> Snapshot | None:
        """The saved snapshot, if any, with the change counter as it stands now."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                (now,) = self._conn.execute("SELECT count FROM changes").fetchone()
                row = self._conn.execute(
                    "SELECT changes, fingerprint, state FROM snapshot"
                ).fetchone()
            finally:
                self._conn.execute("COMMIT")
        if row is None:
            return None
        return Snapshot(int(row[0]), str(row[1]), bytes(row[2]), int(now))

    def save_snapshot(self, changes: int, fingerprint: str, state: bytes) -> bool:
        """Save a snapshot of the sums at the change counter ``changes`` and empty the
        journal; False (nothing saved) when the store has changed since."""
        with self.transaction():
            if self._conn.execute("SELECT count FROM changes").fetchone()[0] != changes:
                return False
            self._conn.execute("DELETE FROM journal")
            self._conn.execute(
                "INSERT INTO snapshot (id, changes, fingerprint, state) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET changes = excluded.changes,"
                " fingerprint = excluded.fingerprint, state = excluded.state",
                (changes, fingerprint, state),
            )
            return True

    def journal_size(self) -> int:
        """How many writes to the events the journal holds (since the snapshot was saved)."""
        return self._number("SELECT count(*) FROM journal")

    def journal(self) -> Iterator[tuple[Event | None, Event | None]]:
        """Every write to the events since the snapshot was saved, oldest first, as (stored
        version before, after): (None, e) inserted, (e, None) deleted. Raises on a row that
        cannot be read (the caller replays every event instead)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, before, after FROM journal ORDER BY seq"
            ).fetchall()
        for seq, kind, before, after in rows:
            try:
                yield (
                    from_json(kind, before) if before is not None else None,
                    from_json(kind, after) if after is not None else None,
                )
            except Exception as error:
                raise ValueError(f"journal entry {seq}: {error}") from error

    def retractions(
        self, unreadable: Callable[[str, Exception], None] | None = None
    ) -> list[tuple[Observation, int]]:
        """Every contribution ever retracted, with how many times. ``unreadable``: called
        with the family and the error for a row that cannot be decoded, which is skipped."""
        result = []
        with self._lock:
            rows = self._conn.execute("SELECT family, labels, value, times FROM retractions")
            for family, labels, value, times in rows:
                try:
                    decoded = tuple(json.loads(labels))
                    if not all(isinstance(label, str) for label in decoded):
                        raise ValueError(f"labels {labels}: not strings")
                    result.append((Observation(family, decoded, float(value)), int(times)))
                except Exception as error:
                    if unreadable is None:
                        raise
                    unreadable(family, error)
        return result

    def push_seen(self, source: str, digest: str) -> bool:
        """Whether a signed push with this signature digest was accepted (and not forgotten)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM pushes WHERE source = ? AND digest = ?", (source, digest)
            ).fetchone()
            return row is not None

    def remember_push(self, source: str, digest: str, sent_at: float, forget_before: float) -> None:
        """Remember an accepted push; forget those sent before ``forget_before``."""
        with self.transaction():
            self._conn.execute("DELETE FROM pushes WHERE sent_at < ?", (forget_before,))
            self._conn.execute(
                "INSERT OR IGNORE INTO pushes (source, digest, sent_at) VALUES (?, ?, ?)",
                (source, digest, sent_at),
            )

    def count(self) -> int:
        return self._number("SELECT count(*) FROM events")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
