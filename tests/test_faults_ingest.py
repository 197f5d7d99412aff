"""Fault and abuse suite of the push endpoint (issue 19, items 7 and 12): replays within the
skew window, across a restart and at the same moment; hostile headers and JSON answered with
a 400 naming what is wrong; hypothesis fuzzing of the request parsing (always a 2xx or 4xx).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_exporter.sources.ingest import IngestError
from kpi_exporter.store import Store
from tests.faults_support import (
    SOURCE,
    TIMEOUT,
    Running,
    config_fixture,  # noqa: F401 (a fixture)
    deployment,
    make_ingest,
    post_raw,
    raw_request,
    running_fixture,  # noqa: F401 (a fixture)
    signature,
    signed,
    status_of,
    stored_deployments,
)


def test_a_replayed_push_is_409_and_stored_once(running):
    body = json.dumps(deployment("replayed")).encode()
    headers = signed(body)

    first = running.post(body, headers)
    replays = [running.post(body, headers) for _ in range(3)]

    assert first.status_code == 200
    assert [r.status_code for r in replays] == [409] * 3
    assert "replay" in replays[0].json()["error"]
    assert stored_deployments(running.store) == 1


def test_the_same_push_sent_20_times_at_once_is_accepted_once(running):
    body = json.dumps(deployment("racing")).encode()
    headers = signed(body)
    statuses: list[int] = []
    start = threading.Barrier(20, timeout=30)

    def push() -> None:
        start.wait()
        statuses.append(running.post(body, headers).status_code)

    threads = [threading.Thread(target=push, daemon=True) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [200] + [409] * 19
    assert stored_deployments(running.store) == 1


def test_a_replay_cannot_reopen_a_resolved_incident_even_after_a_restart(tmp_path, config):
    opened = json.dumps(
        {"type": "incident", "id": "inc-1", "app": "shop", "started_at": 1_763_640_000}
    ).encode()
    resolved = json.dumps(
        {
            "type": "incident",
            "id": "inc-1",
            "app": "shop",
            "started_at": 1_763_640_000,
            "resolved_at": 1_763_643_600,
        }
    ).encode()
    captured = signed(opened, str(int(time.time()) - 5))
    path = tmp_path / "kpi.db"

    store = Store(path)
    server = Running(store, config)
    try:
        assert server.post(opened, captured).status_code == 200
        assert server.post(resolved, signed(resolved)).status_code == 200
    finally:
        server.server.stop()
        store.close()

    store = Store(path)  # a restart: a new process reads the same store
    server = Running(store, config)
    try:
        replay = server.post(opened, captured)
        incidents = list(store.iter_events(["incident"]))
    finally:
        server.server.stop()
        store.close()

    assert replay.status_code == 409
    assert len(incidents) == 1
    assert getattr(incidents[0], "resolved_at", None) is not None


def test_a_refused_push_is_not_remembered_so_it_can_be_retried_as_it_is(running, monkeypatch):
    body = json.dumps(deployment("retry")).encode()
    headers = signed(body)

    def full_disk(*args: Any, **kwargs: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as patch:
        patch.setattr(running.pipeline, "record", full_disk)
        failed = running.post(body, headers)
    retried = running.post(body, headers)

    assert failed.status_code == 503
    assert "nothing was stored" in failed.json()["error"]
    assert retried.status_code == 200
    assert stored_deployments(running.store) == 1


def test_remembered_pushes_are_forgotten_after_twice_the_skew(store):
    store.remember_push(SOURCE, "a" * 64, 1000.0, forget_before=0.0)
    assert store.push_seen(SOURCE, "a" * 64)

    store.remember_push(SOURCE, "b" * 64, 2000.0, forget_before=1500.0)

    assert not store.push_seen(SOURCE, "a" * 64)
    assert store.push_seen(SOURCE, "b" * 64)


def test_a_non_ascii_signature_header_is_400(running):
    body = json.dumps(deployment("accent")).encode()
    timestamp = str(int(time.time()))
    answer = post_raw(
        running.port,
        body,
        {"X-KPI-Timestamp": timestamp.encode(), "X-KPI-Signature": "sha256=é".encode("latin-1")},
    )

    assert status_of(answer) == 400
    assert b"X-KPI-Signature: expected ASCII" in answer
    assert running.errors == []
    assert stored_deployments(running.store) == 0


def test_a_non_ascii_timestamp_header_is_400(running):
    body = json.dumps(deployment("digits")).encode()
    # Arabic-Indic digits: float() would read them as a number
    timestamp = "".join(chr(0x0660 + int(d)) for d in str(int(time.time())))
    answer = post_raw(
        running.port,
        body,
        {
            "X-KPI-Timestamp": timestamp.encode("utf-8"),
            "X-KPI-Signature": signature(body, timestamp).encode(),
        },
    )

    assert status_of(answer) == 400
    assert b"X-KPI-Timestamp: expected ASCII" in answer
    assert running.errors == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32 levels"),
        (b'{"events": ' + b"[" * 40 + b"]" * 40 + b"}", "nested deeper than 32 levels"),
        (b'{"type": "deployment", "id": ' + b"7" * 5000 + b"}", "number out of range"),
        (b'{"type": "deployment", "id": "x", "size": NaN}', "number out of range"),
        (b'{"type": "deployment", "id": "x", "finished_at": 1e999}', "number out of range"),
        (b'{"id": "\xff"}', "not UTF-8"),
    ],
    ids=["nested-100000", "nested-40", "5000-digits", "nan", "1e999", "latin-1"],
)
def test_hostile_json_is_400_with_a_clear_message(running, body, message):
    response = running.post(body, signed(body))

    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert "Content-Length" not in response.json()["error"]
    assert running.errors == []
    assert stored_deployments(running.store) == 0


@pytest.mark.parametrize("length", ["+5", "1_0", "\u0665", "-1", "0x10", "5 5"])
def test_a_malformed_content_length_is_400_naming_it(running, length):
    answer = raw_request(
        running.port,
        b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: "
        + length.encode()
        + b"\r\n\r\n",
    )

    assert status_of(answer) == 400
    assert b"Content-Length: expected a non-negative integer" in answer
    assert running.errors == []


def test_a_5000_digit_content_length_is_413_naming_it(running):
    answer = raw_request(
        running.port,
        b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
    )

    assert status_of(answer) == 413
    assert b"Content-Length: 5000 digits" in answer
    assert running.errors == []


def test_a_body_shorter_than_content_length_is_400_and_stores_nothing(running):
    body = json.dumps(deployment("short")).encode()
    headers = signed(body)
    with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as conn:
        head = [b"POST /api/v1/events HTTP/1.1", b"Host: x", b"Content-Length: 9999"]
        head += [f"{name}: {value}".encode() for name, value in headers.items()]
        conn.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):  # the server closes after answering
            answer += chunk

    assert status_of(answer) == 400
    assert b"shorter than Content-Length" in answer
    assert stored_deployments(running.store) == 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


TIMES = st.one_of(
    st.integers(0, 4_000_000_000),
    st.floats(0, 4e9, allow_nan=False),
    st.sampled_from(["2025-11-20T10:00:00Z", "2025-11-20", "yesterday", ""]),
)


EVENT = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["deployment", "incident", "change", "defect", "nope"]),
        "id": st.text(max_size=8),
    },
    optional={
        "app": st.text(max_size=8),
        "repo": st.sampled_from(["acme/shop", "acme/other"]),
        "finished_at": TIMES,
        "started_at": TIMES,
        "resolved_at": TIMES,
        "status": st.sampled_from(["success", "failure", 1]),
        "changes": st.lists(st.fixed_dictionaries({"id": st.text(max_size=4)}), max_size=2),
        "extra": JSON,
    },
)


BODY = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda value: json.dumps(value).encode()),
    EVENT.map(lambda event: json.dumps(event).encode()),
    st.lists(EVENT, max_size=3).map(lambda events: json.dumps({"events": events}).encode()),
)


HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=BODY, timestamp=st.none() | HEADER_TEXT, forged=st.none() | HEADER_TEXT)
def test_fuzzed_pushes_always_get_a_2xx_or_4xx_answer(running, body, timestamp, forged):
    """Signed when ``forged`` is None, else with that text as the signature header."""
    headers = signed(body) if forged is None else {"X-KPI-Signature": forged}
    if timestamp is not None:
        headers["X-KPI-Timestamp"] = timestamp
    encoded = {name: value.encode("latin-1") for name, value in headers.items()}

    answer = post_raw(running.port, body, encoded)

    assert 200 <= status_of(answer) < 500, answer
    assert running.errors == []


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=BODY)
def test_fuzzed_bodies_raise_only_ingest_errors(config, body):
    ingest = make_ingest(config)
    try:
        ingest.events(body)
    except IngestError as error:
        assert 400 <= error.status < 500
