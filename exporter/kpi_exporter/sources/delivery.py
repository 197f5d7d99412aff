"""Delivery rules the repository sources (GitHub, GitLab) share, each written once:

- the labels that classify a change (:class:`FlowLabels`);
- the change type a merge gives the deployment that ships it (:func:`merge_change_type`),
  and which of two types wins (:func:`stronger`);
- the commits a deployment ships first (:func:`first_shipped`): the walk over the commit
  graph from the deployed commit that stops at what an earlier deployment shipped;
- a rollback by redeployment (:func:`redeploys`);
- the work items a change references (:func:`work_item_keys`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

from pydantic import Field

from ..config_base import Credentials, Duration, Name, Regex, Strict

ChangeType = Literal["normal", "hotfix", "rollback"]
CHANGE_TYPES: tuple[ChangeType, ...] = ("normal", "hotfix", "rollback")  # rising precedence
# The title GitHub's and GitLab's Revert buttons give the pull or merge request they open.
REVERT_TITLE = 'Revert "'
# The head branch GitHub's Revert button opens (revert-<number>-<the reverted head branch>),
# and the body it writes ("Reverts owner/repo#<number>"), which a squash merge keeps in the
# commit message; GitLab's Revert button writes "This reverts merge request !<number>".
_REVERT_BRANCH = re.compile(r"^revert-(\d+)-")
_REVERTS = re.compile(r"\breverts\s+(?:merge request\s+)?(?:[\w.-]+/[\w./-]+)?[#!](\d+)", re.I)

# A work item key as Jira and Linear write them: PROJ-12, ENG-7.
WORK_ITEM_KEY_PATTERN = r"\b[A-Z][A-Z0-9_]+-[1-9][0-9]*\b"
# References kept per change at most (a body listing hundreds of keys is a release note).
MAX_WORK_ITEM_KEYS = 20


class FlowLabels(Strict):
    """Labels that classify issues and pull/merge requests (case-insensitive)."""

    incident: list[str] = Field(default_factory=lambda: ["incident"])
    bug: list[str] = Field(default_factory=lambda: ["bug"])
    hotfix: list[str] = Field(default_factory=lambda: ["hotfix"])
    revert: list[str] = Field(default_factory=lambda: ["revert"])
    work_item_key: Regex = Field(
        WORK_ITEM_KEY_PATTERN,
        description="A work item key in a title, head branch or body (case counts): the items"
        " a change delivers, for time to market.",
    )


class ForgeApi(Credentials):
    """A source of a code forge's REST API (GitHub, GitLab): its name, poll interval, API root
    (each forge's model gives the default) and token."""

    type: str
    name: Name
    interval: Duration = 300.0
    api_url: str


class ChangeReading(Strict):
    """What the GitHub and GitLab sources read their changes with: the labels that type them,
    how far back a first sync reads and how many requests are in flight at once."""

    labels: FlowLabels = Field(default_factory=FlowLabels)
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    concurrency: int = Field(4, ge=1, le=32, description="Requests in flight at once.")


def merge_change_type(labels: Iterable[str], title: str, flow: FlowLabels) -> ChangeType:
    """What deploying a merged pull or merge request makes of the deployment: ``rollback``
    for a revert (a revert label, or the Revert button's title), ``hotfix`` for a hotfix
    label, else ``normal``. Labels match case-insensitively."""
    names = {label.lower() for label in labels}
    if names & {name.lower() for name in flow.revert} or title.startswith(REVERT_TITLE):
        return "rollback"
    if names & {name.lower() for name in flow.hotfix}:
        return "hotfix"
    return "normal"


def reverted_number(head_branch: str, messages: Iterable[str]) -> int | None:
    """The number of the pull or merge request of the same repository that a change reverts,
    from its head branch or its commit messages (the Revert buttons' wording); None when it
    names none."""
    match = _REVERT_BRANCH.match(head_branch)
    if match:
        return int(match.group(1))
    for message in messages:
        found = _REVERTS.search(message)
        if found:
            return int(found.group(1))
    return None


def stronger(first: str, second: str) -> str:
    """The change type of a deployment that ships changes of both types."""
    return max(first, second, key=CHANGE_TYPES.index)


def first_shipped(
    tip: str, parents: Mapping[str, Sequence[str]], shipped: Callable[[str], bool]
) -> list[str]:
    """The commits a successful production deployment of ``tip`` ships first: those of the
    commit graph (``parents``: commit -> its parents) reachable from ``tip``, itself
    included, without passing a commit an earlier deployment ``shipped``. In walk order."""
    reached: list[str] = []
    seen: set[str] = set()
    stack = [tip]
    while stack:
        commit = stack.pop()
        if commit in seen or commit not in parents or shipped(commit):
            continue
        seen.add(commit)
        reached.append(commit)
        stack.extend(parents[commit])
    return reached


def redeploys(earlier: Sequence[str], commit: str) -> bool:
    """Whether deploying ``commit`` goes back to one an earlier deployment to the same
    environment shipped (``earlier``: their commits, oldest first), other than the one
    running there now: a rollback (GitLab's "Rollback" re-runs the older job)."""
    return bool(earlier) and earlier[-1] != commit and commit in earlier


# An issue a pull or merge request closes, as GitHub and GitLab read its title and body:
# a closing keyword, then #12 (an issue of the same repository or project) or owner/repo#12.
_CLOSES = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+([\w.-]+(?:/[\w.-]+)+)?#(\d+)\b",
    re.IGNORECASE,
)


def work_item_keys(
    pattern: str, title: str, branch: str, body: str, repository: str = ""
) -> tuple[str, ...]:
    """The work item keys a pull or merge request names: ``pattern`` found in its title, head
    branch and body as written (case counts, as in Jira's own development panel:
    ``feature/PROJ-12-login`` names PROJ-12, ``feature/proj-12`` nothing), and the issues of
    GitHub or GitLab it closes ("Fixes #12" in ``repository`` acme/shop names ACME/SHOP#12,
    "closes acme/other#5" ACME/OTHER#5: the references of the GitHub Issues and GitLab issues
    work items); each once, sorted, at most :data:`MAX_WORK_ITEM_KEYS`."""
    found = re.compile(pattern)
    keys = {match.group(0) for text in (title, branch, body) for match in found.finditer(text)}
    if repository:
        for text in (title, body):
            for match in _CLOSES.finditer(text):
                keys.add(f"{match.group(1) or repository}#{match.group(2)}".upper())
    return tuple(sorted(keys)[:MAX_WORK_ITEM_KEYS])
