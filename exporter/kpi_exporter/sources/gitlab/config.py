"""The configuration of the ``gitlab`` source."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..delivery import ChangeReading, ForgeApi


class GitLabSource(ChangeReading, ForgeApi):
    type: Literal["gitlab"]
    api_url: str = Field("https://gitlab.com/api/v4", description="REST API root.")
    projects: list[str] = Field(default_factory=list, description="group/project paths.")
    group: str | None = Field(None, description="Discover the projects of a group.")
    include_subgroups: bool = True

    @model_validator(mode="after")
    def _scope(self) -> GitLabSource:
        if not self.projects and self.group is None:
            raise ValueError("set projects, group, or both")
        return self
