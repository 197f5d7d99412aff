"""Sharding: N exporters share the apps of one configuration, each app owned by exactly one.

By app (``--shard.by app``, the default), an app belongs to shard ``hash(app) % count``; by
team (``--shard.by team``), every app of a team belongs to shard ``hash(team) % count``, the
team of an app being the one the configuration's ``apps`` section gives it (``defaults.team``
for the others). ``hash`` is the first 8 bytes of the SHA-256 of the name (stable across
processes, machines and Python versions, unlike Python's ``hash``).

Why by team: a team's exact window quantiles (its median lead time is the median of its
changes) need all its apps in one process. Sharded by app, a process publishes exact
quantiles at the app level only; by team, at the team level too. The organisation level of a
sharded installation is always estimated by the rules from every shard's observations per
bucket (see kpis/windows.py). Every shard reads the same configuration:

- sources listed per app (a git repository, GitHub repositories, GitLab projects) poll only
  the repositories of the shard's apps, so no app is polled twice;
- every other source (incident tools, issue trackers, reports, cost exports) is read by each
  shard, and each keeps the events of its own apps only (``Shard.keeps``), so a deployment and
  the incidents that link to it are always in the same store.

Summed over the shards, every counter equals the unsharded exporter's. With ``count`` 1 (the
default) every app is the shard's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from .model import Event

_ORDINAL = re.compile(r"-(\d+)$")


def _nobody(app: str) -> str:
    return ""


@dataclass(frozen=True)
class Shard:
    """``by``: "app" or "team"; ``team_of`` gives an app's team (sharding by team)."""

    index: int = 0
    count: int = 1
    by: str = "app"
    team_of: Callable[[str], str] = _nobody

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"--shard.count must be at least 1, not {self.count}")
        if self.by not in ("app", "team"):
            raise ValueError(f"--shard.by {self.by!r}: app or team")
        if not 0 <= self.index < self.count:
            raise ValueError(
                f"--shard.index {self.index} is outside 0..{self.count - 1} (--shard.count "
                f"{self.count}): a StatefulSet has as many pods as shards"
            )

    @property
    def sharded(self) -> bool:
        return self.count > 1

    @property
    def exact_levels(self) -> tuple[str, ...]:
        """The levels above the app whose windowed quantiles this process can compute exactly:
        all of them unsharded; the team sharded by team; none sharded by app (the rules then
        estimate them from every shard's ``_observations``)."""
        if not self.sharded:
            return ("team", "org")
        return ("team",) if self.by == "team" else ()

    @property
    def assignment(self) -> str:
        """What the store remembers of the assignment: "1/3" (by app), "1/3/team"."""
        base = f"{self.index}/{self.count}"
        return base if self.by == "app" else f"{base}/{self.by}"

    def owns(self, app: str) -> bool:
        if not self.sharded:
            return True
        key = self.team_of(app) if self.by == "team" else app
        return shard_of(key, self.count) == self.index

    def keeps(self, event: Event) -> bool:
        if not self.sharded:
            return True
        key = event.team if self.by == "team" else event.app
        return shard_of(key, self.count) == self.index

    def __str__(self) -> str:
        return f"shard {self.index} of {self.count} by {self.by}"


def shard_of(app: str, count: int) -> int:
    digest = hashlib.sha256(app.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_index(text: str) -> int:
    """``--shard.index``: a number, or a StatefulSet pod name whose ordinal ends it
    (``kpi-exporter-2`` -> 2), so the pod name from the downward API can be passed as is."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    match = _ORDINAL.search(text)
    if match is None:
        raise ValueError(
            f"--shard.index {text!r}: expected a number or a StatefulSet pod name ending in "
            "-<ordinal> (like kpi-exporter-2)"
        )
    return int(match.group(1))
