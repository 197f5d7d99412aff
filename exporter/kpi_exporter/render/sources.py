"""Where the Jsonnet sources of the rules and dashboards are: the checkout this package runs
from, else the copy a wheel installs under ``<prefix>/share/kpi-exporter/`` (pyproject's
``data-files``: the same layout, ``alerts/`` and ``dashboards/``), so that ``render`` works
from an installed package and in the container image too."""

from __future__ import annotations

import sysconfig
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[3]
INSTALLED = "share/kpi-exporter"
MARKER = "alerts/config.libsonnet"


def candidates() -> list[Path]:
    """The folders looked in, in order: the checkout, then each install scheme's data path."""
    places = [CHECKOUT]
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        place = Path(sysconfig.get_path("data", scheme)) / INSTALLED
        if place not in places:
            places.append(place)
    return places


def root() -> Path:
    """The first candidate holding the sources; the checkout when none does (render then
    reports each file it cannot find)."""
    return next((place for place in candidates() if (place / MARKER).is_file()), CHECKOUT)


ROOT = root()
