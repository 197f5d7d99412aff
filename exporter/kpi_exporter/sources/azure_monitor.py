"""Azure Monitor Application Insights: per component, over the configured window ending now,
its availability, failed request rate and p95 response time, and its SLOs (availability,
requests that succeed, requests faster than a threshold) as gauges with the meaning of the
Prometheus SLO records (``slo:*``).

Each poll sends one query per component to the Application Insights query API
(``POST {api_url}/v1/apps/{appId}/query``, body ``query`` and ``timespan``, an ISO 8601
interval ``start/end``): the Azure Monitor metrics API has no percentiles for
``requests/duration``, the query API gives all three from the component's ``requests`` and
``availabilityResults`` in one answer (``tables[0].columns[]`` and ``rows[]``, read by column
name):

- **availability**: passed availability tests / tests;
- **failed request rate**: failed requests / requests (``success`` false);
- **p95 response time**: ``percentile(duration, 95)``, milliseconds / 1000;
- **SLOs**, each only when its objective is configured (a percentage, as Datadog's targets):
  ``availability`` (the SLI is the availability), ``success`` (1 - the failed request rate),
  ``latency`` (requests at or under ``latency_threshold`` / requests). Error budget left
  ``1 - (100 - 100 SLI) / (100 - objective)``, as ``slo:error_budget_remaining:ratio`` is
  computed for the Prometheus SLOs (below 0 the objective is missed). The SLO is named
  ``<component> <kind>``.

A component without requests (or without availability tests) over the window is a problem
naming it, and its other values count. A component taken out of the configuration keeps its
last values. Authentication: an Entra ID app registration (client credentials, :mod:`.entra`)
with the Reader role on the components; its client secret is the source's token. The API
answers 429 with ``Retry-After`` when throttled, which the shared client waits out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from ..config_base import Credentials, Duration, Name, Strict
from ..kpis.families import (
    COMPONENT_AVAILABILITY,
    COMPONENT_FAILED_REQUESTS,
    COMPONENT_RESPONSE_TIME,
    SLO_ERROR_BUDGET_REMAINING,
    SLO_OBJECTIVE,
    SLO_SLI,
)
from ..model import Event, Gauge
from ..store import SourceState
from . import Poll, PolledSource, SourceError
from .entra import LOGIN_URL, EntraToken
from .http import HttpStatusError
from .registry import SourceType, headline
from .times import iso

Window = Literal["1d", "7d", "30d", "90d"]
WINDOW_SECONDS = {"1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400}


class Component(Strict):
    """One Application Insights component and the app it belongs to."""

    name: Name = Field(description="The component's name in the metrics (label component).")
    app_id: str = Field(min_length=1, description="Application ID (API Access blade).")
    app: str = Field(min_length=1, description="The app the component belongs to.")
    availability: float | None = Field(
        None, gt=0, lt=100, description="Objective: percent of availability tests passed."
    )
    success: float | None = Field(
        None, gt=0, lt=100, description="Objective: percent of requests that do not fail."
    )
    latency: float | None = Field(
        None, gt=0, lt=100, description="Objective: percent of requests within the threshold."
    )
    latency_threshold: Duration = Field(0.5, description="The latency SLO's threshold (500ms).")


class AzureMonitorSource(Credentials):
    """Application Insights components. The token (``token_env`` or ``token_file``) is the
    app registration's client secret."""

    type: Literal["azure_monitor"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field(
        min_length=1, description="Application Insights query API root (Microsoft's reference)."
    )
    login_url: str = Field(LOGIN_URL, description="Entra ID sign-in root.")
    tenant_id: str = Field(min_length=1, description="The Entra ID tenant (directory) id.")
    client_id: str = Field(min_length=1, description="The app registration's client id.")
    window: Window = Field("30d", description="The window every value is computed over.")
    components: list[Component] = Field(min_length=1, description="The components read.")


SYSTEM = "Application Insights"
COLUMNS = ("total", "failed", "fast", "p95", "tests", "passed")


def query(threshold_ms: float) -> str:
    """The one query per component: request counts (failed, within the latency threshold),
    the p95 duration, and the availability tests (passed)."""
    return (
        "requests"
        " | summarize total = count(), failed = countif(not(tobool(success))),"
        f" fast = countif(duration <= {threshold_ms:g}), p95 = percentile(duration, 95)"
        " | extend tests = toscalar(availabilityResults | count),"
        " passed = toscalar(availabilityResults | where tobool(success) | count)"
    )


def budget_left(good: int, total: int, objective: float) -> float:
    """``1 - (1 - SLI) / (1 - objective)``, from the bad share in percent and the objective's
    complement (100 - 99.5), both exact where the counts and the objective are round."""
    return 1 - (100 * (total - good) / total) / (100 - objective)


class AzureMonitor(PolledSource[AzureMonitorSource]):
    """Polls the Application Insights components of one configuration entry."""

    system = SYSTEM

    @cached_property
    def bearer(self) -> EntraToken:
        """The bearer token the client secret buys."""
        return EntraToken.of(self)

    def read(self, state: SourceState) -> Poll:
        http = self.bearer.client(self, state, self.poll_token())
        now = int(self.clock())
        timespan = f"{iso(now - WINDOW_SECONDS[self.config.window])}/{iso(now)}"
        events: list[Event] = []
        problems: list[str] = []
        for component in self.config.components:
            url = f"{self.api}/v1/apps/{quote(component.app_id, safe='')}/query"
            body = {"query": query(component.latency_threshold * 1000), "timespan": timespan}
            try:
                answer = http.post_json(url, body).json()
            except HttpStatusError as error:
                if error.status == 401:
                    self.bearer.forget()  # revoked or expired early: buy a new one next poll
                raise
            row = summary(answer, url)
            events.extend(self.gauges(component, row, float(now), problems))
        return Poll(events=events, cursor=None, validators=http.validators, problems=problems)

    def gauges(
        self, component: Component, row: Mapping[str, Any], now: float, problems: list[str]
    ) -> Iterator[Gauge]:
        """The component's values and SLOs from its summary row."""
        owner = self.ownership.of_app(component.app)
        window = self.config.window

        def gauge(
            key: str, family: str, value: float, labels: tuple[tuple[str, str], ...]
        ) -> Gauge:
            return Gauge(
                source=self.name,
                key=f"azure_monitor/{component.name}/{key}",
                app=owner.app,
                team=owner.team,
                name=family,
                value=value,
                measured_at=now,
                labels=labels,
            )

        measured = (("component", component.name), ("window", window))
        counts: dict[str, tuple[int, int]] = {}  # SLO kind -> (good, total)
        total, tests = int(row["total"]), int(row["tests"])
        if total > 0:
            failed = int(row["failed"])
            counts["success"] = (total - failed, total)
            counts["latency"] = (int(row["fast"]), total)
            yield gauge("failed", COMPONENT_FAILED_REQUESTS.name, failed / total, measured)
            p95 = float(row["p95"]) / 1000
            percentile = (*measured, ("percentile", "95"))
            yield gauge("p95", COMPONENT_RESPONSE_TIME.name, p95, percentile)
        else:
            problems.append(f"component {component.name}: no requests over the last {window}")
        if tests > 0:
            counts["availability"] = (int(row["passed"]), tests)
            passed = int(row["passed"]) / tests
            yield gauge("availability", COMPONENT_AVAILABILITY.name, passed, measured)
        else:
            problems.append(
                f"component {component.name}: no availability tests over the last {window}"
            )
        for kind in ("availability", "success", "latency"):
            objective = getattr(component, kind)
            if objective is None or kind not in counts:
                continue
            good, out_of = counts[kind]
            labels = (("slo", f"{component.name} {kind}"), ("window", window))
            yield gauge(f"{kind}/objective", SLO_OBJECTIVE.name, objective / 100, labels)
            yield gauge(f"{kind}/sli", SLO_SLI.name, good / out_of, labels)
            budget = budget_left(good, out_of, objective)
            yield gauge(f"{kind}/budget", SLO_ERROR_BUDGET_REMAINING.name, budget, labels)


def summary(answer: Any, url: str) -> dict[str, Any]:
    """The one row of the query's first table, by column name."""
    tables = answer.get("tables") if isinstance(answer, dict) else None
    if not isinstance(tables, list) or not tables or not isinstance(tables[0], dict):
        raise SourceError(f"POST {url}: expected an answer with 'tables'")
    names = [column.get("name") for column in tables[0].get("columns") or ()]
    rows: list[Any] = list(tables[0].get("rows") or [])
    missing = [name for name in COLUMNS if name not in names]
    if missing or len(rows) != 1:
        raise SourceError(
            f"POST {url}: expected one row with the columns {', '.join(COLUMNS)}"
            + (f" (missing {', '.join(missing)})" if missing else f", not {len(rows)} rows")
        )
    row = dict(zip(names, rows[0], strict=False))
    for name in COLUMNS:
        value = row[name]
        # An empty summary has no percentile: KQL answers null (or NaN written as a string).
        if name == "p95" and (value is None or isinstance(value, str)):
            row[name] = float("nan")
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise SourceError(f"POST {url}: column {name} is {value!r}, not a number")
    return row


def _describe(source: AzureMonitor) -> list[str]:
    names = ", ".join(component.name for component in source.config.components)
    what = f"Application Insights components {names} over {source.config.window}; API {source.api}"
    return [headline(source, "azure_monitor", what)]


SOURCE_TYPE = SourceType("azure_monitor", AzureMonitorSource, AzureMonitor.build, _describe)
