"""Read-only SQL queries (any database SQLAlchemy reaches) read into ``kpi_business_value``.

Each measure runs one query; each row gives its label columns (``label_columns.app``,
``label_columns.team``) and one value column, summed per (app, team). The SQLAlchemy URL
may hold a password, so it comes from ``url_env`` or ``url_file`` only and never appears in
errors (they name the measure, not the URL).

Read-only, three ways: the configuration accepts one SELECT or WITH statement only; the
connection is made read-only where the database supports it (SQLite ``PRAGMA query_only``,
PostgreSQL and MySQL ``SET TRANSACTION READ ONLY``); and the transaction is always rolled
back. ``timeout`` bounds the connection (and, on PostgreSQL, each statement).

SQLAlchemy is the optional extra ``sql`` (``pip install 'kpi-exporter[sql]'`` plus the
database's driver); without it the source is a configuration error that says so.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import redaction
from ..config_base import ConfigError, Duration, Name, Strict, exactly_one
from ..credentials import CredentialError, read_secret
from ..model import Event
from ..ownership import Ownership
from ..store import SourceState
from . import Poll, PolledSource, SourceError
from .business_values import (
    BusinessLabel,
    MetricName,
    business_gauges,
    finite_number,
    label_text,
    unique_metrics,
)
from .registry import SourceContext, SourceType, headline


class SqlMeasure(Strict):
    """One read-only query: label columns and one value column per row."""

    metric: MetricName
    query: str = Field(description="One SELECT (or WITH ... SELECT) statement.")
    value_column: str = "value"
    label_columns: dict[BusinessLabel, str] = Field(
        default_factory=dict, description="app / team -> column holding it."
    )
    app: str | None = Field(None, description="App when no `label_columns.app` is set.")

    @field_validator("query")
    @classmethod
    def _read_only(cls, query: str) -> str:
        text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", query, flags=re.S).strip().rstrip(";").strip()
        if not re.match(r"(?i)(select|with)\b", text):
            raise ValueError("expected a read-only query starting with SELECT or WITH")
        if ";" in text:
            raise ValueError("expected one statement (no ';' inside the query)")
        return query


class SqlSource(Strict):
    """Read-only SQL queries (SQLAlchemy; the `sql` extra), read into kpi_business_value."""

    type: Literal["sql"]
    name: Name
    interval: Duration = 300.0
    url_env: str | None = Field(None, description="Env variable holding the SQLAlchemy URL.")
    url_file: str | None = Field(None, description="File holding the SQLAlchemy URL.")
    timeout: Duration = Field(30.0, description="Connect and statement timeout.")
    app: str | None = Field(None, description="Default app of every measure.")
    measures: list[SqlMeasure] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> SqlSource:
        exactly_one(self, "url_env", "url_file")
        unique_metrics(self.measures)
        return self


def _sqlalchemy(what: str) -> Any:
    try:
        return importlib.import_module("sqlalchemy")
    except ImportError:
        raise ConfigError(
            [
                f"{what}: type sql needs SQLAlchemy: install the extra"
                " (pip install 'kpi-exporter[sql]') and the database's driver"
            ]
        ) from None


class SqlQueries(PolledSource[SqlSource]):
    """Runs the configured read-only queries."""

    def __init__(
        self,
        config: SqlSource,
        ownership: Ownership,
        *,
        clock: Callable[[], float] = time.time,
        what: str = "",
    ) -> None:
        super().__init__(config, ownership, clock=clock, what=what)
        self.sqlalchemy = _sqlalchemy(self.what)
        try:
            self.engine = self._engine()
        except CredentialError as error:
            raise ConfigError([str(error)]) from None

    def _engine(self) -> Any:
        """The engine (no connection yet): a missing secret, a bad URL or a missing driver
        is a configuration error, found at start."""
        text = read_secret(self.config.url_env, self.config.url_file, self.what)
        try:
            url = self.sqlalchemy.engine.make_url(text)
        except Exception:  # its message could quote the password
            raise CredentialError(f"{self.what}: the URL is not a SQLAlchemy URL") from None
        if url.password:  # a driver's error may quote it alone
            redaction.register(str(url.password))
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() == "sqlite":
            connect_args["timeout"] = self.config.timeout
        elif url.get_backend_name() in ("postgresql", "mysql", "mariadb"):
            connect_args["connect_timeout"] = max(1, int(self.config.timeout))
        try:
            return self.sqlalchemy.create_engine(
                url, connect_args=connect_args, poolclass=self.sqlalchemy.pool.NullPool
            )
        except ImportError as error:
            raise CredentialError(
                f"{self.what}: the database driver {error.name or url.drivername} is not installed"
            ) from None
        except Exception:  # its message could quote the password
            raise CredentialError(f"{self.what}: the URL is not usable by SQLAlchemy") from None

    def _read_only(self, connection: Any) -> None:
        text = self.sqlalchemy.text
        backend = connection.dialect.name
        if backend == "sqlite":
            connection.execute(text("PRAGMA query_only = ON"))
        elif backend == "postgresql":
            connection.execute(text("SET TRANSACTION READ ONLY"))
            milliseconds = int(self.config.timeout * 1000)
            connection.execute(text(f"SET LOCAL statement_timeout = {milliseconds}"))
        elif backend in ("mysql", "mariadb"):
            connection.execute(text("SET TRANSACTION READ ONLY"))

    def poll(self, state: SourceState) -> Poll:
        now = self.clock()
        events: list[Event] = []
        problems: list[str] = []
        try:
            connection = self.engine.connect()
        except self.sqlalchemy.exc.SQLAlchemyError as error:
            raise SourceError(f"{self.what}: cannot connect: {type(error).__name__}") from None
        with connection:
            for measure in self.config.measures:
                try:
                    with connection.begin() as transaction:
                        self._read_only(connection)
                        rows = connection.execute(self.sqlalchemy.text(measure.query))
                        values, bad = self.measure(measure, list(rows.mappings()))
                        transaction.rollback()
                except self.sqlalchemy.exc.SQLAlchemyError as error:
                    problems.append(f"measure {measure.metric}: query failed: {_reason(error)}")
                    continue
                problems.extend(bad)
                events.extend(
                    business_gauges(self.name, measure.metric, values, self.ownership, now)
                )
        if problems and not events:
            raise SourceError("; ".join(problems))
        return Poll(events=events, cursor=None, problems=problems)

    def measure(
        self, measure: SqlMeasure, rows: list[Any]
    ) -> tuple[dict[tuple[str, str], float], list[str]]:
        """Values per (app, team) of one query's rows, and the problems of bad rows."""
        values: dict[tuple[str, str], float] = {}
        problems: list[str] = []
        needed = [measure.value_column, *measure.label_columns.values()]
        if rows and (missing := [c for c in needed if c not in rows[0]]):
            columns = ", ".join(map(str, rows[0].keys()))
            return values, [
                f"measure {measure.metric}: no column {', '.join(missing)} (columns: {columns})"
            ]
        for number, row in enumerate(rows, start=1):
            labels = {"app": measure.app or self.config.app or "", "team": ""}
            column = ""
            try:
                for label, column in measure.label_columns.items():
                    labels[label] = label_text(row[column])
                column = measure.value_column
                value = finite_number(row[column])
            except ValueError as error:
                problems.append(f"measure {measure.metric}: row {number}, column {column}: {error}")
                continue
            series = (labels["app"], labels["team"])
            values[series] = values.get(series, 0.0) + value
        return values, problems


def _reason(error: Exception) -> str:
    """The database's own message (the driver's error, first line), without the statement
    SQLAlchemy appends: enough to fix the query, and no parameters."""
    original = getattr(error, "orig", None)
    message = str(original if original is not None else type(error).__name__)
    return message.splitlines()[0][:200] if message else type(error).__name__


def _build(config: SqlSource, context: SourceContext) -> SqlQueries:
    return SqlQueries(config, context.ownership, **context.naming())


def _describe(source: SqlQueries) -> list[str]:
    metrics = ", ".join(measure.metric for measure in source.config.measures)
    url = f"URL from {source.config.url_env or source.config.url_file}"
    return [headline(source, "sql", f"{url} -> kpi_business_value{{metric={metrics}}}")]


SOURCE_TYPE = SourceType("sql", SqlSource, _build, _describe)
