"""The push endpoint POST /api/v1/events: signatures, freshness, all-or-nothing batches,
refused replays, idempotent retries, limits, and where the shared secret comes from (and
never goes)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from kpi_exporter.cli import build_sources
from kpi_exporter.config import Config, ConfigError, parse_config
from kpi_exporter.credentials import CredentialError, read_secret
from kpi_exporter.health import Health
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.sharding import Shard
from kpi_exporter.sources.ingest import Ingest, IngestError, IngestSource, sign
from kpi_exporter.store import Store
from tests.faults_support import SECRET, SOURCE, deployment, push_config, signature, signed
from tests.support import sample

TIMEOUT = 5.0
SECRET_ENV = "KPI_TEST_INGEST_SECRET"
MAX_SKEW = 60
MAX_BODY = 2048
SHOP_DEPLOYMENTS = 'kpi_deployments_total{app="shop",environment="production",team="payments"}'
CONFIG = push_config(SECRET_ENV, MAX_SKEW, MAX_BODY)


def encode(data: Any) -> bytes:
    return json.dumps(data).encode()


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return parse_config(CONFIG, "kpi.yml")


@pytest.fixture
def ingest(config: Config) -> Ingest:
    polled, ingest = build_sources(config, Ownership(config))
    assert polled == []
    assert ingest is not None
    return ingest


@pytest.fixture
def pipeline(store: Store, config: Config) -> Pipeline:
    health = Health()
    health.register(SOURCE, "ingest", polled=True)
    return Pipeline(store, config.kpi_settings(), config.link_settings(), health)


@pytest.fixture
def server(
    listening: ExporterServer,
    pipeline: Pipeline,
    ingest: Ingest,
    monkeypatch: pytest.MonkeyPatch,
) -> ExporterServer:
    monkeypatch.setattr(listening, "pipeline", pipeline)
    monkeypatch.setattr(listening, "ingest", ingest)
    return listening


def post(server: ExporterServer, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{server.port}/api/v1/events",
        data=body,
        headers=headers,
        timeout=TIMEOUT,
    )


def metrics(server: ExporterServer) -> str:
    response = requests.get(
        f"http://127.0.0.1:{server.port}/metrics",
        headers={"Accept-Encoding": "identity"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    return response.text


# --- signing ------------------------------------------------------------------------------


def test_sign_matches_a_digest_computed_with_openssl():
    # printf '1700000000.{}' | openssl dgst -sha256 -hmac s3cret
    expected = "sha256=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"

    assert sign("s3cret", "1700000000", b"{}") == expected
    assert signature(b"{}", "1700000000", "s3cret") == expected


def test_verify_allows_exactly_max_skew_either_way_by_the_injected_clock(config):
    source = config.sources[0]
    assert isinstance(source, IngestSource)
    ingest = Ingest(source, SECRET, Ownership(config), clock=lambda: 1_700_000_000.0)
    body = b"{}"

    ingest.verify("1700000060", signature(body, "1700000060"), body)
    ingest.verify("1699999940", signature(body, "1699999940"), body)
    for timestamp in ("1700000061", "1699999939"):
        with pytest.raises(IngestError, match="stale request") as raised:
            ingest.verify(timestamp, signature(body, timestamp), body)
        assert raised.value.status == 401


# --- accepted requests --------------------------------------------------------------------


def test_signed_request_stores_the_event_and_metrics_show_it_at_once(server):
    body = encode(deployment("deploy-1"))

    response = post(server, body, signed(body))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["accepted"] == 1
    assert response.json()["changed"] >= 1
    text = metrics(server)
    assert sample(text, SHOP_DEPLOYMENTS) == "1.0"
    assert sample(text, f'kpi_exporter_source_polls_total{{result="success",source="{SOURCE}"}}')


def test_a_replayed_request_is_409_and_a_re_signed_retry_is_idempotent(server, store):
    body = encode(deployment("deploy-1"))
    headers = signed(body, str(int(time.time()) - 1))
    assert post(server, body, headers).status_code == 200
    stored = store.count()

    replay = post(server, body, headers)
    retry = post(server, body, signed(body))

    assert replay.status_code == 409
    assert "replay" in replay.json()["error"]
    assert retry.status_code == 200
    assert retry.json() == {"accepted": 1, "changed": 0}
    assert store.count() == stored
    assert sample(metrics(server), SHOP_DEPLOYMENTS) == "1.0"


def test_a_batch_with_changes_counts_every_event(server):
    by_repo = deployment("deploy-8", repo="acme/shop")
    del by_repo["app"]
    body = encode(
        {
            "events": [
                deployment(
                    "deploy-7",
                    changes=[{"id": "pr-1", "first_commit_at": "2025-11-19T10:00:00Z"}],
                ),
                by_repo,
                {
                    "type": "incident",
                    "id": "inc-1",
                    "service": "checkout",
                    "started_at": 1_763_640_000,
                },
            ]
        }
    )

    response = post(server, body, signed(body))

    # deploy-7 + its change pr-1 + deploy-8 (app from the repo mapping) + the incident
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 4
    assert sample(metrics(server), SHOP_DEPLOYMENTS) == "2.0"


def test_a_timestamp_within_the_skew_is_accepted(server):
    body = encode(deployment("deploy-1"))

    response = post(server, body, signed(body, str(int(time.time()) - MAX_SKEW // 2)))

    assert response.status_code == 200


# --- refused requests ---------------------------------------------------------------------


def refused(server: ExporterServer, body: bytes, headers: dict[str, str], status: int) -> str:
    """Post, expect ``status`` with a JSON error, and nothing stored; return the error."""
    response = post(server, body, headers)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    error: str = response.json()["error"]
    assert sample(metrics(server), SHOP_DEPLOYMENTS) is None
    return error


def test_unsigned_request_is_401(server):
    body = encode(deployment("deploy-1"))

    error = refused(server, body, {"Content-Type": "application/json"}, 401)

    assert error == ("unsigned request: X-KPI-Timestamp and X-KPI-Signature headers are required")


def test_timestamp_without_signature_is_401(server):
    body = encode(deployment("deploy-1"))
    headers = signed(body)
    del headers["X-KPI-Signature"]

    assert refused(server, body, headers, 401).startswith("unsigned request")


def test_signature_with_another_secret_is_401(server):
    body = encode(deployment("deploy-1"))

    error = refused(server, body, signed(body, secret="not-the-secret"), 401)

    assert error == "X-KPI-Signature: signature does not match the body"


def test_body_changed_after_signing_is_401(server):
    body = encode(deployment("deploy-1"))
    headers = signed(body)

    error = refused(server, body.replace(b"deploy-1", b"deploy-2"), headers, 401)

    assert error == "X-KPI-Signature: signature does not match the body"


def test_signature_for_another_timestamp_is_401(server):
    body = encode(deployment("deploy-1"))
    now = int(time.time())
    headers = signed(body, str(now))
    headers["X-KPI-Timestamp"] = str(now - 1)

    assert refused(server, body, headers, 401).endswith("signature does not match the body")


def test_stale_timestamp_is_401(server):
    body = encode(deployment("deploy-1"))

    error = refused(server, body, signed(body, str(int(time.time()) - MAX_SKEW - 60)), 401)

    assert error == "stale request: X-KPI-Timestamp is more than 60 s from the server's clock"


def test_future_timestamp_beyond_the_skew_is_401(server):
    body = encode(deployment("deploy-1"))

    error = refused(server, body, signed(body, str(int(time.time()) + MAX_SKEW + 60)), 401)

    assert error.startswith("stale request:")


@pytest.mark.parametrize("timestamp", ["nan", "NaN", "inf", "-inf"])
def test_non_finite_timestamp_is_401_even_when_signed(server, timestamp):
    body = encode(deployment("deploy-1"))

    assert refused(server, body, signed(body, timestamp), 401).startswith("stale request:")


def test_timestamp_that_is_not_a_number_is_401(server):
    body = encode(deployment("deploy-1"))

    error = refused(server, body, signed(body, "yesterday"), 401)

    assert error == "X-KPI-Timestamp: expected epoch seconds"


def test_bad_json_is_400(server):
    body = b'{"type": "deployment", '

    error = refused(server, body, signed(body), 400)

    assert error.startswith("body is not valid JSON: ")


def test_batch_with_one_bad_event_is_400_and_stores_nothing(server, store):
    bad = deployment("deploy-3")
    del bad["finished_at"]
    body = encode({"events": [deployment("deploy-2"), bad, deployment("deploy-4")]})

    error = refused(server, body, signed(body), 400)

    assert error == "events[1]: field 'finished_at': required field is missing"
    assert store.count() == 0
    text = metrics(server)
    assert (
        sample(text, f'kpi_exporter_events_rejected_total{{reason="invalid",source="{SOURCE}"}}')
        == "1.0"
    )


def test_unknown_field_in_an_event_is_400_naming_it(server):
    body = encode({"events": [deployment("deploy-2", author="alice")]})

    assert refused(server, body, signed(body), 400) == "events[0]: field 'author': unknown field"


def test_events_that_is_not_a_list_is_400(server):
    body = encode({"events": {"0": deployment("deploy-2")}})

    assert refused(server, body, signed(body), 400) == "field 'events': expected a list"


def test_body_over_max_body_bytes_is_413(server):
    body = encode(deployment("deploy-1", version="v" * MAX_BODY))
    assert len(body) > MAX_BODY

    error = refused(server, body, signed(body), 413)

    assert error == f"body larger than {MAX_BODY} bytes"


def read_until_closed(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the timeout)."""
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def test_a_refused_unread_body_is_not_parsed_as_the_next_request(server):
    """413 before reading the body: the connection is closed, not reused with junk in it."""
    body = b"x" * (MAX_BODY + 1)
    request = (
        b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
        + b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as conn:
        conn.sendall(request)
        received = read_until_closed(conn)

    assert received.startswith(b"HTTP/1.1 413 ")
    assert b"\r\nConnection: close\r\n" in received
    assert received.count(b"HTTP/1.") == 1


def test_negative_content_length_is_400_without_waiting_for_the_body(server):
    request = b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n{}"
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as conn:
        conn.sendall(request)
        received = read_until_closed(conn)

    assert received.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Length: expected a non-negative integer" in received


def test_chunked_body_is_411(server):
    def chunks() -> Iterator[bytes]:
        yield encode(deployment("deploy-1"))

    body = encode(deployment("deploy-1"))
    response = requests.post(
        f"http://127.0.0.1:{server.port}/api/v1/events",
        data=chunks(),
        headers=signed(body),
        timeout=TIMEOUT,
    )

    assert response.status_code == 411


def test_post_without_an_ingest_source_is_404(listening, pipeline, monkeypatch):
    monkeypatch.setattr(listening, "pipeline", pipeline)
    monkeypatch.setattr(listening, "ingest", None)
    body = encode(deployment("deploy-1"))

    response = post(listening, body, signed(body))

    assert response.status_code == 404
    assert response.json() == {"error": "no ingest source is configured"}


# --- the secret stays secret --------------------------------------------------------------


def test_the_secret_never_appears_in_responses_landing_page_or_metrics(server):
    good = encode(deployment("deploy-1"))
    bad_event = encode({"events": [{"type": "deployment", "id": SECRET}]})
    now = str(int(time.time()))
    responses = [
        post(server, good, signed(good)),
        post(server, good, {}),
        post(server, good, signed(good, secret=SECRET + "x")),
        post(server, good, signed(good, str(int(now) - 3600))),
        post(server, b"not json", signed(b"not json")),
        post(server, bad_event, signed(bad_event)),
        post(server, good * 100, signed(good * 100)),
    ]
    assert [r.status_code for r in responses] == [200, 401, 401, 401, 400, 400, 413]
    pages = [
        requests.get(f"http://127.0.0.1:{server.port}{path}", timeout=TIMEOUT).text
        for path in ("/", "/metrics", "/healthz", "/readyz")
    ]

    # bad_event carries the secret as its id: the error names the field, not the value
    assert (
        responses[5].json()["error"] == "events[0]: field 'finished_at': required field is missing"
    )
    for text in [r.text for r in responses] + pages:
        assert SECRET not in text
        assert SECRET_ENV not in text
    assert f"<td>{SOURCE}</td><td>ingest</td><td class='up'>up</td>" in pages[0]


# --- where the secret comes from ----------------------------------------------------------


def ingest_config(tmp_path: Path, reference: str) -> Config:
    return parse_config(f"sources:\n  - {{type: ingest, name: push, {reference}}}\n", "kpi.yml")


def test_secret_from_env_is_used_to_verify(ingest):
    body = encode(deployment("deploy-1"))
    now = str(int(time.time()))

    ingest.verify(now, signature(body, now), body)
    with pytest.raises(IngestError, match="signature does not match"):
        ingest.verify(now, signature(body, now, secret="other"), body)


def test_secret_from_file_is_stripped_and_used_to_verify(tmp_path):
    (tmp_path / "hmac").write_text("  file-held-secret\n", encoding="utf-8")
    config = ingest_config(tmp_path, f"secret_file: {tmp_path}/hmac")
    _, ingest = build_sources(config, Ownership(config))
    assert ingest is not None
    body = encode(deployment("deploy-1"))
    now = str(int(time.time()))

    ingest.verify(now, signature(body, now, secret="file-held-secret"), body)


@pytest.mark.parametrize("value", [None, "", "   \n"], ids=["unset", "empty", "blank"])
def test_missing_env_secret_is_a_config_error_naming_the_variable(tmp_path, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("KPI_TEST_ABSENT_SECRET", raising=False)
    else:
        monkeypatch.setenv("KPI_TEST_ABSENT_SECRET", value)
    monkeypatch.setenv("KPI_TEST_OTHER", SECRET)  # a secret elsewhere in the environment
    config = ingest_config(tmp_path, "secret_env: KPI_TEST_ABSENT_SECRET")

    with pytest.raises(ConfigError) as raised:
        build_sources(config, Ownership(config))

    assert raised.value.problems == [
        "sources[push]: environment variable KPI_TEST_ABSENT_SECRET is not set or empty"
    ]
    assert SECRET not in str(raised.value)


def test_missing_secret_file_is_a_config_error_naming_the_file(tmp_path):
    config = ingest_config(tmp_path, f"secret_file: {tmp_path}/absent")

    with pytest.raises(ConfigError) as raised:
        build_sources(config, Ownership(config))

    assert raised.value.problems == [
        f"sources[push]: cannot read secret file {tmp_path}/absent: No such file or directory"
    ]


def test_read_secret_names_the_reference_never_the_value(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_TEST_SET", "  value-1  ")
    (tmp_path / "empty").write_text("\n", encoding="utf-8")

    assert read_secret("KPI_TEST_SET", None, "x") == "value-1"
    with pytest.raises(CredentialError) as raised:
        read_secret(None, str(tmp_path / "empty"), "sources[2]")
    assert str(raised.value) == f"sources[2]: secret file {tmp_path}/empty is empty"
    with pytest.raises(CredentialError, match=r"^sources\[2\]: no secret reference given$"):
        read_secret(None, None, "sources[2]")


def test_secret_written_inline_in_the_config_is_refused_without_echoing_it(tmp_path):
    text = f"sources:\n  - type: ingest\n    name: push\n    secret: {SECRET}\n"

    with pytest.raises(ConfigError) as raised:
        parse_config(text, "kpi.yml")

    assert raised.value.problems == [
        "kpi.yml:4: sources[push].secret: secrets are not allowed inline; "
        "use secret_env (an environment variable) or secret_file (a file) instead"
    ]
    assert SECRET not in str(raised.value)


def test_both_or_neither_secret_reference_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="set exactly one of secret_env or secret_file"):
        parse_config("sources:\n  - {type: ingest, name: push}\n", "kpi.yml")
    with pytest.raises(ConfigError, match="set exactly one of secret_env or secret_file"):
        ingest_config(tmp_path, "secret_env: A, secret_file: /b")


def test_a_shard_accepts_its_own_apps_events_and_says_how_many_belong_to_others(
    server: ExporterServer, store: Store, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = next(Shard(i, 2) for i in range(2) if Shard(i, 2).owns("shop"))
    other = next(app for app in (f"app-{n}" for n in range(50)) if not shard.owns(app))
    health = Health(shard)
    health.register(SOURCE, "ingest", polled=True)
    sharded = Pipeline(store, config.kpi_settings(), config.link_settings(), health, shard=shard)
    monkeypatch.setattr(server, "pipeline", sharded)
    body = encode({"events": [deployment("deploy-1"), deployment("deploy-2", app=other)]})

    response = post(server, body, signed(body))

    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["other_shards"] == 1
    assert {event.app for event in store.iter_events()} == {"shop"}
