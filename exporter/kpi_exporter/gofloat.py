"""Float formatting as Prometheus writes it (Go's strconv), typed for mypy."""

from __future__ import annotations

from prometheus_client.utils import floatToGoString


def go_float(value: float) -> str:
    """``300.0`` -> ``300.0``, ``1209600.0`` -> ``1.2096e+06``, inf -> ``+Inf``."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]
    return text
