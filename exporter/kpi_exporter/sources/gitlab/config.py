"""The configuration of the ``gitlab`` source."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ...config_base import Credentials, Duration, Name
from ..delivery import FlowLabels


class GitLabSource(Credentials):
    type: Literal["gitlab"]
    name: Name
    interval: Duration = 300.0
    api_url: str = Field("https://gitlab.com/api/v4", description="REST API root.")
    projects: list[str] = Field(default_factory=list, description="group/project paths.")
    group: str | None = Field(None, description="Discover the projects of a group.")
    include_subgroups: bool = True
    labels: FlowLabels = Field(default_factory=FlowLabels)
    horizon: Duration = Field(365 * 86400.0, description="How far back the first sync reads.")
    concurrency: int = Field(4, ge=1, le=32, description="Requests in flight at once.")

    @model_validator(mode="after")
    def _scope(self) -> GitLabSource:
        if not self.projects and self.group is None:
            raise ValueError("set projects, group, or both")
        return self
