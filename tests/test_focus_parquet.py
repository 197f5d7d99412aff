"""The FOCUS source on a Parquet export (pyarrow, the ``cost`` extra), with FOCUS column types:
UTC timestamps, decimal costs and a map of tags. The same rows as the CSV test give the same
hand-computed totals; a row without a cost is a problem naming its row and is skipped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_exporter.store import SourceState
from tests.support import value
from tests.test_focus import HEADER, ROWS, metrics, source

pa = pytest.importorskip("pyarrow")
parquet = pytest.importorskip("pyarrow.parquet")

GOOD_ROWS = ROWS[:10]  # the CSV test's rows before its bad ones (lines 2..11)


def write_parquet(path: Path, rows: list[list[str]]) -> Path:
    columns: dict[str, list[object]] = {name: [] for name in HEADER}
    for row in rows:
        for name, text in zip(HEADER, row, strict=True):
            if name.startswith("ChargePeriod"):
                columns[name].append(datetime.fromisoformat(text).astimezone(UTC))
            elif name.endswith("Cost"):
                columns[name].append(Decimal(text) if text else None)
            elif name == "Tags":
                columns[name].append(list(json.loads(text).items()) if text else None)
            else:
                columns[name].append(text)
    types = {
        "ChargePeriodStart": pa.timestamp("us", tz="UTC"),
        "ChargePeriodEnd": pa.timestamp("us", tz="UTC"),
        "BilledCost": pa.decimal128(18, 6),
        "EffectiveCost": pa.decimal128(18, 6),
        "Tags": pa.map_(pa.string(), pa.string()),
    }
    schema = pa.schema([(name, types.get(name, pa.string())) for name in HEADER])
    parquet.write_table(pa.table(columns, schema=schema), path)
    return path


def test_parquet_gives_the_same_totals_as_csv(tmp_path: Path) -> None:
    no_cost = [*GOOD_ROWS[0][:3], "", "", *GOOD_ROWS[0][5:]]  # BilledCost null
    path = write_parquet(tmp_path / "export.parquet", [*GOOD_ROWS, no_cost])
    poll = source(tmp_path, ["*.parquet"]).poll(SourceState())
    assert poll.problems == [f"{path}:12: missing BilledCost"]
    text = metrics(poll.events)
    payments = {"provider": "AWS", "app": "shop", "team": "payments", "currency": "USD"}
    # As in the CSV test: November 20 - 5 + 15 + 4 = 34; yesterday 15; 7 complete days 52.
    assert value(text, "kpi_cost_month_to_date", **payments) == pytest.approx(34)
    assert value(text, "kpi_cost_last_day", **payments) == pytest.approx(15)
    assert value(text, "kpi_cost_forecast_month_end", **payments) == pytest.approx(34 + 52 / 7 * 27)
    assert value(text, "kpi_cost_cumulative", **payments) == pytest.approx(126)
    euro = {**payments, "currency": "EUR"}
    assert value(text, "kpi_cost_month_to_date", **euro) == pytest.approx(50)
    search = {"app": "finder", "team": "search", "currency": "USD"}
    assert value(text, "kpi_cost_month_to_date", **search) == pytest.approx(8)
