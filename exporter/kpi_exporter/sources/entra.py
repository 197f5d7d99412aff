"""Access tokens of a Microsoft Entra ID app registration (OAuth 2.0 client credentials), for
the Microsoft APIs (Defender, Azure Monitor).

``POST {login}/{tenant}/oauth2/v2.0/token`` with the client id and secret buys a bearer token
for one ``scope`` (``https://api.securitycenter.microsoft.com/.default``), valid about an
hour. The token is kept and renewed five minutes before it expires, or at once when the
secret was rotated. Neither the secret nor a token appears in an error or a log line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from ..store import SourceState
from . import SourceError
from .http import HttpClient

LOGIN_URL = "https://login.microsoftonline.com"
REFRESH_BEFORE = 300.0


class EntraToken:
    """The bearer token of one app registration for one scope."""

    def __init__(
        self, login_url: str, tenant_id: str, client_id: str, scope: str, clock: Callable[[], float]
    ) -> None:
        self.url = f"{login_url.rstrip('/')}/{quote(tenant_id, safe='')}/oauth2/v2.0/token"
        self.client_id = client_id
        self.scope = scope
        self.clock = clock
        self._token = ""
        self._expires = 0.0
        self._secret = ""  # a digest of the secret the token was bought with

    @classmethod
    def of(cls, source: Any) -> EntraToken:
        """The token of a polled source configured with ``login_url``, ``tenant_id`` and
        ``client_id``, for its API root's ``.default`` scope, on the source's clock (which
        tests set)."""
        config = source.config
        scope = f"{source.api}/.default"
        return cls(
            config.login_url, config.tenant_id, config.client_id, scope, lambda: source.clock()
        )

    def client(self, source: Any, state: SourceState, secret: str) -> HttpClient:
        """The HTTP client of one poll of ``source``, sending this token, bought with
        ``secret`` when needed (through a client of its own: the sign-in is not the API)."""
        login = HttpClient(source.name, source.health, sleep=source.sleep, clock=source.clock)
        return HttpClient.for_poll(
            source, state, lambda: {"Authorization": f"Bearer {self.get(login, secret)}"}
        )

    def get(self, http: HttpClient, secret: str) -> str:
        """The token, bought with ``secret`` through ``http`` when none is kept, it expires
        within five minutes, or the secret changed."""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        if self._token and digest == self._secret and self.clock() < self._expires:
            return self._token
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": secret,
            "scope": self.scope,
        }
        response = http.request(
            "POST",
            self.url,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            data=urlencode(form).encode(),
        )
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError(f"POST {self.url}: the answer has no access_token")
        lifetime = float(body.get("expires_in") or 3599)
        self._token, self._secret = token, digest
        self._expires = self.clock() + lifetime - REFRESH_BEFORE
        return token

    def forget(self) -> None:
        """Drop the kept token (after a 401: it may have been revoked)."""
        self._token, self._expires = "", 0.0
