"""Datadog service level objectives: per SLO its objective, its SLI over its window and the
error budget left, as gauges with the meaning of the Prometheus SLO records (``slo:*``); and,
with ``monitors``, how many monitors of each app are in each overall state.

Each poll lists the SLOs (``GET /api/v1/slo``, ``limit`` and ``offset``, optionally
``tags_query``) and reads the history of each over the configured window, ending now
(``GET /api/v1/slo/{id}/history?from_ts=&to_ts=``):

- **objective**: the SLO's ``thresholds[]`` entry of that ``timeframe``: ``target`` (a
  percentage) / 100;
- **SLI**: the history's ``data.overall.sli_value`` / 100;
- **error budget left**: ``1 - (1 - SLI) / (1 - objective)``, as ``slo:error_budget_remaining``
  is computed for the Prometheus SLOs (below 0 the objective is missed);
- **app**: the ``slos`` globs (first wins) against the SLO's name; else its tag ``app:<name>``;
  else a ``service:<name>`` tag the ``apps.*.services`` mapping knows; else the source's
  ``app``; else the default app. The team is the app's.

An SLO without a threshold of the window, or whose history has no SLI yet (no data), is a
problem naming it; the others count. A deleted SLO keeps its last values.

**Monitors** (``monitors: true``): ``GET /api/v1/monitor`` (``page``, ``page_size``, optionally
``monitor_tags``) page by page until a page is not full; each monitor counts 1 in
``kpi_monitors`` of its app and ``overall_state`` (``OK``, ``Alert``, ``Warn``, ``No Data``,
...). Its app: a tag ``app:<name>``, else a tag ``service:<name>`` the ``apps.*.services``
mapping knows, else the source's ``app``, else the default app. A monitor gone from the list
(deleted, or no longer tagged) counts 0 from then on: the cursor keeps the monitors of the
last poll for that. Datadog sends no
validators (nothing is conditional); a 429 carries ``X-RateLimit-Reset`` in seconds, which the
shared client waits out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any, Literal, Self
from urllib.parse import quote

from pydantic import Field, model_validator

from ..config_base import Credentials, Duration, Name, exactly_one
from ..credentials import read_secret
from ..kpis.families import MONITORS, SLO_ERROR_BUDGET_REMAINING, SLO_OBJECTIVE, SLO_SLI
from ..model import Event, Gauge
from ..ownership import Owner
from ..store import SourceState
from . import Poll, PolledSource, SourceError, poll_secret
from .cursor import dump_cursor, load_cursor
from .http import HttpClient
from .registry import SourceType, headline

Window = Literal["7d", "30d", "90d"]
WINDOW_SECONDS = {"7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400}


class DatadogSource(Credentials):
    """Datadog SLOs. The token (``token_env`` or ``token_file``) is the API key; the
    application key is ``application_key_env`` or ``application_key_file``."""

    type: Literal["datadog"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field(
        "https://api.datadoghq.com", description="API root of the Datadog site (EU: datadoghq.eu)."
    )
    application_key_env: str | None = Field(
        None, description="Environment variable holding the application key."
    )
    application_key_file: str | None = Field(None, description="File holding the application key.")
    tags_query: str | None = Field(None, description="Only the SLOs with these tags (team:x).")
    window: Window = Field("30d", description="The SLO timeframe read (a threshold of each SLO).")
    slos: dict[str, str] = Field(default_factory=dict, description="SLO name glob -> app.")
    app: str | None = Field(None, description="App of the SLOs nothing else places.")
    monitors: bool = Field(False, description="Also count the monitors per app and state.")
    monitor_tags: str | None = Field(None, description="Only the monitors with these tags.")

    @model_validator(mode="after")
    def _one_application_key(self) -> Self:
        exactly_one(self, "application_key_env", "application_key_file")
        return self


SYSTEM = "Datadog"
LIMIT = 1000
FAMILIES = {
    "objective": SLO_OBJECTIVE.name,
    "sli": SLO_SLI.name,
    "budget": SLO_ERROR_BUDGET_REMAINING.name,
}


class Datadog(PolledSource[DatadogSource]):
    """Polls the SLOs of one Datadog organisation."""

    system = SYSTEM

    def token(self) -> str:
        """The API key, read now; the application key is read too, so that a missing one is
        a configuration error at start and a failed poll later, like the API key."""
        api_key = super().token()
        self.application_key()
        return api_key

    def application_key(self) -> str:
        config = self.config
        return read_secret(config.application_key_env, config.application_key_file, self.what)

    def read(self, state: SourceState) -> Poll:
        api_key = self.poll_token()
        application_key = poll_secret(self.application_key)
        http = HttpClient.for_poll(
            self,
            state,
            lambda: {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": application_key},
        )
        now = int(self.clock())
        window = self.config.window
        events: list[Event] = []
        problems: list[str] = []
        for slo in self.slos(http):
            name = str(slo.get("name") or slo["id"])
            target = next(
                (
                    t.get("target")
                    for t in slo.get("thresholds") or ()
                    if t.get("timeframe") == window
                ),
                None,
            )
            if not isinstance(target, int | float) or not 0 < target < 100:
                problems.append(f"SLO {name}: no {window} threshold with a target under 100")
                continue
            url = f"{self.api}/api/v1/slo/{quote(str(slo['id']), safe='')}/history"
            query = {"from_ts": now - WINDOW_SECONDS[window], "to_ts": now}
            body = http.get(url, query, conditional=False).json()
            sli = ((body.get("data") or {}).get("overall") or {}).get("sli_value")
            if not isinstance(sli, int | float):
                problems.append(f"SLO {name}: no SLI over the last {window} (no data yet)")
                continue
            owner = self.owner(name, [str(tag) for tag in slo.get("tags") or ()], self.config.slos)
            values = {
                "objective": target / 100,
                "sli": sli / 100,
                # From the percentages, where the objective's complement is exact (100 - 99.5).
                "budget": 1 - (100 - sli) / (100 - target),
            }
            labels = (("slo", name), ("window", window))
            events.extend(
                Gauge(
                    source=self.name,
                    key=f"datadog/{slo['id']}/{kind}",
                    app=owner.app,
                    team=owner.team,
                    name=FAMILIES[kind],
                    value=value,
                    measured_at=float(now),
                    labels=labels,
                )
                for kind, value in values.items()
            )
        cursor = None
        if self.config.monitors:
            saved = load_cursor(state.cursor, None, self.name) or {}
            counted = self.monitors(http, saved.get("monitors") or {}, float(now), events)
            cursor = dump_cursor(None, monitors=counted)
        return Poll(events=events, cursor=cursor, validators=http.validators, problems=problems)

    def monitors(
        self, http: HttpClient, before: Mapping[str, list[str]], now: float, events: list[Event]
    ) -> dict[str, list[str]]:
        """Each monitor counted 1 in its app's and state's ``kpi_monitors``, and each monitor
        of the last poll that is gone counted 0; the monitors counted now ([app, team, state]
        by id), for the next poll."""
        counted: dict[str, list[str]] = {}
        for monitor in self.listed_monitors(http):
            owner = self.owner("", [str(tag) for tag in monitor.get("tags") or ()], {})
            state = str(monitor.get("overall_state") or "Unknown")
            counted[str(monitor["id"])] = [owner.app, owner.team, state]
        gone = {id_: before[id_] for id_ in before if id_ not in counted}
        for id_, (app, team, state) in [*counted.items(), *gone.items()]:
            events.append(
                Gauge(
                    source=self.name,
                    key=f"datadog/monitor/{id_}",
                    app=app,
                    team=team,
                    name=MONITORS.name,
                    value=0.0 if id_ in gone else 1.0,
                    measured_at=now,
                    labels=(("state", state),),
                )
            )
        return counted

    def listed_monitors(self, http: HttpClient) -> Iterator[Mapping[str, Any]]:
        """Every monitor (of ``monitor_tags``), ``page`` after ``page`` until one is not full."""
        tags = {"monitor_tags": self.config.monitor_tags} if self.config.monitor_tags else {}
        for page in itertools.count():
            query = {"page": page, "page_size": LIMIT, **tags}
            body = http.get(f"{self.api}/api/v1/monitor", query, conditional=False).json()
            if not isinstance(body, list):
                raise SourceError(f"GET {self.api}/api/v1/monitor: expected a list of monitors")
            yield from body
            if len(body) < LIMIT:
                return

    def slos(self, http: HttpClient) -> Iterator[Mapping[str, Any]]:
        """Every SLO (of ``tags_query``), page by page: ``offset`` moves on while a page is
        full."""
        offset = 0
        while True:
            query: dict[str, Any] = {"limit": LIMIT, "offset": offset}
            if self.config.tags_query:
                query["tags_query"] = self.config.tags_query
            body = http.get(f"{self.api}/api/v1/slo", query, conditional=False).json()
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise SourceError(f"GET {self.api}/api/v1/slo: expected an object with 'data'")
            yield from data
            if len(data) < LIMIT:
                return
            offset += len(data)

    def owner(self, name: str, tags: list[str], globs: Mapping[str, str]) -> Owner:
        """The owner of an SLO or monitor: the first of ``globs`` its name matches, its tag
        ``app:``, its tag ``service:`` that ``apps.*.services`` knows, ``app``, the default."""
        for pattern, app in globs.items():
            if fnmatchcase(name, pattern):
                return self.ownership.of_app(app)
        tagged = dict(tag.partition(":")[::2] for tag in tags)
        if tagged.get("app"):
            return self.ownership.of_app(tagged["app"])
        service = self.ownership.of_service(tagged.get("service", ""))
        if service != self.ownership.default:
            return service
        return self.ownership.of_app(self.config.app)


def _describe(source: Datadog) -> list[str]:
    scope = source.config.tags_query or "every SLO"
    what = f"SLOs ({scope}) over {source.config.window}; API {source.api}"
    if source.config.monitors:
        what += f"; monitors ({source.config.monitor_tags or 'every monitor'})"
    return [headline(source, "datadog", what)]


SOURCE_TYPE = SourceType("datadog", DatadogSource, Datadog.build, _describe)
