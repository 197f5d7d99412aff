"""The web configuration file (``--web.config.file``): TLS and basic auth, in the format of
Prometheus' exporter-toolkit. The supported subset: ``tls_server_config`` (``cert_file``,
``key_file``, ``client_ca_file``, ``client_auth_type`` NoClientCert or
RequireAndVerifyClientCert, ``min_version`` TLS12 or TLS13) and ``basic_auth_users``; other
exporter-toolkit keys are refused by name rather than silently ignored."""

from __future__ import annotations

import hashlib
import re
import ssl
import threading
from pathlib import Path
from typing import Literal

import bcrypt
from pydantic import Field, field_validator

from .config import ConfigError, Strict, parse_yaml_model, read_config_text

# $2a$, $2b$ or $2y$ (htpasswd), a two-digit cost, 22 characters of salt and 31 of hash.
BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
DECOY_COST = 10  # when no user is configured


class TLSServerConfig(Strict):
    cert_file: str
    key_file: str
    client_ca_file: str | None = None
    client_auth_type: Literal["NoClientCert", "RequireAndVerifyClientCert"] = "NoClientCert"
    min_version: Literal["TLS12", "TLS13"] = "TLS12"


class WebConfig(Strict):
    tls_server_config: TLSServerConfig | None = None
    basic_auth_users: dict[str, str] = Field(
        default_factory=dict, description="User name -> bcrypt hash of the password."
    )

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, users: dict[str, str]) -> dict[str, str]:
        # A plain password here would let nobody log in; the value is never echoed.
        for user, hashed in users.items():
            if not BCRYPT_HASH.fullmatch(hashed):
                raise ValueError(
                    f"user {user!r}: expected a bcrypt hash ($2b$<cost>$..., e.g. from "
                    "'htpasswd -nBC 12 USER'), not a password"
                )
        return users

    def ssl_context(self, base_dir: Path) -> ssl.SSLContext | None:
        tls = self.tls_server_config
        if tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = (
            ssl.TLSVersion.TLSv1_3 if tls.min_version == "TLS13" else ssl.TLSVersion.TLSv1_2
        )
        # ssl's own error for a missing file does not say which one.
        for key, name in (("cert_file", tls.cert_file), ("key_file", tls.key_file)):
            if not (base_dir / name).is_file():
                raise ConfigError([f"tls_server_config.{key}: {base_dir / name}: no such file"])
        try:
            context.load_cert_chain(base_dir / tls.cert_file, base_dir / tls.key_file)
            if tls.client_auth_type == "RequireAndVerifyClientCert":
                if tls.client_ca_file is None:
                    raise ConfigError(
                        ["tls_server_config.client_ca_file: required to verify client certificates"]
                    )
                context.load_verify_locations(base_dir / tls.client_ca_file)
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(
                [f"tls_server_config: cannot load certificate or key: {error}"]
            ) from None
        return context


class BasicAuth:
    """Checks user and password against bcrypt hashes; remembers results so a scrape every
    few seconds does not pay bcrypt's deliberate cost each time.

    bcrypt runs outside the lock of the remembered answers, so a client guessing passwords
    never holds up a check already remembered; one bcrypt at a time, so guessing takes at
    most one core and scrapes keep the other; right and wrong answers are remembered apart,
    so a flood of wrong ones never pushes a right one out. An unknown user is checked against
    a decoy hash of the highest configured cost: answering takes as long as for a known user
    and does not tell which user names exist."""

    MEMORY = 1024  # remembered (user, password) results of each kind, at most

    def __init__(self, users: dict[str, str]) -> None:
        self._users = users
        self._right: dict[str, None] = {}
        self._wrong: dict[str, None] = {}
        self._lock = threading.Lock()
        self._hashing = threading.Lock()
        self._decoy = bcrypt.hashpw(b"decoy", bcrypt.gensalt(rounds=decoy_cost(users))).decode()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    @property
    def decoy_cost(self) -> int:
        return int(self._decoy[4:6])

    def check(self, user: str, password: str) -> bool:
        known = user in self._users
        hashed = self._users.get(user, self._decoy)
        memo = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).hexdigest()
        with self._lock:
            if memo in self._right:
                return known
            if memo in self._wrong:
                return False
        try:
            with self._hashing:
                right = bcrypt.checkpw(password.encode(), hashed.encode())
        except ValueError:  # not a bcrypt hash, a NUL byte, more than 72 bytes
            right = False
        with self._lock:
            remembered = self._right if right else self._wrong
            if len(remembered) >= self.MEMORY:
                remembered.pop(next(iter(remembered)))  # the oldest
            remembered[memo] = None
        return known and right


def decoy_cost(users: dict[str, str]) -> int:
    """The highest bcrypt cost among the users' hashes (DECOY_COST when there is none)."""
    costs = [int(hashed[4:6]) for hashed in users.values() if BCRYPT_HASH.fullmatch(hashed)]
    return max(costs, default=DECOY_COST)


def load_web_config(path: str | Path) -> tuple[WebConfig, Path]:
    file = Path(path)
    text = read_config_text(file, "the web configuration")
    return parse_yaml_model(text, str(file), WebConfig), file.resolve().parent
