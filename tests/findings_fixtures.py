"""What the tests of the vulnerability-management sources (Snyk, Defender, Qualys) share: the
time of their first poll and the apps their assets map to."""

from __future__ import annotations

from tests.support import ts

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
