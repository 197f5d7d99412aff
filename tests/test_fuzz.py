"""Property-based fuzzing (hypothesis) of the inputs a stranger writes: the JSON event parser,
the events-file reader and the configuration loader. Whatever the input, the answer is the
parsed value or a refusal that says what is wrong and where; never another exception. (The
push endpoint in process: tests/test_faults_ingest.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_exporter.config import SOURCE_TYPES, Config, ConfigError, parse_config
from kpi_exporter.model import Event
from kpi_exporter.ownership import Ownership
from kpi_exporter.sources.event_format import EventFormatError, parse_event
from kpi_exporter.sources.events_file import EventsFiles, EventsFileSource

OWNERSHIP = Ownership(parse_config("apps: {shop: {team: payments, repos: [acme/shop]}}\n", "k"))

TEXT = st.text(max_size=12) | st.sampled_from(["", "\x00", "\x7f", "\u202e", "\U0001f600"])
NUMBER = (
    st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 1e308, -1e308, 1.5e9, 2**63])
)
TIME = (
    NUMBER
    | st.sampled_from(["2026-11-20T10:00:00Z", "2026-11-20T10:00:00", "0000-01-01T00:00:00Z"])
    | TEXT
)
SCALAR = st.none() | st.booleans() | NUMBER | TEXT | TIME
JSON_VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
FIELDS = {
    "type": st.sampled_from(["deployment", "incident", "change"]) | TEXT,
    "id": TEXT | NUMBER,
    "app": TEXT | st.just("shop"),
    "team": TEXT,
    "repo": st.sampled_from(["acme/shop", "acme/other"]) | TEXT,
    "service": TEXT,
    "environment": TEXT | st.just("production"),
    "finished_at": TIME,
    "started_at": TIME,
    "detected_at": TIME,
    "acknowledged_at": TIME,
    "resolved_at": TIME,
    "impact_started_at": TIME,
    "first_commit_at": TIME,
    "merged_at": TIME,
    "deployed_at": TIME,
    "status": st.sampled_from(["success", "failure"]) | SCALAR,
    "change_type": st.sampled_from(["normal", "hotfix", "rollback"]) | SCALAR,
    "failed": SCALAR,
    "severity": TEXT,
    "size_lines": NUMBER | SCALAR,
    "changes": st.lists(
        st.fixed_dictionaries({"id": TEXT}, optional={"first_commit_at": TIME}), max_size=2
    )
    | SCALAR,
    "version": SCALAR,
    "commit": SCALAR,
    "deployment": SCALAR,
    "component": SCALAR,
}
EVENT = (
    st.fixed_dictionaries(
        {"type": FIELDS["type"]}, optional={k: v for k, v in FIELDS.items() if k != "type"}
    )
    | JSON_VALUE
)
# A refusal names the field (or says the whole line is not an object).
REFUSAL = re.compile(r"^(field '[^']+': .+|expected a JSON object)$", re.DOTALL)


def check_events(events: list[Event]) -> None:
    for event in events:
        assert event.app and event.team
        for name in ("finished_at", "started_at", "resolved_at", "first_commit_at"):
            moment = getattr(event, name, None)
            assert moment is None or isinstance(moment, float)


@settings(max_examples=500, deadline=None)
@given(data=EVENT)
def test_the_event_parser_returns_events_or_a_refusal_naming_the_field(data: Any) -> None:
    try:
        events = parse_event(data, "fuzz", OWNERSHIP)
    except EventFormatError as error:
        assert REFUSAL.match(str(error)), str(error)
        return
    check_events(events)


LINE = st.one_of(
    EVENT.map(lambda event: json.dumps(event)),
    JSON_VALUE.map(json.dumps),
    st.text(max_size=40),
    st.sampled_from(
        [
            "[" * 10_000,  # nested deeper than the parser's recursion
            "1" * 5_000,  # more digits than int() takes
            '{"type": "deployment", "id": "x", "app": "shop", "finished_at": 1e999}',
            "\xff\xfe",
        ]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(LINE, max_size=6), raw=st.binary(max_size=40))
def test_the_events_file_reader_skips_bad_lines_naming_file_and_line(
    tmp_path: Path, lines: list[str], raw: bytes
) -> None:
    path = tmp_path / "fuzz.jsonl"
    data = "".join(line.replace("\n", " ") + "\n" for line in lines).encode() + raw + b"\n"
    path.write_bytes(data)
    config = EventsFileSource(type="events_file", name="ci", paths=[str(path)])
    reader = EventsFiles(config, tmp_path, OWNERSHIP)

    events, position, problems = reader.read(str(path), None)

    check_events(events)
    assert position["offset"] == len(data)  # every line read, good or bad
    for problem in problems:
        assert re.match(rf"^{re.escape(str(path))}:\d+: .+", problem), problem


KEYS = st.sampled_from(
    [
        "store",
        "path",
        "apps",
        "team",
        "repos",
        "services",
        "defaults",
        "app",
        "sources",
        "type",
        "name",
        "interval",
        "paths",
        "token_env",
        "token",
        "secret",
        "label_limits",
        "windows",
        "production_environments",
        "budgets",
        "horizon",
    ]
)
YAML_VALUE = st.recursive(
    SCALAR | st.sampled_from(sorted(SOURCE_TYPES)) | st.sampled_from(["5m", "1d", "-1s", ".nan"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS | TEXT, inner, max_size=4),
    max_leaves=12,
)
SOURCE = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(SOURCE_TYPES)), "name": TEXT},
    optional={key: YAML_VALUE for key in ("paths", "interval", "token_env", "org", "path")},
)
DOCUMENT = st.fixed_dictionaries(
    {},
    optional={
        "store": YAML_VALUE,
        "apps": st.dictionaries(TEXT, YAML_VALUE, max_size=3),
        "defaults": YAML_VALUE,
        "sources": st.lists(SOURCE | YAML_VALUE, max_size=3),
        "label_limits": YAML_VALUE,
        "windows": YAML_VALUE,
        "production_environments": TEXT | st.just("(unclosed"),
    },
)


def yaml_text(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True)


CONFIG_TEXT = st.one_of(
    DOCUMENT.map(yaml_text),
    YAML_VALUE.map(yaml_text),
    st.text(max_size=80),
    st.sampled_from(["a: &x [1]\nb: *x\n", "a: !!python/object:os.system x\n", "- [" * 50]),
)


@settings(max_examples=400, deadline=None)
@given(text=CONFIG_TEXT)
def test_the_config_loader_returns_a_config_or_problems_naming_file_line_and_key(
    text: str,
) -> None:
    try:
        config = parse_config(text, "kpi.yml")
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.startswith("kpi.yml") and ": " in problem, problem
        return
    assert isinstance(config, Config)
