"""Every configured secret kept out of every error, log line and page.

A secret value enters the process in one of few ways: read by reference
(:func:`kpi_exporter.credentials.read_secret`: tokens, webhook secrets, keys, database URLs),
encoded into a Basic ``Authorization`` header (:func:`basic_authorization`), or minted at run
time (a GitHub App's installation token). Each is registered here, and :func:`redact` is the
one place that takes them out of a text: the log formatters, the errors a source records
(landing page, ``/readyz``), the reasons an API answers with, the ingest endpoint's answers
and ``check-config`` all go through it. An API that echoes the credential it was sent (a
401 whose ``message`` quotes the ``Authorization`` header) therefore shows ``<redacted>``.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque

REDACTED = "<redacted>"
# A shorter value would be redacted inside ordinary words; no real credential is that short.
MIN_LENGTH = 4
# Values minted at run time (installation tokens, each replacing the last) are remembered in a
# bounded queue, so a process running for months does not grow with them.
MINTED_KEPT = 64

_lock = threading.Lock()
_configured: set[str] = set()
_minted: deque[str] = deque(maxlen=MINTED_KEPT)
_ordered: tuple[str, ...] = ()  # longest first: a secret containing another goes whole


def _forms(value: str) -> set[str]:
    """The spellings of ``value`` an error may quote: as it is, escaped inside a JSON
    string, and each long line of a multi-line value (a PEM key's base64 lines)."""
    forms = {value, json.dumps(value)[1:-1]}
    lines = (line.strip() for line in value.splitlines())
    forms.update(line for line in lines if len(line) >= 16 and not line.startswith("-----"))
    return {form for form in forms if len(form) >= MIN_LENGTH}


def _reorder() -> None:
    global _ordered
    _ordered = tuple(sorted(_configured.union(*map(_forms, _minted)), key=len, reverse=True))


def register(value: str) -> None:
    """Redact ``value`` from now on (a secret read from the environment or a file)."""
    forms = _forms(value.strip())
    if not forms:
        return
    with _lock:
        if forms <= _configured:
            return
        _configured.update(forms)
        _reorder()


def register_minted(value: str) -> None:
    """Redact a credential minted at run time (one of the :data:`MINTED_KEPT` newest)."""
    value = value.strip()
    if len(value) < MIN_LENGTH:
        return
    with _lock:
        if value in _minted:
            return
        _minted.append(value)
        _reorder()


def basic_authorization(user: str, password: str) -> str:
    """The value of a Basic ``Authorization`` header, its base64 material registered too."""
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    register(password)
    register(encoded)
    return f"Basic {encoded}"


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``<redacted>``."""
    for secret in _ordered:  # a tuple swapped whole by register: no lock needed to read it
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
