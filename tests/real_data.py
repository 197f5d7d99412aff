"""The shared real inputs (reports of real tools, vendors' API descriptions) that nobody on this
project wrote. They are read where they are, never copied into the repository: the folder
``real-data`` next to the checkout's parent (``../shared/real-data`` from the repository's
parent directory), or the folder named by ``KPI_REAL_DATA``.

When the folder is missing the tests that need it say so and are skipped on a developer
machine; under ``CI=true`` a missing folder fails them, so a CI run never passes by testing
nothing."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pytest

ENV = "KPI_REAL_DATA"
DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"


def real_data_dir() -> Path:
    """The real data folder; skips the test (fails it under ``CI=true``) when it is missing."""
    configured = os.environ.get(ENV)
    folder = Path(configured) if configured else DEFAULT
    if not folder.is_dir():
        message = (
            f"the real data folder {folder} is missing (set {ENV} to where it is, or provide"
            " ../shared/real-data next to the checkout)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; under CI=true this is a failure, not a skip")
        pytest.skip(message)
    return folder


def artifact(relative: str) -> Path:
    """A file under ``artifacts/``, e.g. ``scan/trivy-gomod.json.golden``."""
    return real_data_dir() / "artifacts" / relative


def artifact_files() -> set[str]:
    """Every file under ``artifacts/`` (relative, with ``/``), the SOURCE and README files
    excepted."""
    root = real_data_dir() / "artifacts"
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.name not in ("SOURCE.md", "README.md")
    }


def under(kind: str, names: Iterable[str]) -> set[str]:
    """``names`` of one kind's folder as ``artifact_files`` lists them."""
    return {f"{kind}/{name}" for name in names}
