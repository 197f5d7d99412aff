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
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, Self, TypeVar

from ..credentials import CredentialError, read_secret
from ..health import Health
from ..kpis.settings import KpiSettings
from ..model import Event
from ..ownership import Ownership
from ..store import SourceState, Validator
from .cursor import fingerprint

if TYPE_CHECKING:  # the registry builds on this module
    from .registry import SourceContext


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


class PolledSettings(Protocol):
    """What every source configuration has."""

    @property
    def name(self) -> str: ...

    @property
    def interval(self) -> float: ...


SettingsT = TypeVar("SettingsT", bound=PolledSettings)


class PolledSource(Generic[SettingsT]):
    """The base of every polled API or report source. It keeps the configuration, name and
    interval, who owns what it reads (``ownership``, with this exporter's shard), the
    ``health`` that counts its requests, the ``sleep`` and ``clock`` its HTTP client uses
    (tests inject both), and ``what`` names it in errors (``sources[3]``).

    Its token (``token_env`` or ``token_file``, when the model has them) is read at start, so
    a missing one is a configuration error, and again by :meth:`poll_token` on every poll, so
    a rotated file is picked up. :meth:`poll` runs :meth:`read` under :func:`read_as`: an
    answer of another shape than ``system``'s API reference fails the poll naming it."""

    system: ClassVar[str] = ""

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
        # The API root of a source that reads one (its configured api_url), for its requests.
        self.api = str(getattr(config, "api_url", "")).rstrip("/")
        self.token()  # a missing secret is a configuration error, found at start

    @classmethod
    def build(cls, config: SettingsT, context: SourceContext) -> Self:
        """The source of ``config``, made from the registry's context: the factory of the
        source types whose constructor takes nothing else."""
        return cls(config, context.ownership, context.health, **context.naming())

    def token(self) -> str:
        """The configured token, read now; empty when the source has none configured."""
        env = getattr(self.config, "token_env", None)
        file = getattr(self.config, "token_file", None)
        if env is None and file is None:
            return ""
        return read_secret(env, file, self.what)

    def poll_token(self) -> str:
        """The token read when a poll starts: one gone missing fails that poll."""
        return poll_secret(self.token)

    def poll(self, state: SourceState) -> Poll:
        return read_as(self.system or self.name, lambda: self.read(state))

    def read(self, state: SourceState) -> Poll:
        """One poll of the source from the ``state`` it left last time."""
        raise NotImplementedError


class HorizonSettings(PolledSettings, Protocol):
    """The configuration of a source that reads back ``horizon`` seconds on a first sync."""

    @property
    def horizon(self) -> float: ...


HorizonT = TypeVar("HorizonT", bound=HorizonSettings)


class KpiSource(PolledSource[HorizonT]):
    """A polled source whose events depend on the KPI ``settings`` too (the production
    pattern: GitLab, Jira). Its cursor is made with the fingerprint of the API, the horizon,
    the production pattern and what :meth:`scope` adds: a change of any reads all again."""

    def __init__(
        self,
        config: HorizonT,
        ownership: Ownership,
        settings: KpiSettings,
        health: Health | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        what: str = "",
    ) -> None:
        super().__init__(config, ownership, health, sleep=sleep, clock=clock, what=what)
        self.settings = settings

    @classmethod
    def build(cls, config: HorizonT, context: SourceContext) -> Self:
        from .registry import with_settings  # the registry imports every source module

        return with_settings(cls)(config, context)

    @cached_property
    def fingerprint(self) -> str:
        what_matters = {
            "api": self.api,
            "horizon": self.config.horizon,
            "production": self.settings.production.pattern,
        }
        return fingerprint({**what_matters, **self.scope()})

    def scope(self) -> dict[str, Any]:
        """The settings besides those that the events depend on."""
        raise NotImplementedError


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
