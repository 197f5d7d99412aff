"""The HTTP endpoint: cached /metrics, /healthz, /readyz, the KPI page and the ingest API.

A scrape reads the bytes rendered after the last poll and writes them: no API call, no
database query. Basic auth (when configured) protects / and /metrics; /healthz and /readyz
stay open for probes; /api/v1/events has its own HMAC signature and /api/v1/webhooks/* each
vendor's own signature or token.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import logging
import socket
import sqlite3
import ssl
import sys
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import __version__, page
from .cardinality import LabelLimitError
from .connections import BUSY, IDLE, READING, Connections, Limits
from .health import store_error_reason
from .pipeline import Pipeline
from .redaction import redact
from .sources import Poll
from .sources.ingest import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Ingest,
    IngestError,
    content_length,
)
from .sources.webhooks import PATHS as WEBHOOK_PATHS
from .webconfig import BasicAuth

log = logging.getLogger(__name__)

TLS_HANDSHAKE_TIMEOUT = 10.0
ACCEPT_PAUSE = 0.1  # seconds, when the open-file limit stops accept()
REFUSALS_LOGGED_EVERY = 10.0  # seconds
TOO_MANY_CONNECTIONS = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: 21\r\n\r\n"
    b"too many connections\n"
)


def parse_listen_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``:PORT`` (all interfaces) -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--web.listen-address: expected HOST:PORT, got {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    # An IPv6 literal needs an AF_INET6 socket.
    def __init__(self, address: tuple[str, int], handler: Any, limits: Limits) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        # socketserver's default of 5 resets connections as soon as a few dozen arrive at once.
        self.request_queue_size = limits.backlog
        self.connections = Connections(limits)
        self._refusal_logged = -REFUSALS_LOGGED_EVERY
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE):
                # The listening socket stays readable: without a pause the loop spins.
                log.warning("cannot accept a connection: %s", error.strerror)
                time.sleep(ACCEPT_PAUSE)
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.connections.admit(request):
            now = time.monotonic()
            if now - self._refusal_logged >= REFUSALS_LOGGED_EVERY:  # no log flood
                self._refusal_logged = now
                log.warning(
                    "refused a connection from %s: %d connections open, all busy "
                    "(%d refused since start-up)",
                    client_address[0],
                    self.connections.limits.max_connections,
                    self.connections.refused,
                )
            _refuse(request, self.tls is None)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def service_actions(self) -> None:
        """Run by serve_forever about twice a second: enforce the connection deadlines."""
        self.connections.expire()

    def shutdown_request(self, request: Any) -> None:
        self.connections.forget(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line in the log format, never a traceback on stderr."""
        error = sys.exc_info()[1]
        client = client_address[0] if client_address else "?"
        if isinstance(error, (ConnectionError, TimeoutError, ssl.SSLError)):
            log.info("connection from %s ended early: %s", client, error)
        else:
            log.error("request from %s failed: %r", client, error)
            log.debug("request from %s failed", client, exc_info=True)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # The TLS handshake runs here, in the connection's own thread, with a bounded wait:
        # in accept() a single client that connects and sends nothing would stall every
        # other request, /healthz included.
        request.settimeout(TLS_HANDSHAKE_TIMEOUT)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except OSError as error:  # ssl.SSLError included: plain HTTP, bad client, timeout
            log.debug("TLS handshake with %s failed: %s", client_address[0], error)
            return
        connection.settimeout(None)
        self.connections.replace(request, connection)
        try:
            super().finish_request(connection, client_address)
        finally:
            self.connections.forget(connection)
            connection.close()


def _refuse(request: socket.socket, plain: bool) -> None:
    """Answer 503 without waiting for the client (over TLS: just close)."""
    if plain:
        try:
            request.setblocking(False)
            request.send(TOO_MANY_CONNECTIONS)
        except OSError:
            pass


class ExporterServer:
    def __init__(
        self,
        address: tuple[str, int],
        pipeline: Pipeline,
        ingest: Ingest | None = None,
        basic_auth: BasicAuth | None = None,
        tls: ssl.SSLContext | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.ingest = ingest
        self.basic_auth = basic_auth or BasicAuth({})
        self.limits = (limits or Limits()).within_file_limit()
        self.httpd = _Server(address, self._handler(), self.limits)
        self.httpd.tls = tls
        pipeline.health.connections = self.httpd.connections  # published with the health
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = f"kpi-exporter/{__version__}"
            protocol_version = "HTTP/1.1"
            # Headers and body are separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold small keep-alive responses back ~40 ms.
            disable_nagle_algorithm = True
            # A backstop for every read and write; the connection deadlines (connections.py)
            # are shorter and end idle connections and slow readers first.
            timeout = max(server.limits.idle_timeout, server.limits.read_timeout) + 5

            def handle_one_request(self) -> None:
                connections = server.httpd.connections
                connections.mark(self.connection, IDLE)
                try:
                    waiting = self.rfile.peek(1)  # type: ignore[attr-defined]
                except OSError:  # shut down by a deadline, reset by the client
                    waiting = b""
                if not waiting:
                    self.close_connection = True
                    return
                connections.mark(self.connection, READING)
                super().handle_one_request()

            def parse_request(self) -> bool:
                parsed = super().parse_request()
                if parsed and self.command != "POST":
                    server.httpd.connections.mark(self.connection, BUSY)
                return parsed

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
                elif path == "/readyz":
                    self._readyz()
                elif not self._authorised():
                    return
                elif path == "/metrics":
                    self._metrics()
                elif path == "/":
                    pipeline = server.pipeline
                    body = redact(page.render(pipeline.headlines(), pipeline.health)).encode()
                    self._send(
                        HTTPStatus.OK, body, "text/html; charset=utf-8", headers=page.HEADERS
                    )
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                if path != "/api/v1/events" and path not in WEBHOOK_PATHS:
                    self.close_connection = True  # the unread body must not be parsed
                    self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
                    return
                self._ingest(path)

            def _authorised(self) -> bool:
                if not server.basic_auth.enabled:
                    return True
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    try:
                        decoded = base64.b64decode(header[6:].encode("ascii"), validate=True)
                        user, _, password = decoded.decode("utf-8").partition(":")
                    except binascii.Error:  # not base64: wrong credentials
                        user, password = "", ""
                    except UnicodeError:  # not ASCII, or credentials that are not UTF-8
                        self.close_connection = True
                        message = b"Authorization: Basic credentials must be base64 of UTF-8\n"
                        self._send(HTTPStatus.BAD_REQUEST, message, "text/plain; charset=utf-8")
                        return False
                    if server.basic_auth.check(user, password):
                        return True
                self.send_response(HTTPStatus.UNAUTHORIZED)
                self.send_header("WWW-Authenticate", 'Basic realm="kpi-exporter"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def _metrics(self) -> None:
                wanted = "gzip" if accepts_gzip(self.headers.get("Accept-Encoding", "")) else ""
                body, content_type, compressed = server.pipeline.cache.body(
                    self.headers.get("Accept", ""), wanted
                )
                self._send(HTTPStatus.OK, body, content_type, gzip=compressed, vary=True)

            def _readyz(self) -> None:
                health = server.pipeline.health
                if health.ready():
                    self._send(HTTPStatus.OK, b"ready\n", "text/plain; charset=utf-8")
                    return
                waiting = [s.name for s in health.snapshot() if not s.polled]
                problem = health.store_problem or f"not polled yet: {', '.join(waiting)}"
                body = redact(f"not ready: {problem}\n").encode()
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, body, "text/plain; charset=utf-8")

            def _ingest(self, path: str) -> None:
                ingest = server.ingest
                # Until the body is read, an error response closes the connection: the
                # unread bytes would otherwise be parsed as the next request.
                close_after, self.close_connection = self.close_connection, True
                try:
                    if ingest is None:
                        raise IngestError(404, "no ingest source is configured")
                    if "Transfer-Encoding" in self.headers:
                        raise IngestError(411, "Content-Length is required")
                    length = content_length(self.headers.get("Content-Length"))
                    if length > ingest.config.max_body_bytes:
                        raise IngestError(
                            413, f"body larger than {ingest.config.max_body_bytes} bytes"
                        )
                    body = self.rfile.read(length)
                    server.httpd.connections.mark(self.connection, BUSY)
                    if len(body) < length:
                        raise IngestError(400, "body shorter than Content-Length")
                    self.close_connection = close_after
                    if path in WEBHOOK_PATHS:
                        signed, events = ingest.webhook(path, self.headers, body)
                    else:
                        signed = ingest.verify(
                            self.headers.get(TIMESTAMP_HEADER),
                            self.headers.get(SIGNATURE_HEADER),
                            body,
                        )
                        events = ingest.events(body)
                    with ingest.first_time(server.pipeline.store, signed):
                        changed = server.pipeline.record(
                            ingest.name, Poll(events=events, cursor=None), whole=True
                        )
                    server.pipeline.health.success(ingest.name, 0.0)
                    server.pipeline.refresh()
                except IngestError as error:
                    log.warning("ingest: refused: %s", error)
                    if ingest is not None and error.status == 400:
                        server.pipeline.health.rejected(ingest.name, 1)
                        server.pipeline.refresh()  # else not shown until the next good push
                    self._json(error.status, {"error": str(error)})
                    return
                except LabelLimitError as error:  # checked before anything is stored
                    more = len(error.refusals) - 1
                    message = f"{error}{f' (and {more} more new values)' if more else ''}"
                    log.warning("ingest: refused %d event(s): %s", error.events, message)
                    if ingest is not None:  # always: only a push is refused whole
                        # Shown at the next refresh (a minute at most): rendering again
                        # costs as much as an accepted push (0.5 s at 10,000 apps).
                        health = server.pipeline.health
                        health.rejected(ingest.name, error.events, "cardinality")
                    self._json(400, {"error": f"{message}; nothing was stored"})
                    return
                except sqlite3.Error as error:  # nothing was committed (one transaction)
                    log.error("ingest: the store failed: %s", error)
                    server.pipeline.refresh()  # the error count and readiness
                    reason = store_error_reason(error)
                    message = f"the store refused the write ({reason}), nothing was stored: {error}"
                    self._json(503, {"error": message})
                    return
                except Exception as error:  # an answer rather than a dropped connection
                    log.error("ingest: failed: %r", error)
                    log.debug("ingest: failed", exc_info=True)
                    self.close_connection = True
                    self._json(500, {"error": f"internal error: {type(error).__name__}"})
                    return
                # A shard stores its own apps' events only: the others belong to other shards.
                kept = sum(1 for event in events if server.pipeline.shard.keeps(event))
                result = {"accepted": kept, "changed": changed}
                if kept < len(events):
                    result["other_shards"] = len(events) - kept
                self._json(200, result)

            def _json(self, status: int, data: dict[str, Any]) -> None:
                body = redact(json.dumps(data) + "\n").encode()
                self._send(HTTPStatus(status), body, "application/json")

            def _send(
                self,
                status: HTTPStatus,
                body: bytes,
                content_type: str,
                gzip: bool = False,
                vary: bool = False,
                headers: Mapping[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                if vary:  # caches must not hand a gzip body to a client that refused it
                    self.send_header("Vary", "Accept, Accept-Encoding")
                if self.close_connection:
                    self.send_header("Connection", "close")
                if gzip:
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_GET

        return Handler


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110: ``q=0`` means "not")."""
    wildcard: bool | None = None
    for item in accept_encoding.split(","):
        coding, _, parameters = item.partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        coding = coding.strip().lower()
        if coding in ("gzip", "x-gzip"):
            return quality > 0  # NaN is refused too
        if coding == "*":
            wildcard = quality > 0
    return bool(wildcard)
