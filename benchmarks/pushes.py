"""Per-push cost with the label limits, at 100 and 10,000 apps.

Each size fills a temporary store with the 90-day histories of its apps (through
``Pipeline.record``, 4 deployments per app with their changes and incidents), sets
``label_limits.app`` to exactly that number of apps, starts the real :class:`ExporterServer`
with an ingest source on 127.0.0.1 and sends signed pushes, one at a time over one kept-alive
connection, as a CI job does:

- **known**: one deployment of an app already stored (verified, parsed, limits checked,
  stored, linked, the exposition rendered again): answered 200;
- **new**: one deployment of an app not seen before, over the limit: answered 400 naming it,
  nothing stored.

Figures: median and 95th percentile of the round trip of each, and the time the limit check
alone takes per push (``LabelPolicy.admit``). Run alone with ``python -m benchmarks.pushes``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from kpi_exporter.config import parse_config
from kpi_exporter.health import Health
from kpi_exporter.model import Deployment
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.sources.ingest import Ingest, IngestSource
from kpi_exporter.store import Store

from .common import count_series, memory_line, ms, percentile
from .data import DAY, make_apps, record_histories

SIZES = (100, 10_000)
DEPLOYMENTS_PER_APP = 4
APPS_PER_POLL = 200
PUSHES = 200
SECRET = "benchmark-push-secret"
CONFIG = """
label_limits: {{app: {apps}, team: {apps}}}
sources:
  - type: ingest
    name: push
    secret_env: KPI_BENCH_PUSH_SECRET
"""


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-KPI-Timestamp": timestamp,
        "X-KPI-Signature": "sha256=" + mac.hexdigest(),
    }


def push(conn: http.client.HTTPConnection, event: dict[str, object]) -> tuple[int, float]:
    body = json.dumps(event).encode()
    started = time.perf_counter()
    conn.request("POST", "/api/v1/events", body, signed(body))
    response = conn.getresponse()
    response.read()
    return response.status, time.perf_counter() - started


def run(apps_count: int, directory: Path) -> None:
    os.environ["KPI_BENCH_PUSH_SECRET"] = SECRET
    config = parse_config(CONFIG.format(apps=apps_count), "bench.yaml")
    ingest_config = config.sources[0]
    assert isinstance(ingest_config, IngestSource)
    store = Store(directory / f"pushes-{apps_count}.db")
    health = Health()
    health.register("push", "ingest", polled=True)
    pipeline = Pipeline(store, config.kpi_settings(), health=health, labels=config.label_policy())
    apps = make_apps(apps_count)
    rng = random.Random(apps_count)
    started = time.perf_counter()
    record_histories(
        pipeline, apps, rng, per_app=DEPLOYMENTS_PER_APP, per_poll=APPS_PER_POLL, span=90 * DAY
    )
    pipeline.refresh()
    filled = time.perf_counter() - started
    series = count_series(pipeline.cache.body("", "")[0])
    print(
        f"{apps_count:,} apps: {store.count():,} events stored in {filled:.0f} s,"
        f" {series:,} series; label_limits.app {apps_count:,} (reached)"
    )

    ingest = Ingest(ingest_config, SECRET, Ownership(config))
    server = ExporterServer(("127.0.0.1", 0), pipeline, ingest)
    server.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    now = time.time()
    known: list[float] = []
    refused: list[float] = []
    try:
        for index in range(PUSHES):
            app = apps[rng.randrange(len(apps))]
            event = {
                "type": "deployment",
                "id": f"push-{index}",
                "app": app.name,
                "team": app.team,
                "finished_at": now - index,
            }
            status, took = push(conn, event)
            assert status == 200, status
            known.append(took)
        for index in range(PUSHES):
            event = {
                "type": "deployment",
                "id": f"new-{index}",
                "app": f"sha-{index:040x}",
                "finished_at": now - index,
            }
            status, took = push(conn, event)
            assert status == 400, status
            refused.append(took)
    finally:
        conn.close()
        server.stop()

    # The limit check alone: a batch of one event of a known app against the stored values.
    policy, values = pipeline.labels, pipeline.aggregate.label_values
    probe = Deployment(
        source="push",
        key="probe",
        app=apps[0].name,
        team=apps[0].team,
        environment="production",
        finished_at=now,
    )
    rounds = 1000
    started = time.perf_counter()
    for _ in range(rounds):
        policy.admit([probe], values)
    check = (time.perf_counter() - started) / rounds
    for name, samples in (("known app, 200", known), ("new app, 400  ", refused)):
        print(
            f"  push of a {name}: median {ms(statistics.median(samples))},"
            f" p95 {ms(percentile(samples, 95))} ({len(samples)} pushes)"
        )
    print(f"  the limit check alone: {check * 1e6:.0f} us per push")
    print(f"  {memory_line()}")
    store.close()


def main() -> None:
    logging.getLogger("kpi_exporter").setLevel(logging.ERROR)  # one refusal logged per push
    with tempfile.TemporaryDirectory() as directory:
        for apps_count in SIZES:
            run(apps_count, Path(directory))


if __name__ == "__main__":
    main()
