"""Fault and abuse suite of the HTTP server (issue 19, items 2, 3, 12 and 15): 200 pushes at
once, scrapes under load, idle and silent connections beyond the limit and up to the
open-file limit, slow-loris, TLS, broken pipes, content coding. Events sent vs accepted vs
stored where it applies; every wait bounded, every server stopped by its fixture.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kpi_exporter.config import Config
from kpi_exporter.connections import Limits
from kpi_exporter.server import ExporterServer, accepts_gzip
from kpi_exporter.store import Store
from tests.faults_support import (
    CONFIG,
    SECRET,
    TIMEOUT,
    Running,
    config_fixture,  # noqa: F401 (a fixture)
    cpu_seconds,
    deployment,
    make_pipeline,
    open_idle,
    probes_answer,
    push_at_once,
    raw_request,
    running_fixture,  # noqa: F401 (a fixture)
    status_of,
    stored_deployments,
)
from tests.process import Exporter
from tests.support import value
from tests.test_webconfig import certificate, tls_context  # noqa: F401 (a fixture)


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


@pytest.fixture
def limited(store: Store, config: Config) -> Iterator[Running]:
    server = Running(store, config, Limits(max_connections=16, read_timeout=1, idle_timeout=2))
    yield server
    server.server.stop()


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


def test_refused_evicted_and_timed_out_connections_are_counted_in_the_metrics(store, config):
    server = Running(store, config, Limits(max_connections=2, read_timeout=30, idle_timeout=1))
    readers = open_idle(server.port, 2)
    try:
        for conn in readers:
            conn.sendall(b"GET /metrics HTTP/1.1\r\n")  # reading, not finished
        time.sleep(0.3)
        refused = raw_request(server.port, b"GET /healthz HTTP/1.1\r\n\r\n")  # both busy
        time.sleep(2.0)  # both slow readers now: the next connection takes one's place
        answered = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        for conn in readers:
            conn.close()
        time.sleep(0.3)
        idle = open_idle(server.port, 1)  # sends nothing: closed after the idle timeout
        time.sleep(2.0)
        idle[0].close()
        server.pipeline.refresh()
        metrics = server.get("/metrics").text
    finally:
        server.server.stop()

    assert status_of(refused) == 503
    assert status_of(answered) == 200
    # one refused (503), one slow reader evicted, one idle connection past its deadline
    closed = "kpi_exporter_http_connections_closed_total"
    for reason in ("refused", "evicted", "timed_out"):
        assert value(metrics, closed, reason=reason) == 1, metrics
    assert value(metrics, "kpi_exporter_http_connections_limit") == 2


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
