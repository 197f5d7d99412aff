"""AWS spend from the Cost Explorer API (``type: aws_cost``; boto3, the ``cost`` extra).

Each poll calls ``GetCostAndUsage`` with ``Granularity=DAILY``, the configured ``metric``
(``UnblendedCost`` by default) and a ``GroupBy`` on the ``app_tag`` cost-allocation tag (and on
``team_tag`` when set: Cost Explorer allows two), following ``NextPageToken``. A group's keys
come as ``"{tag}${value}"``; an empty value (``"app$"``) is spend without the tag, which goes to
the default owner. The app is the tag's value (its team from the apps mapping), the team is the
``team_tag`` value, else the app's team. One CostLine per day, app, team and currency (the
metric's ``Unit``), provider ``aws``, key ``aws/{app}/{team}/{currency}/{YYYY-MM-DD}``, the
same scheme as the FOCUS source: polling a day again updates it, it never counts twice.

Cost Explorer charges per request, so the default ``interval`` is 6h and polls are
incremental: the first reads ``horizon`` (90d) back, the next ones from the earliest day Cost
Explorer marked ``Estimated`` or two days before the last complete one, whichever is earlier,
up to today (``End`` is exclusive: tomorrow). The cursor keeps that start. A group that a day
read again no longer has (within this process) is set to 0.

Credentials are the standard AWS chain (environment, role, or the configured ``profile``),
never the configuration file. A failing call (``ClientError``, throttling, no credentials)
fails the poll with the operation and the error code; the stored days stay. An amount that is
not a finite number is a problem naming the day and the group, and is skipped.
"""

from __future__ import annotations

import importlib
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config_base import ConfigError, Duration, Name, Strict
from ..model import CostLine, Event
from ..ownership import Ownership
from ..store import SourceState
from . import Poll, PolledSource, SourceError
from .registry import SourceContext, SourceType, headline


class AwsCostSource(Strict):
    """AWS spend from the Cost Explorer API (boto3, the ``cost`` extra), one amount per day.

    Credentials come from the standard AWS chain (environment, instance or task role, shared
    profile); never from this file."""

    type: Literal["aws_cost"]
    name: Name
    interval: Duration = Field(
        6 * 3600.0, description="Cost Explorer charges per request: poll a few times a day."
    )
    region: str = Field("us-east-1", description="Region of the Cost Explorer endpoint.")
    profile: str | None = Field(None, description="Shared config profile; else the default chain.")
    app_tag: str = Field(
        "app", min_length=1, description="Cost-allocation tag naming the app (first GroupBy)."
    )
    team_tag: str | None = Field(
        None, description="Cost-allocation tag naming the team (second GroupBy); else the app's."
    )
    metric: Literal["UnblendedCost", "AmortizedCost", "NetUnblendedCost"] = Field(
        "UnblendedCost", description="The Cost Explorer metric that counts as spend."
    )
    horizon: Duration = Field(
        90 * 86400.0,
        le=365 * 86400.0,
        description="How far back the first poll reads (Cost Explorer keeps about 13 months).",
    )

    @model_validator(mode="after")
    def _two_tags(self) -> AwsCostSource:
        if self.team_tag is not None and self.team_tag in ("", self.app_tag):
            raise ValueError("team_tag must be a tag key other than app_tag")
        return self


DAY = 86400
PROVIDER = "aws"
OPERATION = "GetCostAndUsage"
REREAD_DAYS = 2  # complete days read again on every poll (late adjustments)
MAX_PAGES = 1000
Total = tuple[str, str, str, str]  # (YYYY-MM-DD, app, team, currency)


def cost_explorer(config: AwsCostSource, what: str) -> Any:
    """A Cost Explorer client from the standard AWS credential chain; a ConfigError without
    boto3 (the ``cost`` extra) or with an unknown profile."""
    try:
        boto3: Any = importlib.import_module("boto3")
    except ImportError:
        raise ConfigError(
            [f"{what}: type aws_cost needs boto3: install kpi-exporter[cost]"]
        ) from None
    try:
        session = boto3.session.Session(profile_name=config.profile, region_name=config.region)
        return session.client("ce")
    except Exception as error:  # botocore's ProfileNotFound, an unknown region, ...
        raise ConfigError(
            [f"{what}: cannot set up Cost Explorer: {type(error).__name__}"]
        ) from None


class AwsCost(PolledSource[AwsCostSource]):
    """Polls the daily spend of one AWS account (or organisation) from Cost Explorer."""

    def __init__(
        self,
        config: AwsCostSource,
        ownership: Ownership,
        *,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        what: str = "aws_cost",
    ) -> None:
        super().__init__(config, ownership, clock=clock, what=what)
        self.client = client if client is not None else cost_explorer(config, what)
        self._emitted: dict[str, CostLine] = {}  # lines of the last poll, by key

    def window(self, state: SourceState) -> tuple[str, str]:
        """(Start, End) of the next request: ISO dates, End exclusive."""
        today = datetime.fromtimestamp(self.clock(), UTC).date()
        earliest = today - timedelta(seconds=self.config.horizon)
        start = earliest
        if state.cursor:
            try:
                start = max(
                    earliest, datetime.fromisoformat(json.loads(state.cursor)["start"]).date()
                )
            except (ValueError, KeyError, TypeError):
                start = earliest
        start = min(start, today)
        return start.isoformat(), (today + timedelta(days=1)).isoformat()

    def poll(self, state: SourceState) -> Poll:
        start, end = self.window(state)
        results = self._fetch(start, end)
        problems: list[str] = []
        totals: dict[Total, float] = {}
        estimated: set[str] = set()
        complete: set[str] = set()
        for result in results:
            day = _day(result)
            if day is None:
                problems.append(f"{OPERATION}: a result without a valid TimePeriod.Start")
                continue
            if day < start or day >= end:
                continue
            (estimated if result.get("Estimated") else complete).add(day)
            for group in result.get("Groups") or []:
                keys = group.get("Keys") if isinstance(group, Mapping) else None
                keys = [str(k) for k in keys] if isinstance(keys, list) else []
                try:
                    amount, currency = self._amount(group)
                except ValueError as error:
                    problems.append(f"{day} {','.join(keys) or '(no keys)'}: {error}")
                    continue
                app, team = self._owner(keys)
                total = (day, app, team, currency)
                totals[total] = totals.get(total, 0.0) + amount
        lines: list[CostLine] = []
        for (day, app, team, currency), amount in sorted(totals.items()):
            moment = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
            key = f"{PROVIDER}/{app}/{team}/{currency}/{day}"
            line = CostLine(self.name, key, app, team, PROVIDER, moment, round(amount, 6), currency)
            lines.append(line)
        emitted = {line.key: line for line in lines}
        read = estimated | complete
        for key, line in sorted(self._emitted.items()):
            day = key.rsplit("/", 1)[1]
            if key not in emitted and day in read:
                lines.append(replace(line, amount=0.0))  # a group the day no longer has
        self._emitted = {k: v for k, v in self._emitted.items() if k.rsplit("/", 1)[1] not in read}
        self._emitted.update(emitted)
        events: list[Event] = [*lines]
        return Poll(
            events=events, cursor=self._cursor(start, estimated, complete), problems=problems
        )

    def _fetch(self, start: str, end: str) -> list[Mapping[str, Any]]:
        group_by = [{"Type": "TAG", "Key": self.config.app_tag}]
        if self.config.team_tag:
            group_by.append({"Type": "TAG", "Key": self.config.team_tag})
        request: dict[str, Any] = {
            "TimePeriod": {"Start": start, "End": end},
            "Granularity": "DAILY",
            "Metrics": [self.config.metric],
            "GroupBy": group_by,
        }
        botocore: Any = importlib.import_module("botocore.exceptions")
        results: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            try:
                answer = self.client.get_cost_and_usage(**request)
            except botocore.ClientError as error:
                code = error.response.get("Error", {}).get("Code", "unknown")
                raise SourceError(f"Cost Explorer {OPERATION} failed: {code}") from None
            except botocore.BotoCoreError as error:  # no credentials, endpoint unreachable
                name = type(error).__name__
                raise SourceError(f"Cost Explorer {OPERATION} failed: {name}") from None
            page = answer.get("ResultsByTime") if isinstance(answer, Mapping) else None
            if not isinstance(page, list):
                raise SourceError(f"Cost Explorer {OPERATION}: no ResultsByTime in the answer")
            results.extend(r for r in page if isinstance(r, Mapping))
            token = answer.get("NextPageToken")
            if not token:
                return results
            request["NextPageToken"] = token
        raise SourceError(f"Cost Explorer {OPERATION}: more than {MAX_PAGES} pages")

    def _amount(self, group: Any) -> tuple[float, str]:
        metric = self.config.metric
        metrics = group.get("Metrics") if isinstance(group, Mapping) else None
        value = metrics.get(metric) if isinstance(metrics, Mapping) else None
        if not isinstance(value, Mapping):
            raise ValueError(f"no {metric}")
        raw = value.get("Amount")
        try:
            amount = float(raw) if isinstance(raw, str | int | float) else math.nan
        except ValueError:
            amount = math.nan
        if isinstance(raw, bool) or not math.isfinite(amount):
            raise ValueError(f"{metric} amount is not a number: {raw!r}")
        currency = str(value.get("Unit") or "").strip()
        if not currency:
            raise ValueError(f"{metric} has no Unit (currency)")
        return amount, currency

    def _owner(self, keys: list[str]) -> tuple[str, str]:
        app = _tag_value(keys, self.config.app_tag)
        owner = self.ownership.of_app(app) if app else self.ownership.default
        team = _tag_value(keys, self.config.team_tag) if self.config.team_tag else None
        return owner.app, team or owner.team

    def _cursor(self, start: str, estimated: set[str], complete: set[str]) -> str:
        """The next poll's start: the earliest estimated day, or the last complete day minus
        REREAD_DAYS, whichever is earlier; the same start when nothing was read."""
        candidates: list[str] = []
        if estimated:
            candidates.append(min(estimated))
        if complete:
            last = datetime.fromisoformat(max(complete)).date()
            candidates.append((last - timedelta(days=REREAD_DAYS)).isoformat())
        following = max(start, min(candidates)) if candidates else start
        return json.dumps({"start": following})


def _day(result: Mapping[str, Any]) -> str | None:
    period = result.get("TimePeriod")
    start = period.get("Start") if isinstance(period, Mapping) else None
    try:
        return datetime.fromisoformat(str(start)).date().isoformat()
    except ValueError:
        return None


def _tag_value(keys: list[str], tag: str) -> str | None:
    """The value of ``tag`` in a group's keys (``"tag$value"``); None when untagged."""
    prefix = f"{tag}$"
    for key in keys:
        if key.startswith(prefix):
            return key[len(prefix) :] or None
    return None


def _build(config: AwsCostSource, context: SourceContext) -> AwsCost:
    return AwsCost(config, context.ownership, **context.naming())


def _describe(source: AwsCost) -> list[str]:
    config = source.config
    tags = ", ".join(f"tag {t}" for t in (config.app_tag, config.team_tag) if t)
    chain = f"profile {config.profile}" if config.profile else "the AWS chain"
    explorer = f"Cost Explorer {config.metric} in {config.region}, daily by {tags}"
    return [headline(source, "aws_cost", f"{explorer}, credentials from {chain}")]


SOURCE_TYPE = SourceType("aws_cost", AwsCostSource, _build, _describe)
