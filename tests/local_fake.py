"""Fakes written for ``responses`` (callbacks that take a ``requests.PreparedRequest`` and
answer ``(status, headers, body)``) served on 127.0.0.1 on a free port, for a real exporter
process to call: one server, the routes of several fakes by method and path."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

Callback = Callable[[requests.PreparedRequest], tuple[int, dict[str, str], str]]


def write_answer(
    handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes
) -> None:
    """Send ``status``, ``headers`` (with the Content-Length of ``payload``) and ``payload``."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


class LocalFake:
    """``with LocalFake(routes) as fake:`` serves ``routes`` ((method, path pattern, callback),
    the first that matches the path and query answers) at ``fake.url`` until the block ends;
    a request no route takes is a 404."""

    def __init__(self, routes: Iterable[tuple[str, str, Callback]]) -> None:
        table = [(method, re.compile(pattern), callback) for method, pattern, callback in routes]
        lock = threading.Lock()  # the fakes keep lists: one request at a time

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                url = f"http://{self.headers['Host']}{self.path}"
                prepared = requests.Request(
                    self.command, url, headers=dict(self.headers.items()), data=body
                ).prepare()
                status, headers, text = 404, {"Content-Type": "text/plain"}, "no route"
                for method, pattern, callback in table:
                    if method == self.command and pattern.match(self.path):
                        with lock:
                            status, headers, text = callback(prepared)
                        break
                write_answer(self, status, headers, text.encode())

            do_GET = do_POST = answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalFake:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
