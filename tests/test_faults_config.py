"""Fault suite of the configuration and of loose input (issue 19, items 8, 11, 13, 14 and 16):
YAML alias bombs, huge and deeply nested files, non-UTF-8 text, duplicate keys, non-finite
durations, a git source without a repository; pushes and events-file lines with the wrong
JSON types, duplicate keys or control characters in labels. Each gets one clear error naming
the file and line, or the field; nothing hangs, nothing is stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kpi_exporter import cli
from kpi_exporter.config import ConfigError, load_config, parse_config
from kpi_exporter.config.loading import MAX_BYTES, MAX_DEPTH, MAX_NODES
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources.events_file import EventsFiles, EventsFileSource
from kpi_exporter.store import SourceState
from tests.faults_support import (
    config_fixture,  # noqa: F401 (a fixture)
    deployment,
    running_fixture,  # noqa: F401 (a fixture)
    signed,
    stored_deployments,
)

# --- 8. alias bombs and huge configurations ------------------------------------------------


def alias_bomb(levels: int) -> str:
    """The "billion laughs": each level a list of 10 aliases of the level before, so level 9
    expands to 10^9 strings from 9 lines."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def problems_of(text: str | bytes, tmp_path: Path, *command: str) -> tuple[int, list[str]]:
    """Exit code and stderr lines of the real command over ``text`` as kpi.yml."""
    (tmp_path / "kpi.yml").write_bytes(text.encode() if isinstance(text, str) else text)
    result = subprocess.run(
        [sys.executable, "-m", "kpi_exporter.cli", *command, "--config", "kpi.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr.splitlines()


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_an_alias_bomb_is_refused_at_once_by_check_config_and_run(tmp_path, command):
    # 9 levels: 10^9 values once expanded (the old loader took 40 s at depth 6).
    code, errors = problems_of(alias_bomb(9), tmp_path, command)

    assert code == 2
    assert errors == [
        f"error: kpi.yml:1: not valid YAML: more than {MAX_NODES:,} values once aliases"
        " are expanded"
    ]


def test_a_config_larger_than_8_mib_is_refused_naming_the_file(tmp_path):
    # 8 MiB + 1 byte of comments: refused before YAML reads a byte of it.
    text = "#" * (MAX_BYTES - 1) + "\n#\n"
    assert len(text.encode()) == MAX_BYTES + 2

    code, errors = problems_of(text, tmp_path, "check-config")

    assert code == 2
    assert errors == [f"error: kpi.yml: larger than {MAX_BYTES // 2**20} MiB"]


def test_more_apps_than_the_bound_are_refused_without_running_out_of_memory(tmp_path):
    # 25,000 apps x 4 values each (the app's name, its mapping, "team" and its value) + the
    # top-level mapping, "apps" and its mapping = 100,003 values (0.5 MB): more than the
    # 100,000 a configuration may hold. Reading stops at the 100,001st: 3 + 4 x 24,999 =
    # 99,999 values, then the last app's name and its mapping, on line 2 + 24,999 = 25,001.
    apps = "".join(f"  app{index}: {{team: t}}\n" for index in range(25_000))
    code, errors = problems_of("apps:\n" + apps, tmp_path, "check-config")

    assert code == 2
    assert errors == [
        f"error: kpi.yml:25001: not valid YAML: more than {MAX_NODES:,} values once aliases"
        " are expanded"
    ]


# --- 13. unreadable configurations ---------------------------------------------------------


def test_yaml_nested_10000_deep_is_one_line_naming_the_file(tmp_path):
    text = "apps: " + "[" * 10_000 + "]" * 10_000 + "\n"

    code, errors = problems_of(text, tmp_path, "run")

    assert code == 2
    assert errors == [f"error: kpi.yml:1: not valid YAML: nested deeper than {MAX_DEPTH} levels"]


def test_a_config_that_is_not_utf8_names_the_file_line_and_byte(tmp_path):
    # Latin-1 "é" on the third line: byte 0xE9 at offset 7 + 15 + 5 = 27.
    text = b"store:\n  path: kpi.db\n# caf\xe9\n"
    assert text.index(b"\xe9") == 27

    code, errors = problems_of(text, tmp_path, "run")

    assert code == 2
    assert errors == ["error: kpi.yml:3: not UTF-8 text (byte 27)"]


def test_a_recursive_alias_is_refused(tmp_path):
    code, errors = problems_of("apps: &a [*a]\n", tmp_path, "check-config")

    assert code == 2
    assert errors == [
        "error: kpi.yml:1: not valid YAML: an alias refers to a node that contains it"
    ]


# --- 14. duplicate keys --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("store:\n  path: a.db\nstore:\n  path: b.db\n", 3, "store"),
        ("store:\n  path: a.db\n  path: b.db\n", 3, "path"),
        ("apps:\n  shop: {team: a, team: b}\n", 2, "team"),
    ],
)
def test_a_duplicate_yaml_key_is_refused_naming_the_key_and_line(tmp_path, text, line, key):
    path = tmp_path / "kpi.yml"
    path.write_text(text)

    with pytest.raises(ConfigError) as refused:
        load_config(path)

    assert refused.value.problems == [f"{path}:{line}: not valid YAML: duplicate key '{key}'"]


def test_a_merge_key_may_be_overridden(tmp_path):
    text = (
        "sources:\n"
        "  - &first {type: events_file, name: one, interval: 30s, paths: [a.jsonl]}\n"
        "  - {<<: *first, name: two}\n"
    )
    sources = parse_config(text, "kpi.yml").sources

    read = [(s.name, s.interval) for s in sources if isinstance(s, EventsFileSource)]
    assert read == [("one", 30.0), ("two", 30.0)]


# --- 11. durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "shown"),
    [
        (".nan", ", not nan"),
        (".inf", ", not inf"),
        ("-.inf", ", not -inf"),
        ("0", ""),
        ("-5", ""),
        ("1.0e+300", ""),
    ],
)
def test_a_non_finite_or_non_positive_interval_is_refused_naming_the_field(interval, shown):
    text = (
        "sources:\n"
        "  - type: events_file\n"
        "    name: ci\n"
        f"    interval: {interval}\n"
        "    paths: [a.jsonl]\n"
    )
    with pytest.raises(ConfigError) as refused:
        parse_config(text, "kpi.yml")

    assert refused.value.problems == [
        "kpi.yml:4: sources[ci].interval: expected a duration greater than zero and at most"
        f" 100 years{shown}"
    ]


# --- 16. check-config looks at the git repository ------------------------------------------


def test_check_config_fails_for_a_git_source_whose_path_does_not_exist(tmp_path, capsys):
    (tmp_path / "kpi.yml").write_text(
        "sources:\n  - type: git\n    name: shop-git\n    app: shop\n    path: missing-repo\n"
    )
    (tmp_path / "not-a-repo").mkdir()
    (tmp_path / "other.yml").write_text(
        "sources:\n  - type: git\n    name: shop-git\n    app: shop\n    path: not-a-repo\n"
    )

    missing = cli.main(["check-config", "--config", str(tmp_path / "kpi.yml")])
    missing_errors = capsys.readouterr().err
    not_a_repo = cli.main(["check-config", "--config", str(tmp_path / "other.yml")])
    not_a_repo_errors = capsys.readouterr().err

    assert missing == 2
    assert (
        missing_errors
        == f"error: source shop-git: {tmp_path / 'missing-repo'}: no such directory\n"
    )
    assert not_a_repo == 2
    assert not_a_repo_errors.startswith(
        f"error: source shop-git: {tmp_path / 'not-a-repo'}: git rev-parse failed: fatal:"
    )


# --- 14. strict input types, against the running server ------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            json.dumps(deployment("x", finished_at=True)),
            "field 'finished_at': expected an RFC 3339 timestamp with a time zone,"
            " or epoch seconds",
        ),
        (json.dumps(deployment("x", failed="yes")), "field 'failed': expected true or false"),
        (
            json.dumps(
                deployment("x", changes=[{"id": "c", "first_commit_at": 1, "size_lines": "5"}])
            ),
            "field 'changes.0.size_lines': expected an integer",
        ),
        (
            '{"type": "deployment", "id": "x", "app": "shop", "app": "other",'
            ' "finished_at": "2025-11-20T10:00:00Z"}',
            "body: duplicate key 'app'",
        ),
        (
            json.dumps(deployment("x", environment="prod\x7f")),
            "field 'environment': control or bidirectional characters are not allowed",
        ),
        (
            json.dumps(deployment("x", app="shop\u202e")),
            "field 'app': control or bidirectional characters are not allowed",
        ),
        (
            json.dumps(deployment("x", team="\u2066payments")),
            "field 'team': control or bidirectional characters are not allowed",
        ),
    ],
    ids=["true-time", "yes-bool", "string-int", "duplicate-key", "del", "rlo", "lri"],
)
def test_loose_types_duplicate_keys_and_hidden_characters_are_400_naming_them(running, body, error):
    refused = running.post(body.encode(), signed(body.encode()))
    good = json.dumps(deployment("good")).encode()
    accepted = running.post(good, signed(good))

    assert refused.status_code == 400
    assert refused.json()["error"].removeprefix("events[0]: ") == error
    # 2 pushes sent, 1 accepted, 1 stored; nothing unhandled.
    assert accepted.status_code == 200
    assert stored_deployments(running.store) == 1
    assert running.errors == []


def test_an_events_file_line_with_a_duplicate_key_or_a_huge_number_is_a_bad_line(tmp_path, config):
    path = tmp_path / "events.jsonl"
    good = json.dumps(deployment("good"))
    path.write_text(
        "\n".join(
            [
                '{"type": "deployment", "id": "a", "id": "b", "app": "shop",'
                ' "finished_at": "2025-11-20T10:00:00Z"}',
                '{"type": "deployment", "id": "big", "app": "shop", "finished_at": '
                + "1" * 5000
                + "}",
                "[" * 100_000 + "]" * 100_000,
                json.dumps(deployment("yes", failed="yes")),
                good,
            ]
        )
        + "\n"
    )
    source = EventsFiles(
        EventsFileSource(type="events_file", name="ci", paths=["events.jsonl"]),
        tmp_path,
        Ownership(config),
    )

    poll = source.poll(SourceState())

    # 5 lines, 1 event, 4 bad lines each named by file and line.
    assert [event.key for event in poll.events] == ["good"]
    assert [problem.split(": ", 1)[0] for problem in poll.problems] == [
        f"{path}:{line}" for line in (1, 2, 3, 4)
    ]
    assert poll.problems[0].endswith("duplicate key 'id'")
    assert "number out of range" in poll.problems[1]
    assert poll.problems[2].endswith("nested too deeply")
    assert poll.problems[3].endswith("field 'failed': expected true or false")
