"""The exporter's own health, per source: up, last success, poll duration, requests, rejects."""

from __future__ import annotations

import platform
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from . import __version__
from .connections import Connections
from .exposition import scalar_lines
from .kpis.families import EXPORTER_FAMILIES
from .redaction import redact
from .sharding import Shard

STORE_ERROR_REASONS = ("full", "read-only", "gone", "failed")


def store_error_reason(error: Exception) -> str:
    """Why a write failed, from SQLite's error: the disk or the size limit is full, the file
    or its directory is read-only, the file was deleted while open, or another failure."""
    text = str(error).lower()
    if "full" in text:
        return "full"
    if "readonly" in text or "read-only" in text:
        return "read-only"
    if "deleted" in text or "no such" in text or "disk i/o" in text:
        return "gone"
    return "failed"


# Why input was rejected: a record that cannot be read, or a new label value over its limit.
REJECTED_REASONS = ("invalid", "cardinality")


@dataclass(slots=True)
class SourceHealth:
    name: str
    type: str
    polled: bool = False
    up: bool = False
    last_success: float | None = None
    last_duration: float = 0.0
    last_error: str = ""
    polls: Counter[str] = field(default_factory=Counter)  # by result: success | failure
    rejected: Counter[str] = field(default_factory=Counter)  # by reason: see REJECTED_REASONS


class Health:
    """Thread-safe record of what every source did, published as ``kpi_exporter_*``."""

    def __init__(self, shard: Shard | None = None) -> None:
        self.shard = shard or Shard()
        self._lock = threading.Lock()
        self.sources: dict[str, SourceHealth] = {}
        self.api_requests: Counter[tuple[str, str]] = Counter()  # (source, status code)
        self.rate_limit_remaining: dict[tuple[str, str], float] = {}  # (source, resource)
        # Stored rows a start moved to the store's quarantine table, by kind.
        self.quarantined: Counter[str] = Counter()
        # Writes the store refused, by reason (see store_error).
        self.store_errors: Counter[str] = Counter()
        self.store_problem = ""  # the last store error while writes fail; "" once one works
        self.connections: Connections | None = None  # the HTTP server's, once it runs

    def register(self, name: str, type_: str, *, polled: bool = False) -> None:
        """Add a source. ``polled=True`` for push sources, which are ready from the start."""
        with self._lock:
            self.sources[name] = SourceHealth(name, type_, polled=polled, up=polled)

    def success(self, name: str, duration: float, rejected: int = 0) -> None:
        with self._lock:
            source = self.sources[name]
            source.polled = source.up = True
            source.last_success = time.time()
            source.last_duration = duration
            source.last_error = ""
            source.polls["success"] += 1
            source.rejected["invalid"] += rejected

    def failure(self, name: str, duration: float, error: str) -> None:
        """Record a failed poll; ``error`` is kept (for the landing page) with every
        configured secret redacted."""
        error = redact(error)
        with self._lock:
            source = self.sources[name]
            source.polled = True
            source.up = False
            source.last_duration = duration
            source.last_error = error
            source.polls["failure"] += 1

    def rejected(self, name: str, count: int, reason: str = "invalid") -> None:
        """Count ``count`` input records rejected for ``reason`` (see REJECTED_REASONS)."""
        with self._lock:
            if name in self.sources:
                self.sources[name].rejected[reason] += count

    def store_error(self, error: Exception) -> str:
        """Count a write the store refused; until a write succeeds (:meth:`store_ok`) the
        exporter reports not ready. Returns the reason: full, read-only, gone or failed."""
        reason = store_error_reason(error)
        with self._lock:
            self.store_errors[reason] += 1
            self.store_problem = f"the store cannot be written ({reason}): {error}"
        return reason

    def store_ok(self) -> None:
        with self._lock:
            self.store_problem = ""

    def request(
        self,
        source: str,
        code: int | str,
        rate_limit_remaining: float | None,
        resource: str = "",
    ) -> None:
        """Count one API request; ``code`` is the HTTP status, or ``error`` without a response."""
        with self._lock:
            self.api_requests[(source, str(code))] += 1
            if rate_limit_remaining is not None:
                self.rate_limit_remaining[(source, resource)] = rate_limit_remaining

    def ready(self) -> bool:
        """True once every source has been polled once, successfully or not, while the store
        takes writes."""
        with self._lock:
            return not self.store_problem and all(s.polled for s in self.sources.values())

    def snapshot(self) -> list[SourceHealth]:
        with self._lock:
            return [
                replace(s, polls=Counter(s.polls), rejected=Counter(s.rejected))
                for s in self.sources.values()
            ]

    def exposition(self, stored: Counter[tuple[str, str]], openmetrics: bool) -> Iterator[str]:
        """Self metrics; ``stored`` counts stored events by (source, kind)."""
        series: dict[str, list[tuple[tuple[str, ...], float]]] = {
            family.name: [] for family in EXPORTER_FAMILIES
        }
        series["kpi_exporter_build_info"].append(((__version__, platform.python_version()), 1))
        series["kpi_exporter_shard_info"].append(
            ((str(self.shard.index), str(self.shard.count)), 1)
        )
        with self._lock:
            for source in sorted(self.sources.values(), key=lambda s: s.name):
                name = (source.name,)
                series["kpi_exporter_source_up"].append(
                    ((source.name, source.type), 1.0 if source.up else 0.0)
                )
                if source.last_success is not None:
                    series["kpi_exporter_source_last_success_timestamp_seconds"].append(
                        (name, source.last_success)
                    )
                series["kpi_exporter_source_poll_duration_seconds"].append(
                    (name, source.last_duration)
                )
                for result in ("success", "failure"):
                    series["kpi_exporter_source_polls_total"].append(
                        ((source.name, result), source.polls[result])
                    )
                for reason in REJECTED_REASONS:
                    series["kpi_exporter_events_rejected_total"].append(
                        ((source.name, reason), source.rejected[reason])
                    )
            for (source_name, code), count in sorted(self.api_requests.items()):
                series["kpi_exporter_api_requests_total"].append(((source_name, code), count))
            for (source_name, resource), value in sorted(self.rate_limit_remaining.items()):
                series["kpi_exporter_api_rate_limit_remaining"].append(
                    ((source_name, resource), value)
                )
            for kind, count in sorted(self.quarantined.items()):
                series["kpi_exporter_events_quarantined"].append(((kind,), count))
            for reason in STORE_ERROR_REASONS:
                series["kpi_exporter_store_errors_total"].append(
                    ((reason,), self.store_errors[reason])
                )
        for (source_name, kind), count in sorted(stored.items()):
            series["kpi_exporter_events_stored"].append(((source_name, kind), count))
        if self.connections is not None:
            connections = self.connections
            series["kpi_exporter_http_connections_open"].append(((), len(connections)))
            limit = connections.limits.max_connections
            series["kpi_exporter_http_connections_limit"].append(((), limit))
            closed = series["kpi_exporter_http_connections_closed_total"]
            closed.append((("refused",), connections.refused))
            closed.append((("timed_out",), connections.timed_out))
            closed.append((("evicted",), connections.evicted))
        for family in EXPORTER_FAMILIES:
            yield scalar_lines(family, series[family.name], openmetrics)
