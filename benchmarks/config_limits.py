"""How long a hostile or huge configuration takes to be refused, and the largest accepted one.

Issue 19 measured an alias bomb of depth 6 at 40 s and a 50 MB configuration at 36 s before
the loader was bounded (``config/loading.py``: 4 MiB, 64 levels, 100,000 values once aliases
are expanded). Each case is parsed in this process; CPU time and peak memory are printed.
Run alone with ``python -m benchmarks.config_limits``.
"""

from __future__ import annotations

import time

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.config.loading import MAX_BYTES, MAX_NODES

from .common import memory_line


def alias_bomb(levels: int) -> str:
    """Each level a list of 10 aliases of the level before: 10^levels values expanded."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def apps(count: int) -> str:
    return "apps:\n" + "".join(f"  app{index}: {{team: t}}\n" for index in range(count))


CASES = (
    ("alias bomb, depth 9 (10^9 values)", alias_bomb(9)),
    ("flow lists nested 10,000 deep", "apps: " + "[" * 10_000 + "]" * 10_000 + "\n"),
    (f"{MAX_BYTES // 2**20} MiB + 1 byte of comments", "#" * MAX_BYTES + "\n"),
    ("25,000 apps (100,003 values)", apps(25_000)),
    ("24,000 apps (96,003 values, the largest here accepted)", apps(24_000)),
)


def main() -> None:
    print(f"config limits: {MAX_BYTES // 2**20} MiB, {MAX_NODES:,} values")
    for name, text in CASES:
        started = time.process_time()
        try:
            parse_config(text, "kpi.yml")
            outcome = "accepted"
        except ConfigError as error:
            outcome = error.problems[0]
        seconds = time.process_time() - started
        print(f"  {name}: {len(text) / 1e6:.2f} MB, {seconds:.2f} s CPU: {outcome[:90]}")
    print(f"  {memory_line()}")


if __name__ == "__main__":
    main()
