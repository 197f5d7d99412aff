"""Small builders shared by the tests: times, events, parsed expositions, and sources built and
polled as the exporter does."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import responses
from prometheus_client.parser import text_string_to_metric_families

from kpi_exporter.config import parse_config
from kpi_exporter.exposition import render
from kpi_exporter.health import Health
from kpi_exporter.kpis import KpiSettings, aggregate
from kpi_exporter.model import Change, Deployment, Event, Gauge, Incident, WorkItem
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll, Source, SourceError, registry
from kpi_exporter.store import SourceState, Store

HOUR = 3600.0
DAY = 86400.0

# The ownership of the generic sources' tests: two apps, anything else unknown.
SHOP_AND_BILLING = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments}
  billing: {team: finance}
"""


def ts(text: str) -> float:
    """Epoch seconds of an ISO 8601 UTC time such as ``2026-11-02T10:00:00Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _test_event(key: str, app: str) -> dict[str, Any]:
    """The fields every test event shares: source "test", team "team-a"."""
    return {"source": "test", "key": key, "app": app, "team": "team-a"}


def deployment(key: str, at: str, app: str = "shop", **fields: Any) -> Deployment:
    values = {**_test_event(key, app), "environment": "production", "finished_at": ts(at)}
    return Deployment(**{**values, **fields})


def incident(key: str, started: str, app: str = "shop", **fields: Any) -> Incident:
    values = {**_test_event(key, app), "severity": "critical", "started_at": ts(started)}
    for name in ("resolved_at", "detected_at", "acknowledged_at", "impact_started_at"):
        if isinstance(fields.get(name), str):
            fields[name] = ts(fields[name])
    return Incident(**{**values, **fields})


def change(key: str, first_commit: str, deployed: str | None, app: str = "shop") -> Change:
    return Change(
        **_test_event(key, app),
        first_commit_at=ts(first_commit),
        deployed_at=ts(deployed) if deployed else None,
        deployed_environment="production" if deployed else "",
    )


def business_values(events: list[Event]) -> dict[tuple[str, str, str], float]:
    """The kpi_business_value gauges of a poll: (metric, app, team) -> value."""
    found = {}
    for event in events:
        assert isinstance(event, Gauge)
        assert event.name == "kpi_business_value"
        found[(dict(event.labels)["metric"], event.app, event.team)] = event.value
    return found


def sample(body: str, series: str) -> str | None:
    """The value of one series in an exposition, or None when absent."""
    for line in body.splitlines():
        if line.startswith(series + " "):
            return line.split(" ")[1]
    return None


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text exposition: (sample name, labels) -> value."""
    result = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            result[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return result


def net_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The domain samples (``kpi_``, not the exporter's health) with every retraction taken
    off its counter or histogram (kpi_deployments_total - kpi_deployments_retracted_total),
    zeros of counters and histograms left out: what does not depend on the order in which
    corrections arrived."""
    result: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for (name, labels), sample_value in samples(text).items():
        if not name.startswith("kpi_") or name.startswith("kpi_exporter_"):
            continue
        base, sign = (name.replace("_retracted", ""), -1) if "_retracted" in name else (name, 1)
        result[(base, labels)] = round(result.get((base, labels), 0.0) + sign * sample_value, 6)
    monotonic = ("_total", "_bucket", "_count", "_sum")
    return {k: v for k, v in result.items() if v or not k[0].endswith(monotonic)}


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        v
        for (sample, sample_labels), v in samples(text).items()
        if sample == name and wanted <= sample_labels
    )


def values(text: str, names: Iterable[str], **labels: str) -> dict[str, float]:
    """:func:`value` of each of ``names``, by name."""
    return {name: value(text, name, **labels) for name in names}


def exposition(events: Iterable[Event], settings: KpiSettings | None = None) -> str:
    """The text exposition of the domain metrics computed from scratch from ``events``."""
    return render(aggregate(events, settings).exposition).text.decode()


def built_source(
    settings: dict[str, Any],
    apps: str,
    *,
    clock: Callable[[], float],
    slept: list[float] | None = None,
) -> Any:
    """The source of the configuration entry ``settings`` made by its registered type, as the
    exporter makes it, under the ``apps`` section given as YAML text; its clock is ``clock`` and
    its sleep appends to ``slept``."""
    config = parse_config(apps)
    kind = registry.BY_NAME[settings["type"]]
    context = registry.SourceContext(
        Ownership(config), Health(), KpiSettings(), config.base_dir, f"source {settings['name']}"
    )
    source = kind.build(kind.model.model_validate(settings), context)
    assert source is not None
    source.sleep = (slept if slept is not None else []).append
    source.clock = clock
    return source


def source_with_secret(
    monkeypatch: pytest.MonkeyPatch,
    secret: str,
    settings: dict[str, Any],
    apps: str,
    *,
    clock: Callable[[], float],
    slept: list[float] | None = None,
) -> Any:
    """:func:`built_source`, with ``secret`` in the environment variable ``token_env`` names."""
    monkeypatch.setenv(settings["token_env"], secret)
    return built_source(settings, apps, clock=clock, slept=slept)


def poll_error(source: Source) -> str:
    """The error of a poll that must fail (a SourceError), as the health page shows it."""
    try:
        source.poll(SourceState())
    except SourceError as error:
        return str(error)
    raise AssertionError("the poll did not fail")


def poll_into(pipeline: Pipeline, source: Source) -> Poll:
    """One poll of ``source`` from its stored state, recorded by the pipeline."""
    poll = source.poll(pipeline.store.state(source.name))
    pipeline.record(source.name, poll)
    return poll


def served(pipeline: Pipeline) -> str:
    """The exposition the pipeline serves once refreshed."""
    pipeline.refresh()
    return pipeline.cache.current.text.decode()


def served_after_each(pipeline: Pipeline, source: str, versions: Iterable[Event]) -> list[str]:
    """The exposition served after each of ``versions`` (one event each, as ``source``
    polled it) is recorded in turn."""
    return [served_after(pipeline, source, version) for version in versions]


def served_after(pipeline: Pipeline, source: str, version: Event) -> str:
    pipeline.record(source, Poll(events=[version], cursor=None))
    return served(pipeline)


def by_key(events: Iterable[Event]) -> dict[tuple[str, str], Event]:
    return {(event.kind, event.key): event for event in events}


def npm_ci(package: Path, into: Path, *extra: str) -> None:
    """``npm ci`` of the pinned ``package.json`` and ``package-lock.json`` of ``package`` (and
    the ``extra`` files beside them) into ``into``; fails when npm is missing."""
    npm = shutil.which("npm")
    assert npm, "npm is missing: run scripts/install-system-deps.sh (installs nodejs and npm)"
    into.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", *extra):
        shutil.copyfile(package / name, into / name)
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=into,
        check=True,
        timeout=600,
    )


class Installable(Protocol):
    def install(self, mock: responses.RequestsMock) -> None: ...


FakeT = TypeVar("FakeT", bound=Installable)


def installed(fake: FakeT) -> Iterator[FakeT]:
    """A fixture's body serving ``fake`` (its ``install`` adds its routes) through
    ``responses`` while the test runs: ``yield from installed(FakeSnyk())``."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


def work_flow(text: str, **labels: str) -> tuple[float, float, float, float]:
    """(items completed, sum of their lead times, of their cycle times, of their active
    seconds) of one app, team and category of work items in an exposition."""
    return (
        value(text, "kpi_work_items_completed_total", **labels),
        value(text, "kpi_work_item_lead_time_seconds_sum", **labels),
        value(text, "kpi_work_item_cycle_time_seconds_sum", **labels),
        value(text, "kpi_work_items_active_seconds_total", **labels),
    )


# The apps of the trackers' work-item tests: shop by its repository or project (acme/shop) or
# its Linear team (ENG), search by a label naming it.
WORK_APPS = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, repos: [acme/shop], services: [ENG]}
  search: {team: discovery, services: [search]}
"""
SHOP = {"app": "shop", "team": "payments"}


def tracker_source(
    monkeypatch: pytest.MonkeyPatch,
    token: str,
    now: float,
    settings: dict[str, Any],
    slept: list[float] | None = None,
) -> Any:
    """The work-item tracker's source of ``settings`` under ``WORK_APPS``, its ``token_env``
    holding ``token``, its clock stopped at ``now``."""
    return source_with_secret(
        monkeypatch, token, settings, WORK_APPS, clock=lambda: now, slept=slept
    )


def history(*entries: str) -> tuple[tuple[float, str, str], ...]:
    """A work item's status history as its ``statuses`` hold it, written an entry a string:
    ``"2026-03-02T10:00 in progress: active"`` (UTC minute, status: stage)."""
    result = []
    for entry in entries:
        minute, _, rest = entry.partition(" ")
        status, _, stage = rest.rpartition(": ")
        result.append((ts(f"{minute}:00Z"), status, stage))
    return tuple(result)


def work_items(events: Iterable[Event]) -> dict[str, WorkItem]:
    """The work items among ``events`` by key."""
    return {event.key: event for event in events if isinstance(event, WorkItem)}


def synced(source: Source, directory: Path, now: float) -> tuple[Poll, str]:
    """A first poll of ``source`` recorded in a fresh store under ``directory``, and the
    exposition the exporter serves after it (``/metrics``)."""
    pipeline = Pipeline(Store(directory / "s.db"), clock=lambda: now)
    poll = poll_into(pipeline, source)
    return poll, served(pipeline)


def synced_items(
    source: Source, directory: Path, now: float
) -> tuple[Poll, dict[str, WorkItem], str]:
    """:func:`synced` with the work items of the poll by key."""
    poll, text = synced(source, directory, now)
    return poll, work_items(poll.events), text
