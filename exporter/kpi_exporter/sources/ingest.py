"""The push endpoint ``POST /api/v1/events`` for CI systems (Jenkins, Argo CD, any script).

A request is signed with HMAC-SHA256 over ``<timestamp>.<body>`` with the shared secret:

    X-KPI-Timestamp: 1763900000
    X-KPI-Signature: sha256=<hex digest>

Unsigned, wrongly signed or stale requests (timestamp further than ``max_skew`` from now) are
refused, and so is a replay: a request whose signature was already accepted within the skew
window (remembered in the store, across restarts) gets 409; to send the same events again,
sign them again with a new timestamp. The body is one event object, or ``{"events": [...]}``
(format: docs/events.md); a batch is all or nothing. Events are idempotent by ``id``, so a
re-signed retry is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, NamedTuple

from pydantic import Field, model_validator

from ..config_base import Duration, Name, Strict, exactly_one
from ..credentials import read_secret
from ..model import Event
from ..ownership import Ownership
from ..store import Store
from .event_format import DuplicateKeyError, EventFormatError, parse_event, unique_keys
from .registry import SourceContext, SourceType
from .webhooks import PATHS, Headers, WebhookError, WebhookReceiver, Webhooks


class IngestSource(Strict):
    type: Literal["ingest"]
    name: Name
    secret_env: str | None = Field(None, description="Env variable holding the HMAC secret.")
    secret_file: str | None = Field(None, description="File holding the HMAC secret.")
    max_skew: Duration = Field(300.0, description="Oldest or most future signed timestamp.")
    max_body_bytes: int = Field(1_048_576, gt=0)
    webhooks: Webhooks = Field(
        default_factory=Webhooks,
        description="Native webhooks (GitHub deployment_status, GitLab deployment events,"
        " Argo CD notifications) on /api/v1/webhooks/<vendor>, each with its own secret.",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> IngestSource:
        exactly_one(self, "secret_env", "secret_file")
        return self


log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-KPI-Timestamp"
SIGNATURE_HEADER = "X-KPI-Signature"
MAX_EVENTS = 10_000
MAX_DEPTH = 32  # nesting of JSON objects and lists in a body; a batch of events needs 5


class Signed(NamedTuple):
    """A verified request: a digest of its signature (what a replay repeats) and its time."""

    digest: str
    sent_at: float


class IngestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def content_length(header: str | None) -> int:
    """The Content-Length header as a byte count (absent: 0); IngestError 400 otherwise."""
    value = (header or "0").strip()
    # ASCII digits only: int() would take "+5", " 5", "1_0" and other scripts' digits.
    if not (value.isascii() and value.isdigit()):
        raise IngestError(400, "Content-Length: expected a non-negative integer")
    if len(value) > 18:  # int() refuses more than 4,300 digits; no body is that large anyway
        raise IngestError(413, f"Content-Length: {len(value)} digits, larger than any body")
    return int(value)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class Ingest:
    def __init__(
        self,
        config: IngestSource,
        secret: str,
        ownership: Ownership,
        clock: Callable[[], float] = time.time,
        webhooks: WebhookReceiver | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self._secret = secret
        self.ownership = ownership
        self.clock = clock
        self.webhooks = webhooks or WebhookReceiver(self.name, {}, "", ownership)
        self._replay_lock = threading.Lock()
        self._in_flight: set[str] = set()

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> Signed:
        if not timestamp or not signature:
            raise IngestError(
                401,
                f"unsigned request: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required",
            )
        for header, value in ((TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)):
            if not value.isascii():
                raise IngestError(400, f"{header}: expected ASCII characters only")
        try:
            sent_at = float(timestamp)
        except ValueError:
            raise IngestError(401, f"{TIMESTAMP_HEADER}: expected epoch seconds") from None
        # Written so that NaN (which compares false to everything) is refused as well.
        if not abs(self.clock() - sent_at) <= self.config.max_skew:
            raise IngestError(
                401,
                f"stale request: {TIMESTAMP_HEADER} is more than "
                f"{self.config.max_skew:.0f} s from the server's clock",
            )
        expected = sign(self._secret, timestamp, body)
        if not hmac.compare_digest(expected, signature.strip()):
            raise IngestError(401, f"{SIGNATURE_HEADER}: signature does not match the body")
        return Signed(hashlib.sha256(expected.encode()).hexdigest(), sent_at)

    def webhook(self, path: str, headers: Headers, body: bytes) -> tuple[Signed, list[Event]]:
        """A native webhook on ``path`` (``/api/v1/webhooks/<vendor>``), verified by its
        vendor's scheme: what a replay of it repeats, and its deployments. IngestError 404
        when that vendor is not configured, 401 unverified, 400 naming a bad field."""
        vendor = PATHS[path]
        if not self.webhooks.accepts(vendor):
            raise IngestError(404, f"no {vendor} webhook is configured on {self.name}")
        try:
            self.webhooks.verify(vendor, headers, body)
            delivery = self.webhooks.read(vendor, headers, body, parse_json(body))
        except WebhookError as error:
            raise IngestError(error.status, f"{vendor} webhook: {error}") from None
        return Signed(delivery.digest, self.clock()), delivery.events

    @contextmanager
    def first_time(self, store: Store, signed: Signed) -> Iterator[None]:
        """Run the block (storing the request's events) unless the same signed request was
        accepted before within the skew window, or is being stored right now: then raise
        IngestError 409. Remembered only once the block succeeds, so a request that failed
        can be retried as it is; a crash between the two commits lets one replay through
        rather than refuse an unstored retry."""
        with self._replay_lock:
            if signed.digest in self._in_flight or store.push_seen(self.name, signed.digest):
                raise IngestError(
                    409,
                    f"replay: this signed request was already accepted ({SIGNATURE_HEADER} "
                    "or webhook delivery seen before); to send the same events again, sign "
                    f"them with a new {TIMESTAMP_HEADER}",
                )
            self._in_flight.add(signed.digest)
        try:
            yield
            # Kept twice the window: a replay is also refused after the clock steps back.
            forget_before = self.clock() - 2 * self.config.max_skew
            try:
                store.remember_push(self.name, signed.digest, signed.sent_at, forget_before)
            except sqlite3.Error as error:  # the events are committed: still acknowledge them
                log.error("ingest: cannot remember an accepted push against replays: %s", error)
        finally:
            with self._replay_lock:
                self._in_flight.discard(signed.digest)

    def events(self, body: bytes) -> list[Event]:
        """Parse a verified body; raise :class:`IngestError` (400) naming the bad event."""
        data = parse_json(body)
        items = data["events"] if isinstance(data, dict) and "events" in data else [data]
        if not isinstance(items, list):
            raise IngestError(400, "field 'events': expected a list")
        if len(items) > MAX_EVENTS:
            raise IngestError(413, f"field 'events': at most {MAX_EVENTS} events per request")
        events: list[Event] = []
        for index, item in enumerate(items):
            try:
                events.extend(parse_event(item, self.name, self.ownership))
            except EventFormatError as error:
                raise IngestError(400, f"events[{index}]: {error}") from None
        return events


def parse_json(body: bytes) -> Any:
    """A request body as JSON, bounded; IngestError 400 saying what is wrong."""
    try:
        data = json.loads(
            body,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            object_pairs_hook=unique_keys,
        )
    except DuplicateKeyError as error:
        raise IngestError(400, f"body: {error}") from None
    except UnicodeDecodeError as error:
        raise IngestError(400, f"body is not UTF-8: {error.reason} at byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise IngestError(400, f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise IngestError(400, f"body nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # an integer of more than 4,300 digits, NaN, 1e999
        raise IngestError(400, f"body: number out of range: {error}") from None
    if _depth(data) > MAX_DEPTH:
        raise IngestError(400, f"body nested deeper than {MAX_DEPTH} levels")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is too large for a float")
    return value


def _depth(data: Any) -> int:
    """How deeply objects and lists nest in ``data`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((item, depth + 1) for item in value)
    return deepest


def _build(config: IngestSource, context: SourceContext) -> Ingest:
    secret = read_secret(config.secret_env, config.secret_file, context.what)
    receiver = WebhookReceiver.configured(
        config.name, config.webhooks, context.ownership, context.what
    )
    return Ingest(config, secret, context.ownership, webhooks=receiver)


def _describe(ingest: Ingest) -> list[str]:
    reference = ingest.config.secret_env or ingest.config.secret_file
    lines = [f"- {ingest.name} (ingest): POST /api/v1/events, secret from {reference}"]
    for path, vendor in PATHS.items():
        if ingest.webhooks.accepts(vendor):
            lines.append(f"    POST {path} ({vendor} webhook)")
    return lines


SOURCE_TYPE = SourceType("ingest", IngestSource, _build, _describe, pushed=True)
