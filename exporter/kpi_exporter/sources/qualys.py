"""Qualys VMDR: the host detections of the Host List Detection API (XML, read through the safe
parser) become Vulnerability events ``qualys/{host id}/{qid}``.

- **state**: ``IS_IGNORED`` 1 is dismissed at ``LAST_UPDATE_DATETIME``; ``STATUS`` ``Fixed``
  is fixed at ``LAST_FIXED_DATETIME``; ``New``, ``Active`` and ``Re-Opened`` are open (a
  detection fixed and found again is open again; its fix stays counted). ``IS_DISABLED`` 1
  (the QID is disabled in the subscription) is dismissed too.
- **created**: ``FIRST_FOUND_DATETIME``.
- **severity**: Qualys's 1 to 5: 5 critical, 4 high, 3 medium, 2 and 1 low.
- **type**: only the ``TYPE`` listed in ``types`` (``Confirmed`` by default; ``Potential``
  may be added; ``Info`` is information gathered, never a vulnerability).
- **app**: the ``hosts`` globs (first wins) against the host's tags (``show_tags=1``), its DNS
  name, NetBIOS name and IP; else the source's ``app``; else the default app.

Requests: ``GET /api/2.0/fo/asset/host/vm/detection/?action=list`` with Basic authentication
(``username``, the password as the token) and the ``X-Requested-With`` header Qualys
requires, every status, ``truncation_limit`` hosts a page: a truncated answer ends with a
``WARNING`` (code 1980) whose ``URL`` (with ``id_min``) reads the next page. A first sync
reads every detection; later polls add ``detection_updated_since``: the answer's
``DATETIME`` of the last poll, less a minute. A state change updates a detection, so it is
read again. Detections closed before the horizon are left out. An error answer
(``SIMPLE_RETURN``) is named in the failed poll with its code and text; Qualys's rate and
concurrency limits answer 409 with ``X-RateLimit-ToWait-Sec``, which the client waits out.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Literal
from xml.etree.ElementTree import Element

from pydantic import Field

from ..config_base import Credentials, Duration, Name
from ..model import Event, Vulnerability
from ..store import SourceState
from . import Poll, SourceError
from .cursor import dump_cursor, load_cursor
from .findings import FindingsSource
from .http import HttpClient, public_url, with_query
from .registry import SourceType, headline
from .safe_xml import XmlError, parse_xml
from .times import api_time, iso

DetectionType = Literal["Confirmed", "Potential"]
CONFIRMED: list[DetectionType] = ["Confirmed"]


class QualysSource(Credentials):
    """Host detections of Qualys VMDR. The token (``token_env`` or ``token_file``) is the
    password of ``username``."""

    type: Literal["qualys"]
    name: Name
    interval: Duration = 3600.0
    api_url: str = Field(
        description="The API server of the subscription's platform (https://qualysapi.qualys.com)."
    )
    username: str = Field(min_length=1, description="The API user.")
    hosts: dict[str, str] = Field(
        default_factory=dict, description="Tag, DNS name, NetBIOS name or IP glob -> app."
    )
    app: str | None = Field(None, description="App of the hosts no glob places.")
    types: list[DetectionType] = Field(
        default_factory=lambda: list(CONFIRMED), min_length=1, description="Detection types read."
    )
    truncation_limit: int = Field(1000, ge=1, le=1_000_000, description="Hosts a page.")
    horizon: Duration = Field(
        365 * 86400.0, description="Detections closed before this are left out."
    )


SYSTEM = "Qualys"
PATH = "/api/2.0/fo/asset/host/vm/detection/"
ROOT = "HOST_LIST_VM_DETECTION_OUTPUT"
SEVERITY = {"5": "critical", "4": "high", "3": "medium", "2": "low", "1": "low"}
OPEN = frozenset({"New", "Active", "Re-Opened"})
OVERLAP = 60.0


class Qualys(FindingsSource[QualysSource]):
    """Polls the host detections of one Qualys subscription."""

    system = SYSTEM

    scoped = ("username", "hosts", "types", "horizon")

    def read(self, state: SourceState) -> Poll:
        password = self.poll_token()
        basic = base64.b64encode(f"{self.config.username}:{password}".encode()).decode()
        http = HttpClient.for_poll(
            self,
            state,
            lambda: {"Authorization": f"Basic {basic}", "X-Requested-With": "kpi-exporter"},
        )
        saved = load_cursor(state.cursor, self.settings, self.name)
        query = {
            "action": "list",
            "show_tags": "1",
            "status": "New,Active,Re-Opened,Fixed",
            "truncation_limit": str(self.config.truncation_limit),
        }
        if saved:
            query["detection_updated_since"] = iso(float(saved["datetime"]) - OVERLAP)
        oldest = self.clock() - self.config.horizon
        events: list[Event] = []
        problems: list[str] = []
        server_time: float | None = None
        for page in self.pages(http, with_query(f"{self.api}{PATH}", query)):
            response = _child(page, "RESPONSE")
            if server_time is None:
                server_time = api_time(_text(response, "DATETIME"), SYSTEM)
            for host in response.iterfind("HOST_LIST/HOST"):
                for finding in self.host(host, problems):
                    if finding.closed_at is None or finding.closed_at >= oldest:
                        events.append(finding)
        since = server_time if server_time is not None else self.clock()
        return Poll(
            events=events,
            cursor=dump_cursor(self.settings, datetime=since),
            validators=http.validators,
            problems=problems,
        )

    def pages(self, http: HttpClient, url: str) -> Iterator[Element]:
        """Every page of the list: a truncated one names the next in ``WARNING/URL``."""
        next_url: str | None = url
        seen: set[str] = set()
        while next_url:
            if next_url in seen:
                raise SourceError(f"GET {public_url(url)}: WARNING/URL points back to a page")
            seen.add(next_url)
            response = http.get(next_url, conditional=False)
            where = f"{response.method} {public_url(next_url)}"
            try:
                root = parse_xml(response.body, where)
            except XmlError as error:
                raise SourceError(f"{error}") from None
            if root.tag == "SIMPLE_RETURN":
                code = root.findtext("RESPONSE/CODE") or "?"
                raise SourceError(
                    f"{where}: {SYSTEM} error {code}: {root.findtext('RESPONSE/TEXT')}"
                )
            if root.tag != ROOT:
                expected = f"root <{root.tag}>, expected {ROOT}"
                raise SourceError(f"{where}: response is not valid Qualys XML ({expected})")
            yield root
            next_url = (root.findtext("RESPONSE/WARNING/URL") or "").strip() or None

    def host(self, host: Element, problems: list[str]) -> Iterator[Vulnerability]:
        """The findings of one ``HOST`` element; a bad detection is a problem."""
        id_ = _text(host, "ID")
        names = [tag.findtext("NAME") or "" for tag in host.iterfind("TAGS/TAG")]
        names += [host.findtext(field) or "" for field in ("DNS", "NETBIOS", "IP")]
        owner = self.owner(names, self.config.hosts)
        for detection in host.iterfind("DETECTION_LIST/DETECTION"):
            qid = detection.findtext("QID") or "?"
            try:
                if detection.findtext("TYPE") not in self.config.types:
                    continue
                state, closed = _state(detection)
                created = _time(detection, "FIRST_FOUND_DATETIME")
                yield Vulnerability(
                    source=self.name,
                    key=f"qualys/{id_}/{int(qid)}",
                    app=owner.app,
                    team=owner.team,
                    severity=SEVERITY.get(_text(detection, "SEVERITY"), "unknown"),
                    created_at=created,
                    state=state,
                    closed_at=closed,
                    scanner="qualys",
                )
            except (KeyError, ValueError, SourceError) as error:
                problems.append(f"host {id_} QID {qid}: skipped: {error}")


def _child(element: Element, name: str) -> Element:
    found = element.find(name)
    if found is None:
        raise KeyError(f"no {name} in <{element.tag}>")
    return found


def _text(element: Element, name: str) -> str:
    text = element.findtext(name)
    if text is None or not text.strip():
        raise KeyError(f"no {name} in <{element.tag}>")
    return text.strip()


def _time(element: Element, name: str) -> float:
    at = api_time(_text(element, name), SYSTEM)
    assert at is not None  # _text never answers an empty text
    return at


def _state(detection: Element) -> tuple[str, float | None]:
    if detection.findtext("IS_IGNORED") == "1" or detection.findtext("IS_DISABLED") == "1":
        return "dismissed", _time(detection, "LAST_UPDATE_DATETIME")
    status = _text(detection, "STATUS")
    if status == "Fixed":
        return "fixed", _time(detection, "LAST_FIXED_DATETIME")
    if status in OPEN:
        return "open", None
    raise ValueError(f"STATUS {status!r}")


def _describe(source: Qualys) -> list[str]:
    what = f"host detections of user {source.config.username}; API {source.api}"
    return [headline(source, "qualys", what)]


SOURCE_TYPE = SourceType("qualys", QualysSource, Qualys.build, _describe)
