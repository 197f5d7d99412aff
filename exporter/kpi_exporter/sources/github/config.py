"""The configuration of the ``github`` source and its GitHub App authentication."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from ...config_base import SEMVER_TAG_PATTERN, Regex, Strict, exactly_one
from ..delivery import ChangeReading, ForgeApi


class GitHubApp(Strict):
    """Authenticate as a GitHub App installation (JWT -> installation token)."""

    app_id: int = Field(gt=0)
    installation_id: int = Field(gt=0)
    private_key_env: str | None = Field(None, description="Env variable holding the PEM key.")
    private_key_file: str | None = Field(None, description="File holding the PEM key.")

    @model_validator(mode="after")
    def _one_key(self) -> GitHubApp:
        exactly_one(self, "private_key_env", "private_key_file")
        return self


class GitHubAccess(ForgeApi):
    """What the sources of the GitHub API share: the API root, a token or a GitHub App, and
    the repositories read (listed, those of an organisation, or both)."""

    token_alternative = "app"

    api_url: str = Field("https://api.github.com", description="REST API root (GHES: /api/v3).")
    app: GitHubApp | None = None
    repos: list[str] = Field(default_factory=list, description="owner/name, listed explicitly.")
    org: str | None = Field(None, description="Discover the repositories of an organisation.")

    @model_validator(mode="after")
    def _scope(self) -> Self:
        if not self.repos and self.org is None:
            raise ValueError("set repos, org, or both")
        return self

    def scope(self) -> str:
        """The repositories read, as check-config names them: ``acme/shop, org acme``."""
        return ", ".join([*self.repos, *([f"org {self.org}"] if self.org else [])])


class GitHubSource(ChangeReading, GitHubAccess):
    type: Literal["github"]
    graphql_url: str | None = Field(None, description="GraphQL endpoint; derived by default.")
    repo_pattern: Regex = Field(".*", description="With org: repository names to keep.")
    topics: list[str] = Field(default_factory=list, description="With org: required topics.")
    deploy_signal: Literal["deployments", "releases", "tags", "workflow_runs"] = "deployments"
    workflow: str | None = Field(None, description="With workflow_runs: workflow file or name.")
    tag_pattern: Regex = SEMVER_TAG_PATTERN

    @model_validator(mode="after")
    def _workflow(self) -> GitHubSource:
        if self.deploy_signal == "workflow_runs" and not self.workflow:
            raise ValueError("deploy_signal workflow_runs needs workflow")
        return self
