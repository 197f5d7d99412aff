"""A stand-in for the Application Insights query API and the Entra ID token endpoint, served
through ``responses``, as their references describe them:

- ``POST {login}/{tenant}/oauth2/v2.0/token`` (form: ``grant_type=client_credentials``,
  ``client_id``, ``client_secret``, ``scope`` ``{api}/.default``) answers ``access_token`` and
  ``expires_in``, or 401 with ``error`` and ``error_description`` (``AADSTS...``);
- ``POST /v1/apps/{appId}/query`` (JSON body ``query`` and ``timespan``, here an ISO 8601
  interval ``start/end``) answers ``{"tables": [{"name": "PrimaryResult", "columns": [{"name",
  "type"}], "rows": [[...]]}]}``; errors are ``{"error": {"message", "code"}}`` (401
  ``AuthorizationRequiredError``, 404 ``PathNotFoundError``, 400 ``BadArgumentError``); a
  throttled request is 429 with ``Retry-After``.

The fake runs the one query the source sends (a summary of a component's ``requests`` and
``availabilityResults``) over the records it holds inside the timespan; KQL's ``percentile`` is
taken as the nearest rank (exact on these small sets).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import responses

from kpi_exporter.sources.times import parse_time
from tests.entra_fake import EntraLogin

API = "https://api.appinsights.test"
LOGIN = "https://login.azure.test"
TENANT = "6f1c0b2e-0000-4000-8000-0000000000cc"
CLIENT = "0a1b2c3d-0000-4000-8000-0000000000dd"
SECRET = "azure-client-s3cret"

Reply = tuple[int, dict[str, str], str]
# The summary query: the latency threshold in milliseconds is its one variable part.
QUERY = re.compile(
    r"requests \| summarize total = count\(\), failed = countif\(not\(tobool\(success\)\)\),"
    r" fast = countif\(duration <= (?P<threshold>[0-9.]+)\), p95 = percentile\(duration, 95\)"
    r" \| extend tests = toscalar\(availabilityResults \| count\),"
    r" passed = toscalar\(availabilityResults \| where tobool\(success\) \| count\)$"
)
COLUMNS = [
    {"name": "total", "type": "long"},
    {"name": "failed", "type": "long"},
    {"name": "fast", "type": "long"},
    {"name": "p95", "type": "real"},
    {"name": "tests", "type": "long"},
    {"name": "passed", "type": "long"},
]


# The component both the source's tests and the end-to-end test read: its SLOs' objectives.
SHOP_ID = "11111111-0000-4000-8000-00000000a001"
SHOP_WEB = {
    "name": "shop-web",
    "app_id": SHOP_ID,
    "app": "shop",
    "availability": 99.5,
    "success": 99.5,
    "latency": 95,
    "latency_threshold": "500ms",
}


def requests_at(at: float, fast: int, slow: int, failed: int) -> list[tuple[float, float, bool]]:
    """``fast`` requests of 120 ms and ``slow`` ones of 900 ms at ``at``, the first
    ``failed`` failing."""
    durations = [120.0] * fast + [900.0] * slow
    return [(at, duration, index >= failed) for index, duration in enumerate(durations)]


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {"error": {"message": message, "code": code, "correlationId": "00000000-trace"}}
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)


@dataclass
class Telemetry:
    """A component's records: requests (time, duration in ms, success) and availability test
    results (time, success)."""

    requests: list[tuple[float, float, bool]] = field(default_factory=list)
    availability: list[tuple[float, bool]] = field(default_factory=list)


@dataclass
class FakeApplicationInsights(EntraLogin):
    components: dict[str, Telemetry] = field(default_factory=dict)  # Application ID -> records
    api: str = API  # the API root the token's scope names (a local server's when served so)
    queued: list[Reply] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # METHOD path (timespan) of every request

    def routes(self) -> list[tuple[str, str, Any]]:
        """(method, path pattern, callback) of the token endpoint and the query API."""
        return [
            ("POST", re.escape(f"/{TENANT}/oauth2/v2.0/token") + "$", self.token),
            ("POST", r"/v1/apps/[^/]+/query$", self.query),
        ]

    def install(self, mock: responses.RequestsMock) -> None:
        token, query = self.routes()
        mock.add_callback(responses.POST, re.compile(re.escape(LOGIN) + token[1]), token[2])
        mock.add_callback(responses.POST, re.compile(re.escape(API) + query[1]), query[2])

    def credentials(self) -> tuple[str, str, str]:
        return f"{self.api}/.default", CLIENT, SECRET

    def query(self, request: requests.PreparedRequest) -> Reply:
        path = urlsplit(request.url or "").path
        body: dict[str, Any] = json.loads(request.body or b"{}")
        self.seen.append(f"POST {path} {body.get('timespan')}")
        if self.queued:
            return self.queued.pop(0)
        if request.headers.get("Authorization") not in [f"Bearer {t}" for t in self.tokens]:
            return error(401, "AuthorizationRequiredError", "Valid authentication was not provided")
        app_id = path.split("/")[3]
        if app_id not in self.components:
            return error(404, "PathNotFoundError", f"The requested path does not exist: {app_id}")
        matched = QUERY.match(str(body.get("query", "")))
        start, _, end = str(body.get("timespan", "")).partition("/")
        if matched is None or not start or not end:
            return error(400, "BadArgumentError", "The request had some invalid properties")
        low, high = parse_time(start), parse_time(end)
        threshold = float(matched["threshold"])
        telemetry = self.components[app_id]
        durations = [(d, ok) for t, d, ok in telemetry.requests if low <= t < high]
        tests = [ok for t, ok in telemetry.availability if low <= t < high]
        ranked = sorted(d for d, _ in durations)
        p95: float | str = ranked[math.ceil(0.95 * len(ranked)) - 1] if ranked else "NaN"
        row = [
            len(durations),
            sum(1 for _, ok in durations if not ok),
            sum(1 for d, _ in durations if d <= threshold),
            p95,
            len(tests),
            sum(tests),
        ]
        table = {"name": "PrimaryResult", "columns": COLUMNS, "rows": [row]}
        return 200, {"Content-Type": "application/json"}, json.dumps({"tables": [table]})
