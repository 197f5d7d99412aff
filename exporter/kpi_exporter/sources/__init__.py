"""Sources: one module per external system, all with the same small interface.

A source is polled with the state it left last time (cursor, HTTP validators) and returns a
:class:`Poll`: the normalised events it found, its new state, and the problems it skipped
(a bad input line is reported and skipped; the rest of the poll still counts). A source that
cannot poll at all raises; the scheduler then marks it down and keeps its stored data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from ..credentials import CredentialError
from ..health import Health
from ..model import Event
from ..ownership import Ownership
from ..store import SourceState, Validator


@dataclass(slots=True)
class Poll:
    events: list[Event]
    cursor: str | None
    validators: dict[str, Validator] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Source(Protocol):
    name: str
    interval: float

    def poll(self, state: SourceState) -> Poll: ...


class _Settings(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def interval(self) -> float: ...


SettingsT = TypeVar("SettingsT", bound=_Settings)


class PolledSource(Generic[SettingsT]):
    """What every polled API or report source keeps: its configuration, name and interval,
    who owns what it reads (``ownership``, with this exporter's shard), the ``health`` that
    counts its requests, the ``sleep`` and ``clock`` its HTTP client uses (tests inject both),
    and ``what`` names it in errors (``sources[3]``)."""

    def __init__(
        self,
        config: SettingsT,
        ownership: Ownership,
        health: Health | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        what: str = "",
    ) -> None:
        self.config = config
        self.name = config.name
        self.interval = config.interval
        self.what = what or f"source {config.name}"
        self.ownership = ownership
        self.health = health or Health()
        self.sleep = sleep
        self.clock = clock


class SourceError(Exception):
    """A poll that failed as a whole, with a message fit for logs and the landing page."""


def read_as(system: str, read: Callable[[], Poll]) -> Poll:
    """Run a poll's ``read``. JSON of another shape than the API reference describes (a proxy,
    an old server version) surfaces as KeyError, TypeError, ... deep in the parsing: report it
    as a failed poll that names the system."""
    try:
        return read()
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SourceError(
            f"unexpected {system} response ({type(error).__name__}: {error})"
        ) from None


T = TypeVar("T")


def poll_secret(read: Callable[[], T]) -> T:
    """A secret read when a poll starts (so a rotated file is picked up): one gone missing since
    the start fails that poll, with the credential's message, instead of the process."""
    try:
        return read()
    except CredentialError as error:
        raise SourceError(str(error)) from None
