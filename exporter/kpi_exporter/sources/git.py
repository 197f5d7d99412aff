"""Local git repository, read with the real ``git`` command line. No token, no network.

Deployments come from the history by one of three rules (see ``config.DeployRule``): tags
matching a pattern, merge commits on a branch, or a release train on a branch. Each
non-merge commit is a change; the first deployment (in time order) whose commit reaches it
deploys it, so its lead time is author time -> deployment time.

The horizon selects deployments (a deployment older than it is not read), and a deployment
keeps all its changes: those its commit reaches and no earlier deployment's does, however old.
Commits no deployment reaches yet are read back to the horizon. A lightweight tag is dated by
its commit (committer date), an annotated one by its tagging.

Incremental: the cursor is a fingerprint of every ref (and of the settings the events depend
on); when no ref moved, the poll reads nothing else. When one moved, the history within the
horizon is read again and the store's idempotent upsert keeps only what changed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from ..config_base import SEMVER_TAG_PATTERN, Duration, Name, Regex, Strict
from ..model import Change, Deployment, Event
from ..ownership import Owner
from ..store import SourceState
from . import Poll, SourceError
from .registry import SourceContext, SourceType, headline


class DeployRule(Strict):
    """How a local git history tells deployments.

    - ``tags``: every tag matching ``tag_pattern`` is a deployment at the tag's date;
    - ``merges``: every merge commit on ``branch`` (first parent) is a deployment;
    - ``train``: a release train on ``branch``: per ``period`` (UTC, from the epoch), the
      last first-parent commit of the period is deployed at its commit time.
    """

    rule: Literal["tags", "merges", "train"] = "tags"
    tag_pattern: Regex = SEMVER_TAG_PATTERN
    branch: str = "HEAD"
    period: Duration = 86400.0


class GitSource(Strict):
    type: Literal["git"]
    name: Name
    interval: Duration = 300.0
    path: str = Field(description="A local git repository, relative to this file.")
    app: str | None = Field(None, description="App label; else from the apps mapping (repos).")
    environment: str = "production"
    deploy: DeployRule = Field(default_factory=DeployRule)
    horizon: Duration = Field(365 * 86400.0, description="How far back the history is read.")


log = logging.getLogger(__name__)
GIT_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    authored_at: float
    committed_at: float


@dataclass(frozen=True, slots=True)
class Release:
    """A deployment found in the history, before it becomes a :class:`Deployment`."""

    key: str
    commit: str
    at: float
    version: str


def _since(since: float) -> list[str]:
    """The ``git log`` option that stops at the horizon. With ``@0`` or a negative epoch git
    lists no commit at all, so a horizon reaching back before 1970 passes no limit."""
    return [f"--since=@{int(since)}"] if since >= 1 else []


class GitRepository:
    """Polls one local repository."""

    def __init__(self, config: GitSource, path: Path, owner: Owner) -> None:
        self.name = config.name
        self.interval = config.interval
        self.config = config
        self.path = path
        self.owner = owner

    def git(self, *args: str, stdin: str | None = None) -> str:
        try:
            result = subprocess.run(
                ["git", "-C", str(self.path), *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SourceError(f"{self.path}: git {args[0]} failed: {error}") from None
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            # git ends some errors with a usage hint: report its fatal/error line instead.
            errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
            message = (errors or lines or ["no message"])[0]
            raise SourceError(f"{self.path}: git {args[0]} failed: {message}")
        return result.stdout

    def preflight(self) -> list[str]:
        """What ``check-config`` finds wrong before any poll: a path that is no directory or
        no git repository."""
        if not self.path.is_dir():
            return [f"{self.path}: no such directory"]
        try:
            self.git("rev-parse", "--git-dir")
        except SourceError as error:
            return [str(error)]
        return []

    def poll(self, state: SourceState) -> Poll:
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: no such directory")
        refs = self.git("for-each-ref", "--format=%(objectname) %(refname)")
        branch = self.config.deploy.branch
        try:
            head = self.git("rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}")
        except SourceError:
            raise SourceError(f"{self.path}: branch {branch!r} has no commit") from None
        # What the events depend on besides the refs: a new rule, horizon, environment or owner
        # (a configuration change) reads the history again.
        config = self.config
        settings = (
            config.deploy.model_dump_json(),
            config.horizon,
            config.environment,
            *self.owner,
        )
        fingerprint = hashlib.sha256(f"{settings}\n{head}\n{refs}".encode()).hexdigest()
        if fingerprint == state.cursor:
            return Poll(events=[], cursor=fingerprint)
        since = time.time() - self.config.horizon
        every = self.releases()
        releases = [r for r in every if r.at >= since]
        earlier = [r.commit for r in every if r.at < since]
        # The horizon selects deployments: each keeps all its changes, however old (what an
        # earlier deployment reached is its own). Changes no deployment reached yet are
        # read back to the horizon.
        shipped = [r.commit for r in releases]
        commits = self.commits(shipped, earlier)
        commits.update(self.commits([head.strip()], [*shipped, *earlier], since))
        events = self.events(releases, commits)
        log.info("%s: %d deployments, %d commits read", self.name, len(releases), len(commits))
        return Poll(events=events, cursor=fingerprint)

    def releases(self) -> list[Release]:
        """Every deployment by the configured rule, oldest first."""
        rule = self.config.deploy
        if rule.rule == "tags":
            pattern = re.compile(rule.tag_pattern)
            found = []
            # %(*objectname) is what an annotated tag points at; empty for a lightweight one.
            # A tag of a tree or blob (rare, but legal) is no deployment and is passed over.
            output = self.git(
                "for-each-ref",
                "refs/tags",
                "--format=%(refname:short)%00%(objectname)%00%(objecttype)"
                "%00%(*objectname)%00%(*objecttype)%00%(creatordate:unix)",
            )
            for line in output.splitlines():
                name, obj, kind, peeled, peeled_kind, created = line.split("\0")
                commit = peeled if peeled else obj
                if (peeled_kind or kind) != "commit":
                    continue
                if pattern.search(name) and created:
                    found.append(Release(f"tag/{name}", commit, float(created), name))
            return sorted(found, key=lambda r: (r.at, r.key))
        first_parent = self.git(
            "log",
            "--first-parent",
            "--format=%H%x00%P%x00%ct",
            rule.branch,
            "--",  # a revision, even when a file or directory has the same name
        )
        rows = [line.split("\0") for line in first_parent.splitlines()]
        if rule.rule == "merges":
            return sorted(
                (
                    Release(f"merge/{sha}", sha, float(ct), sha[:12])
                    for sha, parents, ct in rows
                    if len(parents.split()) > 1
                ),
                key=lambda r: (r.at, r.key),
            )
        # Release train: the last first-parent commit of each period departs at its commit time.
        trains: dict[int, Release] = {}
        for sha, _, ct in rows:
            period = int(float(ct) // rule.period)
            if period not in trains or float(ct) > trains[period].at:
                start = datetime.fromtimestamp(period * rule.period, UTC)
                version = start.strftime("%Y-%m-%dT%H:%M:%SZ")
                trains[period] = Release(f"train/{version}", sha, float(ct), version)
        return sorted(trains.values(), key=lambda r: (r.at, r.key))

    def commits(
        self, tips: list[str], known: list[str], since: float | None = None
    ) -> dict[str, Commit]:
        """Every commit reachable from ``tips`` but not from ``known``, committed since
        ``since`` when given."""
        tips = [tip for tip in tips if tip]
        if not tips:
            return {}
        revisions = [*tips, *(f"^{sha}" for sha in known)]
        output = self.git(
            "log",
            "--stdin",
            *(_since(since) if since is not None else []),
            "--format=%H%x00%P%x00%at%x00%ct",
            stdin="\n".join(revisions) + "\n",
        )
        commits = {}
        for line in output.splitlines():
            sha, parents, authored, committed = line.split("\0")
            commits[sha] = Commit(sha, tuple(parents.split()), float(authored), float(committed))
        return commits

    def events(self, releases: list[Release], commits: dict[str, Commit]) -> list[Event]:
        app, team = self.owner
        environment = self.config.environment
        deployed: dict[str, Release] = {}
        for release in releases:  # oldest first: a commit belongs to the first that reaches it
            stack = [release.commit]
            while stack:
                sha = stack.pop()
                if sha in deployed or sha not in commits:
                    continue
                deployed[sha] = release
                stack.extend(commits[sha].parents)
        events: list[Event] = [
            Deployment(
                source=self.name,
                key=release.key,
                app=app,
                team=team,
                environment=environment,
                finished_at=release.at,
                version=release.version,
                commit=release.commit,
            )
            for release in releases
        ]
        for commit in commits.values():
            if len(commit.parents) > 1:
                continue  # a merge commit is not a change of its own
            deployed_by = deployed.get(commit.sha)
            events.append(
                Change(
                    source=self.name,
                    key=commit.sha,
                    app=app,
                    team=team,
                    first_commit_at=commit.authored_at,
                    merged_at=commit.committed_at,
                    deployed_environment=environment if deployed_by else "",
                    deployed_at=deployed_by.at if deployed_by else None,
                    deployment_key=deployed_by.key if deployed_by else "",
                )
            )
        return events


def _build(config: GitSource, context: SourceContext) -> GitRepository | None:
    ownership = context.ownership
    owner = ownership.of_app(config.app) if config.app else ownership.of_repo(config.path)
    if not ownership.shard.owns(owner.app):  # another shard polls the other apps
        return None
    return GitRepository(config, context.resolve(config.path), owner)


def _describe(source: GitRepository) -> list[str]:
    rule = source.config.deploy
    how = rule.tag_pattern if rule.rule == "tags" else f"{rule.branch}"
    owner = source.owner
    return [
        headline(source, "git", f"{source.path} deployments by {rule.rule} ({how})")
        + f" -> app={owner.app} team={owner.team} environment={source.config.environment}"
    ]


SOURCE_TYPE = SourceType("git", GitSource, _build, _describe)
