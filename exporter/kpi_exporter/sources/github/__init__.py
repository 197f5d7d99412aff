"""GitHub: pull requests, deployments (or releases, tags, workflow runs) and issues.

- ``source.py``: the poll (change detection, reading, incremental state);
- ``auth.py``: token or GitHub App authentication;
- ``queries.py``: the GraphQL connections and the reader that pages them together;
- ``normalise.py``: GitHub objects -> events (pure);
- ``state.py``: what is remembered per repository between polls, and the commit graph walk
  that finds the first production deployment of each merged pull request.
"""

from __future__ import annotations

from .auth import check_credentials
from .queries import graphql_url
from .source import SOURCE_TYPE, GitHub

__all__ = ["SOURCE_TYPE", "GitHub", "check_credentials", "graphql_url"]
