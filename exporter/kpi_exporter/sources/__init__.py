"""Sources: one module per external system, all with the same small interface.

A source is polled with the state it left last time (cursor, HTTP validators) and returns a
:class:`Poll`: the normalised events it found, its new state, and the problems it skipped
(a bad input line is reported and skipped; the rest of the poll still counts). A source that
cannot poll at all raises; the scheduler then marks it down and keeps its stored data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..model import Event
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
