"""The FOCUS cost source and the cost families: month-to-date spend and forecast per team from
an export that spans a month boundary, credits and tax counted, currencies kept apart, bad rows
reported with file and line, and a file read again never counted twice. Every expectation is
computed by hand in the test."""

from __future__ import annotations

import csv
import gzip
import json
import os
import sys
from pathlib import Path

import pytest

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.exposition import render
from kpi_exporter.kpis import KpiSettings, aggregate
from kpi_exporter.model import CostLine, Event
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.focus import FocusFiles, FocusSource
from kpi_exporter.store import SourceState, Store
from tests.support import ts, value

CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments}
  finder: {team: search, services: [OpenSearch]}
budgets:
  - {team: payments, amount: 300, currency: USD}
  - {app: finder, amount: 50, currency: USD}
"""
HEADER = [
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ProviderName",
    "ServiceName",
    "SubAccountId",
    "Tags",
]
SHOP = json.dumps({"app": "shop", "team": "payments"})


def row(day: str, category: str, billed: str, currency: str = "USD", **fields: str) -> list[str]:
    start = f"{day}T00:00:00Z"
    values = {
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start,
        "ChargeCategory": category,
        "BilledCost": billed,
        "EffectiveCost": billed,
        "BillingCurrency": currency,
        "ProviderName": "AWS",
        "ServiceName": "Amazon EC2",
        "SubAccountId": "1234",
        "Tags": SHOP,
    }
    values.update(fields)
    return [values[name] for name in HEADER]


# Team payments (app shop, from the tags), AWS, USD; line numbers in the comments (header: 1).
ROWS = [
    row("2026-10-26", "Usage", "70"),  # 2: before the 7-day window
    row("2026-10-30", "Usage", "10"),  # 3
    row("2026-10-31", "Usage", "10"),  # 4
    row("2026-10-31", "Tax", "2"),  # 5: tax counts
    row("2026-11-01", "Usage", "20"),  # 6
    row("2026-11-01", "Credit", "-5"),  # 7: a credit is negative and counts
    row("2026-11-02", "Usage", "15"),  # 8
    row("2026-11-03", "Usage", "4"),  # 9: today, so far
    row("2026-11-01", "Usage", "50", currency="EUR"),  # 10: another currency, kept apart
    # Team search: no tags, the service maps to app finder.
    row("2026-11-02", "Usage", "8", ServiceName="OpenSearch", Tags=""),  # 11
    # Bad rows: skipped, the rest counts.
    row("2026-11-02", "Usage", "abc"),  # 12: not a number
    row("yesterday", "Usage", "1"),  # 13: unknown date
    row("2026-11-02", "Usage", "1")[:3],  # 14: missing columns
    row("2026-11-02", "Usage", "1", Tags="[1, 2]"),  # 15: tags not an object: cost kept
]
NOW = ts("2026-11-03T12:00:00Z")


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def source(tmp_path: Path, paths: list[str], **options: str) -> FocusFiles:
    config = FocusSource(type="focus", name="focus", paths=paths, **options)
    return FocusFiles(config, tmp_path, Ownership(parse_config(CONFIG)))


PAYMENTS = {"provider": "AWS", "app": "shop", "team": "payments", "currency": "USD"}


def metrics(events: list[Event], now: float = NOW) -> str:
    settings = parse_config(CONFIG).kpi_settings()
    return render(aggregate(events, settings, lambda: now).exposition).text.decode()


def test_month_to_date_and_forecast_per_team_across_a_month_boundary(tmp_path: Path) -> None:
    write(tmp_path / "export.csv", ROWS)
    poll = source(tmp_path, ["*.csv"]).poll(SourceState())
    text = metrics(poll.events)
    assert_spend(text)
    # Budgets from the config, one per team or app, the other label empty.
    assert value(text, "kpi_cost_budget_month", team="payments", app="") == 300
    assert value(text, "kpi_cost_budget_month", app="finder", team="") == 50
    # On Oct 31 the month is October: 70 + 10 + 12 = 92, and November's rows are in the future.
    october = metrics(poll.events, ts("2026-10-31T18:00:00Z"))
    assert value(october, "kpi_cost_month_to_date", **PAYMENTS) == pytest.approx(92)


def assert_spend(text: str) -> None:
    """The hand-computed spend of ``ROWS`` on Nov 3 (the CSV and Parquet tests)."""
    payments = PAYMENTS
    # November so far: 20 - 5 (credit) + 15 + 4 (today) = 34.
    assert value(text, "kpi_cost_month_to_date", **payments) == pytest.approx(34)
    # Yesterday (Nov 2): 15.
    assert value(text, "kpi_cost_last_day", **payments) == pytest.approx(15)
    # Last 7 complete days (Oct 27 .. Nov 2): 10 + (10 + 2 tax) + (20 - 5) + 15 = 52;
    # 27 days left after Nov 3: 34 + 52 / 7 * 27.
    assert value(text, "kpi_cost_forecast_month_end", **payments) == pytest.approx(34 + 52 / 7 * 27)
    # Every day ever: 70 + 10 + 12 + 15 + 15 + 4 = 126.
    assert value(text, "kpi_cost_cumulative", **payments) == pytest.approx(126)
    # The EUR row is its own series, never added to the USD ones.
    euro = {**payments, "currency": "EUR"}
    assert value(text, "kpi_cost_month_to_date", **euro) == pytest.approx(50)
    assert value(text, "kpi_cost_forecast_month_end", **euro) == pytest.approx(50 + 50 / 7 * 27)
    search = {"app": "finder", "team": "search", "currency": "USD"}
    assert value(text, "kpi_cost_month_to_date", **search) == pytest.approx(8)


def test_bad_rows_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", ROWS)
    poll = source(tmp_path, ["export.csv"]).poll(SourceState())
    assert poll.problems == [
        f"{path}:12: BilledCost is not a number: 'abc'",
        f"{path}:13: unknown date 'yesterdayT00:00:00Z'",
        f"{path}:14: missing BillingCurrency, BilledCost",
        f"{path}:15: Tags is not a JSON object: cost counted as untagged",
    ]
    # The 10 good rows and row 15 count: Oct 31 and Nov 1 (USD) each sum two rows, so 9 daily
    # totals; row 15's cost (1 USD on Nov 2, Amazon EC2 maps to no app) is the default owner's.
    assert len(poll.events) == 11 - 2
    untagged = [e for e in poll.events if isinstance(e, CostLine) and e.app == "unknown"]
    assert [(line.team, line.amount) for line in untagged] == [("unassigned", 1.0)]


def test_null_tags_and_unreadable_tags_never_drop_a_cost(tmp_path: Path) -> None:
    # FOCUS exports write a null as the unquoted text NULL (the FinOps Foundation's sample does).
    path = tmp_path / "export.csv"
    lines = [
        ",".join(HEADER),
        "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,Usage,3,3,USD,AWS,OpenSearch,1,NULL",  # 2
        "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,Credit,-1,-1,USD,AWS,OpenSearch,1,NULL",  # 3
        '2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,Usage,5,5,USD,AWS,NULL,1,"{""app"": ""sh"',
        "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,Usage,7,7,USD,NULL,NULL,NULL,NULL",  # 5
    ]
    path.write_text("\n".join(lines) + "\n")
    poll = source(tmp_path, ["export.csv"]).poll(SourceState())
    # Line 4's tags are cut short: a problem, and its cost goes to the default owner.
    assert poll.problems == [f"{path}:4: Tags is not a JSON object: cost counted as untagged"]
    amounts = {(e.app, e.provider): e.amount for e in poll.events if isinstance(e, CostLine)}
    # NULL tags are no tags: OpenSearch maps to finder, 3 - 1 (the credit) = 2;
    # default owner, AWS: 5 (line 4); a NULL provider is "unknown": 7 (line 5).
    assert amounts == {("finder", "AWS"): 2.0, ("unknown", "AWS"): 5.0, ("unknown", "unknown"): 7.0}


def test_gzip_gives_the_same_lines_as_plain_csv(tmp_path: Path) -> None:
    write(tmp_path / "plain.csv", ROWS)
    write(tmp_path / "packed.csv.gz", ROWS)
    plain = source(tmp_path, ["plain.csv"]).poll(SourceState())
    packed = source(tmp_path, ["packed.csv.gz"]).poll(SourceState())
    assert packed.events == plain.events
    assert len(packed.problems) == 4


def test_effective_cost_can_be_the_spend(tmp_path: Path) -> None:
    rows = [row("2026-11-01", "Purchase", "100", EffectiveCost="0")]
    write(tmp_path / "export.csv", rows)
    poll = source(tmp_path, ["export.csv"], cost_column="EffectiveCost").poll(SourceState())
    assert [line.amount for line in poll.events if isinstance(line, CostLine)] == [0.0]


def test_a_file_read_again_never_counts_twice(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", ROWS[:9])
    focus = source(tmp_path, ["export.csv"])
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: NOW)
    pipeline.record("focus", focus.poll(SourceState()))
    # Rewritten with the same rows (a new export run): read again, same keys, same amounts.
    write(path, ROWS[:9])
    os.utime(path, ns=(1, 1))
    assert pipeline.record("focus", focus.poll(SourceState())) == 0
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    assert value(text, "kpi_cost_month_to_date", team="payments", currency="USD") == 34
    # The November rows removed from the file: those days are now 0, October's stay.
    write(path, ROWS[:4])
    pipeline.record("focus", focus.poll(SourceState()))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    assert value(text, "kpi_cost_month_to_date", team="payments", currency="USD") == 0
    assert value(text, "kpi_cost_cumulative", team="payments", currency="USD") == 92


def test_a_file_without_a_required_column_is_skipped_whole(tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "BillingCurrency"]
    path = write(tmp_path / "old.csv", [], header)
    with open(path, "a") as file:
        file.write("2026-11-01T00:00:00Z,2026-11-02T00:00:00Z,Usage,1,1,AWS,EC2,1,\n")
    write(tmp_path / "good.csv", ROWS[:1])
    poll = source(tmp_path, ["*.csv"]).poll(SourceState())
    assert poll.problems == [f"{path}: cannot read: missing column(s) BillingCurrency"]
    assert len(poll.events) == 1
    with pytest.raises(SourceError, match="BillingCurrency"):
        source(tmp_path, ["old.csv"]).poll(SourceState())


def test_parquet_without_pyarrow_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test extra installs pyarrow; a None entry in sys.modules makes importing it fail,
    # as on an installation without the cost extra.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    (tmp_path / "export.parquet").write_bytes(b"PAR1")
    with pytest.raises(SourceError, match=r"install kpi-exporter\[cost\]"):
        source(tmp_path, ["export.parquet"]).poll(SourceState())


def test_a_budget_names_one_app_or_one_team() -> None:
    with pytest.raises(ConfigError, match="exactly one of app or team"):
        parse_config("budgets: [{app: shop, team: payments, amount: 1, currency: USD}]")
    with pytest.raises(ConfigError, match="one budget per app or team and currency"):
        parse_config(
            "budgets: [{team: a, amount: 1, currency: USD}, {team: a, amount: 2, currency: USD}]"
        )


def test_days_out_of_the_retained_window_leave_memory_but_not_the_total() -> None:
    settings = KpiSettings()
    lines: list[Event] = [
        CostLine("t", f"k{day}", "shop", "payments", "AWS", ts(day), 1.0, "USD")
        for day in ("2026-01-01T00:00:00Z", "2026-11-02T00:00:00Z")
    ]
    result = aggregate(lines, settings, lambda: NOW)
    assert sum(len(days) for days in result.spend.series.values()) == 1
    text = render(result.exposition).text.decode()
    assert value(text, "kpi_cost_cumulative") == 2
    assert value(text, "kpi_cost_month_to_date") == 1
