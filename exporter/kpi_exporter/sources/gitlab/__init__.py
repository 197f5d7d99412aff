"""GitLab: merge requests, deployments and issues (the definitions: ``source.py``).

- ``source.py``: the poll (projects, lists read since their mark, incremental state);
- ``config.py``: the ``gitlab`` configuration model;
- ``changes.py``: one merge request -> a Change (and its change type);
- ``deployments.py``: production deployments and the merge requests each one ships first.
"""

from __future__ import annotations

from .config import GitLabSource
from .source import SOURCE_TYPE, GitLab

__all__ = ["SOURCE_TYPE", "GitLab", "GitLabSource"]
