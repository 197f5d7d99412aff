"""Run every benchmark and print its figures: ``python -m benchmarks``.

Each benchmark runs in its own process, so the memory figures of one do not include the
other's peak.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = (
    "benchmarks.scrape",
    "benchmarks.pushes",
    "benchmarks.refresh",
    "benchmarks.relink",
    "benchmarks.page",
    "benchmarks.github_sync",
    "benchmarks.jira_work",
    "benchmarks.trackers",
    "benchmarks.time_to_market",
    "benchmarks.focus",
    "benchmarks.dashboards",
    "benchmarks.rules",
    "benchmarks.render",
    "benchmarks.config_limits",
    "benchmarks.origin",
)


def main() -> int:
    started = time.perf_counter()
    root = Path(__file__).resolve().parent.parent
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        result = subprocess.run([sys.executable, "-m", module], cwd=root, check=False)
        if result.returncode != 0:
            print(f"{module} failed with exit status {result.returncode}")
            return result.returncode
    print(f"all benchmarks: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
