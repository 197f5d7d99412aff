"""Debian's Chromium, headless, driven through the DevTools protocol (``websocket-client``),
and a PNG reader for its screenshots. Never downloads a browser: ``/usr/bin/chromium`` from
the Debian package (scripts/install-system-deps.sh installs it)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
import websocket

from tests.process import terminate

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
LISTENING = re.compile(r"DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)")


class Chromium:
    """``with Chromium(profile_dir) as browser:`` starts the browser on a fresh profile and
    opens a DevTools session on its first tab; every event received is kept in ``events``."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.process: subprocess.Popen[bytes] | None = None
        self.socket: websocket.WebSocket | None = None
        self.events: list[dict[str, Any]] = []
        self._next_id = 0

    def __enter__(self) -> Chromium:
        binary = shutil.which("chromium")
        assert binary, "chromium is required (make test installs the Debian package chromium)"
        self.profile.mkdir(parents=True, exist_ok=True)
        log = self.profile.parent / "chromium.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                stdout=out,
                stderr=out,
            )
        deadline = time.monotonic() + 30
        port = 0
        while not port:
            match = LISTENING.search(log.read_text(errors="replace"))
            if match:
                port = int(match.group(2))
            elif time.monotonic() > deadline or self.process.poll() is not None:
                self.__exit__(None, None, None)
                raise AssertionError(f"chromium did not start:\n{log.read_text()}")
            else:
                time.sleep(0.05)
        # The first tab: a page target of its own (the browser target cannot navigate).
        targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        self.socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.process is not None:
            terminate(self.process, 5)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events received meanwhile are kept."""
        assert self.socket is not None
        self._next_id += 1
        self.socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        """The first event called ``method`` (kept or still to come)."""
        assert self.socket is not None
        for event in self.events:
            if event.get("method") == method:
                found: dict[str, Any] = event
                return found
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message: dict[str, Any] = json.loads(self.socket.recv())
            self.events.append(message)
            if message.get("method") == method:
                return message
        raise AssertionError(f"no {method} within {timeout} s")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"]["value"]

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and log entries at error level (a CSP
        violation, a resource that failed to load) seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(f"console.{params['type']}: {params['args']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                entry = params["entry"]
                found.append(f"{entry['source']} {entry['level']}: {entry['text']}")
        return found


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA, non-interlaced PNG, as
    Chromium writes screenshots: the IDAT stream inflated and each row's filter undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks, header = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * size
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - size] if x >= size else 0
            up = previous[x]
            corner = previous[x - size] if x >= size else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                nearest = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + nearest) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def colours(rows: list[bytes], size: int) -> set[tuple[int, ...]]:
    """The distinct RGB colours of decoded PNG rows (``size`` bytes per pixel)."""
    return {tuple(row[x : x + 3]) for row in rows for x in range(0, len(row), size)}
