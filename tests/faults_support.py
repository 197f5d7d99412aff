"""What the fault suites of the HTTP side share (tests/test_faults_*.py): a signed-push
client, raw sockets, and a real server on 127.0.0.1 and a free port that records every
error it did not answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kpi_exporter.config import Config, parse_config
from kpi_exporter.connections import Limits
from kpi_exporter.health import Health
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.sources.ingest import Ingest, IngestSource
from kpi_exporter.store import Store

TIMEOUT = 10.0
SECRET = "hmac-fault-suite-secret"
SOURCE = "ci-push"
MAX_SKEW = 300
PASSWORD = "correct horse"


def push_config(secret_env: str, max_skew: int, max_body: int) -> str:
    """App shop (team payments, repo acme/shop) and one ingest source, ``SOURCE``."""
    return f"""
apps:
  shop:
    team: payments
    repos: [acme/shop]
sources:
  - type: ingest
    name: {SOURCE}
    secret_env: {secret_env}
    max_skew: {max_skew}s
    max_body_bytes: {max_body}
"""


CONFIG = push_config("KPI_FAULTS_SECRET", MAX_SKEW, 1048576)


def deployment(id_: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "deployment",
        "id": id_,
        "app": "shop",
        "finished_at": "2025-11-20T10:00:00Z",
        **fields,
    }


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Computed here independently of the exporter's own ``sign``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed(body: bytes, timestamp: str | None = None, secret: str = SECRET) -> dict[str, str]:
    """The headers of a push signed with ``secret`` at ``timestamp`` (default: now)."""
    timestamp = timestamp if timestamp is not None else str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-KPI-Timestamp": timestamp,
        "X-KPI-Signature": signature(body, timestamp, secret),
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


def make_ingest(config: Config) -> Ingest:
    source = config.sources[0]
    assert isinstance(source, IngestSource)
    return Ingest(source, SECRET, Ownership(config))


def make_pipeline(store: Store, config: Config) -> Pipeline:
    health = Health()
    health.register(SOURCE, "ingest", polled=True)
    return Pipeline(
        store, config.kpi_settings(), config.link_settings(), health, labels=config.label_policy()
    )


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


def probes_answer(server: Running, within: float = 3.0) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        started = time.monotonic()
        response = requests.get(server.url(path), timeout=within)
        assert response.status_code == 200, path
        assert time.monotonic() - started < within, path


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


def open_idle(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(count)]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def fault_config(monkeypatch: pytest.MonkeyPatch) -> Config:
    """The suite's configuration: one ingest source whose secret is in the environment."""
    monkeypatch.setenv("KPI_FAULTS_SECRET", SECRET)
    return parse_config(CONFIG, "kpi.yml")


# The fixtures of the three fault suites (imported there under these names).
@pytest.fixture(name="config")
def config_fixture(monkeypatch: pytest.MonkeyPatch) -> Config:
    return fault_config(monkeypatch)


@pytest.fixture(name="running")
def running_fixture(store: Store, config: Config) -> Iterator[Running]:
    server = Running(store, config)
    yield server
    server.server.stop()
