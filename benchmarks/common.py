"""Helpers shared by the benchmarks: memory, percentiles, series counts and report lines."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

MIB = 1024 * 1024


def memory_mib() -> tuple[float, float]:
    """(resident set size, peak resident set size) of this process in MiB (VmRSS, VmHWM)."""
    values: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024  # the kernel reports kB
    return values["VmRSS"], values["VmHWM"]


def reset_peak() -> None:
    """Start the peak RSS (VmHWM) over from the current RSS (Linux: clear_refs 5), so that a
    later peak measures one phase of the process only."""
    Path("/proc/self/clear_refs").write_text("5")


def memory_line() -> str:
    rss, peak = memory_mib()
    return f"RSS {rss:,.0f} MiB, peak RSS (process so far) {peak:,.0f} MiB"


def percentile(samples: Sequence[float], p: int) -> float:
    """The ``p``-th percentile (1..99), interpolated between the two nearest samples."""
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def count_series(exposition: bytes) -> int:
    """Sample lines of a text exposition: one per exported series (histogram buckets, _sum
    and _count each count once, as Prometheus stores them)."""
    return sum(1 for line in exposition.splitlines() if line and not line.startswith(b"#"))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"
