"""Which production deployments failed, and why: the incident <-> deployment links.

Only production incidents count (``KpiSettings.is_production_incident``: by default an
incident whose environment matches the production pattern): an incident in staging never
fails a production deployment. An incident links to deployments to its own environment only
(``environments: same``, the default: an incident in prod-eu never fails a deployment to
production), or to any production deployment of its app (``environments: any``).

A successful production deployment FAILED when
- an incident is linked to it: the incident names it explicitly (deployment key, commit SHA
  or version in ``deployment_ref``, within ``explicit_horizon`` before the incident started),
  or, failing that, it is the last successful production deployment of the same app before
  the incident started, within ``incident_horizon``;
- it was rolled back: the next deployment of the app to the same environment, within
  ``rollback_window``, is a rollback or goes to an older version;
- the next deployment of the app to the same environment is a hotfix that finished within
  ``hotfix_window``;
- or the source itself reported it failed.

A successful production deployment is REWORK (unplanned) by the definition ``rework`` selects:
- ``declared`` (the default): it is a declared hotfix or rollback, or goes to an older version
  than the deployment before it in the same environment;
- ``incident_follow_up`` (DORA's: "deployments that are unplanned but happen as a result of an
  incident in production"): it finished after a production incident of its app started, within
  ``rework_window`` of that start (in the incident's environment with ``environments: same``);
- ``both``: either.

Recovery: the latest resolution of its linked incidents (once all are resolved); without a
linked incident, the end of the next deployment to that environment (the rollback or fix),
if within ``rollback_window``.

Every incident gets an :class:`~kpi_exporter.model.IncidentLink` saying which deployment it
is linked to, if any, so that the incidents linked to none are counted.

Every input is ordered by (time, source, key) before anything is decided, so the same events
give the same links whatever order or poll window they arrived in.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from .kpis.aggregate import retractions
from .kpis.settings import KpiSettings
from .model import Deployment, DeploymentOutcome, Event, Incident, IncidentLink
from .store import Store, Transaction

HOUR = 3600.0
DAY = 86400.0
UNPLANNED = frozenset({"hotfix", "rollback"})
REWORK_FOLLOWING_INCIDENTS = frozenset({"incident_follow_up", "both"})
REWORK_DECLARED = frozenset({"declared", "both"})
# A version to compare: at least "major.minor", so that a SHA or a date is never one.
_VERSION = re.compile(r"^v?(\d+(?:\.\d+)+)(?:[-+].*)?$")


@dataclass(frozen=True, slots=True)
class LinkSettings:
    hotfix_window: float = 48 * HOUR
    incident_horizon: float = 7 * DAY
    explicit_horizon: float = 30 * DAY
    rollback_window: float = 7 * DAY
    # same: an incident links only to deployments to its own environment (an incident in
    # prod-eu never fails a deployment to production); any: to any production deployment.
    environments: str = "same"
    # Which deployments are rework: declared (hotfix, rollback), incident_follow_up (a
    # deployment within rework_window after a production incident of its app started), both.
    rework: str = "declared"
    rework_window: float = 48 * HOUR

    @property
    def follows_incidents(self) -> bool:
        """Whether an incident makes the deployments after it rework."""
        return self.rework in REWORK_FOLLOWING_INCIDENTS

    def reach(self, event: Deployment | Incident) -> float:
        """How far back from ``event`` a deployment can have its outcome changed by it.

        A deployment can change its predecessor's rollback or hotfix judgement, or take over
        an incident's "last before" link; an incident can change the outcome of the deployment
        it links to, explicitly or not."""
        if isinstance(event, Incident):
            return self.explicit_horizon if event.deployment_ref else self.incident_horizon
        return max(self.hotfix_window, self.rollback_window, self.incident_horizon)


def _order(event: Deployment | Incident) -> tuple[float, str, str]:
    return (event.time, event.source, event.key)


def _version(text: str) -> tuple[int, ...] | None:
    match = _VERSION.match(text)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


# Semantic versioning 2.0.0: MAJOR.MINOR.PATCH, an optional pre-release and build; a leading
# "v" as tags write it.
_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
RELEASE_TYPES = ("major", "minor", "patch", "unknown")
# How many older deployments a re-assessment reads back for the previous release.
PREVIOUS_SCAN = 1000


def release_type(previous: str | None, version: str) -> str:
    """The release type of deploying ``version`` after ``previous`` (None: nothing before):
    the first of major, minor and patch that differs; patch when only the pre-release or
    build differs (a release candidate made final, a redeployment); unknown when either is
    not a semantic version or there is no previous one. A step down (a rollback) is typed
    like a step up."""
    new = _SEMVER.match(version)
    old = _SEMVER.match(previous) if previous is not None else None
    if new is None or old is None:
        return "unknown"
    for name, before, after in zip(RELEASE_TYPES, old.groups(), new.groups(), strict=False):
        if int(before) != int(after):
            return name
    return "patch"


def _is_rollback(previous: Deployment, following: Deployment, settings: LinkSettings) -> bool:
    if following.finished_at - previous.finished_at > settings.rollback_window:
        return False
    if following.change_type == "rollback":
        return True
    old, new = _version(previous.version), _version(following.version)
    return old is not None and new is not None and new < old


def _refers_to(reference: str, deployment: Deployment) -> bool:
    if not reference:
        return False
    if reference in (deployment.key, deployment.version):
        return True
    # A SHA reference may be abbreviated, but not below git's default of 7 characters.
    return len(reference) >= 7 and deployment.commit.startswith(reference)


def link_incident(
    incident: Incident, production: Sequence[Deployment], settings: LinkSettings
) -> tuple[Deployment | None, str]:
    """The deployment ``incident`` is linked to and how (``explicit`` or ``last before``).

    ``production``: the app's successful production deployments, ordered by :func:`_order`.
    """
    if settings.environments == "same":
        production = [d for d in production if d.environment == incident.environment]
    end = bisect_right(production, incident.started_at, key=lambda d: d.finished_at)
    if incident.deployment_ref:
        for deployment in reversed(production[:end]):
            if incident.started_at - deployment.finished_at > settings.explicit_horizon:
                break
            if _refers_to(incident.deployment_ref, deployment):
                return deployment, "explicit"
    if end and incident.started_at - production[end - 1].finished_at <= settings.incident_horizon:
        return production[end - 1], "last before"
    return None, ""


def assess(
    deployments: Iterable[Deployment],
    incidents: Iterable[Incident],
    kpi: KpiSettings,
    settings: LinkSettings,
) -> list[DeploymentOutcome]:
    """One outcome per deployment of ONE app (failed is False unless it is a successful
    production deployment that failed)."""
    every = sorted(deployments, key=_order)
    production = _production(every, kpi)
    in_production = {(d.source, d.key) for d in production}

    linked: dict[tuple[str, str], list[Incident]] = defaultdict(list)
    counted = [
        incident
        for incident in sorted(incidents, key=_order)
        if kpi.is_production_incident(incident.environment, incident.severity)
    ]
    for incident in counted:
        deployment, _ = link_incident(incident, production, settings)
        if deployment is not None:
            linked[(deployment.source, deployment.key)].append(incident)

    following: dict[tuple[str, str], Deployment] = {}
    rework: set[tuple[str, str]] = set()
    types: dict[tuple[str, str], str] = {}
    last_in_environment: dict[str, Deployment] = {}
    for deployment in production:
        natural_key = (deployment.source, deployment.key)
        previous = last_in_environment.get(deployment.environment)
        types[natural_key] = release_type(
            previous.version if previous is not None else None, deployment.version
        )
        if previous is not None:
            following[(previous.source, previous.key)] = deployment
        if settings.rework in REWORK_DECLARED and (
            deployment.change_type in UNPLANNED
            or (previous is not None and _is_rollback(previous, deployment, settings))
        ):
            rework.add(natural_key)
        if settings.follows_incidents and followed_incidents(deployment, counted, settings):
            rework.add(natural_key)
        last_in_environment[deployment.environment] = deployment

    outcomes = []
    for deployment in every:
        natural_key = (deployment.source, deployment.key)
        reasons: list[str] = []
        recovered_at: float | None = None
        incidents_here = linked.get(natural_key, [])
        successor = following.get(natural_key)
        if natural_key in in_production:
            if incidents_here:
                reasons.append("incident")
            if successor is not None and _is_rollback(deployment, successor, settings):
                reasons.append("rolled back")
            elif (
                successor is not None
                and successor.change_type == "hotfix"
                and successor.finished_at - deployment.finished_at <= settings.hotfix_window
            ):
                reasons.append("hotfix")
            if deployment.reported_failed:
                reasons.append("reported failed")
        if incidents_here:
            resolved = [i.resolved_at for i in incidents_here]
            if all(r is not None for r in resolved):
                recovered_at = max(r for r in resolved if r is not None)
        elif (
            reasons
            and successor is not None
            and successor.finished_at - deployment.finished_at <= settings.rollback_window
        ):
            recovered_at = successor.finished_at
        outcomes.append(
            DeploymentOutcome(
                **deployment.identity(),
                environment=deployment.environment,
                deployed_at=deployment.finished_at,
                failed=bool(reasons),
                rework=natural_key in rework,
                reasons=tuple(reasons),
                incident_keys=tuple(f"{i.source}/{i.key}" for i in incidents_here),
                recovered_at=recovered_at if reasons else None,
                release_type=types.get(natural_key, ""),
            )
        )
    return outcomes


def followed_incidents(
    deployment: Deployment, incidents: Sequence[Incident], settings: LinkSettings
) -> list[Incident]:
    """The production ``incidents`` of its app (ordered by start) that ``deployment`` follows:
    it finished after the incident started, at most ``rework_window`` later, and, with
    ``environments: same``, went to the incident's environment."""
    first = bisect_left(
        incidents, deployment.finished_at - settings.rework_window, key=lambda i: i.started_at
    )
    end = bisect_left(incidents, deployment.finished_at, key=lambda i: i.started_at)
    return [
        incident
        for incident in incidents[first:end]
        if settings.environments == "any" or incident.environment == deployment.environment
    ]


def _production(ordered: Sequence[Deployment], kpi: KpiSettings) -> list[Deployment]:
    return [d for d in ordered if d.status == "success" and kpi.is_production(d.environment)]


def incident_links(
    deployments: Iterable[Deployment],
    incidents: Iterable[Incident],
    kpi: KpiSettings,
    settings: LinkSettings,
) -> list[IncidentLink]:
    """The link of each incident of ONE app (none for an incident that is not a production
    incident: it never links)."""
    production = _production(sorted(deployments, key=_order), kpi)
    links = []
    for incident in incidents:
        counted = kpi.is_production_incident(incident.environment, incident.severity)
        deployment, how = link_incident(incident, production, settings) if counted else (None, "")
        links.append(
            IncidentLink(
                **incident.identity(),
                started_at=incident.started_at,
                production=counted,
                deployment_key=f"{deployment.source}/{deployment.key}" if deployment else "",
                how=how,
            )
        )
    return links


def _previous_releases(
    tx: Transaction, app: str, before: float, deployments: list[Deployment], kpi: KpiSettings
) -> list[Deployment]:
    """The last successful production deployment before ``before`` of each environment of
    ``deployments``: what a re-assessed deployment's release type steps from, however long
    ago it was (read newest first, at most :data:`PREVIOUS_SCAN` rows back)."""
    wanted = {d.environment for d in _production(deployments, kpi)}
    found: list[Deployment] = []
    for scanned, event in enumerate(tx.events_before("deployment", app, before)):
        if not wanted or scanned >= PREVIOUS_SCAN:
            break
        if (
            isinstance(event, Deployment)
            and event.environment in wanted
            and _production([event], kpi)
        ):
            wanted.discard(event.environment)
            found.append(event)
    return found


def relink(
    tx: Transaction, touched: Iterable[Event], kpi: KpiSettings, settings: LinkSettings
) -> None:
    """Re-assess the outcomes that the ``touched`` deployments and incidents can change.

    Every rule is bounded in time (:meth:`LinkSettings.reach`), so only the deployments from
    ``since`` on can change; they are re-assessed with every incident from ``since`` on.
    Deployments before ``since`` are read too, only as link targets for those incidents, and
    keep their stored outcome.
    """
    since_by_app: dict[str, float] = {}
    for event in touched:
        if isinstance(event, Deployment | Incident):
            since = event.time - settings.reach(event)
            since_by_app[event.app] = min(since_by_app.get(event.app, since), since)
    relink_since(tx, since_by_app, kpi, settings)


def relink_since(
    tx: Transaction, since_by_app: dict[str, float], kpi: KpiSettings, settings: LinkSettings
) -> None:
    """Re-assess the outcomes of each app's deployments from its ``since`` on, and the links
    of its incidents from then on."""
    # A deployment's rework can follow an incident up to rework_window before it: those
    # incidents are read too, only for that rule (their own links and outcomes are kept).
    before = settings.rework_window if settings.follows_incidents else 0.0
    for app, since in sorted(since_by_app.items()):
        read = [e for e in tx.events("incident", app, since - before) if isinstance(e, Incident)]
        incidents = [incident for incident in read if incident.started_at >= since]
        referenced = any(incident.deployment_ref for incident in incidents)
        target_reach = max(
            settings.incident_horizon, settings.explicit_horizon if referenced else 0.0
        )
        targets = tx.events("deployment", app, since - target_reach)
        deployments = [e for e in targets if isinstance(e, Deployment)]
        deployments[:0] = _previous_releases(tx, app, since - target_reach, deployments, kpi)
        for outcome in assess(deployments, read, kpi, settings):
            if outcome.deployed_at >= since:
                tx.upsert(outcome)
        for link in incident_links(deployments, incidents, kpi, settings):
            tx.upsert(link)


def _settings_text(settings: LinkSettings) -> str:
    """The linking settings as the store remembers them."""
    return json.dumps(asdict(settings), sort_keys=True)


def relink_on_new_settings(store: Store, kpi: KpiSettings, settings: LinkSettings) -> int:
    """Re-assess every stored outcome and link when the linking settings (windows, horizons,
    the rework definition) differ from those the store's outcomes were assessed with, so that
    a changed setting applies to the history too; returns the events that changed. A store
    that never remembered its settings (new, or written by an older version) takes these as
    its own: its outcomes were assessed with them, but for a rework definition other than
    ``declared``, which did not exist then. The changes' retractions are stored with them, so
    that no counter goes down; the caller replays the store afterwards."""
    wanted = _settings_text(settings)
    remembered = store.setting("linking")
    if remembered == wanted:
        return 0
    with store.transaction() as tx:
        if remembered is not None or settings.rework != "declared":
            earliest = tx.earliest(("deployment", "incident"))
            relink_since(tx, earliest, kpi, settings)
        changes = tx.changes()
        tx.add_retractions(retractions(changes, kpi))
        tx.set_setting("linking", wanted)
    return len(changes)
