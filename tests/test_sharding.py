"""Sharding: N exporters share the apps, each app owned by exactly one (``hash(app) % N``).

The end-to-end test runs four real ``kpi-exporter run`` processes on loopback over the same
data: one unsharded, and shards 0, 1 and 2 of 3 (shard 2 given its index as a StatefulSet pod
name, as the Helm chart passes it). Each process polls its own fake GitHub (same answers), so
the repositories each one requested can be told apart, and reads the same events file
(incidents of every app, linked to the deployments GitHub reports).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from prometheus_client.parser import text_string_to_metric_families

from kpi_exporter import cli
from kpi_exporter.config import parse_config
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.model import Deployment, Event, Incident
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sharding import Shard, parse_index, shard_of
from kpi_exporter.sources import Poll
from kpi_exporter.sources.github_security import GitHubSecurity
from kpi_exporter.sources.sonarqube import SonarQube
from kpi_exporter.store import SourceState, Store
from tests.github_fake import FakeGitHub, commit, deployment, iso, issue, pull
from tests.github_server import FakeGitHubServer
from tests.process import Exporter
from tests.support import DAY, HOUR, value

SHARDS = 3
# 12 apps, 4 of each shard: the first names of each shard among app-00, app-01, ...
APPS = sorted(
    name
    for index in range(SHARDS)
    for name in [f"app-{n:02d}" for n in range(100) if shard_of(f"app-{n:02d}", SHARDS) == index][
        :4
    ]
)
TOKEN_ENV = "KPI_SHARD_GITHUB_TOKEN"
SONAR = "http://127.0.0.1:9"  # never reached: answered by responses


def test_an_app_belongs_to_one_shard_by_a_stable_hash() -> None:
    # SHA-256 of the name: the same on every process, machine and Python version
    digest = hashlib.sha256(b"checkout").digest()
    assert shard_of("checkout", 7) == int.from_bytes(digest[:8], "big") % 7
    owners = Counter(shard_of(f"app-{n}", 4) for n in range(4000))
    assert set(owners) == {0, 1, 2, 3}
    assert all(900 < n < 1100 for n in owners.values()), owners  # evenly spread
    shards = [Shard(i, 4) for i in range(4)]
    assert all(sum(s.owns(f"app-{n}") for s in shards) == 1 for n in range(500))
    assert Shard().owns("anything") and not Shard().sharded


def test_the_shard_index_is_a_number_or_a_statefulset_pod_name() -> None:
    assert parse_index("2") == 2
    assert parse_index("kpi-exporter-11") == 11
    assert parse_index("my-release-kpi-exporter-0") == 0
    with pytest.raises(ValueError, match="pod name ending in -<ordinal>"):
        parse_index("kpi-exporter")
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        Shard(3, 3)
    with pytest.raises(ValueError, match="at least 1"):
        Shard(0, 0)


def test_run_rejects_a_shard_index_outside_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "kpi.yaml"
    config.write_text(f"store: {{path: {tmp_path / 'kpi.db'}}}\nsources: []\n")
    args = ["--shard.count", "3", "--shard.index", "kpi-exporter-3"]
    assert cli.main(["run", "--config", str(config), *args]) == cli.EXIT_CONFIG
    assert "--shard.index 3 is outside 0..2" in capsys.readouterr().err


def deployment_of(app: str, at: float) -> Deployment:
    return Deployment(
        source="s", key=f"{app}-1", app=app, team="t", environment="production", finished_at=at
    )


def test_a_shard_stores_only_its_apps_and_a_new_shard_count_re_reads_everything(
    tmp_path: Path,
) -> None:
    now = 100 * DAY
    events: list[Event] = [deployment_of(app, now - HOUR) for app in APPS]
    poll = Poll(events, cursor="c1")
    store = Store(tmp_path / "one.db")
    Pipeline(store, KpiSettings(), clock=lambda: now).record("s", poll)
    assert {event.app for event in store.iter_events()} == set(APPS)  # unsharded: all
    assert store.state("s").cursor == "c1"
    store.close()
    # the same store, now shard 1 of 3: other apps' events dropped, cursors reset
    shard = Shard(1, SHARDS)
    store = Store(tmp_path / "one.db")
    pipeline = Pipeline(store, KpiSettings(), clock=lambda: now, shard=shard)
    kept = {event.app for event in store.iter_events()}
    assert kept == {app for app in APPS if shard.owns(app)}
    assert 0 < len(kept) < len(APPS)
    assert store.state("s").cursor is None  # the sources read everything again
    pipeline.record("s", Poll([*events, incident_of(APPS[0], now)], cursor="c2"))
    assert {event.app for event in store.iter_events()} == kept
    assert store.state("s").cursor == "c2"
    store.close()
    # restarted with the same assignment: nothing dropped, the cursor kept
    store = Store(tmp_path / "one.db")
    Pipeline(store, KpiSettings(), clock=lambda: now, shard=shard)
    assert store.state("s").cursor == "c2"
    assert {event.app for event in store.iter_events()} == kept
    store.close()


def incident_of(app: str, now: float) -> Incident:
    return Incident(
        source="s", key=f"INC-{app}", app=app, team="t", started_at=now - 30 * 60, severity="high"
    )


# --- four real processes -----------------------------------------------------------------------


def build(fake: FakeGitHub, now: float) -> None:
    """Per app: 4 merged pull requests, two production deployments (the second one failed and
    an incident follows it, from the events file)."""
    for n, app in enumerate(APPS):
        repo = fake.repo(f"acme/{app}")
        oids = [hashlib.sha1(f"{app}-{i}".encode()).hexdigest() for i in range(5)]
        start = now - 10 * DAY + n * HOUR
        at = [start + i * 6 * HOUR for i in range(5)]
        repo.commits = [commit(oids[0], iso(at[0]))]
        for i in range(1, 5):
            repo.commits.insert(0, commit(oids[i], iso(at[i]), oids[i - 1]))
            repo.pulls.append(
                pull(
                    i,
                    first_commit=iso(at[i] - (n + 1) * HOUR),
                    created=iso(at[i] - HOUR),
                    merged=iso(at[i]),
                    merge_commit=oids[i],
                )
            )
        repo.deployments = [
            deployment(100 * n + 1, oids[2], iso(at[2] + HOUR), ("SUCCESS", iso(at[2] + 2 * HOUR))),
            deployment(100 * n + 2, oids[4], iso(at[4] + HOUR), ("SUCCESS", iso(at[4] + 2 * HOUR))),
        ]
        if n % 2:
            repo.issues = [issue(9, iso(at[4] + 3 * HOUR), ["incident"], iso(at[4] + 5 * HOUR))]


def write_files(tmp_path: Path, api_url: str, now: float) -> Path:
    incidents = tmp_path / "incidents.jsonl"
    incidents.write_text(
        "".join(
            json.dumps(
                {
                    "type": "incident",
                    "id": f"PD-{app}",
                    "service": f"{app}-api",
                    "severity": "critical",
                    "started_at": iso(now - 2 * DAY + n * HOUR),
                    "resolved_at": iso(now - 2 * DAY + n * HOUR + 40 * 60),
                }
            )
            + "\n"
            for n, app in enumerate(APPS)
        )
    )
    apps = "".join(
        f"  {app}: {{team: team-{n % 4}, repos: [acme/{app}], services: [{app}-api]}}\n"
        for n, app in enumerate(APPS)
    )
    config = tmp_path / "kpi.yaml"
    config.write_text(
        "store: {path: kpi.db}\n"
        f"apps:\n{apps}"
        "sources:\n"
        "  - type: github\n"
        "    name: gh\n"
        "    interval: 1h\n"
        f"    api_url: {api_url}\n"
        f"    token_env: {TOKEN_ENV}\n"
        f"    repos: [{', '.join(f'acme/{app}' for app in APPS)}]\n"
        "  - type: events_file\n"
        "    name: pd\n"
        "    interval: 1h\n"
        "    paths: [incidents.jsonl]\n"
    )
    return config


def polled(exporter: Exporter) -> str:
    """The exposition once both sources have polled once."""
    deadline = time.monotonic() + 40
    while True:
        text = exporter.metrics()
        done = [
            value(text, "kpi_exporter_source_polls_total", source=s, result="success")
            for s in ("gh", "pd")
        ]
        if all(n and n >= 1 for n in done):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"not polled:\n{exporter.log.read_text(errors='replace')}")
        time.sleep(0.1)


def counter_series(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The KPI counters and histograms (not the exporter's own metrics, not gauges)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        if family.type in ("counter", "histogram") and not family.name.startswith("kpi_exporter_")
        for sample in family.samples
    }


def repos_requested(server: FakeGitHubServer) -> set[str]:
    paths = [served.path for served in server.since(0) if served.path.startswith("/repos/")]
    return {"/".join(path.split("/")[2:4]) for path in paths}


@pytest.mark.timeout(120)
def test_three_shards_sum_to_one_unsharded_exporter_and_no_app_is_polled_twice(
    tmp_path: Path,
) -> None:
    now = time.time()
    runs: list[tuple[str, list[str]]] = [
        ("all", []),
        ("shard-0", ["--shard.count", "3", "--shard.index", "0"]),
        ("shard-1", ["--shard.count", "3", "--shard.index", "1"]),
        ("shard-2", ["--shard.count", "3", "--shard.index", "kpi-exporter-2"]),
    ]
    servers = [FakeGitHubServer(latency=0.0) for _ in runs]
    exporters: list[Exporter] = []
    try:
        for server, (name, args) in zip(servers, runs, strict=True):
            server.start()
            build(server.fake, now)
            directory = tmp_path / name
            directory.mkdir()
            config = write_files(directory, server.url, now)
            exporters.append(
                Exporter(config, directory, *args, env={TOKEN_ENV: "ghp_dummy0123456789"}).start()
            )
        texts = [polled(exporter) for exporter in exporters]
        requested = [repos_requested(server) for server in servers]
    finally:
        for exporter in exporters:
            exporter.stop()
        for server in servers:
            server.stop()

    whole, shards = texts[0], texts[1:]
    every_repo = {f"acme/{app}" for app in APPS}
    # no app polled twice: the shards' repositories are disjoint and cover them all
    assert requested[0] == every_repo
    assert sorted(r for shard in requested[1:] for r in shard) == sorted(every_repo)
    for index, repos in enumerate(requested[1:]):
        assert repos == {f"acme/{app}" for app in APPS if shard_of(app, SHARDS) == index}
        assert value(shards[index], "kpi_exporter_shard_info", shard=str(index), shards="3") == 1

    # every app's series in exactly one shard, with the unsharded exporter's value
    expected = counter_series(whole)
    # every app's histograms and counters, not an empty comparison
    assert {dict(labels).get("app") for _, labels in expected} >= set(APPS)
    assert value(whole, "kpi_incidents_total", app=APPS[1]) == 2  # GitHub issue + events file
    assert value(whole, "kpi_deployments_total", app=APPS[0]) == 2
    merged: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for index, text in enumerate(shards):
        series = counter_series(text)
        apps = {dict(labels).get("app") for _, labels in series}
        assert apps <= {app for app in APPS if shard_of(app, SHARDS) == index}, (index, apps)
        assert not set(series) & set(merged), "a series exported by two shards"
        merged.update(series)
    assert merged == expected
    sums_whole: defaultdict[str, float] = defaultdict(float)
    sums_shards: defaultdict[str, float] = defaultdict(float)
    for (name, _), count in expected.items():
        sums_whole[name] += count
    for (name, _), count in merged.items():
        sums_shards[name] += count
    assert sums_shards == sums_whole


def test_per_repository_security_lists_and_sonarqube_projects_follow_the_shard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "ghp_dummy0123456789")
    apps = "".join(f"  {app}: {{team: t, repos: [acme/{app}]}}\n" for app in APPS)
    config = parse_config(
        f"apps:\n{apps}sources:\n"
        "  - type: github_security\n"
        "    name: security\n"
        f"    token_env: {TOKEN_ENV}\n"
        f"    repos: [{', '.join(f'acme/{app}' for app in APPS)}]\n"
        "    alerts: [dependabot]\n"
        "  - type: sonarqube\n"
        "    name: sonar\n"
        f"    api_url: {SONAR}\n"
        f"    projects: {{{', '.join(f'{app}-key: {app}' for app in APPS)}}}\n"
    )
    seen: list[str] = []
    for index in range(SHARDS):
        shard = Shard(index, SHARDS)
        polled, _ = cli.build_sources(config, Ownership(config, shard))
        security = next(s for s in polled if isinstance(s, GitHubSecurity))
        repos = [where for where, _, _ in security.lists()]
        assert repos == [f"acme/{app}" for app in APPS if shard.owns(app)]
        seen += repos
        sonar = next(s for s in polled if isinstance(s, SonarQube))
        with responses.RequestsMock() as mock:
            mock.get(f"{SONAR}/api/measures/component", json={"component": {"measures": []}})
            sonar.poll(SourceState())
            asked = [parse_qs(urlsplit(str(c.request.url)).query) for c in mock.calls]
        assert [query["component"] for query in asked] == [
            [f"{app}-key"] for app in APPS if shard.owns(app)
        ]
    assert sorted(seen) == sorted(f"acme/{app}" for app in APPS)
