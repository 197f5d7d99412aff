"""The HTTP endpoint: cached /metrics in every format, probes, landing page, unknown paths."""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest
import requests

from kpi_exporter.health import Health
from kpi_exporter.model import Deployment
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.sources import Poll
from kpi_exporter.store import Store
from tests.support import sample

TIMEOUT = 5.0
NOV_20 = 1_763_632_800.0  # 2025-11-20T10:00:00Z
PLAIN = {"Accept-Encoding": "identity"}  # requests asks for gzip unless told otherwise
SHOP_DEPLOYMENTS = 'kpi_deployments_total{app="shop",environment="production",team="payments"}'


def deployment(key: str, environment: str = "production", status: str = "success") -> Deployment:
    return Deployment(
        source="ci",
        key=key,
        app="shop",
        team="payments",
        environment=environment,
        finished_at=NOV_20 + len(key) * 60,
        status=status,
    )


@pytest.fixture
def health() -> Health:
    health = Health()
    health.register("ci", "events_file")
    health.register("push", "ingest", polled=True)
    return health


@pytest.fixture
def pipeline(store: Store, health: Health) -> Pipeline:
    pipeline = Pipeline(store, health=health)
    # Two successful production deployments count; staging and a failed one do not.
    events = [
        deployment("d1"),
        deployment("d22"),
        deployment("d333", environment="staging"),
        deployment("d4444", status="failure"),
    ]
    pipeline.record("ci", Poll(events=list(events), cursor=None))
    pipeline.refresh()
    return pipeline


@pytest.fixture
def server(
    listening: ExporterServer, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> ExporterServer:
    monkeypatch.setattr(listening, "pipeline", pipeline)
    return listening


def get(server: ExporterServer, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{server.port}{path}", timeout=TIMEOUT, **kwargs)


def raw_body(response: requests.Response) -> bytes:
    """The bytes as sent on the wire, without requests' automatic decoding."""
    data: bytes = response.raw.read(decode_content=False)
    return data


# --- /metrics -----------------------------------------------------------------------------


def test_metrics_default_is_the_text_format_with_hand_counted_deployments(server):
    response = get(server, "/metrics", headers=PLAIN)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    assert "Content-Encoding" not in response.headers
    assert int(response.headers["Content-Length"]) == len(response.content)
    body = response.text
    assert "# TYPE kpi_deployments_total counter" in body
    assert sample(body, SHOP_DEPLOYMENTS) == "2.0"
    assert 'environment="staging"' not in body
    assert not body.endswith("# EOF\n")


def test_metrics_in_openmetrics_when_accept_asks_for_it(server):
    response = get(
        server,
        "/metrics",
        headers={**PLAIN, "Accept": "application/openmetrics-text; version=1.0.0,*/*;q=0.1"},
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    body = response.text
    assert body.endswith("# EOF\n")
    assert "# TYPE kpi_deployments counter" in body
    assert sample(body, SHOP_DEPLOYMENTS) == "2.0"


@pytest.mark.parametrize(
    "accept", ["text/plain", "application/openmetrics-text; version=1.0.0"], ids=["text", "om"]
)
def test_metrics_gzip_when_accept_encoding_asks_for_it(server, accept):
    plain = get(server, "/metrics", headers={**PLAIN, "Accept": accept}).content

    response = get(
        server,
        "/metrics",
        headers={"Accept": accept, "Accept-Encoding": "gzip"},
        stream=True,
    )
    wire = raw_body(response)

    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == len(wire)
    assert wire[:2] == b"\x1f\x8b"  # the gzip magic number
    assert gzip.decompress(wire) == plain


class _NoQueries:
    """Stands in for the store: any use at all fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a scrape used the store: Store.{name}")


def test_a_scrape_makes_no_database_query_and_renders_nothing(server, pipeline, store, monkeypatch):
    before = get(server, "/metrics", headers=PLAIN).content
    store.close()  # any SQL on the real connection now raises sqlite3.ProgrammingError
    monkeypatch.setattr(pipeline, "store", _NoQueries())
    renders = pipeline.cache.renders

    for headers in (
        PLAIN,
        {"Accept-Encoding": "gzip"},
        {**PLAIN, "Accept": "application/openmetrics-text"},
    ):
        assert get(server, "/metrics", headers=headers).status_code == 200
    after = get(server, "/metrics", headers=PLAIN).content

    assert after == before
    assert pipeline.cache.renders == renders


def test_metrics_body_changes_only_after_refresh(server, pipeline):
    before = get(server, "/metrics", headers=PLAIN).text
    pipeline.record("ci", Poll(events=[deployment("d55555")], cursor=None))

    unchanged = get(server, "/metrics", headers=PLAIN).text
    pipeline.refresh()
    refreshed = get(server, "/metrics", headers=PLAIN).text

    assert unchanged == before
    assert sample(unchanged, SHOP_DEPLOYMENTS) == "2.0"
    assert sample(refreshed, SHOP_DEPLOYMENTS) == "3.0"


def test_head_metrics_sends_headers_without_body(server):
    length = len(get(server, "/metrics", headers=PLAIN).content)

    response = requests.head(
        f"http://127.0.0.1:{server.port}/metrics", headers=PLAIN, timeout=TIMEOUT
    )

    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == length
    assert response.content == b""


# --- probes -------------------------------------------------------------------------------


def test_healthz_is_always_ok(server):
    response = get(server, "/healthz")

    assert response.status_code == 200
    assert response.text == "ok\n"


def test_readyz_names_the_source_not_polled_yet(server):
    response = get(server, "/readyz")

    # "push" is an ingest source, ready from the start: only "ci" is waited for.
    assert response.status_code == 503
    assert response.text == "not ready: not polled yet: ci\n"


def test_readyz_ready_after_a_successful_first_poll(server, health):
    health.success("ci", 0.25)

    response = get(server, "/readyz")

    assert response.status_code == 200
    assert response.text == "ready\n"


def test_readyz_ready_after_a_failed_first_poll(server, health):
    health.failure("ci", 0.25, "connection refused")

    assert get(server, "/readyz").status_code == 200


# --- landing page -------------------------------------------------------------------------


def test_landing_page_lists_every_source_with_its_status(server, health):
    health.register("git-main", "git")
    health.success("git-main", 1.0)
    health.failure("ci", 0.5, "file not found")

    response = get(server, "/")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.text
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td class='(\w+)'>(.*?)</td>", page)
    assert rows == [
        ("ci", "events_file", "down", "down"),
        ("git-main", "git", "up", "up"),
        ("push", "ingest", "up", "up"),
    ]
    assert "<td>file not found</td>" in page
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", page)


def test_landing_page_shows_a_source_not_polled_yet(server):
    page = get(server, "/").text

    assert "<td>ci</td><td>events_file</td><td class='not'>not polled yet</td><td>never</td>" in (
        page
    )


def test_landing_page_escapes_html_in_names_and_errors(server, health):
    health.register("<script>alert(1)</script>", "git")
    health.failure("<script>alert(1)</script>", 0.1, 'HTTP 502 from <b>proxy</b> & "retry"')

    page = get(server, "/").text

    assert "<script>" not in page
    assert "<b>proxy</b>" not in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert "<td>HTTP 502 from &lt;b&gt;proxy&lt;/b&gt; &amp; &quot;retry&quot;</td>" in page


def test_landing_page_without_sources(listening, store, monkeypatch):
    monkeypatch.setattr(listening, "pipeline", Pipeline(store, health=Health()))

    page = get(listening, "/").text

    assert "<td colspan='5'>no sources configured</td>" in page


# --- unknown paths ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/metrics/extra", "/api/v1/events"])
def test_unknown_get_path_is_404(server, path):
    response = get(server, path)

    assert response.status_code == 404
    assert response.text == "not found\n"


def test_unknown_post_path_is_404(server):
    response = requests.post(f"http://127.0.0.1:{server.port}/metrics", data=b"{}", timeout=TIMEOUT)

    assert response.status_code == 404


def test_query_string_is_ignored_when_routing(server):
    assert get(server, "/healthz?verbose=1").status_code == 200
    assert get(server, "/metrics?name[]=up", headers=PLAIN).status_code == 200
