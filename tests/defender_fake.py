"""A stand-in for Microsoft Defender Vulnerability Management's export assessment API and the
Entra ID token endpoint, served through ``responses``, as their references describe them:

- ``POST {login}/{tenant}/oauth2/v2.0/token`` (form: ``grant_type=client_credentials``,
  ``client_id``, ``client_secret``, ``scope``) answers ``access_token`` and ``expires_in``, or
  400/401 with ``error`` and ``error_description`` (``AADSTS...``);
- ``GET /api/machines/SoftwareVulnerabilitiesByMachine?pageSize=`` (the full export) and
  ``GET /api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime=&pageSize=`` (the delta:
  every change of the six-hour period ``sinceTime`` falls into and later; at most 14 days
  back): OData answers (``@odata.context``, ``value``, an absolute ``@odata.nextLink`` with a
  ``$skiptoken``), records in the reference's fields and time format
  (``2020-11-03 10:13:34.8476880``); a wrong bearer token is 401 with an OData ``error``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import responses

from kpi_exporter.sources.times import parse_time
from tests.entra_fake import EntraLogin

API = "https://api.defender.test"
LOGIN = "https://login.defender.test"
TENANT = "6f1c0b2e-0000-4000-8000-0000000000aa"
CLIENT = "0a1b2c3d-0000-4000-8000-0000000000bb"
SECRET = "defender-client-s3cret"
PERIOD = 6 * 3600  # Defender generates the delta data every six hours

Reply = tuple[int, dict[str, str], str]


def at(text: str) -> str:
    """The export's time format: ``2026-11-03T10:00`` -> ``2026-11-03 10:00:00.0000000``."""
    return text.replace("T", " ") + ":00.0000000"


def record(
    device: str,
    software: str,
    cve: str | None,
    severity: str | None,
    first_seen: str,
    *,
    group: str = "Unassigned",
    name: str = "",
    version: str = "1.0.0",
) -> dict[str, Any]:
    """A record of the full export: one device, software version and CVE."""
    return {
        "id": f"{device}_{software}_{version}_{cve or ''}_",
        "deviceId": device,
        "rbacGroupName": group,
        "deviceName": name or f"{device}.corp.test",
        "osPlatform": "Windows11",
        "osVersion": "10.0.22631.4460",
        "osArchitecture": "x64",
        "softwareVendor": "vendor",
        "softwareName": software,
        "softwareVersion": version,
        "cveId": cve,
        "cvssScore": None,
        "vulnerabilitySeverityLevel": severity,
        "recommendedSecurityUpdate": None,
        "recommendedSecurityUpdateId": None,
        "diskPaths": [],
        "registryPaths": [],
        "firstSeenTimestamp": at(first_seen),
        "lastSeenTimestamp": at(first_seen),
        "exploitabilityLevel": "NoExploit",
        "recommendationReference": f"va-_-vendor-_-{software}",
        "securityUpdateAvailable": True,
    }


def change(base: dict[str, Any], status: str, event: str, **fields: Any) -> dict[str, Any]:
    """A record of the delta export: ``base`` with ``status`` and ``eventTimestamp``."""
    return {**base, **fields, "isOnboarded": True, "status": status, "eventTimestamp": at(event)}


def odata_error(status: int, code: str, message: str) -> Reply:
    body = {"error": {"code": code, "message": message, "target": "00000000-trace"}}
    return status, {"Content-Type": "application/json"}, json.dumps(body)


@dataclass
class FakeDefender(EntraLogin):
    snapshot: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    page_size: int | None = None  # the largest page served, whatever is asked
    now: float = 0.0  # the fake's clock: the delta reaches 14 days back from it
    seen: list[str] = field(default_factory=list)  # METHOD path?query of every request

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(
            responses.POST, f"{LOGIN}/{TENANT}/oauth2/v2.0/token", callback=self.token
        )
        pattern = re.compile(re.escape(API) + r"/api/machines/SoftwareVulnerabilit\w+(\?.*)?$")
        mock.add_callback(responses.GET, pattern, callback=self.export)

    def credentials(self) -> tuple[str, str, str]:
        return f"{API}/.default", CLIENT, SECRET

    def export(self, request: requests.PreparedRequest) -> Reply:
        parts = urlsplit(request.url or "")
        self.seen.append(f"GET {parts.path}?{parts.query}")
        if request.headers.get("Authorization") not in [f"Bearer {t}" for t in self.tokens]:
            return odata_error(401, "Unauthorized", "Authorization token is invalid")
        query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
        if parts.path.endswith("ChangesByMachine"):
            if "sincetime" not in query:
                return odata_error(400, "InvalidRequestBody", "sinceTime is required")
            since = parse_time(query["sincetime"])
            if since < self.now - 14 * 86400:
                return odata_error(400, "InvalidRequestBody", "sinceTime is too old")
            period = since - since % PERIOD
            items = [c for c in self.changes if parse_time(c["eventTimestamp"]) >= period]
            context = "DeltaAssetVulnerability"
        else:
            items, context = self.snapshot, "AssetVulnerability"
        size = min(int(query.get("pagesize", "50000")), self.page_size or 200_000)
        start = int(query.get("$skiptoken", "0"))
        body: dict[str, Any] = {
            "@odata.context": f"{API}/api/$metadata#Collection(microsoft.windowsDefenderATP"
            f".api.{context})",
            "value": items[start : start + size],
        }
        if start + size < len(items):
            following = {**query, "pagesize": str(size), "$skiptoken": str(start + size)}
            body["@odata.nextLink"] = f"{API}{parts.path}?{urlencode(sorted(following.items()))}"
        return 200, {"Content-Type": "application/json"}, json.dumps(body)
