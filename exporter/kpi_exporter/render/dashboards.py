"""The Grafana dashboards rendered from the Jsonnet sources in ``dashboards/``.

Each entry point (``dashboards/<name>.jsonnet``) takes the thresholds file as its
``overrides`` argument, like the rule files (see ``bundle``), and becomes
``dashboards/rendered/<folder>/<name>.json``: one folder per audience, the folders the
Grafana provider file (``dashboards/provisioning/dashboards.yaml``) loads.

The dashboard ``version`` is derived from the content: the first 31 bits of the SHA-256 of
the dashboard rendered without it. Any change of a panel, a query, a threshold or a title
moves it; rendering the same sources twice gives the same number, so the drift check holds.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from . import jsonnet, sources

SOURCES = sources.ROOT / "dashboards"
RENDERED = "dashboards/rendered"

# Entry point -> the audience folder it is provisioned in.
DASHBOARDS = {
    "executive": "executive",
    "leadership": "leadership",
    "team": "team",
    "delivery": "domains",
    "flow": "domains",
    "quality": "domains",
    "slo": "domains",
    "security": "domains",
    "cost": "domains",
    "exporter": "operations",
}
FOLDERS = tuple(dict.fromkeys(DASHBOARDS.values()))
GENERATED_DIRS = tuple(f"{RENDERED}/{folder}" for folder in FOLDERS)


def path_of(name: str) -> str:
    """Where the dashboard ``name`` is rendered, relative to the repository root."""
    return f"{RENDERED}/{DASHBOARDS[name]}/{name}.json"


def evaluate(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The dashboard of ``dashboards/<name>.jsonnet`` with its content-derived version."""
    overrides_json = json.dumps(dict(overrides or {}))
    text = jsonnet.evaluate_file(
        SOURCES / f"{name}.jsonnet", overrides_json, f"dashboards/{name}.jsonnet"
    )
    dashboard: dict[str, Any] = json.loads(text)
    dashboard["version"] = version(dashboard)
    return dashboard


def version(dashboard: Mapping[str, Any]) -> int:
    """A positive 31-bit number that changes whenever the content (without ``version``) does."""
    content = {key: value for key, value in dashboard.items() if key != "version"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1 or 1


def rendered_files(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Path (relative to the repository root) -> content of every rendered dashboard."""
    return dict(_rendered(json.dumps(dict(overrides or {}), sort_keys=True)))


@functools.lru_cache(maxsize=4)
def _rendered(overrides_json: str) -> tuple[tuple[str, str], ...]:
    overrides = json.loads(overrides_json)
    return tuple(
        (path_of(name), json.dumps(evaluate(name, overrides), indent=2, sort_keys=True) + "\n")
        for name in DASHBOARDS
    )
