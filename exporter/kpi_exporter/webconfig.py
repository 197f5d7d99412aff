"""The web configuration file (``--web.config.file``): TLS and basic auth, in the format of
Prometheus' exporter-toolkit. The supported subset: ``tls_server_config`` (``cert_file``,
``key_file``, ``client_ca_file``, ``client_auth_type`` NoClientCert or
RequireAndVerifyClientCert, ``min_version`` TLS12 or TLS13) and ``basic_auth_users``; other
exporter-toolkit keys are refused by name rather than silently ignored."""

from __future__ import annotations

import hashlib
import ssl
import threading
from pathlib import Path
from typing import Literal

import bcrypt
from pydantic import Field

from .config import ConfigError, Strict, parse_yaml_model


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
    few seconds does not pay bcrypt's deliberate cost each time."""

    MEMORY = 1024  # remembered (user, password) results, at most

    def __init__(self, users: dict[str, str]) -> None:
        self._users = users
        self._verified: dict[str, bool] = {}
        self._lock = threading.Lock()
        # An unknown user is checked against this, so that answering takes as long as for a
        # known one and does not tell which user names exist.
        self._decoy = bcrypt.hashpw(b"decoy", bcrypt.gensalt(rounds=10)).decode()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, user: str, password: str) -> bool:
        known = user in self._users
        hashed = self._users.get(user, self._decoy)
        memo = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).hexdigest()
        with self._lock:
            if memo not in self._verified:
                if len(self._verified) >= self.MEMORY:
                    self._verified.clear()
                try:
                    self._verified[memo] = bcrypt.checkpw(password.encode(), hashed.encode())
                except ValueError:
                    self._verified[memo] = False
            return known and self._verified[memo]


def load_web_config(path: str | Path) -> tuple[WebConfig, Path]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            [f"{file}: cannot read the web configuration: {error.strerror}"]
        ) from None
    return parse_yaml_model(text, str(file), WebConfig), file.resolve().parent
