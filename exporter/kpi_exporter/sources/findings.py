"""What the vulnerability-management sources (Snyk, Microsoft Defender, Qualys) share: the
severity words of the security families, and the app of the asset a finding is on (a Snyk
project, a Defender machine, a Qualys host)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from ..ownership import Owner, Ownership

SEVERITIES = ("critical", "high", "medium", "low")


def severity_of(word: object, aliases: Mapping[str, str] | None = None) -> str:
    """A vendor's severity word as the security families spell it (``critical`` .. ``low``),
    through ``aliases`` first (Snyk's ``info`` is ``low``); ``unknown`` for anything else."""
    text = str(word or "").strip().lower()
    text = (aliases or {}).get(text, text)
    return text if text in SEVERITIES else "unknown"


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
