"""The files a file-reading source reads: configured paths or globs; and the base of the
sources that read reports from files and URLs."""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, Self, TypeVar

from pydantic import Field, model_validator

from ..config_base import Credentials, Duration, Name
from ..health import Health
from ..ownership import Ownership
from ..store import SourceState
from . import PolledSettings, PolledSource
from .http import HttpClient

if TYPE_CHECKING:  # the registry builds on the sources
    from .registry import SourceContext


class _FileSettings(PolledSettings, Protocol):
    @property
    def paths(self) -> list[str]: ...


FileT = TypeVar("FileT", bound=_FileSettings)


class FileSource(Generic[FileT]):
    """The base of a source of local files: its configuration, name and interval, the files
    matching its ``paths`` (globs, relative to ``base_dir``) and who owns what they hold."""

    def __init__(self, config: FileT, base_dir: Path, ownership: Ownership) -> None:
        self.config = config
        self.name = config.name
        self.interval = config.interval
        self.base_dir = base_dir
        self.paths = list(config.paths)
        self.ownership = ownership

    @classmethod
    def build(cls, config: FileT, context: SourceContext) -> Self:
        return cls(config, context.base_dir, context.ownership)

    def files(self) -> list[str]:
        return matching_files(self.base_dir, self.paths)


class ReportInputs(Credentials):
    """Report files (paths or globs) and/or URLs, a token, if set, sent to the URLs as
    ``Authorization: Bearer``."""

    token_required = False

    name: Name
    interval: Duration = 300.0
    paths: list[str] = Field(default_factory=list, description="Report files or globs.")
    urls: list[str] = Field(default_factory=list, description="Report URLs.")

    @model_validator(mode="after")
    def _inputs(self) -> Self:
        if not self.paths and not self.urls:
            raise ValueError("set paths, urls, or both")
        return self


def matching_files(base_dir: Path, paths: Iterable[str]) -> list[str]:
    """Every file the configured ``paths`` name, sorted. A relative path starts at ``base_dir``
    (the configuration file's directory); a glob may use ``**`` for any depth; a plain path is
    kept even when missing, so that reading it reports the problem."""
    found: set[str] = set()
    for path in paths:
        pattern = path if os.path.isabs(path) else str(base_dir / path)
        found.update(glob.glob(pattern, recursive=True) if glob.has_magic(pattern) else [pattern])
    return sorted(found)


ReportT = TypeVar("ReportT", bound=ReportInputs)


class ReportSource(PolledSource[ReportT]):
    """A source of reports read from files (``paths``, relative to ``base_dir``) and URLs
    (``urls``, with the optional token as ``Authorization: Bearer``)."""

    def __init__(
        self,
        config: ReportT,
        base_dir: Path,
        ownership: Ownership,
        health: Health | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        what: str = "",
    ) -> None:
        super().__init__(config, ownership, health, sleep=sleep, clock=clock, what=what)
        self.base_dir = base_dir
        self.paths = list(config.paths)

    @classmethod
    def build(cls, config: ReportT, context: SourceContext) -> Self:
        return cls(config, context.base_dir, context.ownership, context.health, **context.naming())

    def files(self) -> list[str]:
        return matching_files(self.base_dir, self.paths)

    def _http(self, state: SourceState) -> HttpClient:
        """The client of the report URLs: the token read once per poll."""
        token = self.poll_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return HttpClient.for_poll(
            self,
            state,
            lambda: headers,
        )
