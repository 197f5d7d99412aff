"""CPU time of ``kpi-exporter render --check`` (every rule file, runbook, chart file and
dashboard evaluated from its Jsonnet and compared with the committed copy), and of its two
halves: the alert entry points (rules, alerts, SLOs, runbooks) and the dashboards.
Target: the whole check under 10 s of CPU (issue #15).
Run alone with ``python -m benchmarks.render`` (``--repeats N``).

Each measurement runs in a fresh process, so Jsonnet's caches start empty as in ``make test``,
and counts that process's user + system time, the Go runtime's threads included
(``RUSAGE_CHILDREN``), not the wall clock of a loaded machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from .common import verdict

ROOT = Path(__file__).resolve().parent.parent
TARGET_CPU_SECONDS = 10.0
PARTS = {
    "render --check (everything)": (
        "from kpi_exporter import cli\nraise SystemExit(cli.main(['render', '--check']))"
    ),
    "alert entry points (bundle)": (
        "from kpi_exporter.render import bundle\nbundle.rendered_files()"
    ),
    "dashboards": (
        "from kpi_exporter.render import dashboards\n"
        "for name in dashboards.DASHBOARDS: dashboards.evaluate(name)"
    ),
}


def cpu_seconds(code: str) -> float:
    """User + system CPU seconds of a fresh Python process running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("render, CPU seconds per fresh process (median of repeats)")
    whole = 0.0
    for label, code in PARTS.items():
        runs = [cpu_seconds(code) for _ in range(args.repeats)]
        median = statistics.median(runs)
        whole = whole or median
        print(f"  {label:32} median {median:6.2f} s, max {max(runs):6.2f} s")
    print(
        f"  target: render --check under {TARGET_CPU_SECONDS:.0f} s of CPU: "
        f"{verdict(whole < TARGET_CPU_SECONDS)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
