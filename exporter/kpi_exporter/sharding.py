"""Sharding: N exporters share the apps of one configuration, each app owned by exactly one.

An app belongs to shard ``hash(app) % count``, where ``hash`` is the first 8 bytes of the
SHA-256 of the app name (stable across processes, machines and Python versions, unlike
Python's ``hash``). Every shard reads the same configuration:

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
from dataclasses import dataclass

from .model import Event

_ORDINAL = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"--shard.count must be at least 1, not {self.count}")
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
        all of them unsharded; none when the apps of a team may be on other shards (the rules
        then estimate them from every shard's ``_observations``)."""
        return ("team", "org") if not self.sharded else ()

    def owns(self, app: str) -> bool:
        return not self.sharded or shard_of(app, self.count) == self.index

    def keeps(self, event: Event) -> bool:
        return self.owns(event.app)

    def __str__(self) -> str:
        return f"shard {self.index} of {self.count}"


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
