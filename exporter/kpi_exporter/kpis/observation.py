"""The unit every KPI function produces: one contribution of one event to one series."""

from __future__ import annotations

from typing import NamedTuple


class Observation(NamedTuple):
    """``family`` gains ``value`` in the series ``labels`` (values in the family's label
    order). For a counter or gauge the value is added; for a histogram it is observed."""

    family: str
    labels: tuple[str, ...]
    value: float
