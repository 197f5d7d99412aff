"""Fault suite of the store and of what it holds (issue 19, items 1, 5, 6 and 13): poisoned
events refused with the field named, poisoned stored rows quarantined at a start (and `explain`
still answering), sums never half-updated, a full, deleted, corrupt, truncated or unopenable
store, and events files rotated under the source. Every case counts the events sent against
those stored."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from kpi_exporter.config import Config
from kpi_exporter.kpis import Aggregate
from kpi_exporter.model import Deployment, Incident, to_json
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.scheduler import Scheduler
from kpi_exporter.sources import Poll
from kpi_exporter.sources.events_file import EventsFiles, EventsFileSource
from kpi_exporter.store import SourceState, Store
from tests.faults_support import (
    SECRET,
    SOURCE,
    TIMEOUT,
    config_fixture,  # noqa: F401 (a fixture)
    deployment,
    running_fixture,  # noqa: F401 (a fixture)
    signed,
    stored_deployments,
)
from tests.process import Exporter
from tests.support import value

NOW = 1_790_000_000.0  # 2026-09-21: the fixed "now" of the tests that pass a clock
STARTED = 1_763_640_000  # 2025-11-20T12:00:00Z


def push(url: str, payload: Any) -> requests.Response:
    body = json.dumps(payload).encode()
    return requests.post(f"{url}/api/v1/events", data=body, headers=signed(body), timeout=TIMEOUT)


def exporter_config(tmp_path: Path, store: str = "kpi.db", extra: str = "") -> Path:
    path = tmp_path / "kpi.yml"
    path.write_text(
        f"""
store:
  path: {store}
{extra}
apps:
  shop:
    team: payments
sources:
  - type: ingest
    name: {SOURCE}
    secret_env: KPI_FAULTS_SECRET
"""
    )
    return path


def exporter(tmp_path: Path, **options: str) -> Exporter:
    return Exporter(
        exporter_config(tmp_path, **options), tmp_path, env={"KPI_FAULTS_SECRET": SECRET}
    )


def command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kpi_exporter.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KPI_FAULTS_SECRET": SECRET},
    )


# --- 1. one poisoned event ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "field", "problem"),
    [
        (  # the event: 1e308 overflowed the histogram sums after it was committed
            {"type": "incident", "id": "x", "app": "shop", "started_at": 0, "resolved_at": 1e308},
            "resolved_at",
            "more than a year ahead",
        ),
        (
            {"type": "incident", "id": "x", "app": "shop", "started_at": -1},
            "started_at",
            "before 1970",
        ),
        (  # milliseconds sent as seconds
            deployment("x", finished_at=1_763_640_000_000),
            "finished_at",
            "more than a year ahead",
        ),
        (
            deployment("x", finished_at="9999-12-31T00:00:00Z"),
            "finished_at",
            "more than a year ahead",
        ),
        (
            deployment("x", changes=[{"id": "c", "first_commit_at": 0, "merged_at": 1e300}]),
            "changes.0.merged_at",
            "more than a year ahead",
        ),
    ],
)
def test_a_time_outside_1970_to_a_year_ahead_is_400_naming_the_field(
    running, event, field, problem
):
    refused = push(running.url(""), event)
    accepted = push(running.url(""), deployment("good"))

    assert refused.status_code == 400
    assert f"field '{field}'" in refused.json()["error"]
    assert problem in refused.json()["error"]
    # 2 pushes sent, 1 accepted, 1 event stored; no unhandled error, probes answer.
    assert accepted.json() == {"accepted": 1, "changed": 2}  # the deployment, its outcome
    assert stored_deployments(running.store) == 1
    assert sum(1 for _ in running.store.iter_events(["incident"])) == 0
    assert running.errors == []
    assert running.get("/readyz").status_code == 200


def test_a_polled_event_out_of_bounds_is_skipped_counted_and_the_rest_of_the_poll_stored(store):
    pipeline = Pipeline(store, clock=lambda: NOW)
    pipeline.health.register("ci", "events_file")
    good = Deployment("ci", "good", "shop", "payments", "production", NOW - 3600)
    negative = Deployment("ci", "negative", "shop", "payments", "production", -5.0)
    overflow = Incident("ci", "inc", "shop", "payments", "critical", NOW - 7200, resolved_at=1e308)
    not_a_number = Incident("ci", "nan", "shop", "payments", "critical", float("nan"))

    changed = pipeline.record(
        "ci", Poll(events=[good, negative, overflow, not_a_number], cursor=None)
    )

    # 4 sent, 1 stored (the good one, its outcome is derived), 3 rejected and counted.
    assert [e.key for e in store.iter_events(["deployment", "incident"])] == ["good"]
    assert changed == 2  # the deployment and its derived outcome
    assert pipeline.health.sources["ci"].rejected == {"invalid": 3}


def test_an_event_the_sums_cannot_take_changes_no_sum_at_all():
    aggregate = Aggregate(clock=lambda: NOW)
    aggregate.add(Deployment("ci", "d1", "shop", "payments", "production", NOW - 60))
    before = b"".join(
        part if isinstance(part, bytes) else part.encode() for part in aggregate.exposition(False)
    )
    poisoned = Incident("ci", "inc", "shop", "payments", "critical", NOW - 60, resolved_at=1e308)

    with pytest.raises(ValueError, match="kpi_incident_restore_seconds is too large a number"):
        aggregate.add(poisoned)

    aggregate.invalidate()  # render every series again: nothing half-added may hide
    after = b"".join(
        part if isinstance(part, bytes) else part.encode() for part in aggregate.exposition(False)
    )
    assert after == before
    assert aggregate.stored == {("ci", "deployment"): 1}


def poison(path: Path) -> None:
    """A store with one good deployment and three rows no start can use, written as an older
    version (or a hand edit) could have: an incident resolved at 1e308, a deployment before
    1970 and a row that is not JSON."""
    store = Store(path)
    with store.transaction() as tx:
        tx.upsert(Deployment(SOURCE, "good", "shop", "payments", "production", STARTED))
    store.close()
    overflow = Incident(SOURCE, "x", "shop", "payments", "critical", 0.0, resolved_at=1e308)
    negative = Deployment(SOURCE, "old", "shop", "payments", "production", -5.0)
    insert = "INSERT INTO events (kind, source, key, app, time, payload) VALUES (?,?,?,?,?,?)"
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(insert, ("incident", SOURCE, "x", "shop", 0.0, to_json(overflow)))
        connection.execute(insert, ("deployment", SOURCE, "old", "shop", -5.0, to_json(negative)))
        connection.execute(insert, ("incident", SOURCE, "garbled", "shop", 0.0, "{not json"))
    connection.close()


def test_explain_survives_poisoned_rows_and_names_them(tmp_path):
    poison(tmp_path / "kpi.db")
    exporter_config(tmp_path)

    result = command(tmp_path, "explain", "--config", "kpi.yml", "--app", "shop")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"left out the stored incident {SOURCE}/x: field 'resolved_at'" in result.stderr
    assert f"left out the stored deployment {SOURCE}/old: field 'finished_at'" in result.stderr
    assert f"left out the stored incident {SOURCE}/garbled" in result.stderr
    assert "good" in result.stdout


def test_backfill_survives_poisoned_rows_and_names_them(tmp_path):
    poison(tmp_path / "kpi.db")
    exporter_config(tmp_path)

    result = command(
        tmp_path, "backfill", "--config", "kpi.yml", "--out", "out",
        "--start", "2025-11-19", "--end", "2025-11-21", "--step", "1d",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("warning: left out the stored") == 3
    # The good deployment (2025-11-20T12:00Z) counts from the step of 2025-11-21T00:00Z
    # (1,763,596,800 = 2025-11-20T00:00Z, + 86,400), 0 the step before.
    text = (tmp_path / "out" / "kpi-backfill.om").read_text()
    series = 'kpi_deployments_total{app="shop",environment="production",job="kpi-exporter",'
    assert f'{series}team="payments"}} 0.0 1763596800\n' in text
    assert f'{series}team="payments"}} 1.0 1763683200\n' in text


def test_a_start_quarantines_poisoned_rows_counts_them_and_keeps_serving(tmp_path):
    poison(tmp_path / "kpi.db")

    with exporter(tmp_path) as running:
        running.wait_ready()
        text = running.metrics()
        accepted = push(running.url, deployment("after", finished_at=STARTED + 60))
        after = running.metrics()
    log = (tmp_path / "exporter.log").read_text()

    # 4 rows stored, 3 quarantined (logged each, counted by kind), 1 counted; a push after
    # the start is stored and counted too.
    assert log.count("quarantined the stored") == 3
    assert f"quarantined the stored incident {SOURCE}/x: field 'resolved_at'" in log
    assert value(text, "kpi_exporter_events_quarantined", kind="incident") == 2
    assert value(text, "kpi_exporter_events_quarantined", kind="deployment") == 1
    assert value(text, "kpi_deployments_total", app="shop") == 1
    assert accepted.status_code == 200
    assert value(after, "kpi_deployments_total", app="shop") == 2
    store = Store(tmp_path / "kpi.db")
    assert store.quarantined() == {"incident": 2, "deployment": 1}
    assert sorted(e.key for e in store.iter_events(["deployment"])) == ["after", "good"]
    store.close()

    # The next start reads only good rows: nothing quarantined again, the gauge stays.
    with exporter(tmp_path) as running:
        running.wait_ready()
        text = running.metrics()
    log = (tmp_path / "exporter.log").read_text()
    assert log.count("quarantined the stored") == 3
    assert value(text, "kpi_exporter_events_quarantined") == 3
    assert value(text, "kpi_deployments_total", app="shop") == 2


# --- 5. storage faults ---------------------------------------------------------------------


def batch(first: int, count: int) -> dict[str, Any]:
    """``count`` deployments with 2 KB of version text each, so that the store fills."""
    return {
        "events": [
            deployment(f"d{index}", finished_at=STARTED + index, version="v" * 2000)
            for index in range(first, first + count)
        ]
    }


@pytest.mark.timeout(180)
def test_a_full_store_answers_503_not_ready_counted_and_loses_nothing_acknowledged(tmp_path):
    accepted = 0
    refused: list[requests.Response] = []
    with exporter(tmp_path, extra="  max_bytes: 262144") as running:
        running.wait_ready()
        for first in range(0, 2000, 20):
            response = push(running.url, batch(first, 20))
            if response.status_code == 200:
                accepted += response.json()["accepted"]
            else:
                refused.append(response)
            if len(refused) == 3:
                break
        ready = running.get("/readyz")
        text = running.metrics()
    # 256 KiB holds some batches of 20 x 2 KB, never all 100: the rest is refused, 503 each.
    assert 0 < accepted < 2000 and accepted % 20 == 0
    assert [r.status_code for r in refused] == [503] * 3
    assert "the store refused the write (full), nothing was stored" in refused[0].json()["error"]
    assert ready.status_code == 503
    assert ready.text.startswith("not ready: the store cannot be written (full)")
    assert value(text, "kpi_exporter_store_errors_total", reason="full") == 3
    # Every acknowledged event is in the store, none of the refused ones.
    store = Store(tmp_path / "kpi.db")
    assert stored_deployments(store) == accepted
    store.close()


def test_a_poll_that_does_not_fit_in_a_full_store_commits_nothing_and_the_source_is_down(
    tmp_path, config
):
    store = Store(tmp_path / "kpi.db", max_size=256 * 1024)
    pipeline = Pipeline(store, clock=lambda: NOW)
    source = events_files(tmp_path, config)
    pipeline.health.register(source.name, "events_file")
    scheduler = Scheduler(pipeline, [source])
    path = tmp_path / "events.jsonl"
    written, results = 0, list[bool]()
    while written < 2000 and results[-1:] != [False]:
        with path.open("a") as file:  # 20 lines of 2 KB per poll
            for index in range(written, written + 20):
                event = deployment(f"d{index}", finished_at=STARTED + index, version="v" * 2000)
                file.write(json.dumps(event) + "\n")
        written += 20
        results.append(scheduler.poll_once(source))
    cursor = store.state(source.name).cursor
    stored = stored_deployments(store)
    store.close()

    # Every poll before the last fitted (20 events each); the last was refused as a whole:
    # its 20 events are not stored and the cursor stayed where the last good poll left it,
    # so the next poll after space is freed reads them again.
    assert results[-1] is False and all(results[:-1]) and len(results) > 1
    assert stored == 20 * (len(results) - 1)
    assert json.loads(cursor or "{}")[str(path)]["line"] == stored
    health = pipeline.health.sources[source.name]
    assert not health.up and "database or disk is full" in health.last_error
    assert pipeline.health.store_errors == {"full": 1}
    assert pipeline.health.store_problem.startswith("the store cannot be written (full)")
    assert not pipeline.health.ready()


def test_a_store_deleted_while_running_refuses_pushes_with_503_and_reports_not_ready(tmp_path):
    with exporter(tmp_path) as running:
        running.wait_ready()
        before = [push(running.url, deployment(f"d{i}")) for i in range(3)]
        for name in ("kpi.db", "kpi.db-wal", "kpi.db-shm"):  # rm kpi.db*
            (tmp_path / name).unlink(missing_ok=True)
        after = [push(running.url, deployment(f"e{i}")) for i in range(2)]
        ready = running.get("/readyz")
        text = running.metrics()
        assert running.get("/healthz").status_code == 200
    # 5 sent: 3 acknowledged before the deletion; after it, 2 refused (never a 200 for events
    # written into a file nobody can open again).
    assert [r.status_code for r in before] == [200] * 3
    assert [r.status_code for r in after] == [503] * 2
    assert "(gone)" in after[0].json()["error"]
    assert "deleted or replaced" in after[0].json()["error"]
    assert ready.status_code == 503 and "(gone)" in ready.text
    assert value(text, "kpi_exporter_store_errors_total", reason="gone") == 2


def unprivileged(running: Exporter) -> Exporter:
    """The exporter without capabilities when the tests run as root: root writes any file
    through CAP_DAC_OVERRIDE, and without it file modes hold. It stays root, not nobody, so
    that it still reads a checkout in a directory only root may enter (``mktemp -d``)."""
    if os.geteuid() == 0:
        drop = ["--bounding-set=-all", "--inh-caps=-all", "--securebits=+noroot,+noroot_locked"]
        running.args = ["setpriv", *drop, *running.args]
    return running


def test_a_read_only_store_is_served_but_pushes_get_503_and_it_is_not_ready(tmp_path):
    path = tmp_path / "kpi.db"
    store = Store(path)
    Pipeline(store)  # the store as an exporter leaves it
    with store.transaction() as tx:
        tx.upsert(Deployment(SOURCE, "d0", "shop", "payments", "production", STARTED))
    store.close()
    path.chmod(0o444)

    with unprivileged(exporter(tmp_path)) as running:
        text = running.metrics()
        ready = running.get("/readyz")
        refused = push(running.url, deployment("d1"))
        after = running.metrics()
    log = running.log.read_text()

    # Served from what it holds (1 deployment); 1 push sent, refused, nothing stored.
    assert value(text, "kpi_deployments_total", app="shop") == 1
    assert ready.status_code == 503 and "(read-only)" in ready.text
    assert refused.status_code == 503
    assert "(read-only), nothing was stored" in refused.json()["error"]
    assert value(after, "kpi_exporter_store_errors_total", reason="read-only") == 2  # start, push
    assert "takes no write (read-only)" in log
    assert value(after, "kpi_deployments_total", app="shop") == 1


# --- 13. start-up errors -------------------------------------------------------------------


def corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a SQLite database\n" * 400)


def truncated(path: Path) -> None:
    store = Store(path)
    with store.transaction() as tx:
        for index in range(2000):
            tx.upsert(Deployment(SOURCE, f"d{index}", "shop", "payments", "production", STARTED))
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def a_directory(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(
    ("spoil", "store", "problem"),
    [
        (corrupt, "kpi.db", "not a usable store: file is not a database"),
        (truncated, "kpi.db", "not a usable store: database disk image is malformed"),
        (a_directory, "kpi.db", "cannot open the store: unable to open database file"),
        (lambda path: None, "kpi.yml/kpi.db", "cannot open the store: File exists"),
    ],
    ids=["corrupt", "truncated", "a-directory", "under-a-file"],
)
def test_an_unusable_store_is_one_line_naming_the_file(tmp_path, spoil, store, problem):
    spoil(tmp_path / store)
    exporter_config(tmp_path, store=store)

    result = command(tmp_path, "run", "--config", "kpi.yml", "--web.listen-address", "127.0.0.1:0")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {store}: {problem} (restore a backup, or move the file away to start empty)"
    ]


def test_a_store_truncated_to_0_bytes_starts_empty_with_a_warning(tmp_path):
    (tmp_path / "kpi.db").write_bytes(b"")

    with exporter(tmp_path) as running:
        running.wait_ready()
        accepted = push(running.url, deployment("d1"))
        text = running.metrics()

    assert "the store kpi.db is an empty file (0 bytes): starting empty" in running.log.read_text()
    assert accepted.status_code == 200
    assert value(text, "kpi_deployments_total", app="shop") == 1


# --- 6. rotated events files ---------------------------------------------------------------


def lines(path: Path, first: int, count: int) -> None:
    with path.open("a") as file:
        for index in range(first, first + count):
            event = deployment(f"d{index}", finished_at=STARTED + index)
            file.write(json.dumps(event) + "\n")


def events_files(tmp_path: Path, config: Config) -> EventsFiles:
    source = EventsFileSource(type="events_file", name="ci", paths=["events.jsonl"])
    return EventsFiles(source, tmp_path, Ownership(config))


def keys(poll: Poll) -> list[str]:
    return [event.key for event in poll.events]


def test_a_rotated_events_file_is_read_to_its_end_then_the_new_one_from_0(tmp_path, config):
    source = events_files(tmp_path, config)
    path = tmp_path / "events.jsonl"
    lines(path, 0, 5)
    first = source.poll(SourceState())
    lines(path, 5, 5)  # appended after the poll: the tail the rotation used to lose
    path.rename(tmp_path / "events.jsonl.1")  # mv events.jsonl events.jsonl.1
    lines(path, 10, 3)  # the new file
    second = source.poll(SourceState(cursor=first.cursor))
    lines(path, 13, 1)
    third = source.poll(SourceState(cursor=second.cursor))
    fourth = source.poll(SourceState(cursor=third.cursor))

    # 14 lines written, 14 events read, each once.
    assert keys(first) == [f"d{i}" for i in range(5)]
    assert keys(second) == [f"d{i}" for i in range(5, 13)]
    assert keys(third) == ["d13"]
    assert keys(fourth) == []
    assert first.problems == second.problems == third.problems == []


def test_a_bad_line_in_a_rotated_tail_names_the_rotated_file_and_its_line(tmp_path, config):
    source = events_files(tmp_path, config)
    path = tmp_path / "events.jsonl"
    lines(path, 0, 2)
    first = source.poll(SourceState())
    with path.open("a") as file:
        file.write('{"type": "deployment", "id": "a", "id": "b"}\n')
    path.rename(tmp_path / "events.jsonl.1")
    lines(path, 2, 1)

    second = source.poll(SourceState(cursor=first.cursor))

    assert keys(second) == ["d2"]
    assert second.problems == [f"{tmp_path / 'events.jsonl.1'}:3: duplicate key 'id'"]


def test_a_rewritten_file_is_read_again_from_its_start(tmp_path, config):
    source = events_files(tmp_path, config)
    path = tmp_path / "events.jsonl"
    lines(path, 0, 3)
    first = source.poll(SourceState())
    path.write_text("")  # truncated in place (same inode), then written again
    lines(path, 10, 4)

    second = source.poll(SourceState(cursor=first.cursor))

    assert keys(second) == ["d10", "d11", "d12", "d13"]
