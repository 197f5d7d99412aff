"""`make demo`: the exporter on the quick start and a real Prometheus evaluating the rendered
rules over the backfilled history, both on 127.0.0.1, so that every recorded series can be
queried before anything is deployed.

Steps, all in one folder (``--dir``, default ``.demo/``, kept between runs):
1. the exporter runs ``examples/quickstart.yaml`` (store in the folder) until every source
   was polled once (``/readyz``);
2. ``kpi-exporter backfill --blocks`` writes the stored history (``--days``, one sample a
   day) as TSDB blocks into Prometheus' data folder, labelled as the scrape labels live data;
3. Prometheus (Debian's ``prometheus``) scrapes the exporter every 15 s under the job name the
   rules expect and evaluates the rendered rule files every 15 s (their 2-minute group
   intervals dropped, so the records appear at once).
Then it prints the addresses and a few queries, and runs until Ctrl-C (``--check`` instead
queries one record of each level, prints it and stops: the test of this script uses it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = sorted((ROOT / "alerts" / "rendered").glob("*.yaml"))
JOB = "kpi-exporter"  # the rules select job="kpi-exporter" (alerts/config.libsonnet)
EVALUATION = "15s"
# One record per level that the quick start fills, shown at the end (and asked by --check).
QUERIES = (
    'app:kpi_deployments:increase_30d{app="kpi-exporter"}',
    "team:kpi_change_lead_time_seconds:p50_30d",
    "org:kpi_deployments_failed_per_deployments:ratio_30d",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, seconds: float, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``url`` answers 200; exits with the log's tail if the process died or time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise SystemExit(f"demo: {url} did not answer 200 within {seconds:.0f} s; {log}:\n{tail}")


@contextmanager
def started(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` running in the log's folder with its output in ``log``, stopped (SIGTERM,
    then SIGKILL) after."""
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=log.parent, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def query(url: str, expr: str) -> list[dict[str, object]]:
    address = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(address, timeout=30) as response:
        result: list[dict[str, object]] = json.load(response)["data"]["result"]
    return result


def rule_files(folder: Path) -> list[Path]:
    """Copies of the rendered rule files without their group intervals."""
    copies = []
    for source in RULES:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
        for group in document["groups"]:
            group.pop("interval", None)
        copy = folder / source.name
        copy.write_text(yaml.safe_dump(document), encoding="utf-8")
        copies.append(copy)
    return copies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=ROOT / ".demo", help="working folder")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "quickstart.yaml")
    parser.add_argument("--port", type=int, default=9864, help="the exporter's port")
    parser.add_argument("--prometheus-port", type=int, default=9090)
    parser.add_argument("--days", type=int, default=90, help="days of history backfilled")
    parser.add_argument("--check", action="store_true", help="query the records, then stop")
    args = parser.parse_args()
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise SystemExit("demo: no `prometheus` on PATH (Debian: apt-get install prometheus)")
    folder: Path = args.dir.resolve()
    data = folder / "prometheus-data"
    shutil.rmtree(data, ignore_errors=True)  # the backfill is redone from the store each run
    folder.mkdir(parents=True, exist_ok=True)
    command = Path(sys.executable).parent / "kpi-exporter"  # the venv's, as `make run` has it
    config_file = str(args.config.resolve())
    exporter_url = f"http://127.0.0.1:{args.port}"
    prometheus_url = f"http://127.0.0.1:{args.prometheus_port}"
    with ExitStack() as stack:
        run = [str(command), "run", "--config", config_file]
        run += ["--web.listen-address", f"127.0.0.1:{args.port}"]
        process = stack.enter_context(started(run, folder / "exporter.log"))
        print(f"demo: exporter on {exporter_url}/ (log {folder / 'exporter.log'})", flush=True)
        wait_for(f"{exporter_url}/readyz", 300, process, folder / "exporter.log")
        blocks = folder / "backfill"
        shutil.rmtree(blocks, ignore_errors=True)
        backfill = [str(command), "backfill", "--config", config_file, "--out", str(blocks)]
        backfill += ["--start", f"{args.days}d-ago", "--step", "1d", "--blocks"]
        backfill += ["--label", f"job={JOB}", "--label", f"instance=127.0.0.1:{args.port}"]
        subprocess.run(backfill, cwd=folder, check=True)  # the store is in the folder
        data.mkdir()
        for block in blocks.iterdir():
            if block.is_dir():
                shutil.move(block, data / block.name)
        config = {
            "global": {"scrape_interval": "15s", "evaluation_interval": EVALUATION},
            "rule_files": [str(path) for path in rule_files(folder)],
            "scrape_configs": [
                {"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{args.port}"]}]}
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        server = [
            prometheus,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=400d",
            f"--web.listen-address=127.0.0.1:{args.prometheus_port}",
        ]
        prometheus_process = stack.enter_context(started(server, folder / "prometheus.log"))
        wait_for(f"{prometheus_url}/-/ready", 120, prometheus_process, folder / "prometheus.log")
        print(f"demo: Prometheus on {prometheus_url}/ (log {folder / 'prometheus.log'})")
        deadline = time.monotonic() + 180
        found: dict[str, list[dict[str, object]]] = {}
        while time.monotonic() < deadline and len(found) < len(QUERIES):
            found = {expr: result for expr in QUERIES if (result := query(prometheus_url, expr))}
            time.sleep(2)
        for expr in QUERIES:
            values = [f"{r['metric']} = {r['value'][1]}" for r in found.get(expr, [])]  # type: ignore[index]
            print(f"demo: {expr}\n  " + ("\n  ".join(values) or "(no data yet)"))
        if args.check:
            return 0 if len(found) == len(QUERIES) else 1
        print("demo: query any record at the address above; Ctrl-C stops both.", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while process.poll() is None and prometheus_process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
