"""Which app and team a source object (repository, service, path) belongs to."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, NamedTuple

from .model import Identity
from .sharding import Shard

if TYPE_CHECKING:  # the configuration imports the sources, which import this module
    from .config import Config


class Owner(NamedTuple):
    app: str
    team: str

    def identity(self, source: str, key: str) -> Identity:
        """The identity of an event this owner owns, read by ``source`` as ``key``."""
        return Identity(source=source, key=key, app=self.app, team=self.team)


class Ownership:
    """Lookups built once from the ``apps`` and ``defaults`` sections of the config."""

    def __init__(self, config: Config, shard: Shard | None = None) -> None:
        self.shard = shard or Shard()
        self.default = Owner(config.defaults.app, config.defaults.team)
        self._teams = {app: owner.team for app, owner in config.apps.items()}
        self._repos: dict[str, str] = {}
        self._services: dict[str, str] = {}
        self._paths: list[tuple[str, str]] = []
        for app, owner in sorted(config.apps.items()):
            self._repos.update({repo.lower(): app for repo in owner.repos})
            self._services.update({service.lower(): app for service in owner.services})
            self._paths.extend((pattern, app) for pattern in owner.paths)

    def of_app(self, app: str | None) -> Owner:
        """The owner of an app named by the source itself (team from the mapping)."""
        if not app:
            return self.default
        return Owner(app, self._teams.get(app, self.default.team))

    def polls_repo(self, repo: str) -> bool:
        """Whether this shard polls the repository (or project): its app is the shard's."""
        return self.shard.owns(self.of_repo(repo).app)

    def of_repo(self, repo: str) -> Owner:
        app = self._repos.get(repo.lower())
        return self.of_app(app) if app else self.default

    def of_service(self, service: str) -> Owner:
        app = self._services.get(service.lower())
        return self.of_app(app) if app else self.default

    def match_path(self, path: str) -> tuple[Owner, str] | None:
        """The owner of a monorepo path and the glob that matched; None when none does."""
        for pattern, app in self._paths:
            if fnmatchcase(path, pattern):
                return self.of_app(app), pattern
        return None
