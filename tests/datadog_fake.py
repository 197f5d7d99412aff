"""A stand-in for Datadog's service level objectives API (v1), served through ``responses``, as
its reference describes ``GET /api/v1/slo`` (``limit``, ``offset``, ``tags_query``; ``data``,
``errors``, ``metadata.page``) and ``GET /api/v1/slo/{slo_id}/history`` (``from_ts``,
``to_ts``; ``data.overall.sli_value``, ``data.thresholds``) and ``GET /api/v1/monitor``
(``page``, ``page_size``, ``monitor_tags``; a JSON array of monitors with ``overall_state``):
the ``DD-API-KEY`` and
``DD-APPLICATION-KEY`` headers, errors as ``{"errors": [...]}``, the ``X-RateLimit-*`` headers
(``X-RateLimit-Reset`` in seconds) and queued one-off replies (a 429)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import requests
import responses

from tests.fake_replies import QueuedReplies, Reply

API = "https://api.datadog.test"
API_KEY = "dd-api-s3cret"
APPLICATION_KEY = "dd-app-s3cret"


def slo(id_: str, name: str, targets: dict[str, float], tags: list[str]) -> dict[str, Any]:
    """An SLO object with one threshold per timeframe."""
    return {
        "id": id_,
        "name": name,
        "type": "metric",
        "description": "",
        "tags": tags,
        "thresholds": [
            {"timeframe": timeframe, "target": target, "target_display": str(target)}
            for timeframe, target in targets.items()
        ],
        "created_at": 1700000000,
        "modified_at": 1700000000,
    }


def monitor(id_: int, name: str, state: str, tags: list[str]) -> dict[str, Any]:
    """A monitor object as ``GET /api/v1/monitor`` lists it."""
    return {
        "id": id_,
        "name": name,
        "type": "metric alert",
        "query": "avg(last_5m):avg:trace.http.request.errors{*} > 10",
        "message": "",
        "tags": tags,
        "options": {"notify_no_data": False},
        "overall_state": state,
        "overall_state_modified": "2026-11-19T10:00:00+00:00",
        "multi": False,
        "priority": None,
        "created": "2026-01-01T00:00:00.000000+00:00",
        "modified": "2026-01-01T00:00:00.000000+00:00",
        "deleted": None,
        "org_id": 1,
    }


def rate_limit(remaining: int = 99, reset: int = 10) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Period": "10",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Name": "slo_history",
    }


@dataclass
class FakeDatadog(QueuedReplies):
    slos: list[dict[str, Any]] = field(default_factory=list)
    sli: dict[str, float | None] = field(default_factory=dict)  # SLO id -> overall sli_value
    monitors: list[dict[str, Any]] = field(default_factory=list)

    PATHS = r"/api/v1/(slo(/[^/?]+/history)?|monitor)(\?.*)?$"

    def routes(self) -> list[tuple[str, str, Any]]:
        """(method, path pattern, callback) of the SLO and monitor APIs."""
        return [("GET", self.PATHS, self.answer)]

    def install(self, mock: responses.RequestsMock) -> None:
        pattern = re.compile(re.escape(API) + self.PATHS)
        mock.add_callback(responses.GET, pattern, callback=self.answer)

    def answer(self, request: requests.PreparedRequest) -> Reply:
        parts, query, queued = self.received(request)
        if queued is not None:
            return queued
        headers = {"Content-Type": "application/json", **rate_limit()}
        if (request.headers.get("DD-API-KEY"), request.headers.get("DD-APPLICATION-KEY")) != (
            API_KEY,
            APPLICATION_KEY,
        ):
            return 403, headers, json.dumps({"errors": ["Forbidden"]})
        if parts.path == "/api/v1/monitor":
            # monitor_tags: every tag listed (comma-separated) must be on the monitor.
            tags = [tag for tag in query.get("monitor_tags", "").split(",") if tag]
            listed = [m for m in self.monitors if all(tag in m["tags"] for tag in tags)]
            number, size = int(query.get("page", "0")), int(query.get("page_size", "100"))
            return 200, headers, json.dumps(listed[number * size : (number + 1) * size])
        if parts.path == "/api/v1/slo":
            wanted = query.get("tags_query")
            found = [s for s in self.slos if wanted is None or wanted in s["tags"]]
            offset, limit = int(query.get("offset", "0")), int(query.get("limit", "1000"))
            page = {"total_count": len(self.slos), "total_filtered_count": len(found)}
            body = {
                "data": found[offset : offset + limit],
                "errors": [],
                "metadata": {"page": page},
            }
            return 200, headers, json.dumps(body)
        id_ = parts.path.split("/")[-2]
        known = {s["id"]: s for s in self.slos}
        if id_ not in known:
            return 404, headers, json.dumps({"errors": ["SLO not found"]})
        if "from_ts" not in query or "to_ts" not in query:
            return 400, headers, json.dumps({"errors": ["from_ts and to_ts are required"]})
        thresholds = {t["timeframe"]: t for t in known[id_]["thresholds"]}
        overall = {"name": known[id_]["name"], "preview": False, "span_precision": 2.0}
        overall["sli_value"] = self.sli.get(id_)
        data = {
            "from_ts": int(query["from_ts"]),
            "to_ts": int(query["to_ts"]),
            "type": "metric",
            "type_id": 1,
            "thresholds": thresholds,
            "overall": overall,
        }
        return 200, headers, json.dumps({"data": data, "errors": None})
