"""The source registry: every source type with its configuration model, its factory and how
``check-config`` describes it.

Each source module declares one :class:`SourceType` named ``SOURCE_TYPE``; :data:`MODULES`
lists those modules in the order of the configuration union (and of its JSON Schema). The
configuration, ``build_sources`` and ``check-config`` are built from here, so adding a source
is its module, its name below, its test and its row in docs/sources.md.
"""

from __future__ import annotations

import functools
import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ..health import Health
from ..kpis.settings import KpiSettings
from ..ownership import Ownership

# The source modules, in the order of the configuration union.
MODULES = (
    "git",
    "events_file",
    "ingest",
    "github",
    "gitlab",
    "jira",
    "pagerduty",
    "opsgenie",
    "jsm_ops",
    "coverage",
    "junit",
    "sonarqube",
    "github_security",
    "github_issues",
    "gitlab_issues",
    "linear",
    "github_coverage",
    "scan_reports",
    "snyk",
    "defender",
    "qualys",
    "datadog",
    "azure_monitor",
    "http_json",
    "sql",
    "survey",
    "focus",
    "opencost",
    "aws_cost",
)


class SourceSettings(Protocol):
    """What every source configuration model has."""

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class SourceContext:
    """What a source's factory gets besides its configuration: who owns what it reads
    (``ownership``, with this exporter's shard), the ``health`` that counts its requests, the
    KPI ``settings`` (production pattern), the directory relative paths start from
    (``base_dir``), the clock, and ``what`` names the source in errors (``sources[3]``)."""

    ownership: Ownership
    health: Health
    settings: KpiSettings
    base_dir: Path
    what: str
    clock: Callable[[], float] = time.time

    def naming(self) -> dict[str, Any]:
        """The keyword arguments every source constructor takes: ``what`` and ``clock``."""
        return {"what": self.what, "clock": self.clock}

    def resolve(self, path: str) -> Path:
        """A configured path, relative to the configuration file's directory."""
        candidate = Path(path).expanduser()
        return (candidate if candidate.is_absolute() else self.base_dir / candidate).resolve()


ConfigT = TypeVar("ConfigT", bound=SourceSettings)
BuiltT = TypeVar("BuiltT")


@dataclass(frozen=True)
class SourceType(Generic[ConfigT, BuiltT]):
    """One source type: ``name`` is the ``type`` of its configuration entries, ``model`` their
    pydantic model, ``build`` makes the source (None: another shard polls it; a
    :class:`~kpi_exporter.credentials.CredentialError` is a configuration error), and
    ``describe`` gives the lines ``check-config`` prints for it. ``pushed`` marks the one that
    is not polled but receives events (the ingest endpoint)."""

    name: str
    model: type[ConfigT]
    build: Callable[[ConfigT, SourceContext], BuiltT | None]
    describe: Callable[[BuiltT], list[str]]
    pushed: bool = False


def with_settings(make: Callable[..., BuiltT]) -> Callable[[Any, SourceContext], BuiltT]:
    """The factory of a source whose constructor takes the KPI settings after the ownership
    (the delivery sources: GitHub, GitLab, Jira)."""

    def build(config: Any, context: SourceContext) -> BuiltT:
        return make(config, context.ownership, context.settings, context.health, **context.naming())

    return build


def headline(source: Any, kind: str, what: str) -> str:
    """The first line ``check-config`` prints for a polled source."""
    return f"- {source.name} ({kind}, every {source.interval:g}s): {what}"


def listed(entries: Iterable[str]) -> list[str]:
    """The files or URLs a source reads, one indented line each under its headline."""
    return [f"    {entry}" for entry in entries]


@functools.cache
def _load() -> tuple[SourceType[Any, Any], ...]:
    types = []
    for module in MODULES:
        declared = importlib.import_module(f"{__package__}.{module}").SOURCE_TYPE
        if not isinstance(declared, SourceType):
            raise TypeError(f"{__package__}.{module}.SOURCE_TYPE is not a SourceType")
        types.append(declared)
    return tuple(types)


# TYPES and BY_NAME are loaded at their first use, not when this module is imported: every
# source module imports this one for SourceType, so importing a source module first (a test
# of one source, say) would otherwise load the registry while that module is half-defined.
TYPES: tuple[SourceType[Any, Any], ...]
BY_NAME: dict[str, SourceType[Any, Any]]


def __getattr__(name: str) -> Any:
    if name == "TYPES":
        return _load()
    if name == "BY_NAME":
        return {kind.name: kind for kind in _load()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
