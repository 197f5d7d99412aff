"""SonarQube (or SonarCloud) Web API: technical debt ratio, coverage, bugs, code smells and
vulnerabilities of each configured project, as Gauge events of the project's app.

Per project and poll, one conditional request through the shared HTTP client:
``GET /api/measures/component?component=KEY&metricKeys=...``; a ``304`` leaves the stored
gauges as they are. The token (``token_env`` or ``token_file``, optional for public projects)
is sent as ``Authorization: Bearer`` (user tokens, SonarQube 10+ and SonarCloud) or, with
``auth: basic``, as the user name of basic authentication (older SonarQube).

What becomes what (key ``sonarqube/{project}/{name}``, measured at the poll time):

| SonarQube metric | Gauge name | value |
| --- | --- | --- |
| ``sqale_debt_ratio`` (percent) | ``sonarqube_debt_ratio`` | 0..1 |
| ``coverage`` (percent) | ``sonarqube_coverage_ratio`` | 0..1 |
| ``bugs`` | ``sonarqube_bugs`` | count |
| ``code_smells`` | ``sonarqube_code_smells`` | count |
| ``vulnerabilities`` | ``sonarqube_vulnerabilities`` | count |

A metric the project has no value for (no analysis yet, coverage never imported) is left out.
A project answering 404 is a problem naming it; the others still count. Any other failure
(bad token, malformed JSON, retries spent) fails the poll and keeps the stored gauges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config_base import Credentials, Duration, Name
from ..model import Event, Gauge
from ..redaction import basic_authorization
from ..store import SourceState
from . import Poll, PolledSource, SourceError
from .http import HttpClient, HttpStatusError
from .registry import SourceType, headline


class SonarQubeSource(Credentials):
    token_required = False

    type: Literal["sonarqube"]
    name: Name
    interval: Duration = 900.0
    api_url: str = Field(
        "https://sonarcloud.io", pattern=r"^https?://", description="Server root (no /api)."
    )
    auth: Literal["bearer", "basic"] = Field(
        "bearer", description="bearer (SonarQube 10+, SonarCloud) or basic (token as user)."
    )
    projects: dict[str, str] = Field(
        min_length=1, description="Project key -> app (one project per app)."
    )

    @model_validator(mode="after")
    def _one_project_per_app(self) -> SonarQubeSource:
        apps = list(self.projects.values())
        twice = sorted({app for app in apps if apps.count(app) > 1})
        if twice:
            # Ratios of two projects cannot be summed into one series.
            raise ValueError(f"one project per app: {', '.join(twice)} named more than once")
        return self


# SonarQube metric -> (Gauge name, scale to the exported unit).
METRICS: dict[str, tuple[str, float]] = {
    "sqale_debt_ratio": ("sonarqube_debt_ratio", 0.01),
    "coverage": ("sonarqube_coverage_ratio", 0.01),
    "bugs": ("sonarqube_bugs", 1.0),
    "code_smells": ("sonarqube_code_smells", 1.0),
    "vulnerabilities": ("sonarqube_vulnerabilities", 1.0),
}


class SonarQube(PolledSource[SonarQubeSource]):
    """Polls the measures of the configured SonarQube projects."""

    system = "SonarQube"

    def _headers(self, token: str) -> dict[str, str]:
        if not token:
            return {}
        if self.config.auth == "basic":
            return {"Authorization": basic_authorization(token, "")}
        return {"Authorization": f"Bearer {token}"}

    def read(self, state: SourceState) -> Poll:
        headers = self._headers(self.poll_token())
        http = HttpClient.for_poll(self, state, lambda: headers)
        events: list[Event] = []
        problems: list[str] = []
        projects = {
            project: app
            for project, app in self.config.projects.items()
            if self.ownership.shard.owns(app)  # this shard's apps (see sharding)
        }
        for project, app in projects.items():
            try:
                response = http.get(
                    f"{self.api}/api/measures/component",
                    {"component": project, "metricKeys": ",".join(METRICS)},
                )
            except HttpStatusError as error:
                if error.status != 404:
                    raise
                problems.append(f"project {project}: not found (or not visible to the token)")
                continue
            if response.not_modified:
                continue
            events.extend(self._gauges(project, app, response.json()))
        if problems and len(problems) == len(projects):
            raise SourceError("; ".join(problems))
        return Poll(events=events, cursor=None, validators=http.validators, problems=problems)

    def _gauges(self, project: str, app: str, body: Any) -> list[Event]:
        measures = body.get("component", {}).get("measures") if isinstance(body, dict) else None
        if not isinstance(measures, list):
            raise SourceError(f"project {project}: expected component.measures in the answer")
        owner = self.ownership.of_app(app)
        now = self.clock()
        events: list[Event] = []
        for measure in measures:
            metric, value = _metric(measure)
            if metric not in METRICS or value is None:
                continue
            name, scale = METRICS[metric]
            events.append(
                Gauge(
                    **owner.identity(self.name, f"sonarqube/{project}/{name}"),
                    name=name,
                    value=value * scale,
                    measured_at=now,
                )
            )
        return events


def _metric(measure: Mapping[str, Any]) -> tuple[str, float | None]:
    """(metric key, value); no value for a measure of new code only or a non-number."""
    if not isinstance(measure, Mapping):
        return "", None
    metric = str(measure.get("metric", ""))
    try:
        value = float(measure["value"])
    except (KeyError, TypeError, ValueError):
        return metric, None
    return metric, value if math.isfinite(value) else None


def _describe(source: SonarQube) -> list[str]:
    projects = ", ".join(f"{k} -> {v}" for k, v in source.config.projects.items())
    return [headline(source, "sonarqube", f"{projects}; API {source.api}")]


SOURCE_TYPE = SourceType("sonarqube", SonarQubeSource, SonarQube.build, _describe)
