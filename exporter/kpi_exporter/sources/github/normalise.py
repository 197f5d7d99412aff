"""From GitHub's objects to normalised events: pure functions, no request and no clock.

- A pull request into the default branch is a :class:`Change` (open, merged or closed).
  Its first commit is the PR's first commit (for a squash merge too, not the squash commit);
  the first review is the first review or comment by someone other than the author (bots
  excluded); approval is the first approving review by someone else; ``reviewed`` says
  whether someone else reviewed it before the merge. Its origin (human, ai_agent, bot) is
  classified from its author's account and type, head branch and the first and merge
  commits' messages (:mod:`kpi_exporter.origin`); a pull request opened by the Revert button
  (head branch ``revert-<n>-``, or ``Reverts owner/repo#<n>`` in a commit message) reverts
  pull request ``<n>``. Logins are compared here and dropped.
- A deployment signal (deployment, release, tag or workflow run) is a :class:`Signal`,
  which becomes a :class:`Deployment` once it is final.
- An issue with an incident label is an :class:`Incident`; with a bug label, a :class:`Defect`.
  Severity comes from a label ``severity: X`` / ``severity/X`` (-> ``X``) or ``sev1`` /
  ``sev-1`` / ``sev 1`` (-> ``sev1``), else ``unknown``. A defect was found in production
  unless a label ``found-in: X`` / ``environment: X`` names an environment that does not
  match the production pattern (then ``pre-production``); a label containing ``customer``
  marks it customer-reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ...kpis.settings import KpiSettings
from ...model import Change, Defect, Event, Incident
from ...origin import OriginRules, classify
from ...ownership import Owner
from .. import SourceError, times
from ..delivery import FlowLabels, merge_change_type, reverted_number, work_item_keys

Node = dict[str, Any]

_SEVERITY = re.compile(r"^(?:severity|sev)(?:\s*[:/=_-]\s*|\s+|(?=\d))(.+)$")
_FOUND_IN = re.compile(r"^(?:found[ _-]?in|env(?:ironment)?)\s*[:/=]\s*(.+)$")
_FINAL_FAILURE = frozenset({"FAILURE", "ERROR"})
_NOT_FINAL = frozenset({None, "PENDING", "QUEUED", "IN_PROGRESS", "WAITING"})

# A waiting pull request's change type as the cursor keeps it (the shared vocabulary's
# rollback is "revert", normal is ""); TYPES reads it back.
KINDS = {"rollback": "revert", "hotfix": "hotfix", "normal": ""}
TYPES = {kind: change_type for change_type, kind in KINDS.items()}


def parse_time(text: Any) -> float | None:
    """Epoch seconds of GitHub's ISO 8601 times (``2026-01-05T10:00:00Z``); None for null."""
    return None if text is None else times.parse_time(str(text))


def _time(node: Node, key: str) -> float:
    value = parse_time(node[key])
    if value is None:
        raise KeyError(key)
    return value


def _names(connection: Any) -> tuple[str, ...]:
    nodes = (connection or {}).get("nodes") or []
    return tuple(sorted({str(n["name"]).lower() for n in nodes if n and n.get("name")}))


def _nodes(connection: Any) -> list[Node]:
    return [n for n in ((connection or {}).get("nodes") or []) if isinstance(n, dict)]


class Malformed(SourceError):
    """An object of the answer lacks a field the source needs, or has one of the wrong type."""


@contextmanager
def checked(what: str, repo: str) -> Iterator[None]:
    """Turn a missing or mistyped field met while reading ``what`` into :class:`Malformed`."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError):
        raise Malformed(f"{repo}: unexpected {what} in the answer") from None


# --- pull requests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PullRequest:
    change: Change
    base: str
    updated_at: float
    merge_commit: str
    kind: str  # revert | hotfix | "" : what deploying it makes of the deployment


def _is_other(actor: Any, author: str | None) -> bool:
    """Someone other than the author, and no bot. A deleted account (null) counts as
    someone else unless the author's account is deleted too."""
    if actor is None:
        return author is not None
    login = str(actor.get("login") or "")
    if actor.get("__typename") == "Bot" or login.endswith("[bot]"):
        return False
    return login != author


def pull_request(
    node: Node,
    repo: str,
    source: str,
    owner: Owner,
    labels: FlowLabels,
    origins: OriginRules | None = None,
) -> PullRequest:
    """The :class:`Change` of a pull request, and what its deployment means."""
    author_node = node.get("author")
    author = str(author_node.get("login")) if isinstance(author_node, dict) else None
    user_type = str(author_node.get("__typename") or "") if isinstance(author_node, dict) else ""
    opened_at = _time(node, "createdAt")
    merged_at = parse_time(node.get("mergedAt"))
    reviews = [
        (str(review["state"]), _time(review, "submittedAt"))
        for review in _nodes(node.get("reviews"))
        if review.get("state") != "PENDING"
        and review.get("submittedAt")
        and _is_other(review.get("author"), author)
    ]
    comments = [
        _time(comment, "createdAt")
        for comment in _nodes(node.get("comments"))
        if _is_other(comment.get("author"), author)
    ]
    looked_at = [at for _, at in reviews] + comments
    approvals = [at for state, at in reviews if state == "APPROVED"]
    # Reviewed: someone else reviewed it before the merge (or, while open, so far).
    reviewed = any(merged_at is None or at <= merged_at for _, at in reviews)
    commits = _nodes(node.get("commits"))
    first_commit_at = parse_time(commits[0]["commit"]["authoredDate"]) if commits else None
    names = _names(node.get("labels"))
    state = str(node["state"]).lower()  # OPEN | CLOSED | MERGED
    merge = node.get("mergeCommit") or {}
    head = str(node.get("headRefName") or "")
    messages = [str(c["commit"].get("message") or "") for c in commits[:1]]
    messages.append(str(merge.get("message") or ""))
    reverted = reverted_number(head, messages)
    change = Change(
        **owner.identity(source, f"github/{repo}#{int(node['number'])}"),
        first_commit_at=first_commit_at if first_commit_at is not None else opened_at,
        merged_at=merged_at,
        opened_at=opened_at,
        first_review_at=min(looked_at) if looked_at else None,
        approved_at=min(approvals) if approvals else None,
        size_lines=int(node.get("additions") or 0) + int(node.get("deletions") or 0),
        reviewed=reviewed,
        labels=names,
        state=state if state in ("open", "merged", "closed") else "open",
        origin=classify(
            origins or OriginRules(),
            author,
            user_type=user_type,
            head_branch=head,
            messages=messages,
        ),
        reverts=f"github/{repo}#{reverted}" if reverted is not None else "",
        work_items=work_item_keys(
            labels.work_item_key,
            str(node.get("title") or ""),
            str(node.get("headRefName") or ""),
            str(node.get("body") or ""),
            repository=repo,
        ),
    )
    title = str(node.get("title") or "")
    kind = KINDS[merge_change_type(names, title, labels)]
    return PullRequest(
        change=change,
        base=str(node.get("baseRefName") or ""),
        updated_at=_time(node, "updatedAt"),
        merge_commit=str(merge.get("oid") or "") if merged_at is not None else "",
        kind=kind,
    )


def _any(names: Iterable[str], wanted: Iterable[str]) -> bool:
    return bool(set(names) & {w.lower() for w in wanted})


# --- deployment signals --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signal:
    """A deployment, release, tag or workflow run, before it becomes a Deployment."""

    id: str  # deployment/123, release/45, tag/v1.2.0, run/678: unique within the repository
    created_at: float  # orders signals, and bounds the next re-reading
    status: str  # success | failure | pending (may still succeed) | ignored
    environment: str
    commit: str
    finished_at: float
    version: str = ""


def deployment_signal(node: Node) -> Signal:
    """A deployment succeeded at its first SUCCESS status (a later deployment to the same
    environment turns it INACTIVE, so the latest status alone would hide the success)."""
    created_at = _time(node, "createdAt")
    latest = node.get("latestStatus") or {}
    statuses = [*_nodes(node.get("statuses")), latest] if latest else _nodes(node.get("statuses"))
    successes = [_time(s, "createdAt") for s in statuses if s.get("state") == "SUCCESS"]
    state = latest.get("state")
    if successes:
        status, finished_at = "success", min(successes)
    elif state in _FINAL_FAILURE:
        status, finished_at = "failure", _time(latest, "createdAt")
    elif state in _NOT_FINAL:
        status, finished_at = "pending", created_at
    else:  # INACTIVE, ABANDONED, DESTROYED without a success: never deployed
        status, finished_at = "ignored", created_at
    return Signal(
        id=f"deployment/{int(node['databaseId'])}",
        created_at=created_at,
        status=status,
        # GitHub shows environments as typed ("Production"); labels are lowercase.
        environment=str(node.get("environment") or "").lower(),
        commit=str(node.get("commitOid") or ""),
        finished_at=finished_at,
    )


def release_signal(node: Node) -> Signal:
    """A published release is a production deployment; a draft or pre-release may still
    become one."""
    created_at = _time(node, "createdAt")
    pending = bool(node.get("isDraft")) or bool(node.get("isPrerelease"))
    published_at = parse_time(node.get("publishedAt"))
    return Signal(
        id=f"release/{int(node['databaseId'])}",
        created_at=created_at,
        status="pending" if pending or published_at is None else "success",
        environment="production",
        commit=str((node.get("tagCommit") or {}).get("oid") or ""),
        finished_at=published_at if published_at is not None else created_at,
        version=str(node.get("tagName") or ""),
    )


def tag_signal(node: Node, pattern: re.Pattern[str]) -> Signal:
    """A tag matching the pattern is a production deployment at its date (an annotated
    tag's own date, a lightweight tag's commit date). ``created_at`` is the commit date,
    the order GitHub lists tags in."""
    name = str(node["name"])
    target = node["target"]
    if target.get("__typename") == "Tag":
        commit = target.get("target") or {}
        tagged_at = parse_time((target.get("tagger") or {}).get("date"))
    else:
        commit, tagged_at = target, None
    committed_at = parse_time(commit.get("committedDate"))
    if committed_at is None:  # a tag of a tree or a blob: no deployment
        return Signal(f"tag/{name}", 0.0, "ignored", "production", "", 0.0, name)
    return Signal(
        id=f"tag/{name}",
        created_at=committed_at,
        status="success" if pattern.search(name) else "ignored",
        environment="production",
        commit=str(commit.get("oid") or ""),
        finished_at=tagged_at if tagged_at is not None else committed_at,
        version=name,
    )


def workflow_run_signal(run: Node) -> Signal:
    """A successful run of the deployment workflow (REST object) deployed its head commit
    when it finished (its last update)."""
    return Signal(
        id=f"run/{int(run['id'])}",
        created_at=_time(run, "created_at"),
        status="success" if run.get("conclusion") == "success" else "ignored",
        environment="production",
        commit=str(run.get("head_sha") or ""),
        finished_at=_time(run, "updated_at"),
    )


# --- issues --------------------------------------------------------------------------------


def severity(names: Iterable[str]) -> str:
    for name in sorted(names):
        match = _SEVERITY.match(name)
        if match:
            value = match.group(1).strip()
            return f"sev{value}" if value.isdigit() else value
    return "unknown"


def issue_events(
    node: Node, repo: str, source: str, owner: Owner, labels: FlowLabels, kpi: KpiSettings
) -> list[Event]:
    """The incident and/or defect an issue stands for (none without such a label)."""
    names = _names(node.get("labels"))
    key = f"github/{repo}#{int(node['number'])}"
    created_at = _time(node, "createdAt")
    closed_at = parse_time(node.get("closedAt")) if node.get("state") == "CLOSED" else None
    events: list[Event] = []
    if _any(names, labels.incident):
        events.append(
            Incident(
                **owner.identity(source, key),
                severity=severity(names),
                started_at=created_at,
                resolved_at=closed_at,
            )
        )
    if _any(names, labels.bug):
        found_in = "production"
        for name in names:
            match = _FOUND_IN.match(name)
            if match and not kpi.is_production(match.group(1).strip()):
                found_in = "pre-production"
        events.append(
            Defect(
                **owner.identity(source, key),
                created_at=created_at,
                found_in=found_in,
                customer_reported=any("customer" in name for name in names),
                severity=severity(names),
                resolved_at=closed_at,
            )
        )
    return events
