"""The generic HTTP JSON source against a fake endpoint (``responses``): measures selected
with the JSONPath-like grammar, counted or summed per app and team into kpi_business_value,
conditional requests, tokens, and values refused with errors naming the measure and path."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.selector import SelectorError, parse, select
from kpi_exporter.sources.http_json import HttpJson
from kpi_exporter.store import SourceState
from tests.support import (
    SHOP_AND_BILLING,
    business_values,
    exposition,
    source_with_secret,
    ts,
    value,
)

URL = "https://analytics.example.test/api/usage"
TOKEN = "an4lytics-s3cret"
NOW = ts("2026-03-01T00:00:00Z")
CONFIG = SHOP_AND_BILLING
ANSWER = {
    "data": {
        "users": [
            {"app": "shop", "plan": "pro"},
            {"app": "shop", "plan": "free"},
            {"app": "billing", "plan": "pro"},
        ],
        "revenue": [
            {"app": "shop", "amount": 120.5},
            {"app": "shop", "amount": "79.5"},
            {"app": "billing", "amount": 40},
        ],
        "adoption": {"checkout_v2": 0.42},
    }
}
MEASURES = [
    {"metric": "active_users", "select": "$.data.users[*]", "labels": {"app": "$.app"}},
    {
        "metric": "revenue",
        "select": "$.data.revenue[*]",
        "value": "$.amount",
        "labels": {"app": "$.app"},
    },
    {"metric": "feature_adoption", "select": "$.data.adoption", "value": "$.checkout_v2"},
]


def http_json(monkeypatch: pytest.MonkeyPatch, **config: Any) -> HttpJson:
    settings: dict[str, Any] = {"type": "http_json", "name": "usage", "token_env": "USAGE_TOKEN"}
    settings |= {"url": URL, "app": "shop", "measures": MEASURES, **config}
    source: HttpJson = source_with_secret(monkeypatch, TOKEN, settings, CONFIG, clock=lambda: NOW)
    return source


@responses.activate
def test_measures_are_counted_or_summed_per_app_and_a_304_keeps_them(monkeypatch):
    responses.get(URL, json=ANSWER, headers={"ETag": '"u1"'})
    responses.get(URL, status=304)
    source = http_json(monkeypatch)

    first = source.poll(SourceState())
    second = source.poll(SourceState(validators=first.validators))

    # shop: 2 users, 120.5 + 79.5 = 200; billing: 1 user, 40; adoption of the default app.
    assert business_values(first.events) == {
        ("active_users", "shop", "payments"): 2,
        ("active_users", "billing", "finance"): 1,
        ("revenue", "shop", "payments"): 200.0,
        ("revenue", "billing", "finance"): 40.0,
        ("feature_adoption", "shop", "payments"): 0.42,
    }
    assert first.problems == []
    assert second.events == []
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert responses.calls[1].request.headers["If-None-Match"] == '"u1"'

    text = exposition(first.events)
    assert value(text, "kpi_business_value", app="shop", metric="revenue") == 200.0
    assert value(text, "kpi_business_value", app="billing", metric="active_users") == 1
    assert value(text, "kpi_business_value", team="payments", metric="feature_adoption") == 0.42


@responses.activate
def test_a_post_sends_its_json_body_and_a_custom_token_header(monkeypatch):
    responses.post(URL, json={"total": 7})

    poll = http_json(
        monkeypatch,
        method="POST",
        body={"query": "active"},
        token_header="X-Api-Key",
        token_prefix="",
        measures=[{"metric": "active_users", "value": "$.total"}],
    ).poll(SourceState())

    assert business_values(poll.events) == {("active_users", "shop", "payments"): 7}
    request = responses.calls[0].request
    assert json.loads(request.body or b"") == {"query": "active"}
    assert request.headers["X-Api-Key"] == TOKEN
    assert "Authorization" not in request.headers


@responses.activate
@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (True, "got true"),
        (None, "got null"),
        ("n/a", "got 'n/a'"),
        ("NaN", "got 'NaN'"),
        ("inf", "got 'inf'"),
        ({"v": 1}, "got dict"),
    ],
)
def test_a_value_that_is_not_a_finite_number_is_refused_naming_measure_and_path(
    monkeypatch, amount, shown
):
    revenue = [{"app": "shop", "amount": 10}, {"app": "shop", "amount": amount}]
    responses.get(URL, json={"data": {"revenue": revenue, "users": [], "adoption": {}}})

    poll = http_json(monkeypatch, measures=[MEASURES[1]]).poll(SourceState())

    # The bad item is left out; the good one still counts.
    assert business_values(poll.events) == {("revenue", "shop", "payments"): 10.0}
    assert len(poll.problems) == 1
    assert poll.problems[0].startswith(
        "measure revenue: $.data.revenue[1].amount: expected a finite number, "
    )
    assert shown in poll.problems[0]


@responses.activate
def test_a_missing_label_or_selection_is_a_problem_of_its_measure(monkeypatch):
    responses.get(URL, json={"data": {"users": [{"app": "shop"}, {"plan": "free"}]}})

    poll = http_json(monkeypatch, measures=MEASURES[:2]).poll(SourceState())

    assert business_values(poll.events) == {("active_users", "shop", "payments"): 1}
    assert poll.problems == [
        "measure active_users: $.data.users[1].app: missing",
        "measure revenue: $.data.revenue[*] matches nothing",
    ]


def test_selectors_follow_the_documented_grammar():
    document = {"a": {"b": [{"c": 1}, {"c": 2}], "odd key": 3}}

    assert list(select(document, "$.a.b[*].c")) == [("$.a.b[0].c", 1), ("$.a.b[1].c", 2)]
    assert list(select(document, "$.a.b[-1].c")) == [("$.a.b[-1].c", 2)]
    assert list(select(document, "$.a['odd key']")) == [("$.a['odd key']", 3)]
    assert [v for _, v in select(document, "$.a.*")] == [[{"c": 1}, {"c": 2}], 3]
    assert list(select(document, "$.a.b[5]")) == []
    assert parse("$") == ()
    for bad in ("a.b", "$.a..b", "$[?(@.x)]", "$.a[x]"):
        with pytest.raises(SelectorError):
            parse(bad)


def test_bad_metric_names_and_selectors_are_configuration_errors():
    base = "sources: [{type: http_json, name: u, url: 'https://x.test', measures: [%s]}]"
    with pytest.raises(
        ConfigError, match=r"measures\[0\]\.metric: metric .Active-Users.: expected lower-case"
    ):
        parse_config(base % "{metric: Active-Users}")
    with pytest.raises(ConfigError, match="must start with"):
        parse_config(base % "{metric: users, select: data.items}")
    with pytest.raises(ConfigError, match="unexpected"):
        parse_config(base % "{metric: users, value: '$.a[?(@.x)]'}")
    with pytest.raises(ConfigError, match=r"labels\.person"):
        parse_config(base % "{metric: users, labels: {person: '$.login'}}")
    with pytest.raises(ConfigError, match="one measure per metric: users"):
        parse_config(base % "{metric: users}, {metric: users}")
