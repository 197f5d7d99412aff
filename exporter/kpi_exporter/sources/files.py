"""The files a file-reading source reads: configured paths or globs."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path


def matching_files(base_dir: Path, paths: Iterable[str]) -> list[str]:
    """Every file the configured ``paths`` name, sorted. A relative path starts at ``base_dir``
    (the configuration file's directory); a glob may use ``**`` for any depth; a plain path is
    kept even when missing, so that reading it reports the problem."""
    found: set[str] = set()
    for path in paths:
        pattern = path if os.path.isabs(path) else str(base_dir / path)
        found.update(glob.glob(pattern, recursive=True) if glob.has_magic(pattern) else [pattern])
    return sorted(found)
