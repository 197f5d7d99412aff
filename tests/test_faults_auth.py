"""Fault and abuse suite of basic auth (issue 19, items 10 and 12): plain passwords refused
at load, a decoy of the configured cost for unknown users, guessing that never holds up an
authorised scrape, credentials that are not ASCII or not UTF-8.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import bcrypt
import pytest

from kpi_exporter.config import ConfigError
from kpi_exporter.webconfig import BasicAuth, load_web_config
from tests.faults_support import (
    PASSWORD,
    b64,
    config_fixture,  # noqa: F401 (a fixture)
    raw_request,
    running_fixture,  # noqa: F401 (a fixture)
    status_of,
)


def test_a_plain_password_in_the_web_config_is_refused_naming_the_user(tmp_path):
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n  prometheus: 'hunter2-in-clear'\n")

    with pytest.raises(ConfigError) as raised:
        load_web_config(path)

    message = str(raised.value)
    assert "prometheus" in message
    assert "bcrypt hash" in message
    assert "hunter2" not in message  # a password is never echoed


def test_an_unknown_user_is_checked_at_the_cost_of_the_configured_hashes():
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    auth = BasicAuth({"prometheus": hashed})
    assert auth.decoy_cost == 10

    def timed(user: str, password: str) -> float:
        started = time.perf_counter()
        assert not auth.check(user, password)
        return time.perf_counter() - started

    known = sorted(timed("prometheus", f"wrong-{i}") for i in range(5))[2]
    unknown = sorted(timed("nobody", f"guess-{i}") for i in range(5))[2]

    assert unknown > 0.5 * known  # medians; before: cost 10 decoy vs cost 12, 4x faster


def test_a_flood_of_wrong_passwords_never_evicts_the_remembered_right_one(monkeypatch):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    auth = BasicAuth({"prometheus": hashed})
    assert auth.check("prometheus", PASSWORD)
    for i in range(BasicAuth.MEMORY + 10):
        assert not auth.check("prometheus", f"guess-{i}")

    def no_bcrypt(*args: Any) -> bool:
        raise AssertionError("bcrypt ran again for a remembered password")

    monkeypatch.setattr(bcrypt, "checkpw", no_bcrypt)
    assert auth.check("prometheus", PASSWORD)


def test_password_guessing_does_not_hold_up_an_authorised_scrape(running, monkeypatch):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=12)).decode()
    auth = BasicAuth({"prometheus": hashed})
    monkeypatch.setattr(running.server, "basic_auth", auth)
    started = time.perf_counter()
    assert auth.check("prometheus", PASSWORD)  # remembered from now on
    one_bcrypt = time.perf_counter() - started
    stop = threading.Event()

    def guess(worker: int) -> None:
        i = 0
        while not stop.is_set():
            running.get("/metrics", auth=("prometheus", f"guess-{worker}-{i}"))
            i += 1

    guessers = [threading.Thread(target=guess, args=(w,), daemon=True) for w in range(2)]
    for thread in guessers:
        thread.start()
    try:
        time.sleep(0.3)
        took = []
        for _ in range(5):
            started = time.perf_counter()
            assert running.get("/metrics", auth=("prometheus", PASSWORD)).status_code == 200
            took.append(time.perf_counter() - started)
    finally:
        stop.set()
        for thread in guessers:
            thread.join(30)

    median, slowest = sorted(took)[2], max(took)
    print(f"authorised scrape under guessing: median {median:.3f} s, slowest {slowest:.3f} s,")
    print(f"one cost-12 bcrypt {one_bcrypt:.3f} s")
    # Under one global lock, a scrape waited for the guess's bcrypt in progress before its
    # own remembered answer: half a bcrypt on average, a whole one at worst.
    assert median < 0.2 * one_bcrypt, (took, one_bcrypt)
    assert slowest < 0.6 * one_bcrypt, (took, one_bcrypt)


@pytest.mark.parametrize(
    "credentials",
    [
        "Basic jörg:pässword".encode("latin-1"),  # not base64 at all, not ASCII
        b"Basic " + base64.b64encode("jörg:pässword".encode("latin-1")),  # not UTF-8
    ],
    ids=["raw-latin-1", "base64-of-latin-1"],
)
def test_non_ascii_basic_credentials_are_400(running, monkeypatch, credentials):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    monkeypatch.setattr(running.server, "basic_auth", BasicAuth({"prometheus": hashed}))

    answer = raw_request(
        running.port,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: " + credentials + b"\r\n\r\n",
    )

    assert status_of(answer) == 400
    assert b"base64 of UTF-8" in answer
    assert running.errors == []


def test_utf8_basic_credentials_are_checked_like_any_other(running, monkeypatch):
    hashed = bcrypt.hashpw("pässword".encode(), bcrypt.gensalt(rounds=4)).decode()
    monkeypatch.setattr(running.server, "basic_auth", BasicAuth({"jörg": hashed}))

    right = running.get("/metrics", headers={"Authorization": "Basic " + b64("jörg:pässword")})
    wrong = running.get("/metrics", headers={"Authorization": "Basic " + b64("jörg:nope")})

    assert (right.status_code, wrong.status_code) == (200, 401)
