"""A stand-in for Snyk's REST API, served through ``responses``, as its reference describes
``GET /orgs/{org_id}/projects`` and ``GET /orgs/{org_id}/issues``: JSON:API documents
(``jsonapi``, ``data``, ``links``), the ``version`` query parameter required, ``limit`` and the
opaque ``starting_after`` cursor of ``links.next`` (written relative to the REST root),
``updated_after`` strictly after, ``Authorization: token ...``, JSON:API error objects, and
queued one-off replies (a 429 with ``Retry-After``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import responses

from kpi_exporter.sources.times import parse_time
from tests.fake_replies import QueuedReplies, Reply

API = "https://api.snyk.test/rest"
ORG = "a1b2c3d4-0000-4000-8000-00000000000a"
TOKEN = "snyk-s3cret-token"


def project(id_: str, name: str) -> dict[str, Any]:
    """A project resource: what the source reads is its ``name``."""
    return {
        "id": id_,
        "type": "project",
        "attributes": {
            "name": name,
            "type": "npm",
            "target_file": name.partition(":")[2],
            "origin": "github",
            "status": "active",
            "created": "2026-01-01T00:00:00.000Z",
        },
        "relationships": {"organization": {"data": {"id": ORG, "type": "org"}}},
    }


def issue(
    id_: str,
    severity: str,
    created: str,
    *,
    project_id: str,
    status: str = "open",
    ignored: bool = False,
    updated: str | None = None,
    resolved: str | None = None,
    kind: str = "package_vulnerability",
) -> dict[str, Any]:
    """An issue resource, with the attributes of the reference (``key``, ``title``,
    ``effective_severity_level``, ``status``, ``ignored``, ``resolution``, times)."""
    attributes: dict[str, Any] = {
        "key": f"SNYK-JS-PKG-{id_}",
        "title": f"Issue {id_}",
        "type": kind,
        "status": status,
        "ignored": ignored,
        "effective_severity_level": severity,
        "created_at": created,
        "updated_at": updated or created,
        "problems": [{"id": f"CVE-2026-{id_}", "source": "NVD", "type": "vulnerability"}],
        "coordinates": [{"is_fixable_snyk": True, "representations": []}],
    }
    if resolved is not None:
        attributes["resolution"] = {"type": "fixed", "resolved_at": resolved}
    return {
        "id": id_,
        "type": "issue",
        "attributes": attributes,
        "relationships": {
            "organization": {"data": {"id": ORG, "type": "organization"}},
            "scan_item": {"data": {"id": project_id, "type": "project"}},
        },
    }


def error(status: int, detail: str) -> str:
    return json.dumps(
        {
            "jsonapi": {"version": "1.0"},
            "errors": [{"status": str(status), "title": "Error", "detail": detail}],
        }
    )


@dataclass
class FakeSnyk(QueuedReplies):
    """The organisation ``org``'s projects and issues (by id), served ``page_size`` a page."""

    api: str = API
    org: str = ORG
    page_size: int | None = None
    projects: list[dict[str, Any]] = field(default_factory=list)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, *resources: dict[str, Any]) -> None:
        """Put issues in (a later one with the same id replaces it: a state change)."""
        self.issues.update((resource["id"], resource) for resource in resources)

    def install(self, mock: responses.RequestsMock) -> None:
        pattern = re.compile(re.escape(self.api) + r"/orgs/[^/?]+/(projects|issues)(\?.*)?$")
        mock.add_callback(responses.GET, pattern, callback=self.answer)

    def answer(self, request: requests.PreparedRequest) -> Reply:
        parts, query, queued = self.received(request)
        if queued is not None:
            return queued
        headers = {"Content-Type": "application/vnd.api+json"}
        if request.headers.get("Authorization") != f"token {TOKEN}":
            return 401, headers, error(401, "Unauthorized")
        if "version" not in query:
            return 400, headers, error(400, "the version query parameter is required")
        org, kind = parts.path.rsplit("/", 3)[-2:]
        if org != self.org:
            return 404, headers, error(404, "Org not found")
        if kind == "projects":
            items = self.projects
        else:
            items = list(self.issues.values())
            if "updated_after" in query:
                after = parse_time(query["updated_after"])
                items = [i for i in items if parse_time(i["attributes"]["updated_at"]) > after]
        limit = min(int(query.get("limit", "10")), self.page_size or 100)
        start = int(query.get("starting_after", "v1.0").removeprefix("v1."))
        page = items[start : start + limit]
        path = parts.path.removeprefix(urlsplit(self.api).path)  # relative to the REST root
        links = {"self": f"{path}?{parts.query}"}
        if start + limit < len(items):
            following = {**query, "starting_after": f"v1.{start + limit}"}
            links["next"] = f"{path}?{urlencode(sorted(following.items()))}"
        body = {"jsonapi": {"version": "1.0"}, "data": page, "links": links}
        headers["snyk-version-served"] = query["version"]
        return 200, headers, json.dumps(body)
