"""Opsgenie (Alert API v2): every alert matching ``query`` becomes an Incident
``opsgenie/{id}``, as :mod:`.alert_lists` says.

Alerts rather than Opsgenie's Incident API: an incident in its list carries no
acknowledgement or resolution time, an alert does (``report.ackTime``, ``report.closeTime``:
milliseconds after ``createdAt``). ``query`` (Opsgenie's alert search syntax, default
``priority: (P1 OR P2)``) tells which alerts are incidents. Opsgenie ends on 5 April 2027:
its successor is the ``jsm_ops`` source (:mod:`.jsm_ops`).

Requests. ONE fixed URL: ``GET /v2/alerts?query=createdAt >= <floor> AND (<query>)
&sort=updatedAt&order=desc&limit=100``, ``Authorization: GenieKey <key>``; ``paging.next``
is followed while the page holds alerts updated since the cursor. Opsgenie pages by offset
up to 20,000 alerts: a first sync with more alerts than that in the horizon stops there
(narrow ``query`` or ``horizon``). Malformed JSON, a bad key or spent retries fail the poll
as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from .alert_lists import AlertList, AlertSearch
from .registry import SourceType


class OpsgenieSource(AlertSearch):
    type: Literal["opsgenie"]
    api_url: str = Field(
        "https://api.opsgenie.com", description="API root (EU: https://api.eu.opsgenie.com)."
    )


class Opsgenie(AlertList[OpsgenieSource]):
    """Polls the alerts of one Opsgenie account."""

    system = "Opsgenie"
    prefix = "opsgenie"
    values = "data"

    def list_url(self) -> str:
        return f"{self.api}/v2/alerts"

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"GenieKey {token}"}

    def following(self, body: Mapping[str, Any]) -> str | None:
        following = (body.get("paging") or {}).get("next")
        return str(following) if following else None


def _describe(source: Opsgenie) -> list[str]:
    return source.describe(source.api)


SOURCE_TYPE = SourceType("opsgenie", OpsgenieSource, Opsgenie.build, _describe)
