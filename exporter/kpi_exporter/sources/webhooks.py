"""Native deployment webhooks, each on its own path under the ingest source, each checked by
its vendor's own scheme, each made into the same :class:`~kpi_exporter.model.Deployment` the
polling sources make:

- ``POST /api/v1/webhooks/github``: a ``deployment_status`` event (``X-GitHub-Event``), signed
  ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body with the webhook secret>``; the key
  is ``github/{owner}/{repo}/deployment/{id}``, as the GitHub source writes it. ``ping`` is
  answered and stores nothing.
- ``POST /api/v1/webhooks/gitlab``: a deployment event (``X-Gitlab-Event: Deployment Hook``,
  ``object_kind: deployment``) carrying the webhook's secret token in ``X-Gitlab-Token``; the
  key is ``gitlab/{path}/deployment/{deployment_id}``, as the GitLab source writes it.
- ``POST /api/v1/webhooks/argocd``: an Argo CD notification (webhook service) carrying a
  configured header with the configured secret, body from the template in docs/events.md.

Only final states are deployments: success, and failure (GitHub ``failure``/``error``,
GitLab ``failed``, Argo CD ``Failed``/``Error``); other states are acknowledged and ignored.
A replay (the same delivery id, or the same body where the vendor sends none) is refused with
409 within the ingest source's replay window; outside it, the same delivery rewrites the same
event (the key is the deployment), so nothing is counted twice.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import Field, model_validator

from ..config_base import Strict, exactly_one
from ..credentials import read_secret
from ..model import Deployment, Event
from ..ownership import Owner, Ownership
from .times import parse_time

PATHS = {
    "/api/v1/webhooks/github": "github",
    "/api/v1/webhooks/gitlab": "gitlab",
    "/api/v1/webhooks/argocd": "argocd",
}


class WebhookSecret(Strict):
    """Where one vendor's webhook secret is read from."""

    secret_env: str | None = Field(None, description="Env variable holding the secret.")
    secret_file: str | None = Field(None, description="File holding the secret.")

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookSecret:
        exactly_one(self, "secret_env", "secret_file")
        return self


class ArgoCdWebhook(WebhookSecret):
    header: str = Field(
        "X-KPI-Token", description="Header the Argo CD webhook service sends the secret in."
    )


class Webhooks(Strict):
    """Native webhooks accepted besides the signed events (each optional)."""

    github: WebhookSecret | None = Field(None, description="deployment_status webhooks.")
    gitlab: WebhookSecret | None = Field(None, description="Deployment events (secret token).")
    argocd: ArgoCdWebhook | None = Field(None, description="Argo CD notifications.")


class WebhookError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified webhook request: what a replay of it repeats, and its deployments."""

    digest: str
    events: list[Event]


class Headers(Protocol):
    """Request headers looked up by name (an HTTP message's, case-insensitive)."""

    def get(self, name: str, /) -> Any: ...


def _field(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` of the payload; 400 naming the field when missing."""
    value = data
    for key in path.split("."):
        if not isinstance(value, dict) or value.get(key) in (None, ""):
            raise WebhookError(400, f"field {path!r}: missing")
        value = value[key]
    return value


def _text(data: Any, path: str) -> str:
    value = _field(data, path)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise WebhookError(400, f"field {path!r}: expected a string")
    return str(value)


def _time(data: Any, path: str) -> float:
    text = _text(data, path)
    try:
        return parse_time(_gitlab_time(text))
    except ValueError:
        raise WebhookError(400, f"field {path!r}: not a time: {text[:40]!r}") from None


def _gitlab_time(text: str) -> str:
    """GitLab writes ``2021-04-28 21:50:00 +0200`` in webhooks: made ISO 8601."""
    parts = text.split(" ")
    if len(parts) == 3 and parts[2][:1] in "+-":
        return f"{parts[0]}T{parts[1]}{parts[2]}"
    if len(parts) == 3 and parts[2] == "UTC":
        return f"{parts[0]}T{parts[1]}Z"
    return text


def _digest(vendor: str, value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(vendor.encode() + b"\0" + raw).hexdigest()


class WebhookReceiver:
    """Verifies and reads the native webhooks configured on one ingest source."""

    def __init__(
        self, source: str, secrets: Mapping[str, str], argocd_header: str, ownership: Ownership
    ) -> None:
        self.source = source
        self._secrets = dict(secrets)
        self.argocd_header = argocd_header
        self.ownership = ownership
        self._readers: dict[str, Callable[[Headers, bytes, Any], Delivery]] = {
            "github": self._github,
            "gitlab": self._gitlab,
            "argocd": self._argocd,
        }

    @classmethod
    def configured(
        cls, source: str, webhooks: Webhooks, ownership: Ownership, what: str
    ) -> WebhookReceiver:
        secrets = {}
        for vendor in ("github", "gitlab", "argocd"):
            config = getattr(webhooks, vendor)
            if config is not None:
                secrets[vendor] = read_secret(
                    config.secret_env, config.secret_file, f"{what}.webhooks.{vendor}"
                )
        header = webhooks.argocd.header if webhooks.argocd else "X-KPI-Token"
        return cls(source, secrets, header, ownership)

    def accepts(self, vendor: str) -> bool:
        return vendor in self._secrets

    def verify(self, vendor: str, headers: Headers, body: bytes) -> None:
        """Raise 401 unless the request carries the vendor's proof of the shared secret."""
        secret = self._secrets[vendor]
        if vendor == "github":
            signature = headers.get("X-Hub-Signature-256")
            if not signature:
                raise WebhookError(401, "unsigned request: X-Hub-Signature-256 is required")
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
                raise WebhookError(401, "X-Hub-Signature-256: signature does not match the body")
            return
        header = "X-Gitlab-Token" if vendor == "gitlab" else self.argocd_header
        token = headers.get(header)
        if not token:
            raise WebhookError(401, f"unauthenticated request: {header} is required")
        if not hmac.compare_digest(secret.encode(), token.strip().encode()):
            raise WebhookError(401, f"{header}: wrong token")

    def read(self, vendor: str, headers: Headers, body: bytes, payload: Any) -> Delivery:
        """The deployments of a verified request (``payload``: its parsed JSON body)."""
        if not isinstance(payload, dict):
            raise WebhookError(400, "body: expected a JSON object")
        return self._readers[vendor](headers, body, payload)

    # --- one vendor each ---------------------------------------------------------------------

    def _github(self, headers: Headers, body: bytes, payload: dict[str, Any]) -> Delivery:
        delivery = headers.get("X-GitHub-Delivery") or hashlib.sha256(body).hexdigest()
        digest = _digest("github", delivery)
        event = headers.get("X-GitHub-Event") or ""
        if event == "ping":
            return Delivery(digest, [])
        if event != "deployment_status":
            raise WebhookError(
                400, f"X-GitHub-Event: {event!r} is not accepted; send deployment_status"
            )
        state = _text(payload, "deployment_status.state")
        status = {"success": "success", "failure": "failure", "error": "failure"}.get(state)
        if status is None:  # pending, queued, in_progress, inactive: not a finished deployment
            return Delivery(digest, [])
        repo = _text(payload, "repository.full_name")
        return self._deployed(
            digest,
            f"github/{repo}/deployment/{_text(payload, 'deployment.id')}",
            self.ownership.of_repo(repo),
            # named as the GitHub source names it (GitHub's environment, lowercased)
            environment=_text(payload, "deployment.environment").lower(),
            finished_at=_time(payload, "deployment_status.created_at"),
            status=status,
            started_at=_time(payload, "deployment.created_at"),
            commit=_text(payload, "deployment.sha"),
        )

    def _gitlab(self, headers: Headers, body: bytes, payload: dict[str, Any]) -> Delivery:
        # GitLab 17.4+ sends an Idempotency-Key that is the same on every retry
        delivery = headers.get("Idempotency-Key") or headers.get("X-Gitlab-Event-UUID")
        digest = _digest("gitlab", delivery or hashlib.sha256(body).digest())
        if payload.get("object_kind") != "deployment":
            kind = payload.get("object_kind")
            raise WebhookError(400, f"field 'object_kind': {kind!r}; send deployment events")
        state = _text(payload, "status")
        status = {"success": "success", "failed": "failure"}.get(state)
        if status is None:  # created, running, canceled, blocked: no finished deployment
            return Delivery(digest, [])
        path = _text(payload, "project.path_with_namespace")
        return self._deployed(
            digest,
            f"gitlab/{path}/deployment/{_text(payload, 'deployment_id')}",
            self.ownership.of_repo(path),
            environment=_text(payload, "environment"),
            finished_at=_time(payload, "status_changed_at"),
            status=status,
            # the full SHA ends the commit URL (the payload's short_sha is abbreviated)
            commit=_text(payload, "commit_url").rstrip("/").rsplit("/", 1)[-1],
        )

    def _argocd(self, headers: Headers, body: bytes, payload: dict[str, Any]) -> Delivery:
        digest = _digest("argocd", hashlib.sha256(body).digest())
        phase = _text(payload, "phase")
        status = {"Succeeded": "success", "Failed": "failure", "Error": "failure"}.get(phase)
        if status is None:  # Running, Terminating: the sync has not finished
            return Delivery(digest, [])
        application = _text(payload, "application")
        started = _time(payload, "startedAt")
        return self._deployed(
            digest,
            # one sync operation of one application: its start time tells it apart
            f"argocd/{application}/{int(started)}",
            self.ownership.of_app(str(payload.get("app") or "") or application),
            environment=_text(payload, "environment"),
            finished_at=_time(payload, "finishedAt"),
            status=status,
            started_at=started,
            commit=_text(payload, "revision"),
        )

    def _deployed(self, digest: str, key: str, owner: Owner, **fields: Any) -> Delivery:
        deployment = Deployment(
            source=self.source, key=key, app=owner.app, team=owner.team, **fields
        )
        return Delivery(digest, [deployment])
