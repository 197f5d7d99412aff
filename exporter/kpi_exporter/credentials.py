"""Secrets by reference: read from an environment variable or a file, never from the config."""

from __future__ import annotations

import os
from pathlib import Path

from . import redaction


class CredentialError(Exception):
    """A referenced secret that cannot be read. The message names the reference, never the value."""


def read_secret(env: str | None, file: str | None, what: str) -> str:
    """The secret named by ``env`` (a variable name) or ``file`` (a path), stripped, and
    registered to be redacted from every error, log line and page."""
    if env is not None:
        value = os.environ.get(env, "")
        if not value.strip():
            raise CredentialError(f"{what}: environment variable {env} is not set or empty")
        redaction.register(value)
        return value.strip()
    if file is not None:
        try:
            value = Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise CredentialError(
                f"{what}: cannot read secret file {file}: {error.strerror}"
            ) from None
        if not value.strip():
            raise CredentialError(f"{what}: secret file {file} is empty")
        redaction.register(value)
        return value.strip()
    raise CredentialError(f"{what}: no secret reference given")
