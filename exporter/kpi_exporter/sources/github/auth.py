"""Authentication to GitHub: a token by reference, or a GitHub App installation token.

A GitHub App authenticates in two steps: a JSON Web Token signed with the app's RSA key
(RS256, valid 10 minutes at most) buys an installation access token (valid one hour) from
``POST /app/installations/{id}/access_tokens``. The installation token is renewed five
minutes before it expires, on the request that needs it, so a long first sync carries on
across the renewal. Neither the key, the JWT nor a token appears in an error or a log line.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, Self, TypedDict, TypeVar

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ... import __version__
from ...credentials import CredentialError, read_secret
from ...health import Health
from ...ownership import Ownership
from ...redaction import register_minted
from .. import PolledSource, SourceError
from ..http import HttpClient, HttpStatusError
from ..times import parse_time
from .config import GitHubAccess, GitHubApp

if TYPE_CHECKING:
    from ..registry import SourceContext

API_HEADERS: Mapping[str, str] = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "User-Agent": f"kpi-exporter/{__version__}",
}
REFRESH_BEFORE = 300.0  # renew an installation token this long before it expires


class Auth(Protocol):
    def begin(self) -> None:
        """Called at the start of a poll: read the secret (it may have been rotated)."""

    def headers(self) -> Mapping[str, str]:
        """Headers of every API request, the credential included."""

    def forget(self) -> None:
        """Drop what is cached (after a failed poll: the token may have been revoked)."""


class TokenAuth:
    """A personal access token or any other bearer token, from a variable or a file."""

    def __init__(self, env: str | None, file: str | None, what: str) -> None:
        self.env, self.file, self.what = env, file, what
        self._token = ""

    def begin(self) -> None:
        try:
            self._token = read_secret(self.env, self.file, self.what)
        except CredentialError as error:
            raise SourceError(str(error)) from None

    def headers(self) -> Mapping[str, str]:
        return {**API_HEADERS, "Authorization": f"Bearer {self._token}"}

    def forget(self) -> None:
        self._token = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def app_jwt(key: rsa.RSAPrivateKey, app_id: int, now: float) -> str:
    """The JWT a GitHub App presents: RS256, issued a minute in the past (clock drift),
    expiring 9 minutes from now (GitHub accepts 10 at most)."""
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {"iat": int(now) - 60, "exp": int(now) + 540, "iss": str(app_id)}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def load_private_key(pem: str, what: str) -> rsa.RSAPrivateKey:
    """The app's RSA key from its PEM text; the error never quotes the text."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise SourceError(f"{what}: the private key is not a readable PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SourceError(f"{what}: the private key is not an RSA key")
    return key


class AppAuth:
    """A GitHub App installation: JWT -> installation token, renewed before it expires."""

    def __init__(
        self,
        app: GitHubApp,
        api_url: str,
        what: str,
        token_client: Callable[[Callable[[], Mapping[str, str]]], HttpClient],
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.url = f"{api_url}/app/installations/{app.installation_id}/access_tokens"
        self.what = what
        self.clock = clock
        self._client = token_client(self._jwt_headers)
        self._key: rsa.RSAPrivateKey | None = None
        self._token = ""
        self._expires_at = 0.0
        self._failed: SourceError | None = None  # once per poll: the other threads give up
        self._lock = threading.Lock()

    def begin(self) -> None:
        self._failed = None
        try:
            pem = read_secret(self.app.private_key_env, self.app.private_key_file, self.what)
        except CredentialError as error:
            raise SourceError(str(error)) from None
        self._key = load_private_key(pem, self.what)

    def _jwt_headers(self) -> Mapping[str, str]:
        if self._key is None:
            raise SourceError(f"{self.what}: the private key was not read")
        jwt = app_jwt(self._key, self.app.app_id, self.clock())
        register_minted(jwt)
        return {**API_HEADERS, "Authorization": f"Bearer {jwt}"}

    def headers(self) -> Mapping[str, str]:
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if not self._token or self.clock() >= self._expires_at - REFRESH_BEFORE:
                try:
                    self._token, self._expires_at = self._installation_token()
                except SourceError as error:
                    self._failed = error
                    raise
            token = self._token
        return {**API_HEADERS, "Authorization": f"Bearer {token}"}

    def _installation_token(self) -> tuple[str, float]:
        try:
            body = self._client.post_json(self.url, {}).json()
        except HttpStatusError as error:
            # Not a repository's problem: no repository can be read without the token.
            raise SourceError(f"{self.what}: no installation token: {error}") from None
        token = body.get("token") if isinstance(body, dict) else None
        expires = body.get("expires_at") if isinstance(body, dict) else None
        try:
            expires_at: float | None = parse_time(str(expires))
        except ValueError:
            expires_at = None
        if not isinstance(token, str) or not token or expires_at is None:
            raise SourceError(f"POST {self.url}: no installation token in the answer")
        register_minted(token)
        return token, expires_at

    def forget(self) -> None:
        with self._lock:
            self._token, self._expires_at = "", 0.0


AccessT = TypeVar("AccessT", bound=GitHubAccess)


class ClientOptions(TypedDict, total=False):
    """The HTTP client a GitHub source reads with (tests pass fakes)."""

    clock: Callable[[], float]
    sleep: Callable[[float], None]
    session: requests.Session | None


class GitHubPolled(PolledSource[AccessT]):
    """The base of the sources of the GitHub API: on :class:`PolledSource`, the HTTP
    ``session`` and the authentication (its ``token_env`` or ``token_file``, or ``app``):
    errors name the source's ``what``, token requests are counted in its health and paced by
    its clock and sleep."""

    system = "GitHub"

    def __init__(
        self,
        config: AccessT,
        ownership: Ownership,
        health: Health | None = None,
        *,
        what: str = "",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(config, ownership, health, sleep=sleep, clock=clock, what=what)
        self.session = session or requests.Session()
        self.auth = make_auth(
            config.token_env,
            config.token_file,
            config.app,
            self.api,
            self.what,
            source=self.name,
            health=self.health,
            clock=self.clock,
            sleep=self.sleep,
            session=self.session,
        )

    @classmethod
    def build(cls, config: AccessT, context: SourceContext) -> Self:
        """The source, as the registry makes it: the token (or the App's private key) is read
        once first, so a missing secret is a configuration error at start-up."""
        check_credentials(config, context.what)
        return super().build(config, context)


def make_auth(
    config_token_env: str | None,
    config_token_file: str | None,
    app: GitHubApp | None,
    api_url: str,
    what: str,
    *,
    source: str,
    health: Health,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    session: requests.Session,
) -> Auth:
    """Token auth, or app auth whose token requests go through the shared client too
    (counted, retried, rate limits obeyed) with the JWT as their credential."""
    if app is None:
        return TokenAuth(config_token_env, config_token_file, what)

    def token_client(headers: Callable[[], Mapping[str, str]]) -> HttpClient:
        return HttpClient(
            source, health, headers=headers, sleep=sleep, clock=clock, session=session
        )

    return AppAuth(app, api_url, f"{what}.app", token_client, clock)


def check_credentials(config: GitHubAccess, what: str) -> None:
    """Read the token, or the app's private key, once: a missing or unreadable secret is a
    configuration error at start-up. The error names the reference, never the value."""
    if config.app is None:
        read_secret(config.token_env, config.token_file, what)
        return
    app = config.app
    pem = read_secret(app.private_key_env, app.private_key_file, f"{what}.app")
    try:
        load_private_key(pem, f"{what}.app")
    except SourceError as error:
        raise CredentialError(str(error)) from None
