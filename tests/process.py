"""Real programs in subprocesses, on 127.0.0.1 and free ports: the ``kpi-exporter`` command
(:class:`Exporter`) and any server that answers a readiness URL (:class:`Server`, for
Prometheus, Alertmanager, ...). Shared by the tests and the benchmarks."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import requests

LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


def terminate(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM, ``grace`` seconds to exit, then SIGKILL (each wait bounded); the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


class Exporter:
    """``with Exporter(config) as exporter:`` starts the process and stops it afterwards.
    ``env`` adds to (or overrides) the test's environment variables in the process's."""

    def __init__(
        self, config: Path, cwd: Path, *args: str, env: Mapping[str, str] | None = None
    ) -> None:
        self.log = cwd / "exporter.log"
        self.args = [
            sys.executable,
            "-m",
            "kpi_exporter.cli",
            "run",
            "--config",
            str(config),
            "--web.listen-address",
            "127.0.0.1:0",
            *args,
        ]
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 20.0) -> Exporter:
        log = self.log.open("ab")
        offset = self.log.stat().st_size  # the log is shared by restarts: read only this run
        self.process = subprocess.Popen(
            self.args, cwd=self.cwd, stdout=log, stderr=log, env=self.env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log.read_bytes()[offset:].decode(errors="replace"))
            if match and self.process.poll() is None:
                self.port = int(match.group(1))
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"exporter did not start:\n{self.log.read_text(errors='replace')}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get("/readyz").status_code == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"exporter not ready:\n{self.log.read_text(errors='replace')}")

    def metrics(self) -> str:
        response = self.get("/metrics")
        response.raise_for_status()
        return response.text

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM, then wait (bounded); returns the exit code."""
        if self.process is None:
            return 0
        return terminate(self.process, 30)

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def program(name: str, package: str) -> str:
    """The path of a real program the test needs: missing is a failure, never a skip."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package {package} (make system-deps)")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """A real server process on 127.0.0.1, its output in a log file, ready when ``ready_url``
    answers 200; stopped with SIGTERM, then SIGKILL, each wait bounded."""

    def __init__(self, args: list[str], log: Path, ready_url: str) -> None:
        self.log = log
        self.ready_url = ready_url
        with log.open("wb") as output:
            self.process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.ready_url, timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.ready_url} not ready:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        terminate(self.process, 10)
