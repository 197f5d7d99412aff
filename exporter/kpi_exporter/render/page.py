"""The KPI page's thresholds, rendered from the catalogue's configuration.

The page at ``/`` colours each headline number against the threshold of the alert that
watches it and shows that alert's action when it is crossed. Evaluating Jsonnet takes far
too long for a request (and the exporter image holds no Jsonnet sources), so ``render``
writes what the page needs, from ``alerts/config.libsonnet``, into the package as
``kpi_exporter/page/thresholds.json``; ``render --check`` keeps it equal to the catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config_base import parse_duration
from . import bundle

PATH = "exporter/kpi_exporter/page/thresholds.json"

# The alerts whose thresholds the page shows (kpi_exporter.page.headlines names each one).
PAGE_ALERTS = (
    "ProductionDeploysStalled",
    "ChangeLeadTimeHigh",
    "ChangeFailureRateHigh",
    "DeploymentRecoveryTimeHigh",
    "ReworkRateHigh",
    "TimeToRestoreHigh",
    "CriticalVulnerabilityPastSla",
    "HighVulnerabilityPastSla",
    "SpendOverBudget",
    "SpendForecastOverBudget",
)
_DURATION_THRESHOLDS = {
    "ChangeLeadTimeHigh",
    "DeploymentRecoveryTimeHigh",
    "TimeToRestoreHigh",
}
_DORA_DURATIONS = {"change_lead_time", "failed_deployment_recovery_time"}


def thresholds(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the page needs of the configuration: the short and long windows, each page
    alert's threshold (seconds for durations), minimum count, window, severity and action,
    and the limits of the selected DORA report (seconds for durations)."""
    config = bundle.evaluate("config.libsonnet", overrides)
    windows = config["windows"]
    alerts: dict[str, Any] = {}
    for name in PAGE_ALERTS:
        settings = config["alerts"][name]
        entry: dict[str, Any] = {
            "enabled": settings["enabled"],
            "severity": settings["severity"],
            "action": settings["action"],
        }
        if "threshold" in settings:
            value = settings["threshold"]
            entry["threshold"] = parse_duration(value) if name in _DURATION_THRESHOLDS else value
        if "window" in settings:
            entry["window"] = windows[settings["window"]]
        for key in ("min_deployments", "min_incidents"):
            if key in settings:
                entry["minimum"] = settings[key]
        alerts[name] = entry
    report = config["dora"][config["dora_report"]]
    dora = {
        kpi: {
            tier: parse_duration(limit) if kpi in _DORA_DURATIONS else limit
            for tier, limit in report[kpi]["limits"].items()
        }
        for kpi in sorted(report)
    }
    return {
        "windows": {"short": windows["short"], "long": windows["long"]},
        "dora_report": config["dora_report"],
        "dora": dora,
        "alerts": alerts,
    }


def rendered_files(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The page's thresholds file, by its path in the repository."""
    text = json.dumps(thresholds(overrides), indent=1, sort_keys=True) + "\n"
    return {PATH: text}
