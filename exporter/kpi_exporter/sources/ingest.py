"""The push endpoint ``POST /api/v1/events`` for CI systems (Jenkins, Argo CD, any script).

A request is signed with HMAC-SHA256 over ``<timestamp>.<body>`` with the shared secret:

    X-KPI-Timestamp: 1763900000
    X-KPI-Signature: sha256=<hex digest>

Unsigned, wrongly signed or stale requests (timestamp further than ``max_skew`` from now) are
refused. The body is one event object, or ``{"events": [...]}`` (format: docs/events.md);
a batch is all or nothing. Events are idempotent by ``id``, so a retried request is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from ..config_base import Duration, Name, Strict, exactly_one
from ..credentials import read_secret
from ..model import Event
from ..ownership import Ownership
from .event_format import EventFormatError, parse_event
from .registry import SourceContext, SourceType


class IngestSource(Strict):
    type: Literal["ingest"]
    name: Name
    secret_env: str | None = Field(None, description="Env variable holding the HMAC secret.")
    secret_file: str | None = Field(None, description="File holding the HMAC secret.")
    max_skew: Duration = Field(300.0, description="Oldest or most future signed timestamp.")
    max_body_bytes: int = Field(1_048_576, gt=0)

    @model_validator(mode="after")
    def _one_secret(self) -> IngestSource:
        exactly_one(self, "secret_env", "secret_file")
        return self


TIMESTAMP_HEADER = "X-KPI-Timestamp"
SIGNATURE_HEADER = "X-KPI-Signature"
MAX_EVENTS = 10_000


class IngestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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
    ) -> None:
        self.name = config.name
        self.config = config
        self._secret = secret
        self.ownership = ownership
        self.clock = clock

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> None:
        if not timestamp or not signature:
            raise IngestError(
                401,
                f"unsigned request: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required",
            )
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

    def events(self, body: bytes) -> list[Event]:
        """Parse a verified body; raise :class:`IngestError` (400) naming the bad event."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise IngestError(400, f"body is not valid JSON: {error}") from None
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


def _build(config: IngestSource, context: SourceContext) -> Ingest:
    secret = read_secret(config.secret_env, config.secret_file, context.what)
    return Ingest(config, secret, context.ownership)


def _describe(ingest: Ingest) -> list[str]:
    reference = ingest.config.secret_env or ingest.config.secret_file
    return [f"- {ingest.name} (ingest): POST /api/v1/events, secret from {reference}"]


SOURCE_TYPE = SourceType("ingest", IngestSource, _build, _describe, pushed=True)
