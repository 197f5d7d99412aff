"""Jira Service Management operations (the JSM ops REST API, Opsgenie's successor): every
alert matching ``query`` becomes an Incident ``jsm_ops/{id}``, as :mod:`.alert_lists` says.

Atlassian moved Opsgenie's alerts into Jira Service Management and keeps their fields and
search syntax; the ops REST API serves them under ``/jsm/ops/api/{cloudId}/v1``, with basic
authentication (an Atlassian account's email and API token). The same semantics as the
``opsgenie`` source, so that moving over is a change of configuration only, and two more
spellings of the acknowledge and close times, which Atlassian's reference leaves
unspecified: after ``report.ackTime`` (``report.closeTime``), a top-level ``ackTime`` or
``acknowledgedAt`` (``closeTime`` or ``closedAt``): a number is milliseconds after
``createdAt``, a string the time itself. ``acknowledged: true`` without any of them leaves
the acknowledgement unknown. An alert open again (reopened) is unresolved, and its earlier
restore time becomes a retraction.

The ops API exposes alerts, not incidents: a JSM incident is a Jira work item, read by the
``jira`` source with an ``incident_jql``.

Requests. ONE fixed URL: ``GET /jsm/ops/api/{cloudId}/v1/alerts?query=createdAt >= <floor>
AND (<query>)&sort=updatedAt&order=desc&size=100&offset=0``; ``links.next`` (a path under
``/jsm/ops/api/{cloudId}``) is followed while the page holds alerts updated since the
cursor, so a steady-state poll costs one request. The API serves at most 20,000 alerts of
one query (offset + size below 20,000): a first sync with more alerts than that in the
horizon stops there, with a warning (narrow ``query`` or ``horizon``). A changed cloud id
starts over with a first sync too. Malformed JSON, a bad token or spent retries fail the
poll as a whole.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field

from ..redaction import basic_authorization
from . import SourceError
from .alert_lists import AlertList, AlertSearch
from .registry import SourceType
from .times import api_time


class JsmOpsSource(AlertSearch):
    type: Literal["jsm_ops"]
    api_url: str = Field(
        "https://api.atlassian.com", pattern=r"^https?://", description="Atlassian API root."
    )
    cloud_id: str = Field(
        pattern=r"^[A-Za-z0-9-]+$",
        description="The site's cloud id (https://<site>.atlassian.net/_edge/tenant_info).",
    )
    email: str = Field(description="The Atlassian account of the API token.")


log = logging.getLogger(__name__)

WINDOW = 20_000  # offset + size must stay below it
# The top-level spellings read after report.<elapsed>, for each time.
SPELLINGS = {"ackTime": ("ackTime", "acknowledgedAt"), "closeTime": ("closeTime", "closedAt")}


class JsmOps(AlertList[JsmOpsSource]):
    """Polls the alerts of one Jira Service Management site through the ops REST API."""

    system = "Jira Service Management ops"
    prefix = "jsm_ops"
    values = "values"
    page_size = ("size", 100)

    @property
    def root(self) -> str:
        """Where ``links.next`` paths start: ``{api}/jsm/ops/api/{cloudId}``."""
        return f"{self.api}/jsm/ops/api/{self.config.cloud_id}"

    def scope(self) -> dict[str, Any]:
        return {"cloud_id": self.config.cloud_id, "query": self.config.query}

    def list_url(self) -> str:
        return f"{self.root}/v1/alerts"

    def headers(self, token: str) -> dict[str, str]:
        return {
            "Accept": "application/json",
            "Authorization": basic_authorization(self.config.email, token),
        }

    def following(self, body: Mapping[str, Any]) -> str | None:
        link = str((body.get("links") or {}).get("next") or "")
        if not link:
            return None
        if link.startswith(("http://", "https://")):
            url = link
        elif link.startswith("/jsm/"):  # a path from the host
            url = self.api + link
        else:  # a path under the cloud id, as the reference's example writes it
            url = self.root + link
        params = dict(parse_qsl(urlsplit(url).query))
        if int(params.get("offset", 0)) + int(params.get("size", self.page_size[1])) >= WINDOW:
            log.warning(
                "%s: the API serves at most %d alerts of one query; the older ones are not "
                "read (narrow query or horizon)",
                self.name,
                WINDOW,
            )
            return None
        return url

    def moment(self, alert: Mapping[str, Any], created: float, elapsed: str) -> float | None:
        found = super().moment(alert, created, elapsed)
        if found is not None:
            return found
        for name in SPELLINGS[elapsed]:
            value = alert.get(name)
            if value is None or value == "" or isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                if value < 0:
                    raise SourceError(f"{self.system} alert {alert.get('id')}: {name} {value}")
                return created + float(value) / 1000
            return api_time(value, self.system)
        return None


def _describe(source: JsmOps) -> list[str]:
    return source.describe(source.root)


SOURCE_TYPE = SourceType("jsm_ops", JsmOpsSource, JsmOps.build, _describe)
