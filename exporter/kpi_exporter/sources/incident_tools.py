"""What the incident-management sources (PagerDuty, Opsgenie, Jira Service Management
operations) share: their base (the explicit deployment reference they look for, the
fingerprint of their settings), the reference itself and the owner of a list of service
names."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import cached_property
from typing import Any, Protocol, TypeVar

from ..ownership import Owner, Ownership
from . import HorizonSettings, PolledSource
from .cursor import fingerprint

# A 7-40 character hex SHA (with a digit, so that words such as "defaced" are none), or
# "deploy: ID" / "deployment #ID". The first non-empty group is the reference.
DEFAULT_DEPLOYMENT_PATTERN = (
    r"(?i:deploy(?:ment)?)\s*[:#]\s*([\w.-]+)|\b((?=[0-9a-f]*[0-9])[0-9a-f]{7,40})\b"
)


log = logging.getLogger(__name__)


def deployment_ref(pattern: re.Pattern[str], texts: Iterable[Any]) -> str:
    """The first match of ``pattern`` in ``texts``: its first non-empty group, else the
    whole match; empty when none matches."""
    for text in texts:
        if not isinstance(text, str):
            continue
        match = pattern.search(text)
        if match:
            return next((group for group in match.groups() if group), match.group(0))
    return ""


def owner_of(ownership: Ownership, services: Iterable[str], apps: Iterable[str] = ()) -> Owner:
    """An app named outright (``apps``) first, else the first service the ``apps`` mapping
    knows (``apps.*.services``, case-insensitive), else the defaults."""
    for app in apps:
        if app:
            return ownership.of_app(app)
    for service in services:
        owner = ownership.of_service(service)
        if owner != ownership.default:
            return owner
    return ownership.default


class IncidentSettings(HorizonSettings, Protocol):
    @property
    def deployment_pattern(self) -> str: ...


IncidentT = TypeVar("IncidentT", bound=IncidentSettings)


class IncidentTool(PolledSource[IncidentT]):
    """An incident-management API: the explicit deployment reference its incidents may carry
    (``pattern``), and the fingerprint of the settings its events depend on, which are the
    API, the horizon, the pattern and what :meth:`scope` selects."""

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.config.deployment_pattern)

    @cached_property
    def fingerprint(self) -> str:
        what_matters = {
            "api": self.api,
            "horizon": self.config.horizon,
            "pattern": self.config.deployment_pattern,
        }
        return fingerprint({**what_matters, **self.scope()})

    def scope(self) -> dict[str, Any]:
        """The settings that choose the incidents read (services, a query)."""
        raise NotImplementedError
