"""The cursor envelope of the incremental sources: the JSON object a source keeps in the store
between polls, with the version of its layout and the settings it was made with. A cursor of
another version or other settings (or none, or one that is not JSON) means a first sync."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

log = logging.getLogger(__name__)

CURSOR_VERSION = 1


def fingerprint(what_matters: Any) -> str:
    """A short digest of the settings that, when changed, make the next poll a first sync."""
    text = json.dumps(what_matters, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_cursor(
    text: str | None, settings: str | None, name: str, *, version: int | None = CURSOR_VERSION
) -> dict[str, Any] | None:
    """The saved cursor, or None for a first sync. ``settings`` None: the source keeps none;
    ``version`` None: the version is part of ``settings``."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if (
        not isinstance(data, dict)
        or (version is not None and data.get("version") != version)
        or (settings is not None and data.get("settings") != settings)
    ):
        log.info("%s: settings changed, starting over with a first sync", name)
        return None
    return data


def dump_cursor(settings: str | None, *, version: int | None = CURSOR_VERSION, **state: Any) -> str:
    """The cursor text of ``state`` under the envelope ``load_cursor`` reads back."""
    envelope: dict[str, Any] = {}
    if version is not None:
        envelope["version"] = version
    if settings is not None:
        envelope["settings"] = settings
    return json.dumps({**envelope, **state}, sort_keys=True, separators=(",", ":"))
