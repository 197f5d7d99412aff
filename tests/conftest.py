"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kpi_exporter.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store in the test's temporary directory, closed afterwards."""
    store = Store(tmp_path / "kpi.db")
    yield store
    store.close()
