"""A stand-in for Qualys VMDR's Host List Detection API (``GET
/api/2.0/fo/asset/host/vm/detection/?action=list``), served through ``responses``, as the API
user guide describes it: Basic authentication and the required ``X-Requested-With`` header;
``HOST_LIST_VM_DETECTION_OUTPUT`` XML with its DOCTYPE line, ``show_tags``, ``status``,
``detection_updated_since``; ``truncation_limit`` hosts a page, a truncated page ending with a
``WARNING`` (code 1980) whose ``URL`` carries ``id_min``; errors as ``SIMPLE_RETURN``; queued
one-off replies (409 with ``X-RateLimit-ToWait-Sec``)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

import requests
import responses

from kpi_exporter.sources.times import iso, parse_time

API = "https://qualysapi.qualys.test"
PATH = "/api/2.0/fo/asset/host/vm/detection/"
USER = "acme_ap"
PASSWORD = "qualys-s3cret-password"

Reply = tuple[int, dict[str, str], str]


def detection(
    qid: int,
    severity: int,
    status: str,
    first_found: str,
    *,
    kind: str = "Confirmed",
    updated: str | None = None,
    fixed: str | None = None,
    ignored: bool = False,
) -> dict[str, Any]:
    return {
        "QID": qid,
        "TYPE": kind,
        "SEVERITY": severity,
        "STATUS": status,
        "IS_IGNORED": int(ignored),
        "IS_DISABLED": 0,
        "FIRST_FOUND_DATETIME": first_found,
        "LAST_FOUND_DATETIME": updated or first_found,
        "LAST_FIXED_DATETIME": fixed,
        "LAST_UPDATE_DATETIME": updated or first_found,
        "TIMES_FOUND": 3,
    }


@dataclass
class Host:
    id: int
    ip: str
    dns: str = ""
    netbios: str = ""
    tags: list[str] = field(default_factory=list)
    detections: list[dict[str, Any]] = field(default_factory=list)

    def xml(self, since: float | None) -> str:
        found = [
            d
            for d in self.detections
            if since is None or parse_time(d["LAST_UPDATE_DATETIME"]) >= since
        ]
        if not found:
            return ""
        tags = "".join(
            f"<TAG><TAG_ID>{7000 + i}</TAG_ID><NAME><![CDATA[{tag}]]></NAME></TAG>"
            for i, tag in enumerate(self.tags)
        )
        items = "".join(_detection(d) for d in found)
        return (
            f"<HOST><ID>{self.id}</ID><IP>{self.ip}</IP><TRACKING_METHOD>IP</TRACKING_METHOD>"
            f"<DNS><![CDATA[{self.dns}]]></DNS><NETBIOS><![CDATA[{self.netbios}]]></NETBIOS>"
            f"<OS><![CDATA[Linux 5.15]]></OS><TAGS>{tags}</TAGS>"
            f"<LAST_SCAN_DATETIME>2026-11-19T00:00:00Z</LAST_SCAN_DATETIME>"
            f"<DETECTION_LIST>{items}</DETECTION_LIST></HOST>"
        )


def _detection(values: dict[str, Any]) -> str:
    fields = "".join(
        f"<{name}>{escape(str(value))}</{name}>"
        for name, value in values.items()
        if value is not None
    )
    return f"<DETECTION><UNIQUE_VULN_ID>{values['QID']}01</UNIQUE_VULN_ID>{fields}</DETECTION>"


def simple_return(text: str, code: int | None = None) -> str:
    code_xml = f"<CODE>{code}</CODE>" if code is not None else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>'
        f'<!DOCTYPE SIMPLE_RETURN SYSTEM "{API}/api/2.0/simple_return.dtd">'
        f"<SIMPLE_RETURN><RESPONSE><DATETIME>2026-11-20T00:00:00Z</DATETIME>{code_xml}"
        f"<TEXT>{escape(text)}</TEXT></RESPONSE></SIMPLE_RETURN>"
    )


@dataclass
class FakeQualys:
    hosts: list[Host] = field(default_factory=list)
    now: float = 0.0  # the answer's DATETIME
    queued: list[Reply] = field(default_factory=list)
    seen: list[dict[str, str]] = field(default_factory=list)  # the query of every request

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.GET, f"{API}{PATH}", callback=self.answer)

    def answer(self, request: requests.PreparedRequest) -> Reply:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url or "").query).items()}
        self.seen.append(query)
        xml = {"Content-Type": "text/xml;charset=UTF-8"}
        if self.queued:
            return self.queued.pop(0)
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {basic}":
            return 401, xml, simple_return("Bad Login/Password")
        if not request.headers.get("X-Requested-With"):
            return 400, xml, simple_return("Missing X-Requested-With header")
        if query.get("action") != "list":
            return 400, xml, simple_return("Missing action parameter")
        since = query.get("detection_updated_since")
        limit = int(query.get("truncation_limit", "1000"))
        start = int(query.get("id_min", "0"))
        parts = [(h.id, h.xml(parse_time(since) if since else None)) for h in self.hosts]
        listed = [(id_, text) for id_, text in sorted(parts) if text and id_ >= start]
        page = listed[:limit]
        warning = ""
        if len(listed) > limit:
            following = urlencode(sorted({**query, "id_min": str(listed[limit][0])}.items()))
            warning = (
                "<WARNING><CODE>1980</CODE>"
                f"<TEXT>{limit} record limit exceeded. Use URL to get next batch of results.</TEXT>"
                f"<URL><![CDATA[{API}{PATH}?{following}]]></URL></WARNING>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8" ?>\n'
            "<!DOCTYPE HOST_LIST_VM_DETECTION_OUTPUT SYSTEM"
            f' "{API}{PATH}host_list_vm_detection_output.dtd">\n'
            f"<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>{iso(self.now)}</DATETIME>"
            f"<HOST_LIST>{''.join(text for _, text in page)}</HOST_LIST>{warning}"
            "</RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>"
        )
        return 200, xml, body
