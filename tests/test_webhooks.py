"""Native deployment webhooks on the ingest source, through the real HTTP server: GitHub's
``deployment_status`` (X-Hub-Signature-256), GitLab's deployment events (X-Gitlab-Token) and
Argo CD notifications (a configured header), each on its own path, with the ingest
hardening: refused replays, size limits, clear 400s naming the field."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
import requests

from kpi_exporter.cli import build_sources
from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.health import Health
from kpi_exporter.model import Deployment
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.server import ExporterServer
from kpi_exporter.store import Store
from tests.real_data import artifact
from tests.support import sample, ts
from tests.test_ingest import metrics

TIMEOUT = 5.0
SOURCE = "push"
GITHUB_SECRET = "gh-webhook-s3cret"
GITLAB_TOKEN = "gl-webhook-t0ken"
ARGO_TOKEN = "argo-n0tify-t0ken"
CONFIG = f"""
apps:
  hello: {{team: web, repos: [Codertocat/Hello-World, root/test-deployment-webhooks]}}
  checkout: {{team: payments}}
sources:
  - type: ingest
    name: {SOURCE}
    secret_env: KPI_TEST_PUSH_SECRET
    max_body_bytes: 16384
    webhooks:
      github: {{secret_env: KPI_TEST_GITHUB_WEBHOOK}}
      gitlab: {{secret_env: KPI_TEST_GITLAB_WEBHOOK}}
      argocd: {{secret_env: KPI_TEST_ARGO_WEBHOOK, header: X-Argo-Token}}
"""
HELLO = 'kpi_deployments_total{app="hello",environment="production",team="web"}'


@pytest.fixture
def server(listening: ExporterServer, monkeypatch: pytest.MonkeyPatch) -> ExporterServer:
    monkeypatch.setenv("KPI_TEST_PUSH_SECRET", "push-secret")
    monkeypatch.setenv("KPI_TEST_GITHUB_WEBHOOK", GITHUB_SECRET)
    monkeypatch.setenv("KPI_TEST_GITLAB_WEBHOOK", GITLAB_TOKEN)
    monkeypatch.setenv("KPI_TEST_ARGO_WEBHOOK", ARGO_TOKEN)
    config = parse_config(CONFIG, "kpi.yml")
    _, ingest = build_sources(config, Ownership(config))
    health = Health()
    health.register(SOURCE, "ingest", polled=True)
    pipeline = Pipeline(Store(":memory:"), config.kpi_settings(), config.link_settings(), health)
    monkeypatch.setattr(listening, "pipeline", pipeline)
    monkeypatch.setattr(listening, "ingest", ingest)
    return listening


def post(server: ExporterServer, vendor: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{server.port}/api/v1/webhooks/{vendor}",
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=TIMEOUT,
    )


def stored(server: ExporterServer) -> dict[str, Deployment]:
    events = server.pipeline.store.iter_events(["deployment"])
    return {e.key: e for e in events if isinstance(e, Deployment)}


# --- GitHub ---------------------------------------------------------------------------------


def github_payload() -> bytes:
    # GitHub's own example of a deployment_status webhook (octokit/webhooks), unmodified
    return artifact("events/github-deployment_status.payload.json").read_bytes()


def hub_signature(body: bytes, secret: str = GITHUB_SECRET) -> str:
    """X-Hub-Signature-256 as GitHub computes it: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(
    body: bytes, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
) -> dict[str, str]:
    return {
        "X-GitHub-Event": "deployment_status",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": hub_signature(body),
    }


def test_a_github_deployment_status_webhook_is_a_deployment(server):
    body = github_payload()

    answer = post(server, "github", body, **github_headers(body))

    # changed: the deployment and its derived outcome
    assert (answer.status_code, answer.json()) == (200, {"accepted": 1, "changed": 2})
    # deployment 145988746 of Codertocat/Hello-World (app hello): created 15:20:53, its
    # success status 15:20:55; sha f95f852...
    assert stored(server) == {
        "github/Codertocat/Hello-World/deployment/145988746": Deployment(
            source=SOURCE,
            key="github/Codertocat/Hello-World/deployment/145988746",
            app="hello",
            team="web",
            environment="production",
            finished_at=ts("2019-05-15T15:20:55Z"),
            status="success",
            started_at=ts("2019-05-15T15:20:53Z"),
            commit="f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        )
    }
    assert float(sample(metrics(server), HELLO) or 0) == 1


def test_a_github_webhook_signed_with_another_secret_or_unsigned_is_refused(server):
    body = github_payload()
    wrong = {**github_headers(body), "X-Hub-Signature-256": hub_signature(body, "other")}

    refused = post(server, "github", body, **wrong)
    unsigned = post(server, "github", body, **{"X-GitHub-Event": "deployment_status"})

    assert refused.status_code == 401
    assert "X-Hub-Signature-256: signature does not match" in refused.json()["error"]
    assert unsigned.status_code == 401
    assert stored(server) == {}


def test_the_same_github_delivery_twice_is_a_refused_replay(server):
    body = github_payload()
    assert post(server, "github", body, **github_headers(body)).status_code == 200

    again = post(server, "github", body, **github_headers(body))

    assert again.status_code == 409 and "replay" in again.json()["error"]
    assert float(sample(metrics(server), HELLO) or 0) == 1


def test_ping_and_unfinished_states_are_acknowledged_and_store_nothing(server):
    ping = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    payload = json.loads(github_payload())
    payload["deployment_status"]["state"] = "in_progress"
    pending = json.dumps(payload).encode()

    first = post(server, "github", ping, **{**github_headers(ping), "X-GitHub-Event": "ping"})
    second = post(server, "github", pending, **github_headers(pending, "d-2"))

    assert first.json() == {"accepted": 0, "changed": 0}
    assert second.json() == {"accepted": 0, "changed": 0}
    assert stored(server) == {}


def test_a_github_payload_missing_a_field_is_a_400_naming_it(server):
    payload = json.loads(github_payload())
    del payload["deployment"]["sha"]
    body = json.dumps(payload).encode()

    answer = post(server, "github", body, **github_headers(body))

    assert answer.status_code == 400
    assert answer.json() == {"error": "github webhook: field 'deployment.sha': missing"}


# --- GitLab ---------------------------------------------------------------------------------


def gitlab_payload(status: str = "success") -> dict[str, Any]:
    """A deployment event as GitLab's webhook events reference shows it."""
    project = "root/test-deployment-webhooks"
    return {
        "object_kind": "deployment",
        "status": status,
        "status_changed_at": "2021-04-28 21:50:00 +0200",
        "deployment_id": 15,
        "deployable_id": 796,
        "deployable_url": f"http://gitlab.test/{project}/-/jobs/796",
        "environment": "production",
        "environment_tier": "production",
        "environment_slug": "production",
        "environment_external_url": "https://shop.test",
        "project": {
            "id": 30,
            "name": "test-deployment-webhooks",
            "web_url": f"http://gitlab.test/{project}",
            "path_with_namespace": project,
            "default_branch": "main",
        },
        "short_sha": "279484c0",
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "user_url": "http://gitlab.test/root",
        "commit_url": f"http://gitlab.test/{project}/-/commit/"
        "279484c09fbe69ededfced8c1bb6e6d24616b468",
        "commit_title": "Add new file",
    }


def test_a_gitlab_deployment_event_with_its_token_is_a_deployment(server):
    body = json.dumps(gitlab_payload()).encode()
    headers = {"X-Gitlab-Event": "Deployment Hook", "X-Gitlab-Token": GITLAB_TOKEN}

    answer = post(server, "gitlab", body, **headers, **{"Idempotency-Key": "k-1"})

    assert answer.status_code == 200
    # 21:50:00 at +02:00 is 19:50:00 UTC; the full SHA ends commit_url
    deployment = stored(server)["gitlab/root/test-deployment-webhooks/deployment/15"]
    assert (deployment.app, deployment.team, deployment.environment) == (
        "hello",
        "web",
        "production",
    )
    assert deployment.finished_at == ts("2021-04-28T19:50:00Z")
    assert deployment.commit == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    assert deployment.status == "success"
    # GitLab retries with the same Idempotency-Key: refused as a replay
    again = post(server, "gitlab", body, **headers, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 409


def test_a_gitlab_event_with_a_wrong_token_or_of_another_kind_is_refused(server):
    body = json.dumps(gitlab_payload()).encode()
    push = json.dumps({"object_kind": "push"}).encode()

    wrong = post(server, "gitlab", body, **{"X-Gitlab-Token": "guess"})
    other = post(server, "gitlab", push, **{"X-Gitlab-Token": GITLAB_TOKEN})

    assert wrong.status_code == 401 and "X-Gitlab-Token: wrong token" in wrong.json()["error"]
    assert other.status_code == 400 and "object_kind" in other.json()["error"]


def test_a_failed_gitlab_deployment_is_a_failed_deployment_and_running_is_ignored(server):
    failed = json.dumps(gitlab_payload("failed")).encode()
    running = json.dumps({**gitlab_payload("running"), "deployment_id": 16}).encode()
    token = {"X-Gitlab-Token": GITLAB_TOKEN}

    assert post(server, "gitlab", failed, **token).json()["accepted"] == 1
    assert post(server, "gitlab", running, **token).json()["accepted"] == 0
    assert [d.status for d in stored(server).values()] == ["failure"]


# --- Argo CD --------------------------------------------------------------------------------


def argocd_payload(phase: str = "Succeeded") -> dict[str, str]:
    """What the notification template of docs/events.md renders for one sync."""
    return {
        "application": "checkout-prod",
        "app": "checkout",
        "environment": "production",
        "revision": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
        "phase": phase,
        "startedAt": "2026-11-20T09:58:00Z",
        "finishedAt": "2026-11-20T10:00:00Z",
    }


def test_an_argo_cd_notification_with_its_configured_header_is_a_deployment(server):
    body = json.dumps(argocd_payload()).encode()

    answer = post(server, "argocd", body, **{"X-Argo-Token": ARGO_TOKEN})

    assert answer.status_code == 200
    # started 09:58:00, finished 10:00:00: the key is the sync's start, 2026-11-20T09:58:00Z
    key = f"argocd/checkout-prod/{int(ts('2026-11-20T09:58:00Z'))}"
    deployment = stored(server)[key]
    assert (deployment.app, deployment.team, deployment.finished_at) == (
        "checkout",
        "payments",
        ts("2026-11-20T10:00:00Z"),
    )
    missing = post(server, "argocd", body)
    assert missing.status_code == 401 and "X-Argo-Token is required" in missing.json()["error"]


def test_an_argo_cd_notification_without_its_phase_is_a_400_naming_it(server):
    payload = argocd_payload()
    del payload["phase"]

    answer = post(server, "argocd", json.dumps(payload).encode(), **{"X-Argo-Token": ARGO_TOKEN})

    assert answer.status_code == 400
    assert answer.json() == {"error": "argocd webhook: field 'phase': missing"}


# --- limits and configuration ---------------------------------------------------------------


def test_a_webhook_body_over_the_limit_is_a_413_before_any_check(server):
    body = b"{" + b" " * 16384 + b"}"

    answer = post(server, "github", body, **github_headers(body))

    assert answer.status_code == 413


def test_a_vendor_not_configured_answers_404(server, monkeypatch):
    monkeypatch.setenv("KPI_TEST_PUSH_SECRET", "push-secret")
    config = parse_config(
        "sources:\n  - {type: ingest, name: bare, secret_env: KPI_TEST_PUSH_SECRET}\n", "kpi.yml"
    )
    _, bare = build_sources(config, Ownership(config))
    monkeypatch.setattr(server, "ingest", bare)
    body = github_payload()

    answer = post(server, "github", body, **github_headers(body))

    assert answer.status_code == 404
    assert answer.json() == {"error": "no github webhook is configured on bare"}


def test_a_webhook_needs_exactly_one_secret_reference(monkeypatch):
    text = """
sources:
  - type: ingest
    name: push
    secret_env: A
    webhooks: {gitlab: {secret_env: B, secret_file: /run/b}}
"""
    with pytest.raises(ConfigError, match=r"webhooks\.gitlab"):
        parse_config(text, "kpi.yml")
