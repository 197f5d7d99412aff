"""Exposition: the Prometheus text format and OpenMetrics, written straight from the sums.

Rendering happens once per poll, in the poll thread; a scrape serves the bytes. The writer is
our own rather than prometheus_client's generic one because it runs over every series after
every poll: label sets are escaped once and reused for every line of a histogram, and the
``le`` values of each family are formatted once (about 10x faster on 300k series).
"""

from __future__ import annotations

import math
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from .gofloat import go_float

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
GZIP_LEVEL = 1  # the exposition is repetitive: level 1 already shrinks it ~10x, at low CPU

Labels = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family. ``name`` is the exposed name (counters end in ``_total``)."""

    name: str
    type: str  # counter | gauge | histogram
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


Chunks = Callable[[bool], Iterable[str | bytes]]
"""A producer of exposition text: called with ``openmetrics``, yields chunks of lines, as
text or already encoded (the large cached ones)."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@lru_cache(maxsize=1 << 18)
def label_block(names: Labels, values: Labels) -> str:
    """``app="shop",team="a"``: escaped once per label set, reused by every line. Labels are
    written in name order, as Prometheus client libraries do."""
    pairs = sorted(zip(names, values, strict=True))
    return ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)


def format_value(value: float) -> str:
    if value - value == 0:  # finite: the check costs one subtraction per sample
        return repr(float(value))
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return "NaN"


@cache
def _bucket_bounds(family: Family) -> tuple[str, ...]:
    return (*(go_float(bound) for bound in family.buckets), "+Inf")


def header(family: Family, openmetrics: bool) -> str:
    """HELP and TYPE lines. OpenMetrics names a counter family without its ``_total``."""
    name = family.name
    if openmetrics and family.type == "counter":
        name = name.removesuffix("_total")
    help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
    if openmetrics:
        help_text = help_text.replace('"', '\\"')
    return f"# HELP {name} {help_text}\n# TYPE {name} {family.type}\n"


def scalar_line(family: Family, labels: Labels, value: float) -> str:
    """The sample line of one counter or gauge series (the same in both formats)."""
    return f"{family.name}{{{label_block(family.labels, labels)}}} {format_value(value)}\n"


def scalar_lines(family: Family, series: Iterable[tuple[Labels, float]], openmetrics: bool) -> str:
    """One family of counters or gauges."""
    parts = [header(family, openmetrics)]
    for labels, value in series:
        parts.append(scalar_line(family, labels, value))
    return "".join(parts)


def histogram_series_lines(family: Family, labels: Labels, counts: list[int], total: float) -> str:
    """The sample lines of one histogram series (the same in both formats): ``counts`` per
    bucket (not cumulative), ``total`` the sum."""
    bounds = _bucket_bounds(family)
    name = family.name
    block = label_block(family.labels, labels)
    prefix = f'{name}_bucket{{{block}{"," if block else ""}le="'
    parts = []
    cumulative = 0
    for bound, count in zip(bounds, counts, strict=True):
        cumulative += count
        parts.append(f'{prefix}{bound}"}} {cumulative}\n')
    parts.append(f"{name}_count{{{block}}} {cumulative}\n")
    parts.append(f"{name}_sum{{{block}}} {format_value(total)}\n")
    return "".join(parts)


def histogram_lines(
    family: Family, series: Iterable[tuple[Labels, list[int], float]], openmetrics: bool
) -> str:
    """One histogram family; ``series`` holds per-bucket (not cumulative) counts and the sum."""
    parts = [header(family, openmetrics)]
    for labels, counts, total in series:
        parts.append(histogram_series_lines(family, labels, counts, total))
    return "".join(parts)


class SeriesLines:
    """The sample lines of one family, kept per series and joined in label order.

    The lines are the same in the text format and OpenMetrics (only the headers differ), so
    a family is rendered once for both. Setting a series re-renders that series only; the
    family's text is joined (and encoded) again only after a change, and sorted again only
    when a series came or went.
    """

    __slots__ = ("_lines", "_order", "_text")

    def __init__(self) -> None:
        self._lines: dict[Labels, str] = {}
        self._order: list[Labels] | None = []
        self._text: bytes | None = b""

    def __bool__(self) -> bool:
        return bool(self._lines)

    def set(self, labels: Labels, lines: str) -> None:
        """The lines of the series ``labels``; "" when the series is not shown."""
        if lines:
            if labels not in self._lines:
                self._order = None
            elif self._lines[labels] == lines:
                return
            self._lines[labels] = lines
        elif self._lines.pop(labels, None) is not None:
            self._order = None
        else:
            return
        self._text = None

    def text(self) -> bytes:
        """Every series' lines, series in label order, encoded."""
        if self._order is None:
            self._order = sorted(self._lines)
        if self._text is None:
            lines = self._lines
            self._text = "".join([lines[labels] for labels in self._order]).encode()
        return self._text


class Deflater:
    """Gzip bodies built from deflated chunks, each chunk deflated once while it is in use.

    A chunk is deflated by a compressor of its own and ended on a byte boundary (a sync
    flush), so the pieces of any chunks, one after the other, form one valid deflate stream
    (none refers to data before it). A refresh that changed a few families deflates those
    again, not the whole exposition. Large chunks are kept by identity (the cached family
    lines are the same objects from one refresh to the next); consecutive small ones
    (headers) are deflated together each time. The body is one standard gzip member.
    """

    KEEP = 4096  # bytes: chunks at least this large are kept deflated

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Per format: id(chunk) -> (chunk, its deflated piece), for the last body built.
        self._kept: dict[bool, dict[int, tuple[bytes, bytes]]] = {False: {}, True: {}}

    def gzip(self, openmetrics: bool, chunks: list[bytes]) -> bytes:
        """The gzip of ``chunks`` joined (without joining them)."""
        pieces = [GZIP_HEADER]
        crc, size = 0, 0
        small: list[bytes] = []  # consecutive small chunks, deflated together
        with self._lock:
            before, other = self._kept[openmetrics], self._kept[not openmetrics]
            kept: dict[int, tuple[bytes, bytes]] = {}
            for chunk in chunks:
                crc, size = zlib.crc32(chunk, crc), size + len(chunk)
                if len(chunk) < self.KEEP:
                    small.append(chunk)
                    continue
                if small:
                    pieces.append(_deflated(b"".join(small)))
                    small.clear()
                found = before.get(id(chunk)) or other.get(id(chunk))
                piece = found[1] if found is not None and found[0] is chunk else _deflated(chunk)
                kept[id(chunk)] = (chunk, piece)
                pieces.append(piece)
            self._kept[openmetrics] = kept
        if small:
            pieces.append(_deflated(b"".join(small)))
        pieces.append(LAST_BLOCK)
        pieces.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
        return b"".join(pieces)


def _deflated(data: bytes) -> bytes:
    """``data`` deflated by a compressor of its own, ended on a byte boundary (not final)."""
    deflate = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflate.compress(data) + deflate.flush(zlib.Z_SYNC_FLUSH)


# A gzip member's header (deflate, no name, mtime 0, unknown OS) and the deflate stream's
# last block (final, empty) that ends the pieces.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
LAST_BLOCK = b"\x03\x00"


class Rendered:
    """The exposition of one moment in both formats, as the chunks rendered; each body
    (plain or gzip) is built on its first request (ahead of scrapes, by
    :meth:`ExpositionCache.refresh`, for the variants scrapes ask for)."""

    def __init__(self, chunks: dict[bool, list[bytes]], deflater: Deflater | None = None) -> None:
        self._chunks = chunks
        self._deflater = deflater or Deflater()
        self._bodies: dict[tuple[bool, bool], bytes] = {}
        self._lock = threading.Lock()

    @property
    def text(self) -> bytes:
        return self.body(False, False)

    @property
    def openmetrics(self) -> bytes:
        return self.body(True, False)

    def body(self, openmetrics: bool, compressed: bool) -> bytes:
        with self._lock:
            body = self._bodies.get((openmetrics, compressed))
            if body is None:
                chunks = self._chunks[openmetrics]
                body = self._deflater.gzip(openmetrics, chunks) if compressed else b"".join(chunks)
                self._bodies[(openmetrics, compressed)] = body
            return body


def render(*producers: Chunks, deflater: Deflater | None = None) -> Rendered:
    """Render every producer's families, in order, in both formats. ``deflater``: the one
    that compressed the previous rendering, so that unchanged chunks are not compressed
    again."""
    chunks = {
        openmetrics: [_encoded(chunk) for produce in producers for chunk in produce(openmetrics)]
        for openmetrics in (False, True)
    }
    chunks[True].append(b"# EOF\n")
    return Rendered(chunks, deflater)


def _encoded(chunk: str | bytes) -> bytes:
    return chunk if isinstance(chunk, bytes) else chunk.encode()


class ExpositionCache:
    """Holds the latest :class:`Rendered`; ``refresh`` replaces it atomically and builds
    (joins, compresses), ahead of time, every variant a scrape has asked for, so no scrape
    pays for rendering."""

    def __init__(self, *producers: Chunks) -> None:
        self._producers = producers
        self._lock = threading.Lock()
        self._asked: set[tuple[bool, bool]] = set()
        self._deflater = Deflater()
        self.current = render()
        self.renders = 0

    def refresh(self) -> Rendered:
        with self._lock:
            rendered = render(*self._producers, deflater=self._deflater)
            for openmetrics, compressed in list(self._asked):
                rendered.body(openmetrics, compressed)
            self.current = rendered
            self.renders += 1
            return rendered

    def body(self, accept: str, accept_encoding: str) -> tuple[bytes, str, bool]:
        """(body, content type, gzip-encoded) for a scrape with these request headers."""
        current = self.current  # one read: a concurrent refresh cannot mix two renders
        openmetrics = "application/openmetrics-text" in accept
        compressed = "gzip" in accept_encoding
        self._asked.add((openmetrics, compressed))
        content_type = OPENMETRICS if openmetrics else TEXT_CONTENT_TYPE
        return current.body(openmetrics, compressed), content_type, compressed
