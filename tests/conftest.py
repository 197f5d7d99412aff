"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store in the test's temporary directory, closed afterwards."""
    store = Store(tmp_path / "kpi.db")
    yield store
    store.close()


@pytest.fixture(scope="module")
def listening() -> Iterator[ExporterServer]:
    """One exporter server per test module: stopping one waits up to its 0.5 s poll
    interval, so each test wires its own pipeline (and ingest) into this one; the handler
    reads them per request."""
    idle = Store(":memory:")
    server = ExporterServer(("127.0.0.1", 0), Pipeline(idle))
    server.start()
    yield server
    server.stop()
    idle.close()
