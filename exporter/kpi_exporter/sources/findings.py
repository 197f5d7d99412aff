"""What the vulnerability-management sources (Snyk, Microsoft Defender, Qualys) share: the
severity words of the security families, and the app of the asset a finding is on (a Snyk
project, a Defender machine, a Qualys host)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any, ClassVar, Protocol, TypeVar

from ..ownership import Owner, Ownership
from . import PolledSettings, PolledSource
from .cursor import fingerprint

SEVERITIES = ("critical", "high", "medium", "low")


def severity_of(word: object, aliases: Mapping[str, str] | None = None) -> str:
    """A vendor's severity word as the security families spell it (``critical`` .. ``low``),
    through ``aliases`` first (Snyk's ``info`` is ``low``); ``unknown`` for anything else."""
    text = str(word or "").strip().lower()
    text = (aliases or {}).get(text, text)
    return text if text in SEVERITIES else "unknown"


def skipped(what: str, item: Any, error: Exception) -> str:
    """The problem of one finding of another shape than the API reference describes: ``what``
    and the item's ``id`` name it, then the error."""
    id_ = item.get("id") if isinstance(item, dict) else repr(item)[:40]
    return f"{what} {id_}: skipped: {type(error).__name__} {error}"


def owner_of_asset(
    ownership: Ownership,
    names: Iterable[str],
    globs: Mapping[str, str],
    app: str | None = None,
) -> Owner:
    """The owner of an asset known by ``names`` (a project name, a machine's tags, a host's
    asset groups): the app of the first glob of ``globs`` (``pattern -> app``, first wins)
    that one of the names matches; else the app whose ``repos`` or ``services`` list a name;
    else ``app``; else the defaults."""
    listed = [name for name in names if name]
    for pattern, matched in globs.items():
        if any(fnmatchcase(name, pattern) for name in listed):
            return ownership.of_app(matched)
    for name in listed:
        for owner in (ownership.of_repo(name), ownership.of_service(name)):
            if owner != ownership.default:
                return owner
    return ownership.of_app(app)


class FindingsSettings(PolledSettings, Protocol):
    """What the configuration of a vulnerability-management source has besides its own."""

    @property
    def app(self) -> str | None: ...


FindingsT = TypeVar("FindingsT", bound=FindingsSettings)


class FindingsSource(PolledSource[FindingsT]):
    """A vulnerability-management source (Snyk, Defender, Qualys). Its cursor is made with
    :attr:`settings`: the fingerprint of the API root, the source's ``app`` and what
    :meth:`scope` adds (the asset globs, filters): a change of any reads everything again."""

    @cached_property
    def settings(self) -> str:
        return fingerprint({"api": self.api, "app": self.config.app, **self.scope()})

    # The settings besides the API root and ``app`` that the events depend on: a change of
    # any of them reads everything again.
    scoped: ClassVar[tuple[str, ...]] = ()

    def scope(self) -> dict[str, Any]:
        """The values of :attr:`scoped` (lists and sets sorted: their order means nothing)."""
        values = {name: getattr(self.config, name) for name in self.scoped}
        return {
            name: sorted(value) if isinstance(value, list | set | frozenset | tuple) else value
            for name, value in values.items()
        }

    def owner(self, names: Iterable[str], globs: Mapping[str, str]) -> Owner:
        """The owner of an asset known by ``names`` (see :func:`owner_of_asset`)."""
        return owner_of_asset(self.ownership, names, globs, self.config.app)
