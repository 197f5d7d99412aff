"""Jsonnet evaluation for ``render``: go-jsonnet (PyPI ``gojsonnet``), the reference
implementation's Go port. It evaluates the alert and dashboard entry points about five times
faster than the C++ binding (``benchmarks/render.py`` prints the CPU time) and gives the same
output byte for byte."""

from __future__ import annotations

from pathlib import Path

from ..config_base import ConfigError
from . import sources


def evaluate_file(path: Path, overrides_json: str, name: str) -> str:
    """The JSON text of the Jsonnet file ``path``, its top-level argument ``overrides`` set to
    ``overrides_json``. A syntax or evaluation error becomes a ConfigError naming ``name``."""
    import _gojsonnet  # only rendering needs Jsonnet

    if not path.exists():
        places = ", ".join(str(place) for place in sources.candidates())
        raise ConfigError([f"{path}: not found (the Jsonnet sources are looked for in {places})"])
    try:
        text: str = _gojsonnet.evaluate_file(str(path), tla_codes={"overrides": overrides_json})
    except RuntimeError as error:
        raise ConfigError([f"{name}: {str(error).strip()}"]) from None
    return text
