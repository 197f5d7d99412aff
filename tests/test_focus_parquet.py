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
from tests.test_focus import HEADER, ROWS, assert_spend, metrics, source

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
    assert_spend(text)  # the CSV test's hand-computed totals, every one
