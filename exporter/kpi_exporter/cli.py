"""The ``kpi-exporter`` command: run, check-config, explain, backfill, render."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import assert_never

from . import __version__, backfill, bundle, explain, logs, reference
from .config import (
    DEFAULT_PORT,
    AwsCostSource,
    Config,
    ConfigError,
    CoverageSource,
    EventsFileSource,
    FocusSource,
    GitHubSecuritySource,
    GitHubSource,
    GitLabSource,
    GitSource,
    HttpJsonSource,
    IngestSource,
    JiraSource,
    JUnitSource,
    OpenCostSource,
    OpsgenieSource,
    PagerDutySource,
    ScanReportSource,
    SonarQubeSource,
    SqlSource,
    SurveySource,
    load_config,
)
from .connections import Limits
from .credentials import CredentialError, read_secret
from .health import Health
from .ownership import Ownership
from .pipeline import Pipeline
from .scheduler import Scheduler
from .server import ExporterServer, parse_listen_address
from .sharding import Shard, parse_index
from .sources import Source
from .sources.aws_cost import AwsCost
from .sources.coverage import CoverageReports
from .sources.events_file import EventsFiles
from .sources.focus import FocusFiles
from .sources.git import GitRepository
from .sources.github import GitHub, check_credentials
from .sources.github_security import GitHubSecurity
from .sources.gitlab import GitLab
from .sources.http import public_url
from .sources.http_json import HttpJson
from .sources.ingest import Ingest
from .sources.jira import Jira
from .sources.junit import JUnitReports
from .sources.opencost import OpenCost
from .sources.opsgenie import Opsgenie
from .sources.pagerduty import PagerDuty
from .sources.scan_reports import ScanReports
from .sources.sonarqube import SonarQube
from .sources.sql import SqlQueries
from .sources.survey import SurveyFiles
from .store import Store
from .webconfig import BasicAuth, load_web_config

log = logging.getLogger("kpi_exporter")

EXIT_CONFIG = 2


def build_sources(
    config: Config, ownership: Ownership, health: Health | None = None
) -> tuple[list[Source], Ingest | None]:
    """The polled sources and the ingest endpoint (if configured) of a configuration.
    ``health`` counts the API requests of HTTP sources."""
    health = health or Health()
    polled: list[Source] = []
    ingest: Ingest | None = None
    for index, source in enumerate(config.sources):
        where = f"sources[{index}]"
        if isinstance(source, GitSource):
            owner = ownership.of_app(source.app) if source.app else ownership.of_repo(source.path)
            if ownership.shard.owns(owner.app):  # another shard polls the other apps
                polled.append(GitRepository(source, config.resolve(source.path), owner))
        elif isinstance(source, EventsFileSource):
            polled.append(EventsFiles(source, config.base_dir, ownership))
        elif isinstance(source, IngestSource):
            try:
                secret = read_secret(source.secret_env, source.secret_file, where)
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
            ingest = Ingest(source, secret, ownership)
        elif isinstance(source, GitLabSource):
            try:
                polled.append(GitLab(source, ownership, config.kpi_settings(), health, what=where))
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
        elif isinstance(source, GitHubSource):
            try:
                check_credentials(source, where)
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
            polled.append(GitHub(source, ownership, config.kpi_settings(), health, what=where))
        elif isinstance(source, JiraSource):
            try:
                polled.append(Jira(source, ownership, config.kpi_settings(), health, what=where))
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
        elif isinstance(source, PagerDutySource):
            try:
                polled.append(PagerDuty(source, ownership, health, what=where))
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
        elif isinstance(source, OpsgenieSource):
            try:
                polled.append(Opsgenie(source, ownership, health, what=where))
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
        elif isinstance(source, CoverageSource):
            try:
                polled.append(
                    CoverageReports(source, config.base_dir, ownership, health, what=where)
                )
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
        elif isinstance(source, JUnitSource):
            polled.append(JUnitReports(source, config.base_dir, ownership))
        elif isinstance(source, SonarQubeSource):
            try:
                polled.append(SonarQube(source, ownership, health, what=where))
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
        elif isinstance(source, GitHubSecuritySource):
            try:
                check_credentials(source, where)
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
            polled.append(GitHubSecurity(source, ownership, health, what=where))
        elif isinstance(source, ScanReportSource):
            try:
                polled.append(ScanReports(source, config.base_dir, ownership, health, what=where))
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
        elif isinstance(source, HttpJsonSource):
            try:
                polled.append(HttpJson(source, ownership, health, what=where))
            except CredentialError as error:
                raise ConfigError([str(error)]) from None
        elif isinstance(source, SqlSource):
            polled.append(SqlQueries(source, ownership, what=where))
        elif isinstance(source, SurveySource):
            polled.append(SurveyFiles(source, config.base_dir))
        elif isinstance(source, FocusSource):
            polled.append(FocusFiles(source, config.base_dir, ownership))
        elif isinstance(source, OpenCostSource):
            polled.append(OpenCost(source, ownership, health))
        elif isinstance(source, AwsCostSource):
            polled.append(AwsCost(source, ownership, what=where))
        else:
            assert_never(source)
    return polled, ingest


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpi-exporter", description=__doc__)
    parser.add_argument("--version", action="version", version=f"kpi-exporter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="poll the sources and serve /metrics")
    run.add_argument("--config", required=True, help="configuration file (YAML)")
    run.add_argument(
        "--web.listen-address",
        dest="listen",
        default=f":{DEFAULT_PORT}",
        help=f"address to listen on (default :{DEFAULT_PORT})",
    )
    run.add_argument("--web.config.file", dest="web_config", help="TLS and basic auth (YAML)")
    limits = Limits()  # the defaults
    run.add_argument(
        "--web.max-connections",
        dest="max_connections",
        type=int,
        default=limits.max_connections,
        help="open HTTP connections at most; idle ones make room for new ones "
        f"(default {limits.max_connections}, lowered to fit the open-file limit)",
    )
    run.add_argument(
        "--web.read-timeout",
        dest="read_timeout",
        type=float,
        default=limits.read_timeout,
        help="seconds to receive a request's line, headers and body "
        f"(default {limits.read_timeout:g})",
    )
    run.add_argument(
        "--web.idle-timeout",
        dest="idle_timeout",
        type=float,
        default=limits.idle_timeout,
        help=f"seconds a keep-alive connection may wait for its next request "
        f"(default {limits.idle_timeout:g})",
    )
    run.add_argument("--log.level", dest="log_level", default="info", choices=list(logs.LEVELS))
    run.add_argument(
        "--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"]
    )
    run.add_argument(
        "--shard.count",
        dest="shard_count",
        type=int,
        default=1,
        help="number of exporters sharing the apps (default 1: this one polls all of them)",
    )
    run.add_argument(
        "--shard.index",
        dest="shard_index",
        default="0",
        help="this exporter's shard, 0..count-1, or a StatefulSet pod name (kpi-exporter-2)",
    )
    run.add_argument(
        "--shard.by",
        dest="shard_by",
        default="app",
        choices=["app", "team"],
        help="what the shards split: apps, or whole teams (exact team quantiles in each shard)",
    )

    check = commands.add_parser("check-config", help="validate a configuration, show what it polls")
    check.add_argument("--config", required=True)

    why = commands.add_parser(
        "explain", help="show why production deployments count as failed (reads the store)"
    )
    why.add_argument("--config", required=True)
    why.add_argument("--app", help="the app whose newest production deployments to explain")
    why.add_argument("--deployment", help="one deployment: key, version or commit (7+ chars)")
    why.add_argument("--limit", type=int, default=20, help="deployments shown (default 20)")

    history = commands.add_parser(
        "backfill", help="write the stored history as timestamped OpenMetrics (and TSDB blocks)"
    )
    history.add_argument("--config", required=True)
    history.add_argument("--out", required=True, help="directory for kpi-backfill.om (and blocks)")
    history.add_argument("--start", default="365d-ago", help="365d-ago (default) or a UTC date")
    history.add_argument(
        "--end", default="3h-ago", help="3h-ago (default: Prometheus' head range), now or a date"
    )
    history.add_argument("--step", default="1h", help="time between samples (default 1h)")
    history.add_argument(
        "--blocks", action="store_true", help="turn the file into TSDB blocks with promtool"
    )
    history.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a label of every series, as the scrape adds it (default job=kpi-exporter; set"
        " instance=<the live target's> so live scraping continues the same series)",
    )

    render = commands.add_parser(
        "render", help="write the generated files (docs, schema, rules, runbooks)"
    )
    render.add_argument("--out", default=".", help="repository root to write into")
    render.add_argument("--check", action="store_true", help="fail when a file is out of date")
    render.add_argument(
        "--thresholds",
        help="thresholds file (YAML or JSON) merged over alerts/config.libsonnet",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "render":
            return _render(Path(args.out), args.check, args.thresholds)
        config = load_config(args.config)
        if args.command == "check-config":
            return _check(config)
        if args.command == "explain":
            return _explain(args, config)
        if args.command == "backfill":
            return _backfill(args, config)
        return _run(args, config)
    except ConfigError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_CONFIG


def _explain(args: argparse.Namespace, config: Config) -> int:
    if args.app is None and args.deployment is None:
        raise ConfigError(["explain: name an app (--app) or a deployment (--deployment)"])
    path = config.store.path
    if path != ":memory:" and not Path(path).is_file():
        print(f"error: no store at {path} (run the exporter first)", file=sys.stderr)
        return 1
    store = Store(path)
    try:
        lines = explain.explain(
            store.iter_events(["deployment", "incident", "outcome"]),
            config.kpi_settings(),
            config.link_settings(),
            app=args.app,
            deployment=args.deployment,
            limit=max(1, args.limit),
        )
    except LookupError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print("\n".join(lines))
    return 0


def _backfill(args: argparse.Namespace, config: Config) -> int:
    try:
        now = time.time()
        start = backfill.parse_time(args.start, now)
        end = backfill.parse_time(args.end, now)
        step = backfill.parse_duration(args.step)
        labels = dict(backfill.SCRAPE_LABELS)
        for pair in args.label:
            name, equals, value = pair.partition("=")
            if not equals:
                raise ValueError(f"--label {pair}: expected NAME=VALUE")
            labels[name] = value
        backfill.check_labels(labels)
    except ValueError as error:
        raise ConfigError([f"backfill: {error}"]) from None
    if start >= end:
        raise ConfigError([f"backfill: --start {args.start} is not before --end {args.end}"])
    path = config.store.path
    if path != ":memory:" and not Path(path).is_file():
        print(f"error: no store at {path} (run the exporter first)", file=sys.stderr)
        return 1
    out = Path(args.out)
    openmetrics = out / "kpi-backfill.om"
    store = Store(path)
    try:
        summary = backfill.backfill(
            store, config.kpi_settings(), openmetrics, start, end, step, labels
        )
    finally:
        store.close()
    print(
        f"wrote {openmetrics}: {summary.series} series, {summary.samples} samples, "
        f"{summary.steps} steps of {args.step} from {_utc(summary.first)} to {_utc(summary.last)}"
    )
    if not args.blocks:
        return 0
    try:
        blocks = backfill.create_blocks(openmetrics, out)
    except backfill.PromtoolMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    listed = " ".join(blocks) if len(blocks) <= 3 else f"{blocks[0]} ... {blocks[-1]}"
    print(f"created {len(blocks)} TSDB block(s) in {out}: {listed}")
    print(
        "move them into Prometheus' --storage.tsdb.path; they are loaded at the next "
        "compaction or restart (see docs/design.md, Backfill)"
    )
    return 0


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _render(root: Path, check: bool, thresholds_file: str | None) -> int:
    thresholds = bundle.load_thresholds(Path(thresholds_file)) if thresholds_file else None
    if check:
        stale = reference.stale(root, thresholds)
        for path in stale:
            print(f"out of date: {path} (run `kpi-exporter render`)", file=sys.stderr)
        return 1 if stale else 0
    for path in reference.write(root, thresholds):
        print(f"wrote {path}")
    return 0


def _check(config: Config) -> int:
    ownership = Ownership(config)
    polled, ingest = build_sources(config, ownership)
    print(f"configuration OK: {len(config.sources)} source(s), store {config.store.path}")
    for source in polled:
        if isinstance(source, GitRepository):
            rule = source.config.deploy
            how = rule.tag_pattern if rule.rule == "tags" else f"{rule.branch}"
            print(
                f"- {source.name} (git, every {source.interval:g}s): {source.path} "
                f"deployments by {rule.rule} ({how}) -> app={source.owner.app} "
                f"team={source.owner.team} environment={source.config.environment}"
            )
        elif isinstance(source, EventsFiles):
            files = source.files()
            print(
                f"- {source.name} (events_file, every {source.interval:g}s): {len(files)} file(s)"
            )
            for file in files:
                print(f"    {file}")
        elif isinstance(source, GitHub):
            github = source.config
            scope = [*github.repos]
            if github.org:
                topics = f", topics {','.join(github.topics)}" if github.topics else ""
                scope.append(f"org {github.org} (names ~ {github.repo_pattern!r}{topics})")
            print(
                f"- {source.name} (github, every {github.interval:g}s): {', '.join(scope)}; "
                f"deployments from {github.deploy_signal}, API {source.api}"
            )
        elif isinstance(source, GitLab):
            gitlab = source.config
            scope = [*gitlab.projects]
            if gitlab.group:
                scope.append(
                    f"group {gitlab.group}" + (" and subgroups" if gitlab.include_subgroups else "")
                )
            print(
                f"- {source.name} (gitlab, every {gitlab.interval:g}s): {', '.join(scope)}; "
                f"API {source.api}"
            )
        elif isinstance(source, Jira):
            jira = source.config
            queries = [
                f"{what} ({jql})"
                for what, jql in (("incidents", jira.incident_jql), ("bugs", jira.bug_jql))
                if jql.strip()
            ]
            print(
                f"- {source.name} (jira {jira.flavour}, every {jira.interval:g}s): "
                f"{'; '.join(queries)}; app from {jira.app_field}, API {source.api}"
            )
        elif isinstance(source, PagerDuty):
            services = ", ".join(source.config.service_ids) or "every service"
            print(
                f"- {source.name} (pagerduty, every {source.interval:g}s): incidents of "
                f"{services}; API {source.api}"
            )
        elif isinstance(source, Opsgenie):
            print(
                f"- {source.name} (opsgenie, every {source.interval:g}s): alerts matching "
                f"{source.config.query or 'anything'!r}; API {source.api}"
            )
        elif isinstance(source, CoverageReports | JUnitReports):
            kind = "coverage" if isinstance(source, CoverageReports) else "junit"
            files = source.files()
            app = source.config.app or "from apps.*.paths"
            print(
                f"- {source.name} ({kind}, every {source.interval:g}s): {len(files)} file(s)"
                f", app {app}"
            )
            for file in files:
                print(f"    {file}")
            if isinstance(source, CoverageReports):
                for url in source.config.urls:
                    print(f"    {url}")
        elif isinstance(source, SonarQube):
            projects = ", ".join(f"{k} -> {v}" for k, v in source.config.projects.items())
            print(
                f"- {source.name} (sonarqube, every {source.interval:g}s): {projects}; "
                f"API {source.api}"
            )
        elif isinstance(source, GitHubSecurity):
            security = source.config
            scope = [*security.repos] + ([f"org {security.org}"] if security.org else [])
            print(
                f"- {source.name} (github_security, every {security.interval:g}s): "
                f"{', '.join(security.alerts)} alerts of {', '.join(scope)}; API {source.api}"
            )
        elif isinstance(source, ScanReports):
            files = source.files()
            print(
                f"- {source.name} (scan_report, every {source.interval:g}s): {len(files)} file(s)"
                f", {len(source.config.urls)} URL(s)"
            )
        elif isinstance(source, HttpJson | SqlQueries):
            kind = "http_json" if isinstance(source, HttpJson) else "sql"
            metrics = ", ".join(measure.metric for measure in source.config.measures)
            where_ = (
                f"{source.config.method} {public_url(source.config.url)}"
                if isinstance(source, HttpJson)
                else f"URL from {source.config.url_env or source.config.url_file}"
            )
            print(
                f"- {source.name} ({kind}, every {source.interval:g}s): {where_}"
                f" -> kpi_business_value{{metric={metrics}}}"
            )
        elif isinstance(source, SurveyFiles):
            files = source.files()
            print(f"- {source.name} (survey, every {source.interval:g}s): {len(files)} file(s)")
            for file in files:
                print(f"    {file}")
        elif isinstance(source, FocusFiles):
            files = source.files()
            print(
                f"- {source.name} (focus, every {source.interval:g}s): {len(files)} file(s), "
                f"spend from {source.config.cost_column}"
            )
            for file in files:
                print(f"    {file}")
        elif isinstance(source, OpenCost):
            print(
                f"- {source.name} (opencost, every {source.interval:g}s): {source.api}, "
                f"window {source.config.window} by {source.config.aggregate}"
            )
        elif isinstance(source, AwsCost):
            config_ = source.config
            tags = ", ".join(f"tag {t}" for t in (config_.app_tag, config_.team_tag) if t)
            chain = f"profile {config_.profile}" if config_.profile else "the AWS chain"
            print(
                f"- {source.name} (aws_cost, every {source.interval:g}s): Cost Explorer "
                f"{config_.metric} in {config_.region}, daily by {tags}, credentials from {chain}"
            )
    if ingest is not None:
        reference_ = ingest.config.secret_env or ingest.config.secret_file
        print(f"- {ingest.name} (ingest): POST /api/v1/events, secret from {reference_}")
    return 0


def _run(args: argparse.Namespace, config: Config) -> int:
    logs.setup(args.log_level, args.log_format)
    try:
        address = parse_listen_address(args.listen)
        limits = Limits(args.max_connections, args.read_timeout, args.idle_timeout)
    except ValueError as error:
        raise ConfigError([str(error)]) from None
    basic_auth, tls = BasicAuth({}), None
    if args.web_config:
        web, web_dir = load_web_config(args.web_config)
        basic_auth, tls = BasicAuth(web.basic_auth_users), web.ssl_context(web_dir)
    try:
        shard = Shard(
            parse_index(args.shard_index), args.shard_count, args.shard_by, config.team_of
        )
    except ValueError as error:
        raise ConfigError([str(error)]) from None
    ownership = Ownership(config, shard)
    health = Health(shard)
    polled, ingest = build_sources(config, ownership, health)

    for source in polled:
        health.register(source.name, _source_type(config, source.name))
    if ingest is not None:
        health.register(ingest.name, "ingest", polled=True)
    store = Store(config.store.path)
    pipeline = Pipeline(store, config.kpi_settings(), config.link_settings(), health, shard=shard)
    try:
        server = ExporterServer(address, pipeline, ingest, basic_auth, tls, limits)
    except OSError as error:
        raise ConfigError([f"--web.listen-address {args.listen}: {error.strerror}"]) from None
    scheduler = Scheduler(pipeline, polled, config.windows.refresh_interval)

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    log.info("listening on %s:%d, %d source(s)", address[0], server.port, len(config.sources))
    if shard.sharded:
        log.info(
            "%s: polling only the apps with hash(%s) %% %d == %d",
            shard,
            shard.by,
            shard.count,
            shard.index,
        )
    scheduler.start()
    while not stopping.wait(1.0):
        pass
    server.stop()
    scheduler.stop()
    try:
        pipeline.save_snapshot()
    except Exception as error:  # the next start replays instead
        log.warning("saving the snapshot failed: %s", error)
    store.close()
    log.info("stopped")
    return 0


def _source_type(config: Config, name: str) -> str:
    return next(source.type for source in config.sources if source.name == name)


if __name__ == "__main__":
    sys.exit(main())
