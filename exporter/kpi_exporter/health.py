"""The exporter's own health, per source: up, last success, poll duration, requests, rejects."""

from __future__ import annotations

import platform
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import __version__
from .kpis.families import EXPORTER_FAMILY_BY_NAME


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
    rejected: int = 0


def _family(name: str) -> CounterMetricFamily | GaugeMetricFamily:
    family = EXPORTER_FAMILY_BY_NAME[name]
    cls = CounterMetricFamily if family.type == "counter" else GaugeMetricFamily
    return cls(family.name, family.help, labels=family.labels)


class Health:
    """Thread-safe record of what every source did, published as ``kpi_exporter_*``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sources: dict[str, SourceHealth] = {}
        self.api_requests: Counter[tuple[str, str]] = Counter()  # (source, status code)
        self.rate_limit_remaining: dict[str, float] = {}

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
            source.rejected += rejected

    def failure(self, name: str, duration: float, error: str) -> None:
        with self._lock:
            source = self.sources[name]
            source.polled = True
            source.up = False
            source.last_duration = duration
            source.last_error = error
            source.polls["failure"] += 1

    def rejected(self, name: str, count: int) -> None:
        with self._lock:
            self.sources[name].rejected += count

    def request(self, source: str, code: int | str, rate_limit_remaining: float | None) -> None:
        """Count one API request; ``code`` is the HTTP status, or ``error`` without a response."""
        with self._lock:
            self.api_requests[(source, str(code))] += 1
            if rate_limit_remaining is not None:
                self.rate_limit_remaining[source] = rate_limit_remaining

    def ready(self) -> bool:
        """True once every source has been polled once, successfully or not."""
        with self._lock:
            return all(source.polled for source in self.sources.values())

    def snapshot(self) -> list[SourceHealth]:
        with self._lock:
            return [replace(s, polls=Counter(s.polls)) for s in self.sources.values()]

    def metric_families(self, stored: Counter[tuple[str, str]]) -> Iterator[Metric]:
        """Self metrics; ``stored`` counts stored events by (source, kind)."""
        build = _family("kpi_exporter_build_info")
        build.add_metric((__version__, platform.python_version()), 1)
        up = _family("kpi_exporter_source_up")
        last = _family("kpi_exporter_source_last_success_timestamp_seconds")
        duration = _family("kpi_exporter_source_poll_duration_seconds")
        polls = _family("kpi_exporter_source_polls_total")
        rejected = _family("kpi_exporter_events_rejected_total")
        requests = _family("kpi_exporter_api_requests_total")
        remaining = _family("kpi_exporter_api_rate_limit_remaining")
        with self._lock:
            for source in sorted(self.sources.values(), key=lambda s: s.name):
                up.add_metric((source.name, source.type), 1.0 if source.up else 0.0)
                if source.last_success is not None:
                    last.add_metric((source.name,), source.last_success)
                duration.add_metric((source.name,), source.last_duration)
                for result in ("success", "failure"):
                    polls.add_metric((source.name, result), source.polls[result])
                rejected.add_metric((source.name,), source.rejected)
            for (source_name, code), count in sorted(self.api_requests.items()):
                requests.add_metric((source_name, code), count)
            for source_name, value in sorted(self.rate_limit_remaining.items()):
                remaining.add_metric((source_name,), value)
        events = _family("kpi_exporter_events_stored")
        for (source_name, kind), count in sorted(stored.items()):
            events.add_metric((source_name, kind), count)
        yield from (build, up, last, duration, polls, rejected, requests, remaining, events)
