"""A real HTTP server around :class:`~tests.github_fake.FakeGitHub`, on 127.0.0.1 and a free
port, for the tests and benchmarks that run the exporter (or its GitHub source) over sockets.

Each request is turned into what the fake's handlers read (``method``, ``url``, ``headers``,
``body``, as ``responses`` hands them a prepared request) and the fake's
``(status, headers, body)`` answer is written back over HTTP/1.1 with keep-alive. The
server adds what GitHub adds around the answer:

- an optional ``latency`` per request (slept in the request's own thread, so concurrent
  requests overlap as they would over a network);
- GitHub's primary rate-limit headers (``x-ratelimit-limit``, ``-remaining``, ``-used``,
  ``-reset``, ``-resource``), one fixed one-hour window per resource: ``core`` for REST and
  ``graphql`` for ``POST /graphql`` (charged one point per query here; GitHub charges a
  query by its cost, at least one point). Every answer counts against the limit except a
  ``304`` to an authorized request: GitHub does not count a conditional request that comes
  back not modified. A resource with nothing left answers ``403`` "API rate limit exceeded"
  with ``x-ratelimit-remaining: 0`` until its window resets;
- a record of what it served: every request's method, path, whether it was conditional, its
  status and whether it was charged (``served``), and counters by status (``counts``).

``with FakeGitHubServer(...) as server:`` starts it (daemon threads) and stops it, with a
bounded wait, however the block ends; it also stops by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from requests.structures import CaseInsensitiveDict

from tests.github_fake import FakeGitHub

WINDOW = 3600.0  # GitHub's primary limits are per hour
CORE, GRAPHQL = "core", "graphql"
RATE_LIMIT_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"


@dataclass(frozen=True, slots=True)
class Request:
    """What :meth:`FakeGitHub.answer` reads of a request (a prepared request's fields)."""

    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Served:
    method: str
    path: str  # with its query string
    conditional: bool  # sent If-None-Match or If-Modified-Since
    status: int
    charged: bool  # counted against the primary rate limit
    resource: str


@dataclass(slots=True)
class RateLimit:
    """One resource's primary limit: ``limit`` per fixed window that starts at first use."""

    limit: int
    used: int = 0
    reset: float = 0.0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self, resource: str) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(int(self.reset)),
            "x-ratelimit-resource": resource,
        }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeGitHubServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' connection pool expects
    server_version = "GitHub.com"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall on small keep-alive answers
    timeout = 30  # an idle keep-alive connection is closed after this long

    def setup(self) -> None:
        super().setup()
        self.server.owner._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._closed(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = CaseInsensitiveDict(dict(self.headers.items()))
        status, answer_headers, payload = self.server.owner.handle(
            self.command, self.path, headers, body
        )
        self.send_response(status)
        for name, value in answer_headers.items():
            self.send_header(name, value)
        if status != 304:  # a 304 has no body, and says nothing of its length
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if status != 304 and payload:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the record of served requests is ``FakeGitHubServer.served``


class FakeGitHubServer:
    """``fake`` (a new :class:`FakeGitHub` by default) served on ``url``; ``fake.api`` is
    moved there. ``clock`` drives the rate-limit windows."""

    def __init__(
        self,
        fake: FakeGitHub | None = None,
        *,
        latency: float = 0.0,
        rate_limit: int = 5000,
        graphql_rate_limit: int = 5000,
        clock: Callable[[], float] = time.time,
        lifetime: float = 3600.0,
    ) -> None:
        self.httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        if fake is None:
            fake = FakeGitHub(self.url)
        else:
            fake.serve_at(self.url)
        self.fake = fake
        self.latency = latency
        self.clock = clock
        self.lifetime = lifetime
        self.limits = {CORE: RateLimit(rate_limit), GRAPHQL: RateLimit(graphql_rate_limit)}
        self.served: list[Served] = []
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._stopped = threading.Event()

    # --- life cycle -----------------------------------------------------------------------------

    def start(self) -> FakeGitHubServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="fake-github", daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close open keep-alive connections, wait at most ``timeout``."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if self._thread is not None:
            self.httpd.shutdown()  # returns within serve_forever's poll interval
            self._thread.join(timeout)
        self.httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # wake handler threads blocked on an idle connection
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeGitHubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    # --- answering ------------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: CaseInsensitiveDict[str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """The answer to one request: the fake's, with latency and rate-limit headers."""
        if self.latency:
            time.sleep(self.latency)
        path = urlsplit(target).path
        is_graphql = method == "POST" and path == urlsplit(self.fake.graphql_url).path
        resource = GRAPHQL if is_graphql else CORE
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
        authorized = bool(headers.get("Authorization"))
        limit = self.limits[resource]
        with self._lock:
            now = self.clock()
            if now >= limit.reset:  # a new window
                limit.used, limit.reset = 0, now + WINDOW
            exhausted = limit.remaining == 0
        if exhausted:
            status, answer_headers, text = (
                403,
                {"Content-Type": "application/json; charset=utf-8"},
                json.dumps(
                    {
                        "message": "API rate limit exceeded for installation.",
                        "documentation_url": RATE_LIMIT_DOCS,
                    }
                ),
            )
        else:
            request = Request(method, self.url + target, headers, body)
            status, answer_headers, text = self.fake.answer(request)
        # Not counted: a 304 to an authorized conditional request, and the refused request.
        charged = not exhausted and not (status == 304 and authorized)
        with self._lock:
            if charged:
                limit.used += 1
            rate_headers = limit.headers(resource)
            self.served.append(Served(method, target, conditional, status, charged, resource))
        kept = {k: v for k, v in answer_headers.items() if not k.lower().startswith("x-ratelimit")}
        return status, {**kept, **rate_headers}, text.encode()

    # --- what was served ------------------------------------------------------------------------

    def counts(self, since: int = 0) -> Counter[int]:
        """Requests by status, from the ``since``-th one served on."""
        with self._lock:
            return Counter(served.status for served in self.served[since:])

    def mark(self) -> int:
        """How many requests were served so far: ``counts(since=mark)`` counts what follows."""
        with self._lock:
            return len(self.served)

    def since(self, mark: int) -> list[Served]:
        with self._lock:
            return self.served[mark:]

    def remaining(self, resource: str = CORE) -> int:
        with self._lock:
            return self.limits[resource].remaining
