"""A configured HTTP request answering JSON, read into ``kpi_business_value`` (feature
adoption, active users, revenue, ...): one request per poll through the shared HTTP client.

Each measure selects items of the answer (``select``, a JSONPath-like selector, see
:mod:`kpi_exporter.selector`), reads each item's labels (``labels.app``, ``labels.team``:
selectors relative to the item) and either counts the items per label set (``value:
count``) or sums each item's number (``value``: a selector relative to the item). The
result is one gauge per (app, team) with ``metric`` set to the measure's name.

A GET is conditional (ETag / Last-Modified): a ``304`` leaves the stored gauges as they are.
A POST sends ``body`` as JSON and is never conditional. The token (``token_env`` or
``token_file``, optional) goes into ``token_header`` after ``token_prefix``.

An item whose value is not a finite number (a bool, null, text, NaN) or whose label is
missing is a problem naming the measure and the exact path (``measure revenue:
$.items[2].amount: expected a finite number, got 'n/a'``) and is skipped; the other items
count. A selection matching nothing is a problem of its measure. A failed request or an
answer that is not JSON fails the poll and keeps the stored gauges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from ..config_base import Credentials, Duration, Name, Strict
from ..model import Event
from ..selector import select
from ..store import SourceState
from . import Poll, PolledSource
from .business_values import (
    BusinessLabel,
    MetricName,
    Selector,
    business_gauges,
    check_selector,
    finite_number,
    label_text,
    unique_metrics,
)
from .http import HttpClient, public_url
from .registry import SourceType, headline


class HttpJsonMeasure(Strict):
    """One measure of an HTTP JSON answer (selector grammar in docs/sources.md)."""

    metric: MetricName
    select: Selector = Field("$", description="The items of the answer this measure reads.")
    value: str = Field(
        "count",
        description="`count` (items per label set) or a selector of each item's number"
        " (summed per label set).",
    )
    labels: dict[BusinessLabel, Selector] = Field(
        default_factory=dict, description="app / team -> selector of each item."
    )
    app: str | None = Field(None, description="App when no `labels.app` selector is set.")

    @field_validator("value")
    @classmethod
    def _count_or_selector(cls, value: str) -> str:
        return value if value == "count" else check_selector(value)


class HttpJsonSource(Credentials):
    """A configured HTTP request answering JSON, read into kpi_business_value."""

    token_required = False

    type: Literal["http_json"]
    name: Name
    interval: Duration = 300.0
    url: str = Field(pattern=r"^https?://")
    method: Literal["GET", "POST"] = "GET"
    body: Any = Field(None, description="JSON body of a POST.")
    token_header: str = Field("Authorization", description="Header carrying the token.")
    token_prefix: str = Field("Bearer ", description="Written before the token in the header.")
    app: str | None = Field(None, description="Default app of every measure.")
    measures: list[HttpJsonMeasure] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> HttpJsonSource:
        unique_metrics(self.measures)
        return self


T = TypeVar("T")


class HttpJson(PolledSource[HttpJsonSource]):
    """Polls one configured JSON endpoint."""

    system = "HTTP JSON"

    def _headers(self, token: str) -> dict[str, str]:
        if not token:
            return {}
        return {self.config.token_header: f"{self.config.token_prefix}{token}"}

    def read(self, state: SourceState) -> Poll:
        headers = self._headers(self.poll_token())
        http = HttpClient.for_poll(self, state, lambda: headers)
        if self.config.method == "POST":
            response = http.post_json(self.config.url, self.config.body)
        else:
            response = http.get(self.config.url)
        if response.not_modified:
            return Poll(events=[], cursor=None, validators=http.validators)
        document = response.json()
        now = self.clock()
        events: list[Event] = []
        problems: list[str] = []
        for measure in self.config.measures:
            values, bad = self.measure(measure, document)
            problems.extend(bad)
            events.extend(business_gauges(self.name, measure.metric, values, self.ownership, now))
        return Poll(events=events, cursor=None, validators=http.validators, problems=problems)

    def measure(
        self, measure: HttpJsonMeasure, document: Any
    ) -> tuple[dict[tuple[str, str], float], list[str]]:
        """Values per (app, team) of one measure, and the problems of its items."""
        values: dict[tuple[str, str], float] = {}
        problems: list[str] = []
        items = list(select(document, measure.select))
        if not items:
            return values, [f"measure {measure.metric}: {measure.select} matches nothing"]
        for path, item in items:
            try:
                labels = self._labels(measure, item, path)
                value = 1.0 if measure.value == "count" else self._value(measure, item, path)
            except ValueError as error:
                problems.append(f"measure {measure.metric}: {error}")
                continue
            values[labels] = values.get(labels, 0.0) + value
        return values, problems

    def _labels(self, measure: HttpJsonMeasure, item: Any, path: str) -> tuple[str, str]:
        found = {"app": measure.app or self.config.app or "", "team": ""}
        for label, selector in measure.labels.items():
            found[label] = _read(item, selector, path, label_text)
        return found["app"], found["team"]

    def _value(self, measure: HttpJsonMeasure, item: Any, path: str) -> float:
        return _read(item, measure.value, path, finite_number)


def _read(item: Any, selector: str, path: str, convert: Callable[[Any], T]) -> T:
    """The single value ``selector`` finds in ``item``, converted; errors name the path from
    the document's root."""
    matches = list(select(item, selector))
    if len(matches) != 1:
        found = "missing" if not matches else f"expected one value, found {len(matches)}"
        raise ValueError(f"{path}{selector[1:]}: {found}")
    relative, raw = matches[0]
    try:
        return convert(raw)
    except ValueError as error:
        raise ValueError(f"{path}{relative[1:]}: {error}") from None


def _describe(source: HttpJson) -> list[str]:
    metrics = ", ".join(measure.metric for measure in source.config.measures)
    request = f"{source.config.method} {public_url(source.config.url)}"
    return [headline(source, "http_json", f"{request} -> kpi_business_value{{metric={metrics}}}")]


SOURCE_TYPE = SourceType("http_json", HttpJsonSource, HttpJson.build, _describe)
