"""Build real git repositories with known dates, using the real ``git`` command line.

Every commit, tag and merge takes an explicit UTC time (``"2026-01-05T10:00:00Z"``), passed
to git as ``GIT_AUTHOR_DATE`` / ``GIT_COMMITTER_DATE``; the committer date is also the date of
an annotated tag. The environment is self-contained: no global or system git configuration is
read, the identity is set here, signing is off and the default branch is ``main``, so the same
history (same dates) is built on a developer machine and on a clean CI machine.
"""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

# Options given to every git command: identity, no signing, no hooks, predictable branch name.
_OPTIONS = (
    "-c",
    "user.name=KPI Test",
    "-c",
    "user.email=kpi-test@example.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    "-c",
    "tag.forceSignAnnotated=false",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "core.hooksPath=/dev/null",
)


def ts(text: str) -> float:
    """Epoch seconds of an ISO 8601 time with a zone, such as ``2026-01-05T10:00:00Z``."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r}: give the time zone (Z for UTC)")
    return moment.timestamp()


def git_date(text: str) -> str:
    """A date in git's internal format (``@<epoch> +0000``): parsed exactly, whatever git."""
    return f"@{int(ts(text))} +0000"


def git_env(date: str | None = None, author_date: str | None = None) -> dict[str, str]:
    """The environment of one git command: isolated from the user's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="KPI Test",
        GIT_AUTHOR_EMAIL="kpi-test@example.invalid",
        GIT_COMMITTER_NAME="KPI Test",
        GIT_COMMITTER_EMAIL="kpi-test@example.invalid",
        GIT_TERMINAL_PROMPT="0",
        TZ="UTC",
    )
    if date is not None:
        env["GIT_COMMITTER_DATE"] = git_date(date)
        env["GIT_AUTHOR_DATE"] = git_date(author_date or date)
    return env


def run_git(cwd: Path, *args: str, date: str | None = None, author_date: str | None = None) -> str:
    """Run one git command in ``cwd``; raise with git's message when it fails."""
    result = subprocess.run(
        ["git", *_OPTIONS, *args],
        cwd=cwd,
        env=git_env(date, author_date),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


class GitRepo:
    """A repository under construction. Methods return the SHA of what they create."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet")
        self._counter = 0

    def git(self, *args: str, date: str | None = None, author_date: str | None = None) -> str:
        return run_git(self.path, *args, date=date, author_date=author_date)

    def commit(self, date: str, message: str = "", *, author_date: str | None = None) -> str:
        """A commit that adds one file, committed at ``date`` and authored at ``author_date``
        (default: the same time; an earlier author date is a rebased or amended change)."""
        self._counter += 1
        name = f"file-{self._counter}.txt"
        (self.path / name).write_text(f"change {self._counter}\n", encoding="utf-8")
        self.git("add", name)
        self.git(
            "commit",
            "--quiet",
            "-m",
            message or f"change {self._counter}",
            date=date,
            author_date=author_date,
        )
        return self.rev("HEAD")

    def tag(self, name: str, ref: str = "HEAD", *, annotated_at: str | None = None) -> str:
        """A lightweight tag, or an annotated one dated ``annotated_at`` (its tagger date)."""
        if annotated_at is None:
            self.git("tag", name, ref)
        else:
            self.git("tag", "-a", name, "-m", f"release {name}", ref, date=annotated_at)
        return self.rev(f"{name}^{{commit}}")

    def branch(self, name: str, start: str = "HEAD") -> None:
        """Create branch ``name`` at ``start`` and check it out."""
        self.git("checkout", "--quiet", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "--quiet", name)

    def merge(self, branch: str, date: str, message: str = "") -> str:
        """Merge ``branch`` into the current branch with a merge commit (``--no-ff``)."""
        self.git(
            "merge", "--quiet", "--no-ff", "-m", message or f"Merge {branch}", branch, date=date
        )
        return self.rev("HEAD")

    def rev(self, ref: str) -> str:
        return self.git("rev-parse", "--verify", ref)

    def clone_shallow(self, target: Path, depth: int = 1) -> Path:
        """A shallow clone (``git clone --depth``) over the file:// transport."""
        run_git(
            target.parent,
            "clone",
            "--quiet",
            f"--depth={depth}",
            self.path.resolve().as_uri(),
            str(target),
        )
        return target
