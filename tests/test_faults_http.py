"""Fault and abuse suite of the HTTP side: the server, the ingest endpoint, basic auth.

Each case sends what an attacker or a clumsy client would, against a real server on
127.0.0.1 and a free port, and checks the answer and what was stored: events sent vs
accepted vs stored. Every wait is bounded; every server is stopped by its fixture.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import http.client
import json
import logging
import socket
import sqlite3
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_exporter.config import Config, ConfigError, IngestSource, parse_config
from kpi_exporter.connections import Limits
from kpi_exporter.health import Health
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer, accepts_gzip
from kpi_exporter.sources.ingest import Ingest, IngestError
from kpi_exporter.store import Store
from kpi_exporter.webconfig import BasicAuth, load_web_config
from tests.process import Exporter
from tests.test_webconfig import certificate, tls_context  # noqa: F401 (a fixture)

TIMEOUT = 10.0
SECRET = "hmac-fault-suite-secret"
SOURCE = "ci-push"
MAX_SKEW = 300
PASSWORD = "correct horse"
CONFIG = f"""
apps:
  shop:
    team: payments
    repos: [acme/shop]
sources:
  - type: ingest
    name: {SOURCE}
    secret_env: KPI_FAULTS_SECRET
    max_skew: {MAX_SKEW}s
    max_body_bytes: 1048576
"""


# --- helpers ------------------------------------------------------------------------------


def deployment(id_: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "deployment",
        "id": id_,
        "app": "shop",
        "finished_at": "2025-11-20T10:00:00Z",
        **fields,
    }


def signature(body: bytes, timestamp: str) -> str:
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-KPI-Timestamp": timestamp,
        "X-KPI-Signature": signature(body, timestamp),
    }


def stored_deployments(store: Store) -> int:
    return sum(1 for _ in store.iter_events(["deployment"]))


def raw_request(port: int, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send bytes as they are and read the whole answer (the server closes after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
    return b"".join(chunks)


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def post_raw(port: int, body: bytes, headers: dict[str, bytes]) -> bytes:
    lines = [b"POST /api/v1/events HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return raw_request(port, b"\r\n".join(lines) + b"\r\n\r\n" + body)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks of 1/100 s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("KPI_FAULTS_SECRET", SECRET)
    return parse_config(CONFIG, "kpi.yml")


def make_ingest(config: Config) -> Ingest:
    source = config.sources[0]
    assert isinstance(source, IngestSource)
    return Ingest(source, SECRET, Ownership(config))


def make_pipeline(store: Store, config: Config) -> Pipeline:
    health = Health()
    health.register(SOURCE, "ingest", polled=True)
    return Pipeline(store, config.kpi_settings(), config.link_settings(), health)


class Running:
    """A started server and what it was built from; ``errors`` are unhandled errors."""

    def __init__(self, store: Store, config: Config, limits: Limits | None = None) -> None:
        self.store = store
        self.pipeline = make_pipeline(store, config)
        self.server = ExporterServer(
            ("127.0.0.1", 0), self.pipeline, make_ingest(config), limits=limits
        )
        self.errors: list[BaseException | None] = []
        handle_error = self.server.httpd.handle_error

        def record(request: Any, client_address: Any) -> None:
            self.errors.append(sys.exc_info()[1])
            handle_error(request, client_address)

        self.server.httpd.handle_error = record  # type: ignore[method-assign]
        self.server.start()
        self.port = self.server.port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def post(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(
            self.url("/api/v1/events"), data=body, headers=headers, timeout=TIMEOUT
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url(path), timeout=TIMEOUT, **kwargs)


@pytest.fixture
def running(store: Store, config: Config) -> Iterator[Running]:
    server = Running(store, config)
    yield server
    server.server.stop()


def probes_answer(server: Running, within: float = 3.0) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        started = time.monotonic()
        response = requests.get(server.url(path), timeout=within)
        assert response.status_code == 200, path
        assert time.monotonic() - started < within, path


# --- item 2: the listen backlog -----------------------------------------------------------


def push_at_once(port: int, bodies: list[bytes]) -> tuple[list[int], list[str]]:
    """Send every body on its own connection, all released at the same moment."""
    statuses: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(bodies), timeout=30)

    def push(body: bytes) -> None:
        headers = signed(body)
        try:
            start.wait()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/api/v1/events", body, headers)
            status = conn.getresponse().status
            conn.close()
            with lock:
                statuses.append(status)
        except OSError as error:
            with lock:
                failures.append(type(error).__name__)

    threads = [threading.Thread(target=push, args=(b,), daemon=True) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return statuses, failures


def test_200_concurrent_pushes_are_all_answered_none_reset_each_stored_once(running):
    sent = 200
    bodies = [json.dumps(deployment(f"burst-{i}")).encode() for i in range(sent)]

    statuses, failures = push_at_once(running.port, bodies)

    stored = stored_deployments(running.store)
    print(f"sent {sent}, answered {len(statuses)}, failed {len(failures)}, stored {stored}")
    assert failures == []  # no reset, no refused connection
    assert statuses == [200] * sent
    assert stored_deployments(running.store) == sent
    assert running.errors == []


def test_scrapes_answer_while_pushes_arrive(running):
    results: list[int] = []
    bodies = [json.dumps(deployment(f"load-{i}")).encode() for i in range(40)]

    def scrape() -> None:
        for _ in range(5):
            results.append(running.get("/metrics").status_code)

    scrapers = [threading.Thread(target=scrape, daemon=True) for _ in range(60)]
    for thread in scrapers:
        thread.start()
    statuses, failures = push_at_once(running.port, bodies)
    for thread in scrapers:
        thread.join(60)

    assert results == [200] * 300  # 60 scrapers, 5 scrapes each
    assert (statuses, failures) == ([200] * 40, [])
    assert stored_deployments(running.store) == 40


# --- item 3: bounded connections, slow-loris, idle connections ----------------------------


@pytest.fixture
def limited(store: Store, config: Config) -> Iterator[Running]:
    server = Running(store, config, Limits(max_connections=16, read_timeout=1, idle_timeout=2))
    yield server
    server.server.stop()


def open_idle(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(count)]


def test_idle_connections_beyond_the_limit_never_stop_probes_or_scrapes(limited):
    idle = open_idle(limited.port, 64)  # four times the limit, none sends a byte
    try:
        time.sleep(0.2)
        probes_answer(limited)
        assert len(limited.server.httpd.connections) <= 16
        assert limited.server.httpd.connections.evicted >= 64 - 16
    finally:
        for conn in idle:
            conn.close()


def test_a_slow_loris_is_cut_at_the_read_timeout_and_probes_answer_meanwhile(limited):
    conn = socket.create_connection(("127.0.0.1", limited.port), timeout=TIMEOUT)
    conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    closed = False
    try:
        while time.monotonic() - started < 5:
            probes_answer(limited)
            try:
                conn.sendall(b"X-Slow: 1\r\n")  # one header line every 0.3 s, never the end
            except OSError:
                closed = True
                break
            time.sleep(0.3)
        else:
            conn.settimeout(0.5)
            closed = conn.recv(1024) is not None
    finally:
        conn.close()

    assert closed
    assert 0.9 < time.monotonic() - started < 4.5  # read_timeout 1 s, checked twice a second


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(limited):
    conn = http.client.HTTPConnection("127.0.0.1", limited.port, timeout=TIMEOUT)
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() == b"ok\n"
    sock = conn.sock
    assert sock is not None
    started = time.monotonic()

    sock.settimeout(5)
    assert sock.recv(1) == b""  # the server closed it

    assert 1.9 < time.monotonic() - started < 4.5  # idle_timeout 2 s
    conn.close()


def test_when_every_connection_is_busy_reading_a_new_one_gets_503_then_a_slow_one_makes_room(
    store, config
):
    server = Running(store, config, Limits(max_connections=2, read_timeout=30))
    readers = open_idle(server.port, 2)
    try:
        for conn in readers:
            conn.sendall(b"GET /metrics HTTP/1.1\r\n")  # reading, not finished
        time.sleep(0.3)

        refused = raw_request(server.port, b"GET /healthz HTTP/1.1\r\n\r\n")
        time.sleep(2.0)  # now both are slow readers: a new connection takes one's place
        answered = server.get("/healthz")
    finally:
        for conn in readers:
            conn.close()
        server.server.stop()

    assert status_of(refused) == 503
    assert b"too many connections" in refused
    assert answered.status_code == 200
    assert server.server.httpd.connections.refused == 1


@pytest.fixture
def tls_limited(
    certificate: Path,  # noqa: F811 (the fixture)
    store: Store,
    config: Config,
) -> Iterator[ExporterServer]:
    server = ExporterServer(
        ("127.0.0.1", 0),
        make_pipeline(store, config),
        tls=tls_context(certificate),
        limits=Limits(max_connections=8, read_timeout=1, idle_timeout=1),
    )
    server.start()
    yield server
    server.stop()


def test_over_tls_idle_and_silent_connections_are_cut_and_probes_answer(
    tls_limited,
    certificate,  # noqa: F811 (the fixture)
):
    client = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
    port = tls_limited.port
    silent = open_idle(port, 20)  # no handshake at all, more than the limit
    keep_alive = client.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT), server_hostname="127.0.0.1"
    )
    try:
        keep_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"\r\n\r\nok\n"):
            answer += keep_alive.recv(1024)
        assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        for path in ("/healthz", "/readyz", "/metrics"):
            response = requests.get(
                f"https://127.0.0.1:{port}{path}",
                verify=str(certificate / "cert.pem"),
                timeout=3,
            )
            assert response.status_code == 200, path
        keep_alive.settimeout(5)
        try:
            closed = keep_alive.recv(1024) == b""
        except (ssl.SSLError, ConnectionError):
            closed = True
        idle_for = time.monotonic() - started
    finally:
        keep_alive.close()
        for conn in silent:
            conn.close()

    assert closed
    assert idle_for < 4.5  # idle_timeout 1 s


def test_limits_refuse_nonsense_values():
    for bad in ({"max_connections": 0}, {"read_timeout": float("nan")}, {"idle_timeout": -1}):
        with pytest.raises(ValueError, match="--web"):
            Limits(**bad)


def test_idle_connections_up_to_the_file_limit_keep_probes_answering_and_the_loop_calm(
    tmp_path, monkeypatch
):
    """The real command under an open-file limit of 128, with 300 idle connections."""
    config = tmp_path / "kpi.yml"
    config.write_text(CONFIG + f"store:\n  path: {tmp_path / 'kpi.db'}\n")
    monkeypatch.setenv("KPI_FAULTS_SECRET", SECRET)
    exporter = Exporter(config, tmp_path)
    exporter.args = ["prlimit", "--nofile=128:128", "--", *exporter.args]
    with exporter:
        assert exporter.process is not None
        idle = []
        try:
            for _ in range(300):
                idle.append(socket.create_connection(("127.0.0.1", exporter.port), timeout=5))
            time.sleep(0.5)
            before = cpu_seconds(exporter.process.pid)
            for path in ("/healthz", "/readyz", "/metrics"):
                assert exporter.get(path).status_code == 200
            time.sleep(2.0)
            spent = cpu_seconds(exporter.process.pid) - before
        finally:
            for conn in idle:
                conn.close()
        log = exporter.log.read_text()
    print(f"300 idle connections, nofile 128: {spent:.2f} s CPU in 2 s")
    assert spent < 0.6  # over 2 s: the accept loop does not spin
    assert "lowered to 64" in log
    assert "Traceback" not in log


# --- item 7: replays within max_skew ------------------------------------------------------


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

    def full_disk(*args: Any) -> int:
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


# --- item 10: basic auth ------------------------------------------------------------------


def test_a_plain_password_in_the_web_config_is_refused_naming_the_user(tmp_path):
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n  prometheus: 'hunter2-in-clear'\n")

    with pytest.raises(ConfigError) as raised:
        load_web_config(path)

    message = str(raised.value)
    assert "prometheus" in message
    assert "bcrypt hash" in message
    assert "hunter2" not in message  # a password is never echoed


def test_an_unknown_user_is_checked_at_the_cost_of_the_configured_hashes():
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    auth = BasicAuth({"prometheus": hashed})
    assert auth.decoy_cost == 10

    def timed(user: str, password: str) -> float:
        started = time.perf_counter()
        assert not auth.check(user, password)
        return time.perf_counter() - started

    known = sorted(timed("prometheus", f"wrong-{i}") for i in range(5))[2]
    unknown = sorted(timed("nobody", f"guess-{i}") for i in range(5))[2]

    assert unknown > 0.5 * known  # medians; before: cost 10 decoy vs cost 12, 4x faster


def test_a_flood_of_wrong_passwords_never_evicts_the_remembered_right_one(monkeypatch):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    auth = BasicAuth({"prometheus": hashed})
    assert auth.check("prometheus", PASSWORD)
    for i in range(BasicAuth.MEMORY + 10):
        assert not auth.check("prometheus", f"guess-{i}")

    def no_bcrypt(*args: Any) -> bool:
        raise AssertionError("bcrypt ran again for a remembered password")

    monkeypatch.setattr(bcrypt, "checkpw", no_bcrypt)
    assert auth.check("prometheus", PASSWORD)


def test_password_guessing_does_not_hold_up_an_authorised_scrape(running, monkeypatch):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=11)).decode()
    monkeypatch.setattr(running.server, "basic_auth", BasicAuth({"prometheus": hashed}))
    started = time.perf_counter()
    assert running.get("/metrics", auth=("prometheus", PASSWORD)).status_code == 200
    one_bcrypt = time.perf_counter() - started
    stop = threading.Event()

    def guess(worker: int) -> None:
        i = 0
        while not stop.is_set():
            running.get("/metrics", auth=("prometheus", f"guess-{worker}-{i}"))
            i += 1

    guessers = [threading.Thread(target=guess, args=(w,), daemon=True) for w in range(2)]
    for thread in guessers:
        thread.start()
    try:
        time.sleep(0.3)
        slowest = 0.0
        for _ in range(5):
            started = time.perf_counter()
            assert running.get("/metrics", auth=("prometheus", PASSWORD)).status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
    finally:
        stop.set()
        for thread in guessers:
            thread.join(30)

    print(f"authorised scrape under guessing: {slowest:.3f} s, one bcrypt {one_bcrypt:.3f} s")
    # Under one global lock, each scrape waited for the guesses' bcrypt before its own
    # remembered answer: at least one whole bcrypt.
    assert slowest < 0.5 * one_bcrypt, (slowest, one_bcrypt)


# --- item 12: answers, never tracebacks ---------------------------------------------------


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
    "credentials",
    [
        "Basic jörg:pässword".encode("latin-1"),  # not base64 at all, not ASCII
        b"Basic " + base64.b64encode("jörg:pässword".encode("latin-1")),  # not UTF-8
    ],
    ids=["raw-latin-1", "base64-of-latin-1"],
)
def test_non_ascii_basic_credentials_are_400(running, monkeypatch, credentials):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    monkeypatch.setattr(running.server, "basic_auth", BasicAuth({"prometheus": hashed}))

    answer = raw_request(
        running.port,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: " + credentials + b"\r\n\r\n",
    )

    assert status_of(answer) == 400
    assert b"base64 of UTF-8" in answer
    assert running.errors == []


def test_utf8_basic_credentials_are_checked_like_any_other(running, monkeypatch):
    hashed = bcrypt.hashpw("pässword".encode(), bcrypt.gensalt(rounds=4)).decode()
    monkeypatch.setattr(running.server, "basic_auth", BasicAuth({"jörg": hashed}))

    right = running.get("/metrics", headers={"Authorization": "Basic " + b64("jörg:pässword")})
    wrong = running.get("/metrics", headers={"Authorization": "Basic " + b64("jörg:nope")})

    assert (right.status_code, wrong.status_code) == (200, 401)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


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


def test_a_broken_pipe_is_one_log_line_in_the_log_format_and_no_traceback(running, caplog, capsys):
    caplog.set_level(logging.INFO, logger="kpi_exporter.server")
    httpd = running.server.httpd
    try:
        raise BrokenPipeError(32, "Broken pipe")
    except BrokenPipeError:
        httpd.handle_error(None, ("203.0.113.9", 4242))

    assert capsys.readouterr().err == ""
    [record] = [r for r in caplog.records if r.name == "kpi_exporter.server"]
    assert record.levelno == logging.INFO
    assert "203.0.113.9" in record.getMessage()
    assert "Broken pipe" in record.getMessage()
    assert record.exc_info is None


def test_a_client_that_resets_mid_scrape_leaves_no_traceback(running, capfd):
    for _ in range(20):
        conn = socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
        conn.close()  # RST while the answers are written
    probes_answer(running)

    assert "Traceback" not in capfd.readouterr().err


# --- item 15: content coding --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("gzip;q=0.5, identity", True),
        ("identity", False),
        ("*", True),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("deflate, br", False),
        ("x-gzip", True),
        ("gzip;q=nan", False),
        ("gzip;q=bogus", False),
        ("", False),
    ],
)
def test_accept_encoding_is_read_with_its_quality_values(header, gzip_ok):
    assert accepts_gzip(header) is gzip_ok


def test_gzip_q0_gets_plain_text_and_every_scrape_says_vary(running):
    refused = running.get("/metrics", headers={"Accept-Encoding": "gzip;q=0"}, stream=True)
    asked = running.get("/metrics", headers={"Accept-Encoding": "gzip"}, stream=True)

    assert "Content-Encoding" not in refused.headers
    assert refused.raw.read(decode_content=False).startswith(b"# HELP")
    assert asked.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(asked.raw.read(decode_content=False)).startswith(b"# HELP")
    for response in (refused, asked):
        assert "Accept-Encoding" in response.headers["Vary"]


# --- fuzzing of the ingest endpoint -------------------------------------------------------

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
