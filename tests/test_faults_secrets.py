"""Fault suite: configured secrets never show, even when an API echoes the credential it was
sent. The real exporter process polls GitHub, GitLab and Jira Cloud APIs (a local server on
127.0.0.1 that answers every request 401 and quotes the ``Authorization`` header in its error,
as a misbehaving proxy or API does) and takes signed pushes; the log, the landing page,
``/readyz``, ``/metrics``, the push answers and ``check-config`` are searched for every secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from kpi_exporter import redaction
from kpi_exporter.logs import JSONFormatter, LogfmtFormatter
from kpi_exporter.redaction import REDACTED, basic_authorization, redact, register

from .local_fake import LocalFake
from .process import Exporter

GITHUB_TOKEN = "ghp_" + secrets.token_hex(18)
GITLAB_TOKEN = "glpat-" + secrets.token_hex(10)
JIRA_TOKEN = "ATATT3x" + secrets.token_hex(12)
JIRA_EMAIL = "ci@example.com"
INGEST_SECRET = "push-" + secrets.token_hex(16)
JIRA_BASIC = base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode()
# _reason keeps 200 characters of a message: GitLab's echo puts the cut inside the token.
GITLAB_PADDING = "x" * (200 - len("401 Unauthorized: Bearer ") - len(GITLAB_TOKEN) // 2)


def echoing_api(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
    """Every request answered 401, the Authorization header quoted in the vendor's error
    field: GitHub and GitLab ``message``, Jira ``errorMessages``."""
    header = str(request.headers.get("Authorization", ""))
    path = urlsplit(request.url or "").path
    if path.startswith("/gitlab"):
        body: dict[str, Any] = {"message": f"401 Unauthorized: {GITLAB_PADDING}{header}"}
    elif path.startswith("/jira"):
        body = {"errorMessages": [f"Client must be authenticated, got {header}"]}
    else:
        body = {"message": f"Bad credentials: Authorization: {header}"}
    return 401, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture(name="api")
def api_fixture() -> Iterator[str]:
    with LocalFake([("GET", ".*", echoing_api), ("POST", ".*", echoing_api)]) as fake:
        yield fake.url


def write_config(path: Path, api: str) -> None:
    path.write_text(
        f"""
store: {{path: {path.parent / "kpi.db"}}}
apps:
  shop: {{team: payments, repos: [acme/shop]}}
sources:
  - type: github
    name: gh
    api_url: {api}/github
    token_env: SECRETS_GITHUB_TOKEN
    org: acme
  - type: gitlab
    name: gl
    api_url: {api}/gitlab
    token_env: SECRETS_GITLAB_TOKEN
    group: acme
  - type: jira
    name: jira
    api_url: {api}/jira
    email: {JIRA_EMAIL}
    token_env: SECRETS_JIRA_TOKEN
    incident_jql: "type = Incident"
  - type: ingest
    name: push
    secret_env: SECRETS_INGEST
"""
    )


ENV = {
    "SECRETS_GITHUB_TOKEN": GITHUB_TOKEN,
    "SECRETS_GITLAB_TOKEN": GITLAB_TOKEN,
    "SECRETS_JIRA_TOKEN": JIRA_TOKEN,
    "SECRETS_INGEST": INGEST_SECRET,
}
# Every secret, the Basic material derived from one, and the first half of each (a cut token).
LEAKS = [GITHUB_TOKEN, GITLAB_TOKEN, JIRA_TOKEN, INGEST_SECRET, JIRA_BASIC] + [
    value[: len(value) // 2] for value in (GITHUB_TOKEN, GITLAB_TOKEN, JIRA_TOKEN, JIRA_BASIC)
]


def leaked(text: str) -> list[str]:
    return [value for value in LEAKS if value in text]


def signed_push(exporter: Exporter, event: dict[str, Any]) -> requests.Response:
    body = json.dumps(event).encode()
    timestamp = str(int(time.time()))
    mac = hmac.new(INGEST_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    headers = {"X-KPI-Timestamp": timestamp, "X-KPI-Signature": "sha256=" + mac.hexdigest()}
    return requests.post(exporter.url + "/api/v1/events", data=body, headers=headers, timeout=10)


@pytest.mark.timeout(90)
def test_an_api_echoing_the_credential_shows_it_nowhere(tmp_path: Path, api: str) -> None:
    config = tmp_path / "kpi.yaml"
    write_config(config, api)
    with Exporter(config, tmp_path, "--log.level", "debug", env=ENV) as exporter:
        exporter.wait_ready(timeout=30)
        page = exporter.get("/").text
        metrics = exporter.metrics()
        ready = exporter.get("/readyz").text
        # A push quoting the secret in a field is refused with a 400 that names the field.
        refused = signed_push(
            exporter,
            {"type": "deployment", "id": "d1", "app": "shop", "finished_at": INGEST_SECRET},
        )
    log = exporter.log.read_text(errors="replace")
    # The three sources failed on the 401 and say so, the echoed credential redacted.
    assert page.count("HTTP 401") == 3, page
    assert page.count(f"Bearer {REDACTED}".replace("<", "&lt;").replace(">", "&gt;")) == 2, page
    assert f"Basic {REDACTED}".replace("<", "&lt;").replace(">", "&gt;") in page, page
    assert any(
        line.startswith("kpi_exporter_api_requests_total{") and 'code="401"' in line
        for line in metrics.splitlines()
    ), metrics
    assert log.count("HTTP 401") >= 3, log
    assert refused.status_code == 400
    assert "finished_at" in refused.json()["error"]
    for where, text in (
        ("landing page", page),
        ("metrics", metrics),
        ("readyz", ready),
        ("push answer", refused.text),
        ("log", log),
    ):
        assert leaked(text) == [], f"{where} shows a secret:\n{text}"

    checked = subprocess.run(
        [sys.executable, "-m", "kpi_exporter.cli", "check-config", "--config", str(config)],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert leaked(checked.stdout + checked.stderr) == []


def test_both_log_formats_redact_the_message_and_the_traceback() -> None:
    token = "tok-" + secrets.token_hex(12)
    register(token)
    try:
        raise ValueError(f"the API said: {token}")
    except ValueError:
        record = logging.LogRecord(
            "kpi_exporter.x", logging.ERROR, __file__, 1, "got %s", (token,), sys.exc_info()
        )
    for formatter in (LogfmtFormatter(), JSONFormatter()):
        line = formatter.format(record)
        assert token not in line
        # msg, and the traceback's last line (the exception's message)
        assert line.count(REDACTED) == 2, line


def test_the_spellings_of_a_secret_an_error_may_quote_are_redacted() -> None:
    pem_line = secrets.token_hex(32)
    key = f"-----BEGIN KEY-----\n{pem_line}\n-----END KEY-----"
    register(key + "\n")
    # the whole value, the value JSON-escaped (newlines as \n), one base64 line of it
    assert redact(f"key: {key}") == f"key: {REDACTED}"
    assert redact(json.dumps({"key": key})) == json.dumps({"key": REDACTED})
    assert redact(f"line {pem_line} seen") == f"line {REDACTED} seen"
    assert redact("-----END KEY-----") == "-----END KEY-----"  # no secret in a PEM boundary
    # Basic material: the base64 of user:password and the password alone
    header = basic_authorization("ci", "hunter2-" + secrets.token_hex(4))
    assert redact(f"sent {header}") == f"sent Basic {REDACTED}"
    # too short to be told from ordinary words: left alone
    register("abc")
    assert redact("abc") == "abc"


def test_minted_credentials_are_redacted_and_only_the_newest_kept() -> None:
    minted = [f"ghs_{index:04d}{secrets.token_hex(8)}" for index in range(70)]
    for token in minted:
        redaction.register_minted(token)
    # 70 minted, 64 kept: the 6 oldest have expired long before (an hour each)
    assert [redact(token) == REDACTED for token in minted] == [False] * 6 + [True] * 64
