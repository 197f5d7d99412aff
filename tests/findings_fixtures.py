"""What the tests of the vulnerability-management sources (Snyk, Defender, Qualys) share: the
time of their first poll, the apps their assets map to, and how a source is built."""

from __future__ import annotations

from typing import Any

from tests.support import built_source, ts

NOW = ts("2026-11-20T00:00:00Z")
HOUR, DAY = 3600, 86400
APPS = """
defaults: {app: unknown, team: unassigned}
apps:
  shop: {team: payments, repos: [acme/shop]}
  api: {team: platform}
"""
SHOP = {"app": "shop", "team": "payments"}
API_APP = {"app": "api", "team": "platform"}
OTHER = {"app": "unknown", "team": "unassigned"}


def findings_source(kind: str, token_env: str, api: str, clock: list[float], **fields: Any) -> Any:
    """The source ``kind`` (named after its type) with its secret in ``token_env`` and its API
    at ``api``, built as the exporter builds it under :data:`APPS`, its clock ``clock[0]``."""
    settings = {"type": kind, "name": kind, "token_env": token_env, "api_url": api, **fields}
    return built_source(settings, APPS, clock=lambda: clock[0])
