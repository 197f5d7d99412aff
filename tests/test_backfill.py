"""``kpi-exporter backfill``: the stored history as timestamped OpenMetrics, hand-computed.

Six days of hand-built events (UTC, day 0 = midnight ten days ago, so nothing is in the future
and everything is within Prometheus' default retention):

- production deployments d1 day0 10:00, d2 day1 10:00, d3 day2 15:00, d4 day4 09:00; a staging
  deployment day1 12:00 (not counted);
- change c1: first commit day0 02:00, deployed day0 10:00 (lead time 8 h = 28800 s);
  change c2: first commit day0 20:00, deployed day2 15:00 (lead time 43 h = 154800 s);
- incident i1: started day1 12:00, resolved day2 14:00 (time to restore 26 h = 93600 s).

A change's lead time is observed when it was deployed and an incident's time to restore when
it was resolved (before that the incident is open), as the live exporter would have shown.
The output is parsed with prometheus_client's strict OpenMetrics parser, turned into blocks
by the real ``promtool`` and queried from a real ``prometheus``.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from kpi_exporter import backfill, cli
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.model import Deployment, Event
from kpi_exporter.store import Store
from tests.process import Server, free_port, program
from tests.support import DAY, HOUR, change, deployment, incident

DAY0 = (math.floor(time.time() / DAY) - 10) * DAY
END = DAY0 + 6 * DAY


def at(day: int, hour: int) -> float:
    return DAY0 + day * DAY + hour * HOUR


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def events() -> list[Event]:
    staging = deployment("s1", iso(at(1, 12)), environment="staging")
    return [
        deployment("d1", iso(at(0, 10))),
        deployment("d2", iso(at(1, 10))),
        deployment("d3", iso(at(2, 15))),
        deployment("d4", iso(at(4, 9))),
        staging,
        change("c1", iso(at(0, 2)), iso(at(0, 10))),
        change("c2", iso(at(0, 20)), iso(at(2, 15))),
        incident("i1", iso(at(1, 12)), resolved_at=iso(at(2, 14))),
    ]


def fill(store: Store) -> None:
    with store.transaction() as tx:
        for event in events():
            tx.upsert(event)


Samples = dict[tuple[str, frozenset[tuple[str, str]], float], float]


def split(text: str) -> Iterator[tuple[list[str], list[str]]]:
    """(header lines, sample lines) of each family of an OpenMetrics text."""
    headers: list[str] = []
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            if lines:
                yield headers, lines
                headers, lines = [], []
            if line != "# EOF":
                headers.append(line)
        else:
            lines.append(line)
    if headers:
        yield headers, lines


def strict_documents(text: str) -> Iterator[str]:
    """Documents prometheus_client's strict parser can read.

    prometheus_client (0.26) drops the samples of a histogram's second and later timestamps
    (it takes them for duplicates of the first: ``group_timestamp_samples`` is not reset when
    the timestamp changes) and then reports "+Inf bucket missing". So the histogram families
    are parsed one timestamp at a time; the other families whole, which checks their grouping
    and time order across steps. promtool reads the whole file (see the Prometheus test).
    """
    whole: list[str] = []
    by_time: dict[str, list[str]] = {}
    for headers, lines in split(text):
        if "histogram" not in headers[-1]:
            whole += headers + lines
            continue
        per_time: dict[str, list[str]] = {}
        for line in lines:
            per_time.setdefault(line.rsplit(" ", 1)[1], []).append(line)
        for stamp, stamp_lines in per_time.items():
            by_time.setdefault(stamp, []).extend(headers + stamp_lines)
    yield "\n".join([*whole, "# EOF", ""])
    for stamp_lines in by_time.values():
        yield "\n".join([*stamp_lines, "# EOF", ""])


def families(text: str) -> Iterator[Metric]:
    for document in strict_documents(text):
        yield from text_string_to_metric_families(document)  # type: ignore[no-untyped-call]


def parse(text: str) -> Samples:
    """Every sample of a strict OpenMetrics text: (name, labels, timestamp) -> value."""
    result: Samples = {}
    for family in families(text):
        for sample in family.samples:
            assert sample.timestamp is not None, sample
            key = (sample.name, frozenset(sample.labels.items()), float(sample.timestamp))
            assert key not in result, f"duplicate sample {key}"
            result[key] = sample.value
    return result


def sample(samples: Samples, name: str, moment: float, **labels: str) -> float | None:
    """The sum of the samples called ``name`` at ``moment`` whose labels include ``labels``;
    None when there is none."""
    found = [
        value
        for (sample_name, sample_labels, stamp), value in samples.items()
        if sample_name == name and stamp == moment and set(labels.items()) <= sample_labels
    ]
    return sum(found) if found else None


@pytest.fixture
def history(store: Store) -> tuple[str, backfill.Summary]:
    fill(store)
    out = io.StringIO()
    steps = backfill.steps_between(DAY0, END, HOUR)
    summary = backfill.write(backfill.replay(store, KpiSettings(), steps), steps, out)
    return out.getvalue(), summary


def test_counters_are_the_events_known_at_each_step(
    history: tuple[str, backfill.Summary],
) -> None:
    text, summary = history
    samples = parse(text)
    assert summary.steps == 6 * 24 + 1
    assert text.endswith("# EOF\n")
    deployments = "kpi_deployments_total"
    # no series before the first deployment but a 0 the step before it, so that increase()
    # counts it; then 1, 2 (staging not counted), 3, 4
    assert sample(samples, deployments, at(0, 8)) is None
    assert sample(samples, deployments, at(0, 9)) == 0
    assert sample(samples, deployments, at(0, 10)) == 1
    assert sample(samples, deployments, at(1, 11)) == 2
    assert sample(samples, deployments, at(1, 12), environment="production") == 2
    assert sample(samples, deployments, at(2, 14)) == 2
    assert sample(samples, deployments, at(2, 15)) == 3
    assert sample(samples, deployments, at(4, 9)) == 4
    assert sample(samples, deployments, END) == 4
    assert not any(labels_ for name, labels_, _ in samples if ("environment", "staging") in labels_)


def test_histograms_observe_lead_time_at_deployment_and_restore_at_resolution(
    history: tuple[str, backfill.Summary],
) -> None:
    samples = parse(history[0])
    lead = "kpi_change_lead_time_seconds"
    # c1 (8 h) deployed day0 10:00
    assert sample(samples, f"{lead}_count", at(0, 8)) is None
    assert sample(samples, f"{lead}_count", at(0, 9)) == 0
    assert sample(samples, f"{lead}_sum", at(0, 9)) == 0
    assert sample(samples, f"{lead}_count", at(0, 10)) == 1
    assert sample(samples, f"{lead}_sum", at(0, 10)) == 28800
    # c2 merged (first commit) day0 20:00 but deployed only day2 15:00: not yet observed
    assert sample(samples, f"{lead}_count", at(2, 14)) == 1
    assert sample(samples, f"{lead}_count", at(2, 15)) == 2
    assert sample(samples, f"{lead}_sum", at(2, 15)) == 28800 + 154800
    buckets = {"28800.0": 1, "86400.0": 1, "172800.0": 2, "+Inf": 2}
    for le, count in buckets.items():
        assert sample(samples, f"{lead}_bucket", END, le=le) == count, le
    assert sample(samples, f"{lead}_bucket", END, le="14400.0") == 0

    restore = "kpi_incident_restore_seconds"
    assert sample(samples, "kpi_incidents_total", at(1, 10)) is None
    assert sample(samples, "kpi_incidents_total", at(1, 11)) == 0
    assert sample(samples, "kpi_incidents_total", at(1, 12)) == 1
    assert sample(samples, "kpi_incidents_open", at(1, 12)) == 1
    assert sample(samples, "kpi_incidents_open", at(2, 13)) == 1
    assert sample(samples, f"{restore}_count", at(2, 12)) is None
    assert sample(samples, f"{restore}_count", at(2, 13)) == 0
    assert sample(samples, "kpi_incidents_open", at(2, 14)) == 0
    assert sample(samples, "kpi_incidents_total", at(2, 14)) == 1
    assert sample(samples, f"{restore}_count", at(2, 14)) == 1
    assert sample(samples, f"{restore}_sum", END) == 93600
    assert sample(samples, f"{restore}_bucket", END, le="86400.0") == 0
    assert sample(samples, f"{restore}_bucket", END, le="172800.0") == 1


def test_time_dependent_families_use_the_step_as_now(
    history: tuple[str, backfill.Summary],
) -> None:
    samples = parse(history[0])
    oldest = "kpi_incidents_oldest_open_start_timestamp_seconds"
    assert sample(samples, oldest, at(1, 12)) == at(1, 12)
    assert sample(samples, oldest, at(2, 13)) == at(2, 13) - 25 * HOUR
    assert sample(samples, oldest, at(2, 14)) is None  # resolved: no open incident


def test_counters_never_decrease_and_series_are_in_time_order(
    history: tuple[str, backfill.Summary],
) -> None:
    text, _ = history
    for family in families(text):
        assert family.name.startswith("kpi_") and not family.name.startswith("kpi_exporter_")
    for headers, lines in split(text):
        kind = headers[-1].rsplit(" ", 1)[1]
        last: dict[str, tuple[float, float]] = {}
        current = ""
        groups: set[str] = set()
        for line in lines:
            series, value, stamp = line.rsplit(" ", 2)
            # a series' samples (a histogram's: all its lines) are contiguous: once left,
            # it never comes back
            group = re.sub(r",?le=\"[^\"]*\"", "", re.sub(r"_(bucket|count|sum)\{", "{", series))
            assert group == current or group not in groups, line
            current = group
            groups.add(group)
            if series in last:
                previous_stamp, previous = last[series]
                assert float(stamp) > previous_stamp, line
                if kind in ("counter", "histogram") and "_sum{" not in series:
                    assert float(value) >= previous, line
            else:
                # a series' samples are contiguous: once left, it never comes back
                assert all(series != other for other in last), line
            last[series] = (float(stamp), float(value))
    # the counter family is named without _total in TYPE, its samples with it
    assert "# TYPE kpi_deployments counter\n" in text
    assert 'kpi_deployments_total{app="shop",environment="production",team="team-a"} 1.0 ' in text


def test_the_last_step_equals_the_live_exposition(
    store: Store, history: tuple[str, backfill.Summary]
) -> None:
    """Live scraping continues the same counters: the last backfilled values are what the
    exporter computes from the same store."""
    from kpi_exporter.pipeline import Pipeline

    samples = parse(history[0])
    live = Pipeline(store, clock=lambda: END).cache.current.openmetrics.decode()
    for family in text_string_to_metric_families(live):  # type: ignore[no-untyped-call]
        if family.name.startswith("kpi_exporter"):
            continue
        for s in family.samples:
            wanted = set(s.labels.items())
            found = [
                value
                for (name, labels, stamp), value in samples.items()
                if name == s.name and stamp == END and labels - SCRAPED == wanted
            ]
            assert found == [s.value], s


SCRAPED = {("job", "kpi-exporter")}


def test_parse_time_and_duration() -> None:
    now = 1_800_000_000.0
    assert backfill.parse_time("now", now) == now
    assert backfill.parse_time("365d-ago", now) == now - 365 * DAY
    assert backfill.parse_time("3h-ago", now) == now - 3 * HOUR
    assert backfill.parse_time("2026-01-31", now) == datetime(2026, 1, 31, tzinfo=UTC).timestamp()
    assert backfill.parse_duration("15m") == 900
    for bad in ("1y", "0h", "h", "-1h"):
        with pytest.raises(ValueError):
            backfill.parse_duration(bad)
    with pytest.raises(ValueError):
        backfill.parse_time("yesterday", now)


def test_no_sample_is_in_the_future(store: Store, tmp_path: Path) -> None:
    now = time.time()
    with store.transaction() as tx:
        tx.upsert(deployment("d1", iso(now - 2 * HOUR)))
    out = tmp_path / "out.om"
    summary = backfill.backfill(store, KpiSettings(), out, now - DAY, now + DAY, HOUR)
    assert summary.last <= now
    stamps = [s.timestamp for f in families(out.read_text()) for s in f.samples]
    assert stamps and max(float(s) for s in stamps if s is not None) <= now


def config_file(tmp_path: Path, store_path: Path) -> Path:
    config = tmp_path / "kpi.yaml"
    config.write_text(f"store: {{path: {store_path}}}\nsources: []\n")
    return config


def test_without_promtool_blocks_fail_with_a_clear_message(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(store)
    config = config_file(tmp_path, Path(store.path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    args = ["backfill", "--config", str(config), "--out", str(tmp_path / "out")]
    window = ["--start", iso(DAY0), "--end", iso(END)]
    assert cli.main([*args, *window, "--blocks"]) == 1
    captured = capsys.readouterr()
    assert "promtool not found on PATH" in captured.err
    assert "Debian package `prometheus`" in captured.err
    assert (tmp_path / "out" / "kpi-backfill.om").is_file()  # the file is written anyway
    assert cli.main([*args, "--start", "now", "--end", "1d-ago"]) == cli.EXIT_CONFIG
    for bad, problem in [
        ("instance", "--label instance: expected NAME=VALUE"),
        ("app=shop", "--label app: the exporter's own series carry that label"),
        ("__name__=x", "--label __name__: not a label name"),
        ("1st=x", "--label 1st: not a label name"),
    ]:
        assert cli.main([*args, *window, "--label", bad]) == cli.EXIT_CONFIG
        assert f"error: backfill: {problem}" in capsys.readouterr().err


@pytest.fixture
def prometheus_binary() -> str:
    return program("prometheus", "prometheus")


@pytest.fixture
def blocks(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The real command with --blocks: the file, and promtool's blocks next to it."""
    program("promtool", "prometheus")
    fill(store)
    config = config_file(tmp_path, Path(store.path))
    out = tmp_path / "out"
    window = ["--start", iso(DAY0), "--end", iso(END), "--step", "1h"]
    label = ["--label", "instance=kpi-exporter-0"]
    args = ["backfill", "--config", str(config), "--out", str(out), *window, *label, "--blocks"]
    code = cli.main(args)
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "created " in printed.out and "TSDB block(s)" in printed.out
    # one block per 2 hours of history: promtool ran on each 2-hour chunk of the file
    made = [path for path in out.iterdir() if path.is_dir()]
    assert len(made) == int(END // 7200) - int(DAY0 // 7200) + 1
    assert not [path for path in out.iterdir() if path.name.startswith(".chunks-")]
    return out


@pytest.fixture
def prometheus(prometheus_binary: str, blocks: Path, tmp_path: Path) -> Iterator[str]:
    data = tmp_path / "data"
    data.mkdir()
    for block in blocks.iterdir():
        if block.is_dir():
            shutil.copytree(block, data / block.name)
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1h}\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(
        [
            prometheus_binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=10y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
        f"{url}/-/ready",
    )
    try:
        server.wait_ready(timeout=30)
        yield url
    finally:
        server.stop()


def query(url: str, promql: str, moment: float) -> float | None:
    response = requests.get(
        f"{url}/api/v1/query", params={"query": promql, "time": str(moment)}, timeout=10
    )
    response.raise_for_status()
    result = response.json()["data"]["result"]
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


@pytest.mark.timeout(120)
def test_promtool_blocks_are_queried_by_a_real_prometheus(prometheus: str) -> None:
    url = prometheus
    # the labels the live scrape adds: the recording rules select job="kpi-exporter"
    scraped = 'kpi_deployments_total{job="kpi-exporter",instance="kpi-exporter-0"}'
    assert query(url, scraped, END) == 4
    assert query(url, "kpi_deployments_total", at(1, 11)) == 2
    assert query(url, "kpi_deployments_total", at(1, 11) + 120) == 2  # within the lookback
    assert query(url, "kpi_deployments_total", at(3, 0)) == 3
    assert query(url, "kpi_deployments_total", END) == 4
    # Prometheus 2.x selects [t - 1d, t] inclusive: samples at both ends, no extrapolation.
    assert query(url, "increase(kpi_deployments_total[1d])", at(3, 0)) == 1  # d3
    assert query(url, "increase(kpi_deployments_total[1d])", at(4, 0)) == 0
    # d1 and d2: the 0 sample before d1 makes the series' first event count
    assert query(url, "increase(kpi_deployments_total[2d])", at(2, 0)) == 2
    assert query(url, "increase(kpi_change_lead_time_seconds_count[1d])", at(3, 0)) == 1
    assert query(url, "kpi_incidents_open", at(2, 0)) == 1
    assert query(url, "kpi_incidents_open", at(3, 0)) == 0
    assert query(url, "kpi_incident_restore_seconds_sum", END) == 93600


def test_deployment_kinds_are_replayed_as_stored() -> None:
    d = deployment("d1", iso(at(0, 10)))
    assert backfill.versions(d) == [(d.time, d)]
    assert isinstance(backfill.versions(d)[0][1], Deployment)
