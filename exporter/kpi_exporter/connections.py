"""Bounds on the HTTP server's connections: how many, and how long each may idle or dawdle.

Every open connection is in one of three states: ``idle`` (waiting for the first byte of a
request, or for a TLS handshake), ``reading`` (request line, headers and body) or ``busy``
(the exporter is answering). The accept loop checks the deadlines about twice a second and shuts
down an idle connection after ``idle_timeout`` and a reading one after ``read_timeout``
(slow-loris). When ``max_connections`` are open, a new connection takes the place of the
oldest idle one (then of the oldest slow reader), so idle clients never stop probes and
scrapes; only when every connection is busy is the new one refused.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import socket
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

IDLE, READING, BUSY = "idle", "reading", "busy"
FILES_KEPT_FOR_THE_REST = 64  # the store, logs, sources' own connections
SLOW_READER = 2.0  # seconds reading before a connection may make room for a new one


@dataclass(frozen=True, slots=True)
class Limits:
    """The server's documented limits (docs/design.md, "HTTP server limits")."""

    max_connections: int = 512
    read_timeout: float = 15.0
    idle_timeout: float = 60.0
    backlog: int = 1024

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("--web.max-connections: expected at least 1")
        for name, value in (("read", self.read_timeout), ("idle", self.idle_timeout)):
            # Written so that NaN is refused as well.
            if not 0 < value <= 3600:
                raise ValueError(f"--web.{name}-timeout: expected 0 < seconds <= 3600")

    def within_file_limit(self) -> Limits:
        """These limits, with at most as many connections as the open-file limit allows."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self
        allowed = max(1, soft - FILES_KEPT_FOR_THE_REST)
        if allowed >= self.max_connections:
            return self
        log.warning(
            "--web.max-connections %d lowered to %d: the open-file limit is %d",
            self.max_connections,
            allowed,
            soft,
        )
        return Limits(allowed, self.read_timeout, self.idle_timeout, self.backlog)


@dataclass(slots=True)
class _Slot:
    state: str
    since: float


class Connections:
    """The open connections and their states; thread-safe."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._slots: dict[socket.socket, _Slot] = {}
        self._lock = threading.Lock()
        self.evicted = 0
        self.refused = 0
        self.timed_out = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)

    def admit(self, connection: socket.socket) -> bool:
        """Register a new connection; False when it must be refused (every slot busy)."""
        with self._lock:
            if len(self._slots) >= self.limits.max_connections:
                victim = self._oldest(IDLE, 0.0) or self._oldest(READING, SLOW_READER)
                if victim is None:
                    self.refused += 1
                    return False
                self._shut(victim)
                self.evicted += 1
            # Nothing received yet (over TLS: not even the handshake): the first to make room.
            self._slots[connection] = _Slot(IDLE, time.monotonic())
            return True

    def replace(self, old: socket.socket, new: socket.socket) -> None:
        """The same connection under a new socket object (after the TLS handshake)."""
        with self._lock:
            slot = self._slots.pop(old, None)
            if slot is not None:
                self._slots[new] = slot

    def mark(self, connection: socket.socket, state: str) -> None:
        with self._lock:
            slot = self._slots.get(connection)
            if slot is not None:
                slot.state, slot.since = state, time.monotonic()

    def forget(self, connection: socket.socket) -> None:
        """Unregister a connection; called BEFORE its socket is closed, so that a deadline
        never shuts down a file descriptor the kernel has given to another connection."""
        with self._lock:
            self._slots.pop(connection, None)

    def expire(self) -> int:
        """Shut down every connection past its deadline; return how many."""
        now = time.monotonic()
        deadline = {IDLE: self.limits.idle_timeout, READING: self.limits.read_timeout}
        with self._lock:
            late = [
                connection
                for connection, slot in self._slots.items()
                if slot.state in deadline and now - slot.since > deadline[slot.state]
            ]
            for connection in late:
                self._shut(connection)
                self._slots.pop(connection)
            self.timed_out += len(late)
        return len(late)

    def _oldest(self, state: str, at_least: float) -> socket.socket | None:
        now = time.monotonic()
        candidates = [
            (slot.since, id(connection), connection)
            for connection, slot in self._slots.items()
            if slot.state == state and now - slot.since >= at_least
        ]
        if not candidates:
            return None
        victim = min(candidates)[2]
        self._slots.pop(victim)
        return victim

    @staticmethod
    def _shut(connection: socket.socket) -> None:
        # The thread serving it sees end of file and ends. socket.socket's own shutdown: an
        # SSLSocket's would drop its TLS state under the reading thread.
        with contextlib.suppress(OSError):  # already closed by the client
            socket.socket.shutdown(connection, socket.SHUT_RDWR)
