"""GitLab merge requests: flow timestamps, reviews and size; and small parsing helpers.

Helpers of :mod:`.source`, whose docstring states the definitions. Nothing here keeps state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...model import Change
from ...origin import OriginRules, classify
from ...ownership import Owner
from .. import SourceError
from ..delivery import FlowLabels, merge_change_type, reverted_number, work_item_keys
from ..http import HttpClient, HttpStatusError
from ..marks import Mark, unread
from ..times import api_time

PER_PAGE = 100
# A merge or squash commit is written when GitLab merges (a merge train writes it when the
# train is built, before the merge): the history is read from this long before ``merged_at``.
COMMIT_SLACK = 86400.0
APPROVED_NOTE = "approved this merge request"


# --- small parsing helpers -----------------------------------------------------------------


def timestamp(text: Any) -> float | None:
    """Epoch seconds of a GitLab time (``2026-03-02T10:00:00.000Z``), or None when absent."""
    return api_time(text, "GitLab")


def required_time(item: Mapping[str, Any], name: str) -> float:
    value = timestamp(item.get(name))
    if value is None:
        raise SourceError(f"GitLab response without {name!r}")
    return value


def updated_at(item: Mapping[str, Any]) -> float:
    """The ``updated_at`` of an item of a GitLab list (the key its lists are sorted by)."""
    return required_time(item, "updated_at")


def item_id(item: Mapping[str, Any]) -> int:
    return int(item["id"])


def unread_items(listed: Any, url: str, mark: Mark | None) -> tuple[list[dict[str, Any]], bool]:
    """The items of a page of the list at ``url`` (sorted by update, newest first) not read
    before ``mark``, and whether the page reached those read before (:func:`.marks.unread`)."""
    if not isinstance(listed, list):
        raise SourceError(f"GET {url}: expected a JSON list")
    return unread(listed, mark, updated_at, item_id)


def http_status(error: SourceError) -> int | None:
    """The HTTP status of a request the shared client gave up on at once (404, 401, ...)."""
    return error.status if isinstance(error, HttpStatusError) else None


def every(http: HttpClient, url: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """Every item of a list, all pages (not conditional: the items are needed)."""
    items: list[Any] = []
    for page in http.pages(url, {**(params or {}), "per_page": PER_PAGE}, conditional=False):
        body = page.json()
        if not isinstance(body, list):
            raise SourceError(f"GET {url}: expected a JSON list")
        items.extend(body)
    return items


def _user_id(item: Mapping[str, Any], field: str = "author") -> Any:
    user = item.get(field)
    return user.get("id") if isinstance(user, dict) else None


def label_set(item: Mapping[str, Any]) -> set[str]:
    return {str(label).lower() for label in item.get("labels") or ()}


# --- one merge request ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergeRequest:
    """A merge request read from GitLab. ``commit`` is the commit that lands on the default
    branch ("" unless merged) and ``since`` a lower bound of its commit time."""

    iid: int
    change: Change
    commit: str
    since: float
    change_type: str


def read_merge_request(
    http: HttpClient,
    project_url: str,
    item: Mapping[str, Any],
    labels: FlowLabels,
    *,
    source: str,
    key: str,
    owner: Owner,
    origins: OriginRules | None = None,
) -> MergeRequest:
    """Four REST calls (more for long lists): commits, notes, approvals and diffs of ONE
    merge request. Its origin is classified from its author's username, source branch and
    commit messages (:mod:`kpi_exporter.origin`); a merge request opened by GitLab's Revert
    button ("This reverts merge request !<iid>") reverts that one."""
    iid = int(item["iid"])
    url = f"{project_url}/merge_requests/{iid}"
    author = _user_id(item)  # used here only, to tell reviews from the author's own notes
    opened_at = required_time(item, "created_at")
    merged_at = timestamp(item.get("merged_at"))
    state = {"merged": "merged", "closed": "closed"}.get(str(item.get("state")), "open")
    if state == "merged" and merged_at is None:
        merged_at = required_time(item, "updated_at")  # merged before GitLab kept merged_at

    commits = _optional(lambda: every(http, f"{url}/commits")) or []
    authored = [t for t in (timestamp(c.get("authored_date")) for c in commits) if t is not None]
    first_commit_at = min(authored) if authored else opened_at
    author_node = item.get("author")
    branch = str(item.get("source_branch") or "")
    messages = [str(c.get("message") or "") for c in commits if isinstance(c, dict)]
    reverted = reverted_number(branch, [str(item.get("description") or ""), *messages])

    notes = _optional(
        lambda: every(http, f"{url}/notes", {"sort": "asc", "order_by": "created_at"})
    )
    approvals = _optional(lambda: _object(http, f"{url}/approvals")) or {}
    first_note, approved_at, approved = _reviews(notes or [], approvals, author, merged_at)
    first_review_at = _first([first_note, approved_at])

    commit, since = "", opened_at
    if state == "merged" and merged_at is not None:
        commit = str(
            item.get("merge_commit_sha") or item.get("squash_commit_sha") or item.get("sha") or ""
        )
        # Fast-forward: the head commit lands as it is, written when it was last rebased.
        head = [timestamp(c.get("committed_date")) for c in commits if c.get("id") == commit]
        since = min([merged_at, *(t for t in head if t is not None)]) - COMMIT_SLACK
    change = Change(
        **owner.identity(source, key),
        first_commit_at=first_commit_at,
        merged_at=merged_at if state == "merged" else None,
        opened_at=opened_at,
        first_review_at=first_review_at,
        approved_at=approved_at,
        size_lines=size_lines(http, url),
        reviewed=first_review_at is not None or approved,
        labels=tuple(sorted(str(label) for label in item.get("labels") or ())),
        state=state,
        origin=classify(
            origins or OriginRules(),
            str(author_node.get("username") or "") if isinstance(author_node, dict) else None,
            head_branch=branch,
            messages=messages,
        ),
        reverts=f"{key.rsplit('!', 1)[0]}!{reverted}" if reverted is not None else "",
        work_items=work_item_keys(
            labels.work_item_key,
            str(item.get("title") or ""),
            str(item.get("source_branch") or ""),
            str(item.get("description") or ""),
            repository=key.rsplit("!", 1)[0].split("/", 1)[-1],
        ),
    )
    return MergeRequest(
        iid,
        change,
        commit,
        since,
        merge_change_type(label_set(item), str(item.get("title", "")), labels),
    )


def _reviews(
    notes: list[Any], approvals: Mapping[str, Any], author: Any, merged_at: float | None
) -> tuple[float | None, float | None, bool]:
    """(first note by someone other than the author, first approval by someone other than the
    author, whether such an approval exists), counting only what came before the merge.

    An approval's time is ``approved_at`` (recent GitLab), else the time of the approver's
    "approved this merge request" system note; an approval of unknown time still counts as a
    review."""

    def before_merge(moment: float | None) -> bool:
        return moment is not None and (merged_at is None or moment <= merged_at)

    note_times = [
        timestamp(note.get("created_at"))
        for note in notes
        if not note.get("system") and _user_id(note) != author
    ]
    approval_notes: dict[Any, float | None] = {}
    for note in notes:
        if note.get("system") and str(note.get("body", "")).startswith(APPROVED_NOTE):
            approval_notes.setdefault(_user_id(note), timestamp(note.get("created_at")))
    approval_times = [
        timestamp(entry.get("approved_at")) or approval_notes.get(_user_id(entry, "user"))
        for entry in approvals.get("approved_by") or []
        if isinstance(entry, dict) and _user_id(entry, "user") != author
    ]
    approved = any(t is None or before_merge(t) for t in approval_times)
    return (
        _first(t for t in note_times if before_merge(t)),
        _first(t for t in approval_times if before_merge(t)),
        approved,
    )


def size_lines(http: HttpClient, url: str) -> int | None:
    """Added plus removed lines. ``/diffs`` (GitLab 15.7+), else ``/changes``; None when GitLab
    withholds a diff as too large (a partial count would be a wrong size)."""
    try:
        diffs = every(http, f"{url}/diffs")
    except SourceError as error:
        if http_status(error) != 404:
            raise
        changes = _optional(lambda: _object(http, f"{url}/changes"))
        if changes is None or changes.get("overflow"):
            return None
        diffs = changes.get("changes") or []
    total = 0
    for diff in diffs:
        text = diff.get("diff") or ""
        if diff.get("too_large") or (diff.get("collapsed") and not text):
            return None
        total += sum(1 for line in text.splitlines() if line[:1] in ("+", "-"))
    return total


def _object(http: HttpClient, url: str) -> dict[str, Any]:
    body = http.get(url, conditional=False).json()
    if not isinstance(body, dict):
        raise SourceError(f"GET {url}: expected a JSON object")
    return body


def _optional(read: Any) -> Any:
    """The result of ``read()``, or None when GitLab answers 404 (an endpoint this GitLab
    version lacks, or a merge request deleted meanwhile)."""
    try:
        return read()
    except SourceError as error:
        if http_status(error) == 404:
            return None
        raise


def _first(times: Iterable[float | None]) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None
