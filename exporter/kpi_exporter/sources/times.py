"""Times in API answers and reports: one reading of ISO 8601 / RFC 3339 for every source."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from . import SourceError

# Fractions beyond microseconds (Trivy writes nanoseconds), which datetime cannot read.
_SUBMICRO = re.compile(r"(\.\d{6})\d+")


def parse_time(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (``2026-03-02T10:00:00Z``, ``...+0000``,
    ``2026-03-02``); a time without an offset is UTC. ValueError when it is none."""
    moment = datetime.fromisoformat(_SUBMICRO.sub(r"\1", text.replace("Z", "+00:00")))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def api_time(value: Any, system: str) -> float | None:
    """Epoch seconds of a time field of ``system``'s answer; None when absent (null or
    empty); a failed poll naming the system when it is not a time."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise SourceError(f"unexpected time value {value!r} in a {system} response")
    try:
        return parse_time(value)
    except ValueError:
        raise SourceError(f"unexpected time value {value!r} in a {system} response") from None


def iso(seconds: float) -> str:
    """The UTC spelling APIs take in ``since`` and ``*_after`` parameters."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_date(day: int) -> str:
    """The UTC date of the ``day``-th day since the epoch (``2026-03-05``)."""
    return datetime.fromtimestamp(day * 86400.0, UTC).strftime("%Y-%m-%d")
