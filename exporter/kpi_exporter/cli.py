"""The ``kpi-exporter`` command: run, check-config, explain, backfill, render."""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from . import __version__, backfill, explain, logs
from .config import DEFAULT_PORT, Config, ConfigError, load_config
from .connections import Limits
from .credentials import CredentialError
from .health import Health
from .ownership import Ownership
from .pipeline import Pipeline
from .redaction import redact
from .render import bundle, reference
from .scheduler import Scheduler
from .server import ExporterServer, parse_listen_address
from .sharding import Shard, parse_index
from .sources import Source, registry
from .sources.ingest import Ingest
from .sources.registry import SourceContext, SourceType
from .store import Row, Store, StoreError
from .webconfig import BasicAuth, load_web_config

log = logging.getLogger("kpi_exporter")

EXIT_CONFIG = 2
EXIT_STORE = 1


def _built(
    config: Config, ownership: Ownership, health: Health, *, without_secrets: bool = False
) -> list[tuple[SourceType[Any, Any], Any]]:
    """Each configured source made by its registered type (those another shard polls left
    out). The secrets that cannot be read are one configuration error listing them all;
    ``without_secrets`` (check-config in CI) leaves the sources needing one out instead."""
    built = []
    settings = config.kpi_settings()
    unreadable = []  # every secret that cannot be read, listed together
    for source in config.sources:
        kind = registry.BY_NAME[source.type]
        context = SourceContext(
            ownership, health, settings, config.base_dir, f"sources[{source.name}]"
        )
        try:
            made = kind.build(source, context)
        except CredentialError as error:
            if not without_secrets:
                unreadable.append(str(error))
            continue
        if made is not None:
            built.append((kind, made))
    if unreadable:
        raise ConfigError(unreadable)
    return built


def build_sources(
    config: Config, ownership: Ownership, health: Health | None = None
) -> tuple[list[Source], Ingest | None]:
    """The polled sources and the ingest endpoint (if configured) of a configuration.
    ``health`` counts the API requests of HTTP sources."""
    built = _built(config, ownership, health or Health())
    polled = [source for kind, source in built if not kind.pushed]
    ingest = next((source for kind, source in built if kind.pushed), None)
    return polled, ingest


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kpi-exporter",
        description="Engineering KPIs for Prometheus (DORA, flow, reliability, security, cost).",
        epilog="Start with: kpi-exporter run --config examples/quickstart.yaml",
    )
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
    web_limits: tuple[tuple[str, type, str], ...] = (
        (
            "max_connections",
            int,
            "open HTTP connections at most; idle ones make room for new ones "
            "(default {}, lowered to fit the open-file limit)",
        ),
        (
            "read_timeout",
            float,
            "seconds to receive a request's line, headers and body (default {:g})",
        ),
        (
            "idle_timeout",
            float,
            "seconds a keep-alive connection may wait for its next request (default {:g})",
        ),
    )
    for dest, kind, text in web_limits:  # --web.max-connections, --web.read-timeout, ...
        default = getattr(limits, dest)
        run.add_argument(
            f"--web.{dest.replace('_', '-')}",
            dest=dest,
            type=kind,
            default=default,
            help=text.format(default),
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
    check.add_argument(
        "--without-secrets",
        action="store_true",
        help="do not read tokens and secrets (CI, where they are not set): the sources that"
        " need one are validated as configuration only",
    )

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
            return _check(config, without_secrets=args.without_secrets)
        if args.command == "explain":
            return _explain(args, config)
        if args.command == "backfill":
            return _backfill(args, config)
        return _run(args, config)
    except ConfigError as error:
        for problem in error.problems:
            print(f"error: {redact(problem)}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as error:
        print(
            f"error: {error} (restore a backup, or move the file away to start empty)",
            file=sys.stderr,
        )
        return EXIT_STORE


def open_store(config: Config) -> Store:
    """The configured store; :class:`StoreError` (one line naming the file) when unusable."""
    store = Store(config.store.path, config.store.max_bytes)
    if store.empty_file:
        log.warning("the store %s is an empty file (0 bytes): starting empty", store.path)
    return store


def _explain(args: argparse.Namespace, config: Config) -> int:
    if args.app is None and args.deployment is None:
        raise ConfigError(["explain: name an app (--app) or a deployment (--deployment)"])
    path = config.store.path
    if path != ":memory:" and not Path(path).is_file():
        print(f"error: no store at {path} (run the exporter first)", file=sys.stderr)
        return 1
    store = open_store(config)
    try:
        lines = explain.explain(
            store.usable_events(_left_out, ["deployment", "incident", "outcome"]),
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


def _left_out(row: Row, problem: str) -> None:
    print(
        f"warning: left out the stored {row.kind} {row.source}/{row.key}: {problem}",
        file=sys.stderr,
    )


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
    store = open_store(config)
    try:
        summary = backfill.backfill(
            store, config.kpi_settings(), openmetrics, start, end, step, labels, _left_out
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


def _check(config: Config, *, without_secrets: bool = False) -> int:
    built = _built(config, Ownership(config), Health(), without_secrets=without_secrets)
    # A source may look at what it will read (a git source: its repository) before any poll.
    problems = [
        f"source {source.name}: {problem}"
        for _, source in built
        for problem in (source.preflight() if hasattr(source, "preflight") else [])
    ]
    if problems:
        raise ConfigError(problems)
    print(f"configuration OK: {len(config.sources)} source(s), store {config.store.path}")
    if without_secrets and len(built) < len(config.sources):
        made = {source.name for _, source in built}
        skipped = [source.name for source in config.sources if source.name not in made]
        print(f"secrets not read (--without-secrets): {', '.join(skipped)} checked as text only")
    # The polled sources in configuration order, then the push endpoint.
    for kind, source in sorted(built, key=lambda pair: pair[0].pushed):
        for line in kind.describe(source):
            print(redact(line))
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
    store = open_store(config)
    if store.read_only:  # served as it is; every write answers 503 and /readyz not ready
        reason = health.store_error(sqlite3.OperationalError(store.read_only))
        log.error("the store %s takes no write (%s): %s", store.path, reason, store.read_only)
    try:
        pipeline = Pipeline(
            store,
            config.kpi_settings(),
            config.link_settings(),
            health,
            shard=shard,
            labels=config.label_policy(),
        )
    except sqlite3.DatabaseError as error:  # found while reading it: truncated, corrupt
        store.close()
        raise StoreError(f"{store.path}: not a usable store: {error}") from None
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
