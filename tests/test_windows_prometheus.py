"""Windowed KPIs as a real Prometheus sees them: the exporter (a Pipeline on a clock the test
sets, served on 127.0.0.1) is scraped every second, the rendered recording rules are
evaluated every second, and after each poll every windowed record at the app, team and
organisation level equals the value computed by hand here, quantiles to the second.

The scenario has two teams and three apps, times written in several time zones, then a poll
with a correction (a deployment re-sent as failed, which releases its change), a late and
out-of-order deployment, an event re-sent unchanged and an incident resolved later; then time
passes with no poll and the windows slide. The raw counters never go down meanwhile.

Also: a store holding 90 days of history and a fresh Prometheus: the first scrape already
gives the exact 30-day values.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from kpi_exporter.config import parse_config
from kpi_exporter.model import Event
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.sources import Poll
from kpi_exporter.sources.event_format import parse_event
from kpi_exporter.store import Store
from tests.process import Server, free_port
from tests.support import DAY, HOUR, ts

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alerts" / "rendered" / "rules.yaml"
CONFIG = """
apps:
  checkout: {team: payments}
  billing: {team: payments}
  search: {team: search}
"""


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


class Setup:
    """The exporter on a clock the test sets, and a real Prometheus scraping it."""

    def __init__(self, directory: Path, clock: Clock, store: Path | None = None) -> None:
        self.clock = clock
        directory.mkdir(parents=True, exist_ok=True)
        self.ownership = Ownership(parse_config(CONFIG))
        self.store = Store(store or directory / "kpi.db")
        self.pipeline = Pipeline(self.store, clock=clock)
        self.server = ExporterServer(("127.0.0.1", 0), self.pipeline, None)
        self.server.start()
        self.prometheus, self.url = start(directory, self.server.port)

    def poll(self, *lines: dict[str, Any]) -> None:
        events: list[Event] = []
        for line in lines:
            events.extend(parse_event(line, "ci", self.ownership))
        self.pipeline.record("ci", Poll(events=events, cursor=None))
        self.seen()

    def seen(self) -> None:
        """Render at the clock's time, then wait until Prometheus scraped that rendering and
        evaluated every rule group twice after it (records reading records settle)."""
        self.pipeline.refresh()
        rendered = time.time()
        scraped = wait_for(lambda: scrape_after(self.url, rendered), "a scrape")
        wait_for(lambda: evaluated_after(self.url, scraped + 1.0), "two rule evaluations")

    def record(self, name: str, **labels: str) -> float | None:
        """The latest value of one recorded series with exactly these labels."""
        result = query(self.url, name)
        found = [
            float(item["value"][1])
            for item in result
            if {k: v for k, v in item["metric"].items() if k != "__name__"} == labels
        ]
        assert len(found) <= 1, (name, labels, result)
        return found[0] if found else None

    def close(self) -> None:
        self.prometheus.stop()
        self.server.stop()
        self.store.close()


def start(directory: Path, port: int) -> tuple[Server, str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: install the Debian package prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"
    (directory / "rules.yaml").write_text(yaml.safe_dump(rules))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(directory / "rules.yaml")],
        "scrape_configs": [
            {
                "job_name": "kpi-exporter",
                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
            }
        ],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    web = free_port()
    url = f"http://127.0.0.1:{web}"
    server = Server(
        [
            binary,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        directory / "prometheus.log",
        f"{url}/-/ready",
    )
    server.wait_ready(timeout=30)
    return server, url


def query(url: str, expr: str) -> list[dict[str, Any]]:
    response = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def scrape_after(url: str, moment: float) -> float | None:
    result = query(url, 'timestamp(up{job="kpi-exporter"} == 1)')
    stamp = float(result[0]["value"][1]) if result else 0.0
    return stamp if stamp > moment else None


def evaluated_after(url: str, moment: float) -> bool:
    response = requests.get(f"{url}/api/v1/rules", timeout=10)
    groups = response.json()["data"]["groups"]
    return all(_epoch(group["lastEvaluation"]) > moment + 1.0 for group in groups)


def _epoch(text: str) -> float:
    """RFC 3339 with up to nanoseconds (as Prometheus writes it), to epoch seconds."""
    head, _, rest = text.rstrip("Z").partition(".")
    return ts(head + "Z") + (float("0." + rest) if rest else 0.0)


def wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def deployment(
    key: str, app: str, at: str | float, *changes: tuple[str, str | float], **extra: Any
) -> dict[str, Any]:
    """A deployment line of the event format; each change is (id, first commit time)."""
    line: dict[str, Any] = {
        "type": "deployment",
        "id": key,
        "app": app,
        "environment": "production",
        "finished_at": at,
        **extra,
    }
    if changes:
        line["changes"] = [{"id": c, "first_commit_at": first} for c, first in changes]
    return line


POLL_1 = [
    # checkout: three deployments, times in three time zones.
    deployment("dc1", "checkout", "2026-11-29T10:00:00+05:30", ("c1", "2026-11-28T04:30:00Z")),
    deployment("dc2", "checkout", "2026-11-27T00:00:00Z", ("c2", "2026-11-26T12:00:00Z")),
    deployment("dc3", "checkout", "2026-11-10T09:00:00-08:00", ("c3", "2026-11-08T17:00:00Z")),
    deployment("db1", "billing", "2026-11-28T12:00:00Z", ("b1", "2026-11-28T06:00:00Z")),
    deployment("ds1", "search", "2026-11-26T00:00:00Z", ("s1", "2026-11-25T00:00:00Z")),
    deployment("ds2", "search", "2026-11-29T00:00:00Z", ("s2", "2026-11-28T20:00:00Z")),
    # staging never counts
    {**deployment("ds3", "search", "2026-11-29T01:00:00Z"), "environment": "staging"},
    {
        "type": "incident",
        "id": "i1",
        "app": "checkout",
        "severity": "critical",
        "started_at": "2026-11-29T06:00:00Z",
        "resolved_at": "2026-11-29T07:30:00Z",
    },
]
POLL_2 = [
    # A correction: dc2 failed after all. Its change c2 was in no other deployment.
    {**deployment("dc2", "checkout", "2026-11-27T00:00:00Z"), "status": "failure"},
    # Late and out of order: a search deployment from 11-12.
    deployment("ds0", "search", "2026-11-12T00:00:00Z", ("s0", "2026-11-10T18:00:00Z")),
    # Re-sent unchanged: counted once.
    deployment("db1", "billing", "2026-11-28T12:00:00Z", ("b1", "2026-11-28T06:00:00Z")),
    deployment("db2", "billing", "2026-12-01T08:00:00+01:00", ("b2", "2026-11-30T07:00:00Z")),
    # The incident resolved 30 minutes later than first reported.
    {**POLL_1[-1], "resolved_at": "2026-11-29T08:00:00Z"},
]

CHECKOUT = {"app": "checkout", "team": "payments"}
BILLING = {"app": "billing", "team": "payments"}
SEARCH = {"app": "search", "team": "search"}
PAYMENTS = {"team": "payments"}
SEARCH_TEAM = {"team": "search"}
ORG: dict[str, str] = {}

Expected = list[tuple[str, dict[str, str], float | None]]


def check(setup: Setup, expected: Expected) -> None:
    wrong = []
    for name, labels, value in expected:
        got = setup.record(name, **labels)
        if got is None or value is None:
            if got != value:
                wrong.append((name, labels, value, got))
        elif got != pytest.approx(value, abs=1e-6):
            wrong.append((name, labels, value, got))
    assert wrong == []


def level(name: str, values: list[tuple[dict[str, str], float | None]], op: str) -> Expected:
    """The recorded series ``<level>:<name>:<op>`` of each label set: app level when it
    names an app, team level when it names a team only, organisation when it names none."""
    rows: Expected = []
    for labels, value in values:
        kind = "app" if "app" in labels else "team" if labels else "org"
        rows.append((f"{kind}:{name}:{op}", labels, value))
    return rows


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    running = Setup(tmp_path, Clock(ts("2026-11-30T12:00:00Z")))
    yield running
    running.close()


def test_windowed_records_equal_the_hand_values_after_each_poll_and_as_time_passes(
    setup: Setup,
) -> None:
    setup.poll(*POLL_1)
    # At 11-30 12:00. 7d = (11-23 12:00, 11-30 12:00], 30d = (10-31 12:00, 11-30 12:00].
    # Deployments 7d: checkout dc1 (11-29 04:30Z), dc2; billing db1; search ds1, ds2.
    check(
        setup,
        level(
            "kpi_deployments",
            [(CHECKOUT, 2), (BILLING, 1), (SEARCH, 2), (PAYMENTS, 3), (SEARCH_TEAM, 2), (ORG, 5)],
            "increase_7d",
        )
        + level("kpi_deployments", [(CHECKOUT, 3), (PAYMENTS, 4), (ORG, 6)], "increase_30d")
        # i1 (11-29 06:00) follows dc1: dc1 failed. 1/2, 1/3, 1/5; 30d 1/3, 1/4, 1/6.
        + level(
            "kpi_deployments_failed_per_deployments",
            [(CHECKOUT, 0.5), (PAYMENTS, 1 / 3), (ORG, 0.2), (SEARCH, 0)],
            "ratio_7d",
        )
        + level(
            "kpi_deployments_failed_per_deployments",
            [(CHECKOUT, 1 / 3), (PAYMENTS, 0.25), (ORG, 1 / 6)],
            "ratio_30d",
        )
        # Lead times 7d: checkout c1 24h, c2 12h; billing b1 6h; search s1 24h, s2 4h.
        + level(
            "kpi_change_lead_time_seconds",
            [
                (CHECKOUT, 18 * HOUR),  # (12 + 24) / 2
                (BILLING, 6 * HOUR),
                (PAYMENTS, 12 * HOUR),  # [6, 12, 24]
                (SEARCH, 14 * HOUR),  # [4, 24]
                (ORG, 12 * HOUR),  # [4, 6, 12, 24, 24]
            ],
            "p50_7d",
        )
        # 30d adds checkout c3 48h: checkout [12, 24, 48], payments [6, 12, 24, 48],
        # org [4, 6, 12, 24, 24, 48].
        + level(
            "kpi_change_lead_time_seconds",
            [(CHECKOUT, 24 * HOUR), (PAYMENTS, 18 * HOUR), (ORG, 18 * HOUR)],
            "p50_30d",
        )
        # p90 of the org 30d: position 4.5 -> 24 + 0.5 * (48 - 24) = 36h.
        + level("kpi_change_lead_time_seconds", [(ORG, 36 * HOUR)], "p90_30d")
        + level("kpi_incidents", [(CHECKOUT, 1), (PAYMENTS, 1), (ORG, 1)], "increase_7d")
        + level("kpi_incident_restore_seconds", [(CHECKOUT, 90 * 60), (ORG, 90 * 60)], "p50_7d")
        # Complete UTC days 11-23 .. 11-29 with a deployment: checkout 11-27, 11-29;
        # billing 11-28; payments 11-27, 11-28, 11-29; search 11-26, 11-29; org four days.
        + level(
            "kpi_deployments",
            [(CHECKOUT, 2), (BILLING, 1), (PAYMENTS, 3), (SEARCH, 2), (ORG, 4)],
            "deploy_days_7d",
        ),
    )

    setup.clock.now = ts("2026-12-01T12:00:00Z")
    setup.poll(*POLL_2)
    # At 12-01 12:00. 7d = (11-24 12:00, 12-01 12:00]. dc2 failed: checkout has dc1 only, and
    # c2 is released (no lead time). billing db1, db2 (12-01 07:00Z); search ds1, ds2.
    check(
        setup,
        level(
            "kpi_deployments",
            [(CHECKOUT, 1), (BILLING, 2), (SEARCH, 2), (PAYMENTS, 3), (ORG, 5)],
            "increase_7d",
        )
        # 30d = (11-01 12:00, 12-01 12:00]: checkout dc1, dc3; search ds0 (late), ds1, ds2.
        + level(
            "kpi_deployments", [(CHECKOUT, 2), (SEARCH, 3), (PAYMENTS, 4), (ORG, 7)], "increase_30d"
        )
        + level(
            "kpi_deployments_failed_per_deployments",
            [(CHECKOUT, 1), (PAYMENTS, 1 / 3), (ORG, 0.2)],
            "ratio_7d",
        )
        # 7d lead times: checkout [24]; billing b1 6h, b2 24h; search [4, 24].
        + level(
            "kpi_change_lead_time_seconds",
            [
                (CHECKOUT, 24 * HOUR),
                (BILLING, 15 * HOUR),
                (PAYMENTS, 24 * HOUR),  # [6, 24, 24]
                (SEARCH, 14 * HOUR),
                (ORG, 24 * HOUR),  # [4, 6, 24, 24, 24]
            ],
            "p50_7d",
        )
        # 30d: checkout [24, 48] -> 36h; search s0 30h, [4, 24, 30] -> 24h;
        # org [4, 6, 24, 24, 24, 30, 48]: p50 24h, p90 at 5.4: 30 + 0.4 * 18 = 37.2h.
        + level(
            "kpi_change_lead_time_seconds", [(CHECKOUT, 36 * HOUR), (SEARCH, 24 * HOUR)], "p50_30d"
        )
        + level("kpi_change_lead_time_seconds", [(ORG, 37.2 * HOUR)], "p90_30d")
        # The incident now took 2 hours to restore.
        + level(
            "kpi_incident_restore_seconds", [(CHECKOUT, 2 * HOUR), (PAYMENTS, 2 * HOUR)], "p50_7d"
        ),
    )
    # The raw counters never went down: the correction is a retraction of its own.
    assert query(setup.url, 'resets(kpi_deployments_total{job="kpi-exporter"}[1h]) > 0') == []
    assert (
        query(setup.url, 'resets(kpi_change_lead_time_seconds_count{job="kpi-exporter"}[1h]) > 0')
        == []
    )
    assert (
        setup.record(
            "kpi_deployments_retracted_total",
            job="kpi-exporter",
            instance=f"127.0.0.1:{setup.server.port}",
            **CHECKOUT,
            environment="production",
        )
        == 1
    )

    # No poll: four days later the windows have slid (the timer renders again).
    setup.clock.now = ts("2026-12-05T00:00:00Z")
    setup.seen()
    # 7d = (11-28 00:00, 12-05 00:00]: checkout dc1; billing db1, db2; search ds2.
    check(
        setup,
        level(
            "kpi_deployments",
            [(CHECKOUT, 1), (BILLING, 2), (SEARCH, 1), (PAYMENTS, 3), (ORG, 4)],
            "increase_7d",
        )
        + level(
            "kpi_change_lead_time_seconds",
            [
                (CHECKOUT, 24 * HOUR),
                (BILLING, 15 * HOUR),
                (PAYMENTS, 24 * HOUR),
                (SEARCH, 4 * HOUR),
                (ORG, 15 * HOUR),  # [4, 6, 24, 24]
            ],
            "p50_7d",
        )
        # Complete days 11-28 .. 12-04: checkout 11-29; billing 11-28, 12-01; search 11-29.
        + level(
            "kpi_deployments",
            [(CHECKOUT, 1), (BILLING, 2), (SEARCH, 1), (PAYMENTS, 3), (ORG, 3)],
            "deploy_days_7d",
        ),
    )


def test_the_first_scrape_of_a_store_with_90_days_of_history_gives_the_exact_30d_values(
    tmp_path: Path,
) -> None:
    """Day one: no backfill, no waiting for a window to fill."""
    now = ts("2026-11-30T12:00:00Z")
    ownership = Ownership(parse_config(CONFIG))
    store = Store(tmp_path / "kpi.db")
    history = Pipeline(store, clock=lambda: now)
    # One checkout deployment a day for 90 days, at 10:00, each with a change whose lead time
    # is (day % 10) hours: day 0 is 11-30 10:00 ... day 89 is 09-02 10:00.
    lines = []
    for day in range(90):
        at = now - 2 * HOUR - day * DAY
        first = at - (day % 10) * HOUR
        lines.append(deployment(f"d{day}", "checkout", at, (f"c{day}", first)))
    events: list[Event] = [e for line in lines for e in parse_event(line, "ci", ownership)]
    history.record("ci", Poll(events=events, cursor=None))
    store.close()
    # A fresh exporter on that store and a fresh Prometheus.
    setup = Setup(tmp_path / "fresh", Clock(now), store=tmp_path / "kpi.db")
    try:
        setup.seen()
        # 30d = (10-31 12:00, 11-30 12:00]: days 0..29 (day 29 is 11-01 10:00), 30 deployments.
        # Their lead times, day % 10 hours: three each of 0..9 h -> median 4.5 h.
        check(
            setup,
            level("kpi_deployments", [(CHECKOUT, 30), (ORG, 30)], "increase_30d")
            + level("kpi_change_lead_time_seconds", [(CHECKOUT, 4.5 * HOUR)], "p50_30d")
            # 7d: days 0..6 -> 0..6 h, median 3 h.
            + level("kpi_change_lead_time_seconds", [(ORG, 3 * HOUR)], "p50_7d"),
        )
    finally:
        setup.close()
