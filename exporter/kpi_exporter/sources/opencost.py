"""Kubernetes spend from the OpenCost allocation API, one amount per UTC day.

Each poll asks ``GET {api_url}/allocation/compute`` for the configured ``window`` (``7d`` by
default), ``aggregate`` (``namespace``, or ``label:app``) with ``step=1d`` and
``accumulate=false``: one allocation set per day. An allocation's name (a namespace or a label
value) is an app through the apps' ``services`` mapping, else the app of that name (its team
from the mapping); OpenCost's ``__idle__`` and ``__unallocated__`` go to the default owner.
Its ``totalCost`` adds to the day its window starts on, as a CostLine of provider
``kubernetes`` in the configured currency (key ``opencost/{app}/{team}/{currency}/{date}``):
polling the same days again updates them (today's amount grows during the day), it never
counts them twice.

A failing API fails the poll: the scheduler marks the source down and the stored days stay.
An allocation without a number or a window is a problem and is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from ..config_base import Duration, Name, Strict
from ..model import CostLine, Event
from ..ownership import Owner
from ..store import SourceState
from . import Poll, PolledSource, SourceError
from .http import HttpClient
from .registry import SourceType, headline
from .times import utc_date


class OpenCostSource(Strict):
    """Kubernetes spend from the OpenCost allocation API, one amount per day."""

    type: Literal["opencost"]
    name: Name
    interval: Duration = 3600.0
    api_url: str = Field(pattern=r"^https?://", description="OpenCost API root.")
    window: str = Field("7d", description="How far back each poll asks (OpenCost window).")
    aggregate: str = Field(
        "namespace", description="namespace (names an app) or label:<key> (the app label)."
    )
    currency: str = Field("USD", description="Currency OpenCost is configured with.")


DAY = 86400
PROVIDER = "kubernetes"


class OpenCost(PolledSource[OpenCostSource]):
    """Polls the daily allocations of one OpenCost API."""

    system = "OpenCost"

    def read(self, state: SourceState) -> Poll:
        http = HttpClient(self.name, self.health, sleep=self.sleep, clock=self.clock)
        response = http.get(
            f"{self.api}/allocation/compute",
            {
                "window": self.config.window,
                "aggregate": self.config.aggregate,
                "step": "1d",
                "accumulate": "false",
            },
            conditional=False,
        )
        body = response.json()
        sets = body.get("data") if isinstance(body, dict) else None
        if not isinstance(sets, list):
            raise SourceError(f"{self.api}/allocation/compute: no allocation sets in the answer")
        problems: list[str] = []
        totals: dict[tuple[int, Owner], float] = {}
        for allocations in sets:
            if not isinstance(allocations, Mapping):
                continue  # an empty step comes back as null
            for name, allocation in sorted(allocations.items()):
                try:
                    day, amount = _day_and_cost(allocation)
                except ValueError as error:
                    problems.append(f"allocation {name}: {error}")
                    continue
                owner = self._owner(str(name))
                totals[(day, owner)] = totals.get((day, owner), 0.0) + amount
        currency = self.config.currency
        events: list[Event] = []
        for (day, owner), amount in sorted(totals.items()):
            key = f"opencost/{owner.app}/{owner.team}/{currency}/{utc_date(day)}"
            events.append(
                CostLine(
                    self.name,
                    key,
                    owner.app,
                    owner.team,
                    PROVIDER,
                    float(day * DAY),
                    round(amount, 6),
                    currency,
                )
            )
        return Poll(events=events, cursor=None, problems=problems)

    def _owner(self, name: str) -> Owner:
        owner = self.ownership.of_service(name)
        if owner == self.ownership.default and not name.startswith("__"):
            return self.ownership.of_app(name)  # the namespace (or label value) is the app
        return owner


def _day_and_cost(allocation: Any) -> tuple[int, float]:
    if not isinstance(allocation, Mapping):
        raise ValueError("not an object")
    cost = allocation.get("totalCost")
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
        raise ValueError(f"totalCost is not a number: {cost!r}")
    window = allocation.get("window")
    start = window.get("start") if isinstance(window, Mapping) else None
    try:
        moment = datetime.fromisoformat(str(start))
    except ValueError:
        raise ValueError(f"unknown window start {start!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp() / DAY), float(cost)


def _describe(source: OpenCost) -> list[str]:
    config = source.config
    return [
        headline(source, "opencost", f"{source.api}, window {config.window} by {config.aggregate}")
    ]


SOURCE_TYPE = SourceType("opencost", OpenCostSource, OpenCost.build, _describe)
