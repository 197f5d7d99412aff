"""The exposition cache: /metrics bytes rendered once per poll, served as is to every scrape."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.openmetrics.exposition import (
    CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE,
)
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

TEXT_CONTENT_TYPE = CONTENT_TYPE_LATEST
OPENMETRICS = OPENMETRICS_CONTENT_TYPE


class _Families:
    """Adapter: prometheus_client renders anything with a ``collect()`` method."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


class Rendered:
    """The exposition of one moment. Each format (text, OpenMetrics, each plain or gzip) is
    rendered the first time a scrape asks for it, then served from memory."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._collector = _Families(families)
        self._lock = threading.Lock()
        self._bodies: dict[tuple[bool, bool], bytes] = {}

    def body(self, openmetrics: bool, compressed: bool) -> bytes:
        with self._lock:
            key = (openmetrics, compressed)
            if key not in self._bodies:
                if compressed:
                    plain = self._plain(openmetrics)
                    self._bodies[key] = gzip.compress(plain, compresslevel=6, mtime=0)
                else:
                    self._bodies[key] = self._plain(openmetrics)
            return self._bodies[key]

    def _plain(self, openmetrics: bool) -> bytes:
        key = (openmetrics, False)
        if key not in self._bodies:
            render_format = generate_openmetrics if openmetrics else generate_latest
            self._bodies[key] = render_format(self._collector)
        return self._bodies[key]

    @property
    def text(self) -> bytes:
        return self.body(openmetrics=False, compressed=False)

    @property
    def openmetrics(self) -> bytes:
        return self.body(openmetrics=True, compressed=False)


def render(families: Iterable[Metric]) -> Rendered:
    """Snapshot metric families for exposition; the text format is rendered at once."""
    rendered = Rendered(families)
    rendered.body(openmetrics=False, compressed=False)
    return rendered


class ExpositionCache:
    """Holds the latest :class:`Rendered`; ``refresh`` replaces it atomically."""

    def __init__(self, families: Callable[[], Iterable[Metric]]) -> None:
        self._families = families
        self._lock = threading.Lock()
        self.current = render(())
        self.renders = 0

    def refresh(self) -> Rendered:
        with self._lock:
            self.current = render(self._families())
            self.renders += 1
            return self.current

    def body(self, accept: str, accept_encoding: str) -> tuple[bytes, str, bool]:
        """(body, content type, gzip-encoded) for a scrape with these request headers."""
        current = self.current  # one read: a concurrent refresh cannot mix two renders
        openmetrics = "application/openmetrics-text" in accept
        compressed = "gzip" in accept_encoding
        content_type = OPENMETRICS if openmetrics else TEXT_CONTENT_TYPE
        return current.body(openmetrics, compressed), content_type, compressed
