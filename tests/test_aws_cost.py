"""The AWS Cost Explorer source, against botocore's Stubber: spend per app and team from two
pages of daily groups, untagged spend to the defaults, an estimated day read again and
updated (never added twice through the pipeline and the store), a failing call leaving the
stored days, and an amount that is not a number reported and skipped. Every expectation is
computed by hand in the test."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.exposition import render
from kpi_exporter.kpis import aggregate
from kpi_exporter.model import CostLine, Event
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.aws_cost import AwsCost, AwsCostSource, cost_explorer
from kpi_exporter.store import SourceState, Store
from tests.support import ts, value

CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments}
  finder: {team: search}
"""
NOW = ts("2026-11-03T12:00:00Z")
# The first poll reads the default 90 days back, up to today included (End is exclusive).
FIRST = {"Start": "2026-08-05", "End": "2026-11-04"}
FAKE_KEY = "AKIAFAKEFORTESTS0000"
BY_APP_AND_TEAM = [{"Type": "TAG", "Key": "app"}, {"Type": "TAG", "Key": "team"}]


def group(keys: list[str], amount: str, unit: str = "USD") -> dict[str, Any]:
    return {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": unit}}}


def day(date: str, *groups: dict[str, Any], estimated: bool = False) -> dict[str, Any]:
    end = (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()
    return {
        "TimePeriod": {"Start": date, "End": end},
        "Total": {},
        "Groups": list(groups),
        "Estimated": estimated,
    }


def request(period: dict[str, str], group_by: list[dict[str, str]], **more: str) -> dict[str, Any]:
    return {
        "TimePeriod": period,
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": group_by,
        **more,
    }


@pytest.fixture
def client() -> Iterator[tuple[Any, Stubber]]:
    ce = boto3.session.Session().client(
        "ce",
        region_name="us-east-1",
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key="fake-secret-for-tests",
    )
    with Stubber(ce) as stubber:
        yield ce, stubber
        stubber.assert_no_pending_responses()


def aws(ce: Any, **options: Any) -> AwsCost:
    config = AwsCostSource(type="aws_cost", name="aws", **options)
    return AwsCost(config, Ownership(parse_config(CONFIG)), client=ce, clock=lambda: NOW)


def metrics(events: list[Event]) -> str:
    settings = parse_config(CONFIG).kpi_settings()
    return render(aggregate(events, settings, lambda: NOW).exposition).text.decode()


def test_two_pages_of_groups_become_spend_per_app_and_team(client: tuple[Any, Stubber]) -> None:
    ce, stubber = client
    shop = ["app$shop", "team$payments"]
    stubber.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                day("2026-10-31", group(shop, "100")),  # October: not this month
                day(
                    "2026-11-01",
                    group(shop, "10.25"),
                    group(["app$finder", "team$"], "3"),  # no team tag: the app's team
                    group(["app$", "team$"], "1.5"),  # untagged: the defaults
                ),
            ],
            "NextPageToken": "page-2",
        },
        request(FIRST, BY_APP_AND_TEAM),
    )
    stubber.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                # The same day again on the next page: its groups add up.
                day("2026-11-01", group(["app$shop", "team$platform"], "2")),
                day("2026-11-02", group(shop, "7.5")),
                day("2026-11-03", group(shop, "1.25"), estimated=True),
            ]
        },
        request(FIRST, BY_APP_AND_TEAM, NextPageToken="page-2"),
    )
    poll = aws(ce, team_tag="team").poll(SourceState())
    assert poll.problems == []
    lines = {e.key: e.amount for e in poll.events if isinstance(e, CostLine)}
    assert lines == {
        "aws/shop/payments/USD/2026-10-31": 100,
        "aws/shop/payments/USD/2026-11-01": 10.25,
        "aws/finder/search/USD/2026-11-01": 3,
        "aws/unknown/unassigned/USD/2026-11-01": 1.5,
        "aws/shop/platform/USD/2026-11-01": 2,
        "aws/shop/payments/USD/2026-11-02": 7.5,
        "aws/shop/payments/USD/2026-11-03": 1.25,
    }
    assert {e.provider for e in poll.events if isinstance(e, CostLine)} == {"aws"}
    text = metrics(poll.events)
    labels = {"provider": "aws", "currency": "USD"}
    # November: 10.25 + 7.5 + 1.25 (today, estimated) = 19; October's 100 is not counted.
    assert value(text, "kpi_cost_month_to_date", app="shop", team="payments", **labels) == 19
    assert value(text, "kpi_cost_month_to_date", app="shop", team="platform", **labels) == 2
    assert value(text, "kpi_cost_month_to_date", app="finder", team="search", **labels) == 3
    untagged = {"app": "unknown", "team": "unassigned", **labels}
    assert value(text, "kpi_cost_month_to_date", **untagged) == 1.5
    # Next poll: the last complete day (Nov 2) minus 2 days, before the estimated Nov 3.
    assert json.loads(poll.cursor or "") == {"start": "2026-10-31"}


def test_an_estimated_day_is_read_again_and_updated_and_a_failure_keeps_the_days(
    client: tuple[Any, Stubber], tmp_path: Path
) -> None:
    ce, stubber = client
    source = aws(ce, team_tag="team")
    pipeline = Pipeline(Store(tmp_path / "s.db"), clock=lambda: NOW)
    shop, finder = ["app$shop", "team$payments"], ["app$finder", "team$search"]
    stubber.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                day("2026-11-02", group(shop, "7.5")),
                day("2026-11-03", group(shop, "1.25"), group(finder, "0.5"), estimated=True),
            ]
        },
        request(FIRST, BY_APP_AND_TEAM),
    )
    first = source.poll(SourceState())
    pipeline.record("aws", first)
    # Six hours later: from Nov 2 - 2 days; Nov 3 is now 4.0 for shop and finder has none.
    again = {"Start": "2026-10-31", "End": "2026-11-04"}
    stubber.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                day("2026-10-31"),
                day("2026-11-01"),
                day("2026-11-02", group(shop, "7.5")),
                day("2026-11-03", group(shop, "4.0"), estimated=True),
            ]
        },
        request(again, BY_APP_AND_TEAM),
    )
    pipeline.record("aws", source.poll(SourceState(cursor=first.cursor)))
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    # 7.5 + 4.0: the estimated 1.25 was replaced under the same key, not added to.
    shop_labels = {"provider": "aws", "app": "shop", "team": "payments", "currency": "USD"}
    assert value(text, "kpi_cost_month_to_date", **shop_labels) == 11.5
    assert value(text, "kpi_cost_month_to_date", app="finder", provider="aws") == 0
    # Throttled: the poll fails with the operation and the code, never a credential.
    stubber.add_client_error(
        "get_cost_and_usage", service_error_code="ThrottlingException", http_status_code=400
    )
    with pytest.raises(SourceError, match="GetCostAndUsage failed: ThrottlingException") as error:
        source.poll(SourceState(cursor=first.cursor))
    assert FAKE_KEY not in str(error.value)
    pipeline.refresh()
    text = pipeline.cache.current.text.decode()
    assert value(text, "kpi_cost_month_to_date", **shop_labels) == 11.5


def test_an_amount_that_is_not_a_number_is_a_problem_and_the_rest_counts(
    client: tuple[Any, Stubber],
) -> None:
    ce, stubber = client
    stubber.add_response(
        "get_cost_and_usage",
        {
            "ResultsByTime": [
                day("2026-11-02", group(["app$shop"], "abc"), group(["app$finder"], "2.5")),
                day("2026-11-03", group(["app$shop"], "NaN"), group(["app$shop"], "1")),
            ]
        },
        # Without team_tag: a single GroupBy on the app tag.
        request(FIRST, [{"Type": "TAG", "Key": "app"}]),
    )
    poll = aws(ce).poll(SourceState())
    assert poll.problems == [
        "2026-11-02 app$shop: UnblendedCost amount is not a number: 'abc'",
        "2026-11-03 app$shop: UnblendedCost amount is not a number: 'NaN'",
    ]
    lines = {e.key: e.amount for e in poll.events if isinstance(e, CostLine)}
    assert lines == {"aws/finder/search/USD/2026-11-02": 2.5, "aws/shop/payments/USD/2026-11-03": 1}


def test_configuration_needs_boto3_and_refuses_inline_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = AwsCostSource(type="aws_cost", name="aws")
    assert (config.region, config.metric, config.interval) == ("us-east-1", "UnblendedCost", 21600)
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now raises ImportError
    with pytest.raises(ConfigError, match=r"sources\[0\]: .*install kpi-exporter\[cost\]"):
        cost_explorer(config, "sources[0]")
    for inline in ("aws_secret_access_key: abc", "secret: abc"):
        with pytest.raises(ConfigError):
            parse_config(f"sources:\n  - {{type: aws_cost, name: aws, {inline}}}\n")
    with pytest.raises(ConfigError, match="horizon"):
        parse_config("sources:\n  - {type: aws_cost, name: aws, horizon: 400d}\n")
