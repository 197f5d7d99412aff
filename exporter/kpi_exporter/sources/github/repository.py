"""One repository in one poll: what changed, what to read, and the events it gives.

1. Change detection, REST and conditional (one request each, ``If-None-Match``): the newest
   pull request, the newest default-branch commit, the newest deployment signal (for tags:
   every tag ref) and (with incident or bug labels) the newest issues, read only when one
   that is not a pull request was updated since the last read. Each ``304`` skips the reading
   it guards.
2. Reading, GraphQL, in the same queries (``queries.py``): pull requests updated since the
   last poll, the default-branch history since the known head, deployment signals created
   since the newest one read (or the oldest that may still change), issues updated since the
   last poll. Workflow runs are read from REST list pages.
3. Events (``normalise.py``), and each merged pull request assigned to the first successful
   production deployment whose commit reaches its merge commit (``state.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from ...kpis.settings import KpiSettings
from ...model import Change, Deployment, Event
from ...ownership import Owner
from ..delivery import stronger
from ..http import HttpClient, HttpStatusError, with_query
from ..times import iso
from .config import GitHubSource
from .normalise import (
    TYPES,
    Malformed,
    Node,
    Signal,
    checked,
    deployment_signal,
    issue_events,
    parse_time,
    pull_request,
    release_signal,
    tag_signal,
    workflow_run_signal,
)
from .queries import (
    DEPLOYMENTS,
    HISTORY,
    ISSUES,
    PULL_REQUESTS,
    RELEASES,
    TAGS,
    GraphQL,
    RepositoryNotFound,
    Want,
    read,
)
from .state import DAY, PENDING_LIMIT, RepoState, Shipped, Waiting

log = logging.getLogger(__name__)

GONE = frozenset({404, 410, 451})  # the repository is gone: its problem, not a failed poll
HISTORY_SLACK = DAY  # the history is re-read from a day before the known head (clock skew)
ISSUES_PAGE = 100
TAG_SLACK = 30 * DAY  # tags are listed by commit date: a new tag of a month-old commit counts
_CONNECTIONS = {"deployments": DEPLOYMENTS, "releases": RELEASES, "tags": TAGS}

Events = dict[tuple[str, str], Event]  # by (kind, key): the last version of an event wins


@dataclass(frozen=True, slots=True)
class Settings:
    """What reading a repository needs to know of its source."""

    source: str
    config: GitHubSource
    kpi: KpiSettings
    api: str
    tag_pattern: re.Pattern[str]

    def signal_of(self) -> Callable[[Node], Signal]:
        if self.config.deploy_signal == "deployments":
            return deployment_signal
        if self.config.deploy_signal == "releases":
            return release_signal
        return lambda node: tag_signal(node, self.tag_pattern)


@dataclass(slots=True)
class Synced:
    events: list[Event]
    state: dict[str, Any]
    summary: str  # what was read, for the progress log; "" when every check answered 304


def checks(settings: Settings, repo: str) -> dict[str, str]:
    """The conditional requests that tell what changed, by what they guard."""
    config = settings.config
    base = f"{settings.api}/repos/{repo}"
    newest = {"state": "all", "sort": "updated", "direction": "desc", "per_page": 1}
    if config.deploy_signal == "workflow_runs":
        runs = f"{base}/actions/workflows/{quote(str(config.workflow), safe='')}/runs"
        signal_url = with_query(runs, {"status": "success", "per_page": 1})
    elif config.deploy_signal == "tags":
        # Every tag ref in one list: any new, moved or deleted tag changes it. ``/tags`` sorts
        # by name, so its first entry misses v1.10.0 after v1.9.0 or a backport v1.4.3 after
        # v2.0.0.
        signal_url = f"{base}/git/matching-refs/tags"
    else:
        signal_url = with_query(f"{base}/{config.deploy_signal}", {"per_page": 1})
    found = {
        "pulls": with_query(f"{base}/pulls", newest),
        "commits": with_query(f"{base}/commits", {"per_page": 1}),
        "signals": signal_url,
    }
    if config.labels.incident or config.labels.bug:
        # /issues lists pull requests too: a page, to find the newest issue among them
        found["issues"] = with_query(f"{base}/issues", {**newest, "per_page": ISSUES_PAGE})
    return found


def _changed(client: HttpClient, kind: str, url: str) -> Any:
    """The answer of a check that changed (a list or an object), else None."""
    try:
        response = client.get(url)
    except HttpStatusError as error:
        if kind == "commits" and error.status == 409:
            return None  # an empty repository: no history yet
        if error.status in GONE:  # deleted, renamed, or (runs) no such workflow
            raise RepositoryNotFound(str(error)) from None
        raise
    if response.not_modified:
        return None
    body = response.json()
    if not isinstance(body, list | dict):
        raise Malformed(f"GET {url}: unexpected answer")
    return body


def issues_changed(listed: Any, read_until: float | None) -> bool:
    """Whether the newest issues (``GET /issues``, newest update first, pull requests among
    them) hold an issue updated after ``read_until`` (None: none read yet). A full page of
    pull requests only cannot tell: the issues are read."""
    if not isinstance(listed, list):
        return True
    issues = [i for i in listed if isinstance(i, dict) and "pull_request" not in i]
    if not issues:
        return len(listed) >= ISSUES_PAGE
    if read_until is None:
        return True
    newest = max(parse_time(i.get("updated_at")) or read_until + 1 for i in issues)
    return newest > read_until


def sync(
    settings: Settings,
    client: HttpClient,
    graphql: GraphQL,
    repo: str,
    owner: Owner,
    stored: dict[str, Any] | None,
    now: float,
) -> Synced:
    """Read what changed in ``repo`` since ``stored`` (its state after the last poll)."""
    config = settings.config
    urls = checks(settings, repo)
    try:
        state = RepoState.from_json(stored) if stored else None
    except (KeyError, TypeError, ValueError):
        log.warning("%s: the stored cursor is unreadable; reading the repository again", repo)
        state = None
    if state is None or (state.app, state.team) != tuple(owner):
        # First sync, or the repository changed hands: read it all, unconditionally.
        state = RepoState(owner.app, owner.team)
        for url in urls.values():
            client.validators.pop(url, None)
    answers = {kind: _changed(client, kind, url) for kind, url in urls.items()}
    changed = {kind: answer is not None for kind, answer in answers.items()}
    if changed.get("issues"):
        changed["issues"] = issues_changed(answers["issues"], state.issues_read)

    horizon_start = now - config.horizon
    signal = config.deploy_signal
    slack = TAG_SLACK if signal == "tags" else 0.0
    pulls_from = state.pulls_read if state.pulls_read is not None else horizon_start
    issues_from = state.issues_read if state.issues_read is not None else horizon_start
    signals_from = state.reread_from(horizon_start, slack)
    read_signals = changed["signals"] or (signal == "deployments" and state.recheck(now))
    wants: dict[str, Want] = {}
    if changed["pulls"]:
        wants["pulls"] = Want(
            PULL_REQUESTS, more=lambda page: _time(page[-1], "updatedAt") >= pulls_from
        )
    if changed["commits"]:
        since = horizon_start
        if state.head_at is not None:
            since = max(horizon_start, state.head_at - HISTORY_SLACK)
        head = state.head
        wants["history"] = Want(
            HISTORY,
            {"historySince": iso(since)},
            more=lambda page: all(node.get("oid") != head for node in page),
        )
    convert = settings.signal_of()
    if read_signals and signal != "workflow_runs":
        wants["signals"] = Want(
            _CONNECTIONS[signal], more=lambda page: convert(page[-1]).created_at >= signals_from
        )
    if changed.get("issues"):
        labels = sorted({*config.labels.incident, *config.labels.bug})
        wants["issues"] = Want(ISSUES, {"issueLabels": labels, "issuesSince": iso(issues_from)})
    with checked("answer", repo):
        branch, nodes = read(graphql, repo, wants) if wants else (None, {})
    if branch:
        state.branch = branch

    events: Events = {}
    summary = []
    if "history" in wants:
        with checked("commit", repo):
            count = _history(graphql, repo, state, nodes["history"], horizon_start)
        summary.append(f"commits={count}")
    if "pulls" in wants:
        summary.append(f"pull_requests={len(nodes['pulls'])}")
        _pull_requests(settings, repo, owner, state, nodes["pulls"], pulls_from, events)
    if read_signals:
        with checked("deployment signal", repo):
            if signal == "workflow_runs":
                signals = _workflow_runs(settings, client, repo, signals_from)
            else:
                signals = [convert(node) for node in nodes["signals"]]
        summary.append(f"{signal}={len(signals)}")
        _deployments(settings, repo, owner, state, signals, signals_from, events)
    if "issues" in wants:
        summary.append(f"issues={len(nodes['issues'])}")
        with checked("issue", repo):
            for node in nodes["issues"]:
                for event in issue_events(
                    node, repo, settings.source, owner, config.labels, settings.kpi
                ):
                    events[(event.kind, event.key)] = event
                updated = _time(node, "updatedAt")
                state.issues_read = max(state.issues_read or updated, updated)
    # A draft release may wait long to be published; a deployment is given up after a week.
    pending_limit = PENDING_LIMIT if signal == "deployments" else config.horizon
    state.prune(horizon_start, now, slack, pending_limit)
    return Synced(list(events.values()), state.to_json(), " ".join(summary))


def _history(
    graphql: GraphQL, repo: str, state: RepoState, history: list[Node], horizon_start: float
) -> int:
    """Add the new default-branch commits. When the known head is not among them, the branch
    was rewritten (force-push): its history within the horizon is read again."""
    if state.head and all(node["oid"] != state.head for node in history):
        log.info("%s: the default branch was rewritten; reading its history again", repo)
        full = Want(HISTORY, {"historySince": iso(horizon_start)})
        _, again = read(graphql, repo, {"history": full})
        state.rebuild(again["history"])
        return len(history) + len(again["history"])
    state.add_commits(history)
    return len(history)


def _workflow_runs(settings: Settings, client: HttpClient, repo: str, since: float) -> list[Signal]:
    """Successful runs of the deployment workflow, newest first, back to ``since``."""
    workflow = quote(str(settings.config.workflow), safe="")
    url = f"{settings.api}/repos/{repo}/actions/workflows/{workflow}/runs"
    found: list[Signal] = []
    params = {"status": "success", "per_page": 100}
    for page in client.pages(url, params, conditional=False):
        body = page.json()
        runs = body.get("workflow_runs") if isinstance(body, dict) else None
        if not isinstance(runs, list):
            raise Malformed(f"GET {url}: expected workflow_runs")
        batch = [workflow_run_signal(run) for run in runs]
        found.extend(batch)
        if not batch or min(s.created_at for s in batch) < since:
            break
    return found


def _pull_requests(
    settings: Settings,
    repo: str,
    owner: Owner,
    state: RepoState,
    nodes: list[Node],
    since: float,
    events: Events,
) -> None:
    """Changes of the pull requests into the default branch updated since ``since``."""
    with checked("pull request", repo):
        for node in nodes:
            pr = pull_request(
                node, repo, settings.source, owner, settings.config.labels, settings.kpi.origins
            )
            if pr.updated_at < since:
                continue  # on the last page, older than what the last poll read
            state.pulls_read = max(state.pulls_read or pr.updated_at, pr.updated_at)
            if pr.base != state.branch:
                continue
            change = pr.change
            if pr.merge_commit:
                shipped = state.deployment_of(pr.merge_commit)
                if shipped is not None:  # read after the deployment that shipped it
                    state.waiting.pop(pr.merge_commit, None)
                    change = _deployed(change, repo, shipped)
                else:
                    state.waiting[pr.merge_commit] = Waiting(change, pr.kind)
            events[(change.kind, change.key)] = change


def _deployments(
    settings: Settings,
    repo: str,
    owner: Owner,
    state: RepoState,
    signals: list[Signal],
    since: float,
    events: Events,
) -> None:
    """Deployments of the signals that became final, oldest first, and the changes each
    successful production deployment ships. A deployment is a hotfix when it ships a pull
    request labelled so, a rollback when it ships a revert or deploys again an older commit."""
    final = []
    for signal in signals:
        if signal.created_at < since:
            continue
        state.signals_read = max(state.signals_read or signal.created_at, signal.created_at)
        if signal.id in state.seen:
            continue
        if signal.status == "pending":
            state.pending.setdefault(signal.id, signal.created_at)
            continue
        state.pending.pop(signal.id, None)
        state.seen[signal.id] = signal.created_at
        if signal.status != "ignored" and settings.kpi.is_production(signal.environment):
            final.append(signal)
    for signal in sorted(final, key=lambda s: (s.finished_at, s.id)):
        change_type = "normal"
        if signal.status == "success":
            if state.redeploys(signal):
                change_type = "rollback"
            shipped = state.ship(signal)
            for waiting in shipped:
                change_type = stronger(change_type, TYPES[waiting.kind])
            for waiting in shipped:
                change = _deployed(waiting.change, repo, state.shipped[-1])
                events[(change.kind, change.key)] = change
        deployment = Deployment(
            **owner.identity(settings.source, f"github/{repo}/{signal.id}"),
            environment=signal.environment,
            finished_at=signal.finished_at,
            status=signal.status,
            started_at=signal.created_at,
            version=signal.version,
            commit=signal.commit,
            change_type=change_type,
        )
        events[(deployment.kind, deployment.key)] = deployment


def _deployed(change: Change, repo: str, shipped: Shipped) -> Change:
    return replace(
        change,
        deployed_environment=shipped.environment,
        deployed_at=shipped.at,
        deployment_key=f"github/{repo}/{shipped.id}",
    )


def _time(node: Node, key: str) -> float:
    value = parse_time(node[key])
    if value is None:
        raise KeyError(key)
    return value
