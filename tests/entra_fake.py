"""The Entra ID token endpoint the Microsoft fakes share (Defender, Application Insights), as
its reference describes it: ``POST {login}/{tenant}/oauth2/v2.0/token`` with the form
``grant_type=client_credentials``, ``client_id``, ``client_secret`` and ``scope`` answers
``token_type``, ``expires_in`` and ``access_token``, or 400/401 with ``error`` and
``error_description`` (``AADSTS...``, several lines)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests

Reply = tuple[int, dict[str, str], str]


def entra_token(
    request: requests.PreparedRequest, *, scope: str, client: str, secret: str, number: int
) -> tuple[Reply, str | None]:
    """The answer to a token request, and the token it issues (``eyJ0eXAi.token-<number>``),
    None when it issues none."""
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
    form = {key: values[-1] for key, values in parse_qs(body).items()}
    headers = {"Content-Type": "application/json"}
    if form.get("grant_type") != "client_credentials" or form.get("scope") != scope:
        answer = {"error": "invalid_request", "error_description": "AADSTS900144: bad form"}
        return (400, headers, json.dumps(answer)), None
    if form.get("client_id") != client or form.get("client_secret") != secret:
        description = (
            "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nTimestamp: now"
        )
        answer = {"error": "invalid_client", "error_description": description}
        return (401, headers, json.dumps(answer)), None
    token = f"eyJ0eXAi.token-{number}"
    issued = {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
    return (200, headers, json.dumps(issued)), token


@dataclass
class EntraLogin:
    """What a Microsoft fake keeps of its sign-ins: ``tokens`` valid (clear it to revoke
    them), how many were ``issued``, and ``seen``, every request it answered. A fake says what
    it accepts in :meth:`credentials`."""

    tokens: list[str] = field(default_factory=list)
    issued: int = 0
    seen: list[str] = field(default_factory=list)

    def credentials(self) -> tuple[str, str, str]:
        """The scope, client id and client secret a token request must send."""
        raise NotImplementedError

    def token(self, request: requests.PreparedRequest) -> Reply:
        """The token endpoint's callback."""
        self.seen.append(f"POST {urlsplit(request.url or '').path}")
        scope, client, secret = self.credentials()
        reply, token = entra_token(
            request, scope=scope, client=client, secret=secret, number=self.issued + 1
        )
        if token:
            self.issued += 1
            self.tokens.append(token)
        return reply
