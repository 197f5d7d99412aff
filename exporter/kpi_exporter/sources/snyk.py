"""Snyk (REST API): the issues of one organisation become Vulnerability events
``snyk/{org}/{issue id}``.

- **state**: ``status: resolved`` is fixed at ``resolution.resolved_at`` (else ``updated_at``);
  an open issue with ``ignored: true`` is dismissed at ``updated_at`` (the issue does not say
  when it was ignored); ``open`` is open. A resolved issue found open again is open again:
  its fix stays counted in ``kpi_vulnerabilities_fixed_total`` and shows in the retractions.
- **severity**: ``effective_severity_level`` (the level after any override); ``info`` counts
  as ``low``.
- **app**: the issue's ``scan_item`` is a project; its name (``acme/shop:package.json``) is
  matched against the ``projects`` globs, else its repository part (``acme/shop``) against
  ``apps.*.repos``, else the source's ``app``, else the default app.
- **type**: only the ``issue_types`` listed (license issues are not vulnerabilities).

Requests (JSON:API, ``version`` on every one, ``limit=100``, ``links.next`` followed): each poll
lists the organisation's projects (``GET /orgs/{org}/projects``: their names) and then its
issues, every status. A first sync reads every issue; later polls only those updated since
the newest ``updated_at`` seen, less a minute (``updated_after``). A state change updates an
issue, so it is read again. Issues closed before the horizon are left out. Snyk sends no
validators on these lists; it answers 429 with ``Retry-After``, which the shared client obeys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field

from ..config_base import Credentials, Duration, Name
from ..model import Event, Vulnerability
from ..store import SourceState
from . import Poll, SourceError
from .cursor import dump_cursor, load_cursor
from .findings import FindingsSource, severity_of, skipped
from .http import HttpClient, with_query
from .registry import SourceType, headline
from .times import api_time, iso

IssueType = Literal["package_vulnerability", "code", "config", "cloud", "custom", "license"]
VULNERABILITY_TYPES: list[IssueType] = [
    "package_vulnerability",
    "code",
    "config",
    "cloud",
    "custom",
]


class SnykSource(Credentials):
    """The issues of one Snyk organisation (REST API)."""

    type: Literal["snyk"]
    name: Name
    interval: Duration = 900.0
    api_url: str = Field(
        "https://api.snyk.io/rest", description="REST API root (EU: https://api.eu.snyk.io/rest)."
    )
    org_id: str = Field(min_length=1, description="The organisation's id (Settings > General).")
    version: str = Field(
        "2024-10-15", pattern=r"^\d{4}-\d{2}-\d{2}$", description="REST API version."
    )
    projects: dict[str, str] = Field(
        default_factory=dict, description="Project name glob -> app; first wins."
    )
    app: str | None = Field(None, description="App of the issues no mapping places.")
    issue_types: list[IssueType] = Field(
        default_factory=lambda: list(VULNERABILITY_TYPES),
        min_length=1,
        description="Which issue types count as vulnerabilities.",
    )
    horizon: Duration = Field(365 * 86400.0, description="Issues closed before this are left out.")


SYSTEM = "Snyk"
ACCEPT = "application/vnd.api+json"
LIMIT = 100
OVERLAP = 60.0  # updated_after goes back this far: a change in the same second is read again
SEVERITY_ALIASES = {"info": "low"}


class Snyk(FindingsSource[SnykSource]):
    """Polls the issues of one Snyk organisation."""

    system = SYSTEM

    scoped = ("org_id", "projects", "issue_types", "horizon")

    def read(self, state: SourceState) -> Poll:
        token = self.poll_token()
        http = HttpClient.for_poll(
            self, state, lambda: {"Authorization": f"token {token}", "Accept": ACCEPT}
        )
        now = self.clock()
        saved = load_cursor(state.cursor, self.settings, self.name)
        org = f"{self.api}/orgs/{quote(self.config.org_id, safe='')}"
        names = {
            str(project["id"]): str(project["attributes"].get("name") or "")
            for project in self.resources(http, f"{org}/projects", {})
        }
        query: dict[str, str] = {}
        newest: float | None = saved["updated"] if saved else None
        if newest is not None:
            query["updated_after"] = iso(newest - OVERLAP)
        events: list[Event] = []
        problems: list[str] = []
        oldest = now - self.config.horizon
        for issue in self.resources(http, f"{org}/issues", query):
            try:
                attributes = issue["attributes"]
                updated = api_time(attributes.get("updated_at"), SYSTEM)
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
                if attributes.get("type") not in self.config.issue_types:
                    continue
                finding = self.finding(issue, names)
            except (KeyError, TypeError, ValueError, AttributeError, SourceError) as error:
                problems.append(skipped("issue", issue, error))
                continue
            if finding.closed_at is None or finding.closed_at >= oldest:
                events.append(finding)
        return Poll(
            events=events,
            cursor=dump_cursor(self.settings, updated=newest),
            validators=http.validators,
            problems=problems,
        )

    def resources(
        self, http: HttpClient, url: str, query: Mapping[str, str]
    ) -> Iterator[Mapping[str, Any]]:
        """Every resource of a JSON:API list, following ``links.next`` to the end."""
        params = {"version": self.config.version, "limit": str(LIMIT), **query}
        page_url: str | None = with_query(url, params)
        seen: set[str] = set()
        while page_url:
            if page_url in seen:
                raise SourceError(f"GET {url}: links.next points back to a page already read")
            seen.add(page_url)
            body = http.get(page_url, conditional=False).json()
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise SourceError(f"GET {url}: expected a JSON:API document with a list 'data'")
            yield from data
            page_url = self.next_url((body.get("links") or {}).get("next"))

    def next_url(self, link: Any) -> str | None:
        """The absolute URL of ``links.next``: Snyk writes it relative to the REST root
        (``/orgs/...``), some versions with the ``/rest`` prefix (``/rest/orgs/...``)."""
        if not link:
            return None
        if not isinstance(link, str):
            raise SourceError(f"unexpected links.next {link!r} in a {SYSTEM} response")
        if link.startswith(("http://", "https://")):
            return link
        root = urlsplit(self.api)
        if root.path and link.startswith(root.path.rstrip("/") + "/"):
            return f"{root.scheme}://{root.netloc}{link}"
        return self.api + "/" + link.lstrip("/")

    def finding(self, issue: Mapping[str, Any], names: Mapping[str, str]) -> Vulnerability:
        """The Vulnerability of one issue resource."""
        id_ = str(issue["id"])
        attributes = issue["attributes"]
        created = api_time(attributes.get("created_at"), SYSTEM)
        if created is None:
            raise ValueError("no created_at")
        updated = api_time(attributes.get("updated_at"), SYSTEM)
        resolution = attributes.get("resolution") or {}
        if attributes["status"] == "resolved":
            state = "fixed"
            closed = api_time(resolution.get("resolved_at"), SYSTEM) or updated or created
        elif attributes["status"] != "open":
            raise ValueError(f"status {attributes['status']!r}")
        elif attributes.get("ignored"):
            state, closed = "dismissed", updated or created
        else:
            state, closed = "open", None
        scan_item = ((issue.get("relationships") or {}).get("scan_item") or {}).get("data") or {}
        project = str(scan_item.get("id") or "")
        name = names.get(project, "")
        owner = self.owner([name, name.partition(":")[0], project], self.config.projects)
        return Vulnerability(
            source=self.name,
            key=f"snyk/{self.config.org_id}/{id_}",
            app=owner.app,
            team=owner.team,
            severity=severity_of(attributes.get("effective_severity_level"), SEVERITY_ALIASES),
            created_at=created,
            state=state,
            closed_at=closed,
            scanner="snyk",
        )


def _describe(source: Snyk) -> list[str]:
    what = f"issues of organisation {source.config.org_id}; API {source.api}"
    return [headline(source, "snyk", what)]


SOURCE_TYPE = SourceType("snyk", SnykSource, Snyk.build, _describe)
