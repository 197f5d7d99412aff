"""Delivery rules the repository sources (GitHub, GitLab) share: the labels that classify a
change."""

from __future__ import annotations

from pydantic import Field

from ..config_base import Strict


class FlowLabels(Strict):
    """Labels that classify issues and pull/merge requests (case-insensitive)."""

    incident: list[str] = Field(default_factory=lambda: ["incident"])
    bug: list[str] = Field(default_factory=lambda: ["bug"])
    hotfix: list[str] = Field(default_factory=lambda: ["hotfix"])
    revert: list[str] = Field(default_factory=lambda: ["revert"])
