"""SIGKILL while pushes arrive and an events file grows: the real exporter process is killed
at three moments; after the restart every push answered 200 is stored, nothing is stored
twice, nothing that was not sent is stored, and every appended line is read exactly once."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.faults_support import SECRET, signed
from tests.process import Exporter

PUSHERS = 6
FIRST_DEPLOYMENT = 1_790_000_000  # 2026-09-21: inside the time bounds


def numbered(kind: str, index: int) -> str:
    """Deployment number ``index`` of shop, pushed (``kind`` push) or appended (line), as JSON."""
    return json.dumps(
        {
            "type": "deployment",
            "id": f"{kind}-{index}",
            "app": "shop",
            "environment": "production",
            "finished_at": FIRST_DEPLOYMENT + index,
        }
    )


def push_body(index: int) -> bytes:
    return numbered("push", index).encode()


def append_lines(path: Path, first: int, count: int) -> None:
    with path.open("a") as file:
        for index in range(first, first + count):
            file.write(numbered("line", index) + "\n")
            file.flush()


class Pushers:
    """Threads pushing numbered deployments until stopped; which pushes got a 200."""

    def __init__(self, url: str, first: int) -> None:
        self.url, self.next, self.lock = url, first, threading.Lock()
        self.sent: set[str] = set()
        self.acknowledged: set[str] = set()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(PUSHERS)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                index, self.next = self.next, self.next + 1
                self.sent.add(f"push-{index}")
            body = push_body(index)
            try:
                answer = requests.post(
                    f"{self.url}/api/v1/events", data=body, headers=signed(body), timeout=10
                )
            except requests.RequestException:  # killed mid-request: no answer, no claim
                continue
            if answer.status_code == 200:
                with self.lock:
                    self.acknowledged.add(f"push-{index}")

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


@pytest.mark.timeout(300)
def test_sigkill_during_pushes_and_appends_loses_nothing_acknowledged(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.touch()
    config = tmp_path / "kpi.yaml"
    config.write_text(
        "store: {path: kpi.db}\n"
        "sources:\n"
        "  - {type: ingest, name: ci-push, secret_env: KPI_FAULTS_SECRET}\n"
        "  - {type: events_file, name: ci-file, interval: 1s, paths: [events.jsonl]}\n"
    )
    environment = {"KPI_FAULTS_SECRET": SECRET}
    sent: set[str] = set()
    acknowledged: set[str] = set()
    lines = 0
    for delay in (0.5, 1.2, 2.5):  # kill early, mid-stream and later
        exporter = Exporter(config, tmp_path, env=environment).start()
        pushers = Pushers(exporter.url, first=len(sent))
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            append_lines(events, lines, 50)
            lines += 50
            time.sleep(0.05)
        exporter.kill()  # SIGKILL: no chance to finish the write in progress
        pushers.join()
        sent |= pushers.sent
        acknowledged |= pushers.acknowledged
    assert acknowledged, "no push was answered before the kills: nothing was tested"
    with Exporter(config, tmp_path, env=environment) as exporter:
        exporter.wait_ready()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with sqlite3.connect(tmp_path / "kpi.db") as db:
                read = db.execute(
                    "SELECT count(*) FROM events WHERE kind = 'deployment' AND key LIKE ?",
                    ("%line-%",),
                ).fetchone()[0]
            if read == lines:
                break
            time.sleep(0.2)
        assert exporter.stop() == 0
    with sqlite3.connect(tmp_path / "kpi.db") as db:
        keys = [key for (key,) in db.execute("SELECT key FROM events WHERE kind = 'deployment'")]
    pushed = {key.rsplit("/", 1)[-1] for key in keys if "push-" in key}
    from_file = [key for key in keys if "line-" in key]
    assert len(keys) == len(set(keys)), "an event was stored twice"
    assert acknowledged <= pushed, f"acknowledged but lost: {sorted(acknowledged - pushed)[:5]}"
    assert pushed <= sent, "stored a push nobody sent"
    assert len(from_file) == lines, (len(from_file), lines)
    print(  # the closing note's table reads this line (pytest -s)
        f"pushes sent {len(sent)}, acknowledged {len(acknowledged)}, stored {len(pushed)};"
        f" lines appended {lines}, stored {len(from_file)}"
    )
