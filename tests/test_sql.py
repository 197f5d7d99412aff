"""The generic SQL source against a real SQLite database file through SQLAlchemy: rows summed
per app and team into kpi_business_value, read-only connections, bad values refused with
errors naming the measure, row and column, and the URL kept secret."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.sql import SqlQueries, SqlSource
from kpi_exporter.store import SourceState
from tests.support import SHOP_AND_BILLING, business_values, exposition, ts, value

NOW = ts("2026-03-01T00:00:00Z")
CONFIG = SHOP_AND_BILLING
USERS = "SELECT product AS app, COUNT(*) AS value FROM users WHERE active = 1 GROUP BY product"
REVENUE = "SELECT product, squad, amount FROM revenue"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "business.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE users (id INTEGER, product TEXT, active INTEGER);
            INSERT INTO users VALUES (1, 'shop', 1), (2, 'shop', 1), (3, 'shop', 0),
                                     (4, 'billing', 1);
            CREATE TABLE revenue (product TEXT, squad TEXT, amount);
            INSERT INTO revenue VALUES ('shop', 'payments', 100.25), ('shop', 'payments', '50'),
                                       ('billing', 'growth', 30);
            """
        )
    conn.close()
    return path


def sql(monkeypatch: pytest.MonkeyPatch, database: Path, **config: Any) -> SqlQueries:
    monkeypatch.setenv("BUSINESS_DB_URL", f"sqlite:///{database}")
    settings: dict[str, Any] = {
        "type": "sql",
        "name": "business",
        "url_env": "BUSINESS_DB_URL",
        "measures": [
            {"metric": "active_users", "query": USERS, "label_columns": {"app": "app"}},
            {
                "metric": "revenue",
                "query": REVENUE,
                "value_column": "amount",
                "label_columns": {"app": "product", "team": "squad"},
            },
        ],
    }
    settings.update(config)
    return SqlQueries(SqlSource(**settings), Ownership(parse_config(CONFIG)), clock=lambda: NOW)


def test_rows_become_business_values_per_app_and_team(monkeypatch, database):
    poll = sql(monkeypatch, database).poll(SourceState())

    # shop: 2 active users (3 is inactive); revenue 100.25 + 50 = 150.25. A team column
    # overrides the app's owner (billing's revenue belongs to growth here).
    assert business_values(poll.events) == {
        ("active_users", "shop", "payments"): 2,
        ("active_users", "billing", "finance"): 1,
        ("revenue", "shop", "payments"): 150.25,
        ("revenue", "billing", "growth"): 30,
    }
    assert poll.problems == []
    text = exposition(poll.events)
    assert value(text, "kpi_business_value", app="shop", metric="revenue") == 150.25
    assert value(text, "kpi_business_value", app="billing", team="growth") == 30


def test_a_value_that_is_not_a_finite_number_is_refused_naming_measure_row_and_column(
    monkeypatch, database
):
    with sqlite3.connect(database) as conn:
        conn.execute("INSERT INTO revenue VALUES ('shop', 'payments', 'n/a')")
        conn.execute("INSERT INTO revenue VALUES ('shop', 'payments', NULL)")
    conn.close()

    poll = sql(monkeypatch, database).poll(SourceState())

    assert business_values(poll.events)[("revenue", "shop", "payments")] == 150.25
    assert poll.problems == [
        "measure revenue: row 4, column amount: expected a finite number, got 'n/a'",
        "measure revenue: row 5, column amount: expected a finite number, got null",
    ]


def test_the_connection_is_read_only_even_for_a_query_that_writes(monkeypatch, database):
    # A statement the configuration check lets through (it starts with WITH) but that writes:
    # SQLite's query_only refuses it, and the other measures still count.
    writing = "WITH x AS (SELECT 1) DELETE FROM users"
    source = sql(
        monkeypatch,
        database,
        measures=[
            {"metric": "active_users", "query": USERS, "label_columns": {"app": "app"}},
            {"metric": "sneaky", "query": writing},
        ],
    )

    poll = source.poll(SourceState())

    assert len(poll.problems) == 1
    assert poll.problems[0].startswith("measure sneaky: query failed: attempt to write")
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone() == (4,)
    conn.close()


def test_a_missing_column_is_a_problem_and_a_failed_database_fails_the_poll(monkeypatch, database):
    source = sql(
        monkeypatch,
        database,
        measures=[{"metric": "revenue", "query": REVENUE, "value_column": "total"}],
    )
    with pytest.raises(SourceError, match=r"measure revenue: no column total \(columns: prod"):
        source.poll(SourceState())

    broken = sql(monkeypatch, database, measures=[{"metric": "x", "query": "SELECT * FROM nope"}])
    with pytest.raises(SourceError, match="measure x: query failed: no such table: nope"):
        broken.poll(SourceState())


def test_statements_other_than_one_select_are_refused_in_the_configuration():
    base = "sources: [{type: sql, name: db, url_env: DB_URL, measures: [{metric: m, query: %s}]}]"
    for query in ("'DELETE FROM users'", "'SELECT 1; DROP TABLE users'", "'-- x\n UPDATE t'"):
        with pytest.raises(ConfigError, match=r"read-only query|one statement"):
            parse_config(base % query)
    parse_config(base % "'/* ok */ WITH a AS (SELECT 1) SELECT * FROM a;'")


def test_the_url_comes_from_a_reference_and_never_shows(monkeypatch):
    inline = "sources: [{type: sql, name: db, url: x, measures: [{metric: m, query: SELECT 1}]}]"
    with pytest.raises(ConfigError, match="url"):
        parse_config(inline)
    measures: Any = [{"metric": "m", "query": "SELECT 1"}]
    ownership = Ownership(parse_config(CONFIG))
    missing = SqlSource(type="sql", name="db", url_env="MISSING_DB_URL", measures=measures)
    with pytest.raises(ConfigError, match="MISSING_DB_URL is not set"):
        SqlQueries(missing, ownership)

    # A driver that is not installed (or a bad URL) is named; the password never is.
    config = SqlSource(type="sql", name="db", url_env="SECRET_DB_URL", measures=measures)
    for url in ("nosuchdb+driver://kpi:hunter2@db.invalid/x", "not a url hunter2"):
        monkeypatch.setenv("SECRET_DB_URL", url)
        with pytest.raises(ConfigError) as raised:
            SqlQueries(config, ownership)
        assert "hunter2" not in str(raised.value)


def test_without_sqlalchemy_the_source_is_a_configuration_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # import fails as if not installed
    measures: Any = [{"metric": "m", "query": "SELECT 1"}]
    config = SqlSource(type="sql", name="db", url_env="DB_URL", measures=measures)
    with pytest.raises(
        ConfigError, match=r"needs SQLAlchemy: install the extra.*kpi-exporter\[sql\]"
    ):
        SqlQueries(config, Ownership(parse_config(CONFIG)), what="sources[0]")
