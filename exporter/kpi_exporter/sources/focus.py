"""FOCUS cost exports of any provider: CSV, gzip CSV (``.gz``), and Parquet with the ``cost``
extra (pyarrow).

Files are streamed row by row, never loaded whole: memory grows with the distinct
(day, provider, app, team, currency) totals, not with the rows. Each row adds its amount
(``BilledCost`` by default, or ``EffectiveCost``) to the UTC day its ``ChargePeriodStart``
falls on (a monthly charge counts on the first day of its period). One CostLine per day,
``ProviderName`` (FOCUS 1.2's ``ServiceProviderName`` when absent), app, team and
``BillingCurrency`` (key ``focus/{provider}/{app}/{team}/{currency}/{YYYY-MM-DD}``), summed over
every file, so a file read again gives the same keys and amounts: nothing counts twice.

Every ``ChargeCategory`` counts, as the FOCUS specification defines ``BilledCost`` as the
amount invoiced: Usage, Purchase, Tax, Credit (negative amounts) and Adjustment rows all add,
and so do corrections (``ChargeClass: Correction``). For ``EffectiveCost`` the specification
already sets amortised commitment purchases to 0, so summing every row never counts twice.

The app is the ``Tags`` value of ``app_tag`` (the tags column holds a JSON object), else the app
whose ``services`` mapping names the ``ServiceName``, else the default; the team is the
``team_tag`` value, else the app's team. Amounts in different currencies are never summed.

In CSV the text ``NULL`` (unquoted, as the FOCUS sample and exports write a null) is a null,
in every column. Tags that cannot be read (not JSON, not an object) never drop a cost: the row
counts as untagged (``ServiceName`` mapping, else the default owner) and the tags are a problem
naming ``file:line``, counted with the others. A row with a missing column, a cost that is not
a number or a date that cannot be read is a problem naming ``file:line`` and is skipped; the
rest of the file counts. A file missing a required column is skipped whole. Files whose size and
modification time did not change are not read again (their totals are kept in memory). A
total that no file has any more is set to 0.
"""

from __future__ import annotations

import csv
import gzip
import importlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ..config_base import Duration, Name, Strict
from ..model import CostLine, Event
from ..ownership import Ownership
from ..store import SourceState
from . import Poll, SourceError
from .files import FileSource
from .registry import SourceType, headline, listed
from .times import utc_date


class FocusSource(Strict):
    """FOCUS cost exports (CSV, gzip CSV; Parquet with the ``cost`` extra) of any provider."""

    type: Literal["focus"]
    name: Name
    interval: Duration = 3600.0
    paths: list[str] = Field(min_length=1, description="Export files or globs.")
    cost_column: Literal["BilledCost", "EffectiveCost"] = Field(
        "BilledCost", description="The amount that counts as spend."
    )
    app_tag: str = Field("app", description="Key of the `Tags` object that names the app.")
    team_tag: str = Field("team", description="Key of the `Tags` object that names the team.")


DAY = 86400
NULL = "NULL"  # how FOCUS CSV exports write a null
CACHE_LIMIT = 100_000  # distinct dates or tag texts remembered while reading one file
Total = tuple[int, str, str, str, str]  # (day number, provider, app, team, currency)


class FocusError(Exception):
    """A file that cannot be read at all (a required column missing, Parquet without pyarrow)."""


class FocusFiles(FileSource[FocusSource]):
    """Polls the FOCUS export files matching the configured paths or globs."""

    def __init__(self, config: FocusSource, base_dir: Path, ownership: Ownership) -> None:
        super().__init__(config, base_dir, ownership)
        # Last good read per file: ((size, mtime_ns), totals), and the keys last emitted.
        self._reads: dict[str, tuple[tuple[int, int], dict[Total, float]]] = {}
        self._emitted: dict[str, CostLine] = {}

    def poll(self, state: SourceState) -> Poll:
        problems: list[str] = []
        totals: dict[Total, float] = {}
        files = self.files()
        failed = 0
        for path in files:
            try:
                file_totals = self._read(path, problems)
            except (OSError, FocusError) as error:
                failed += 1
                reason = error.strerror if isinstance(error, OSError) else str(error)
                problems.append(f"{path}: cannot read: {reason}")
                if path not in self._reads:
                    continue
                file_totals = self._reads[path][1]  # keep its last good totals
            for total, amount in file_totals.items():
                totals[total] = totals.get(total, 0.0) + amount
        if files and failed == len(files):
            raise SourceError("; ".join(problems))
        lines: list[CostLine] = []
        for (day, provider, app, team, currency), amount in sorted(totals.items()):
            key = f"focus/{provider}/{app}/{team}/{currency}/{utc_date(day)}"
            lines.append(
                CostLine(
                    self.name,
                    key,
                    app,
                    team,
                    provider,
                    float(day * DAY),
                    round(amount, 6),
                    currency,
                )
            )
        emitted = {line.key: line for line in lines}
        for key in sorted(self._emitted.keys() - emitted.keys()):
            # A total no file has any more (a file removed or corrected): it is now 0.
            lines.append(replace(self._emitted[key], amount=0.0))
        self._emitted = emitted
        events: list[Event] = [*lines]
        return Poll(events=events, cursor=None, problems=problems)

    def _read(self, path: str, problems: list[str]) -> dict[Total, float]:
        stat = os.stat(path)
        stamp = (stat.st_size, stat.st_mtime_ns)
        known = self._reads.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        if path.endswith(".parquet"):
            totals = self.sum_rows(path, _parquet_rows(path), problems)
        else:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8-sig", newline="") as text:
                totals = self.sum_rows(path, _csv_rows(text), problems)
        self._reads[path] = (stamp, totals)
        return totals

    def sum_rows(
        self, path: str, rows: Iterable[tuple[int, Mapping[str, Any]]], problems: list[str]
    ) -> dict[Total, float]:
        """The totals of one file's ``(line, row)`` pairs; bad rows become problems."""
        cost_column = self.config.cost_column
        required = ("ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency", cost_column)
        days: dict[Any, int] = {}
        owners: dict[tuple[Any, Any], tuple[tuple[str, str], str]] = {}
        totals: dict[Total, float] = {}
        checked = False
        for line, row in rows:
            if not checked:
                absent = [c for c in required if c not in row]
                if absent:
                    raise FocusError(f"missing column(s) {', '.join(absent)}")
                checked = True
            try:
                if any(row[column] is None for column in required):
                    missing = [c for c in required if row[c] is None]
                    raise ValueError(f"missing {', '.join(missing)}")
                day = _cached(days, row["ChargePeriodStart"], _day)
                _cached(days, row["ChargePeriodEnd"], _day)
                amount = _amount(row[cost_column], cost_column)
                currency = str(row["BillingCurrency"]).strip()
                if not currency:
                    raise ValueError("no BillingCurrency")
            except ValueError as error:
                problems.append(f"{path}:{line}: {error}")
                continue
            tags, service = row.get("Tags"), row.get("ServiceName")
            cache_key = (_hashable(tags), service)
            cached = owners.get(cache_key)
            if cached is None:
                cached = self._owner(tags, service)
                if len(owners) >= CACHE_LIMIT:
                    owners.clear()
                owners[cache_key] = cached
            owner, unreadable = cached
            if unreadable:
                problems.append(f"{path}:{line}: {unreadable}: cost counted as untagged")
            provider = str(row.get("ProviderName") or row.get("ServiceProviderName") or "unknown")
            total = (day, provider, owner[0], owner[1], currency)
            totals[total] = totals.get(total, 0.0) + amount
        return totals

    def _owner(self, tags: Any, service: Any) -> tuple[tuple[str, str], str]:
        """(app, team) of a row, and why its tags could not be read ("" when they could)."""
        try:
            values, unreadable = _tags(tags), ""
        except ValueError as error:
            values, unreadable = {}, str(error)
        app = values.get(self.config.app_tag)
        owner = self.ownership.of_app(app) if app else self.ownership.of_service(str(service or ""))
        return (owner.app, values.get(self.config.team_tag) or owner.team), unreadable


def _csv_rows(text: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV file; the line is where the row ends, the header is 1."""
    reader = csv.DictReader(text)
    for row in reader:
        # Extra fields (under the key None) are ignored; the text NULL is a null.
        yield reader.line_num, {k: None if v == NULL else v for k, v in row.items()}


def _parquet_rows(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) of a Parquet file, in batches (pyarrow, the ``cost`` extra)."""
    try:
        parquet: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise FocusError("Parquet needs pyarrow: install kpi-exporter[cost]") from None
    number = 1  # as in a CSV file, the first row is "line" 2
    for batch in parquet.ParquetFile(path).iter_batches(batch_size=65_536):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _cached(cache: dict[Any, int], value: Any, parse: Any) -> int:
    result = cache.get(value)
    if result is None:
        result = parse(value)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[value] = result
    return result


def _day(value: Any) -> int:
    """The UTC day number of a FOCUS datetime (ISO 8601 text, or a datetime from Parquet)."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"unknown date {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # FOCUS datetimes are UTC
    return math.floor(moment.timestamp() / DAY)


def _amount(value: Any, column: str) -> float:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{column} is not a number: {value!r}") from None
    if not math.isfinite(amount):
        raise ValueError(f"{column} is not a number: {value!r}")
    return amount


def _hashable(tags: Any) -> Any:
    if isinstance(tags, dict):
        return tuple(sorted(tags.items()))
    if isinstance(tags, list):
        return tuple(tuple(pair) for pair in tags)
    return tags


def _tags(tags: Any) -> dict[str, str]:
    """The ``Tags`` column as a dict: JSON text in CSV, a map (dict or pairs) from Parquet."""
    if tags is None or tags == "":
        return {}
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except json.JSONDecodeError:
            raise ValueError("Tags is not a JSON object") from None
    elif isinstance(tags, list):
        try:
            tags = dict(tags)  # a Parquet map: (key, value) pairs
        except (TypeError, ValueError):
            raise ValueError("Tags is not a map") from None
    if not isinstance(tags, dict):
        raise ValueError("Tags is not a JSON object")
    return {str(k): str(v) for k, v in tags.items() if v is not None}


def _describe(source: FocusFiles) -> list[str]:
    files = source.files()
    spend = f"{len(files)} file(s), spend from {source.config.cost_column}"
    return [headline(source, "focus", spend), *listed(files)]


SOURCE_TYPE = SourceType("focus", FocusSource, FocusFiles.build, _describe)
