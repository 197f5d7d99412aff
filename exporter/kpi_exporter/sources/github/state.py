"""What the source remembers of each repository between polls (its part of the cursor).

- how far each kind of object was read: the newest ``updatedAt`` of pull requests and issues,
  the newest creation time of deployment signals, the default branch's head commit;
- the default-branch commits (oid -> parents) within the horizon that are not deployed yet,
  and the merged pull requests that wait for their first production deployment;
- recent production deployments (for rollbacks, and for pull requests read after their
  deployment), and the signals that may still change (pending deployments, draft releases).

A new successful production deployment walks the graph from its commit over the parents:
every undeployed commit it reaches is deployed by it, and so is each waiting pull request
whose merge commit is among them (the rule of sources/git.py, kept incremental so that the
history is downloaded once). Deployed commits are kept while their deployment is recent;
undeployed ones until they leave the horizon. The state grows with the undeployed work, not
with the history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...model import Change, from_json, to_json
from ..delivery import first_shipped, redeploys
from .normalise import Node, Signal, parse_time

DAY = 86400.0
SHIPPED_KEEP = 7 * DAY  # deployments remembered at least this long ...
SHIPPED_MIN = 20  # ... and at least this many of them
PENDING_LIMIT = 7 * DAY  # a deployment not final after this long is given up
RECHECK_PENDING = DAY  # deployments pending for less than this are re-read every poll


@dataclass(slots=True)
class Commit:
    at: float  # committed
    parents: list[str]
    deployed_by: str = ""  # signal id of the first production deployment that reached it


@dataclass(frozen=True, slots=True)
class Shipped:
    """A successful production deployment."""

    id: str
    environment: str
    commit: str
    at: float


@dataclass(frozen=True, slots=True)
class Waiting:
    """A merged pull request whose merge commit no production deployment reached yet."""

    change: Change
    kind: str  # revert | hotfix | ""


@dataclass(slots=True)
class RepoState:
    app: str
    team: str
    branch: str = ""
    head: str = ""
    head_at: float | None = None
    pulls_read: float | None = None
    issues_read: float | None = None
    signals_read: float | None = None
    commits: dict[str, Commit] = field(default_factory=dict)
    waiting: dict[str, Waiting] = field(default_factory=dict)  # by merge commit
    shipped: list[Shipped] = field(default_factory=list)  # oldest first
    pending: dict[str, float] = field(default_factory=dict)  # signal id -> created
    seen: dict[str, float] = field(default_factory=dict)  # final signal id -> created

    # --- the commit graph ----------------------------------------------------------------

    def add_commits(self, nodes: list[Node]) -> None:
        """Commits read from the history (newest first); known ones keep their mark."""
        for node in nodes:
            oid = str(node["oid"])
            if oid not in self.commits:
                at = parse_time(node["committedDate"]) or 0.0
                parents = [str(p["oid"]) for p in (node.get("parents") or {}).get("nodes", [])]
                self.commits[oid] = Commit(at, parents)
        if nodes:
            self.head = str(nodes[0]["oid"])
            self.head_at = parse_time(nodes[0]["committedDate"])

    def rebuild(self, nodes: list[Node]) -> None:
        """The branch was rewritten (force-push): the graph is the history read again, and
        the recent deployments mark again what they reach of it."""
        self.commits = {}
        self.head, self.head_at = "", None
        self.add_commits(nodes)
        for shipped in self.shipped:
            self._walk(shipped.commit, shipped.id)

    def _walk(self, tip: str, by: str) -> list[str]:
        parents = {oid: commit.parents for oid, commit in self.commits.items()}
        reached = first_shipped(tip, parents, lambda oid: bool(self.commits[oid].deployed_by))
        for oid in reached:
            self.commits[oid].deployed_by = by
        return reached

    def deployment_of(self, oid: str) -> Shipped | None:
        """The recent deployment that reached a merge commit, for a pull request read late."""
        commit = self.commits.get(oid)
        if commit is None or not commit.deployed_by:
            return None
        return next((s for s in self.shipped if s.id == commit.deployed_by), None)

    # --- deployments ---------------------------------------------------------------------

    def redeploys(self, signal: Signal) -> bool:
        """Whether ``signal`` deploys again a commit an earlier deployment to the same
        environment shipped, other than the one running there now: a rollback."""
        earlier = [s.commit for s in self.shipped if s.environment == signal.environment]
        return redeploys(earlier, signal.commit)

    def ship(self, signal: Signal) -> list[Waiting]:
        """Record a successful production deployment; the pull requests it deploys."""
        reached = self._walk(signal.commit, signal.id)
        if signal.commit not in self.commits and signal.commit in self.waiting:
            reached.append(signal.commit)  # its merge commit is not in the history read yet
        self.shipped.append(
            Shipped(signal.id, signal.environment, signal.commit, signal.finished_at)
        )
        return [self.waiting.pop(oid) for oid in reached if oid in self.waiting]

    def reread_from(self, horizon_start: float, slack: float = 0.0) -> float:
        """Where the next reading of signals starts: the newest one read, or the oldest that
        may still change (``slack`` earlier for tags, listed by their commit date)."""
        start = self.signals_read if self.signals_read is not None else horizon_start
        start = min([start, *self.pending.values()]) - slack
        return max(horizon_start, start)

    def recheck(self, now: float) -> bool:
        """Whether a deployment was pending lately: its status may have changed although no
        new deployment was created (which is what the conditional request watches)."""
        return any(now - created < RECHECK_PENDING for created in self.pending.values())

    # --- housekeeping --------------------------------------------------------------------

    def prune(
        self,
        horizon_start: float,
        now: float,
        slack: float = 0.0,
        pending_limit: float = PENDING_LIMIT,
    ) -> None:
        """Forget what no later poll needs: old deployments and the commits they reached,
        undeployed work older than the horizon, signals that cannot change any more."""
        recent = self.shipped[-SHIPPED_MIN:]
        self.shipped = [s for s in self.shipped if now - s.at <= SHIPPED_KEEP or s in recent]
        kept = {s.id for s in self.shipped}
        self.commits = {
            oid: c
            for oid, c in self.commits.items()
            if c.at >= horizon_start and (not c.deployed_by or c.deployed_by in kept)
        }
        self.waiting = {
            oid: w
            for oid, w in self.waiting.items()
            if (w.change.merged_at or 0.0) >= horizon_start
        }
        self.pending = {i: at for i, at in self.pending.items() if now - at <= pending_limit}
        bound = self.reread_from(horizon_start, slack)
        self.seen = {i: at for i, at in self.seen.items() if at >= bound}

    # --- cursor --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "team": self.team,
            "branch": self.branch,
            "head": self.head,
            "head_at": self.head_at,
            "pulls_read": self.pulls_read,
            "issues_read": self.issues_read,
            "signals_read": self.signals_read,
            "commits": {o: [c.at, c.parents, c.deployed_by] for o, c in self.commits.items()},
            "waiting": {
                o: [json.loads(to_json(w.change)), w.kind] for o, w in self.waiting.items()
            },
            "shipped": [[s.id, s.environment, s.commit, s.at] for s in self.shipped],
            "pending": self.pending,
            "seen": self.seen,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RepoState:
        waiting = {}
        for oid, (change, kind) in data["waiting"].items():
            event = from_json("change", json.dumps(change))
            if not isinstance(event, Change):
                raise ValueError("not a change")
            waiting[oid] = Waiting(event, str(kind))
        return cls(
            app=data["app"],
            team=data["team"],
            branch=data["branch"],
            head=data["head"],
            head_at=data["head_at"],
            pulls_read=data["pulls_read"],
            issues_read=data["issues_read"],
            signals_read=data["signals_read"],
            commits={o: Commit(at, list(ps), by) for o, (at, ps, by) in data["commits"].items()},
            waiting=waiting,
            shipped=[Shipped(i, e, c, at) for i, e, c, at in data["shipped"]],
            pending={str(i): float(at) for i, at in data["pending"].items()},
            seen={str(i): float(at) for i, at in data["seen"].items()},
        )
