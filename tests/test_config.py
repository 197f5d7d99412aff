"""The configuration file: errors that name key path and line, secrets by reference only."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from kpi_exporter import cli
from kpi_exporter.config import (
    SOURCE_TYPES,
    ConfigError,
    load_config,
    parse_config,
    parse_duration,
)
from kpi_exporter.ownership import Ownership

ROOT = Path(__file__).resolve().parent.parent

BAD = """\
sources:
  - type: git
    name: self
    path: .
  - type: events_file
    name: ci
    paths: events.jsonl
  - type: git
    name: other
    path: .
    interval: soon
  - type: pagerduty2
    name: pd
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "kpi.yaml")
    return raised.value.problems


def test_errors_name_the_key_path_and_the_line() -> None:
    assert problems_of(BAD) == [
        "kpi.yaml:7: sources[ci].paths: expected a list",
        "kpi.yaml:11: sources[other].interval: expected a duration such as 30s, 5m, 48h or 7d",
        # Every registered type is listed, in registration order (the first five, then more).
        "kpi.yaml:12: sources[pd]: unknown source type (expected one of: "
        + ", ".join(f"'{name}'" for name in SOURCE_TYPES)
        + ")",
    ]
    assert SOURCE_TYPES[:5] == ("git", "events_file", "ingest", "github", "gitlab")


def test_unknown_and_missing_keys_are_named() -> None:
    text = "store:\n  pth: x.db\nsources:\n  - type: git\n    name: a\n"
    assert problems_of(text) == [
        "kpi.yaml:2: store.pth: unknown key (did you mean 'path'?)",
        "kpi.yaml:4: sources[a].path: required key is missing",
    ]


def test_inline_secrets_are_refused_with_the_reference_to_use() -> None:
    text = "sources:\n  - type: ingest\n    name: hook\n    secret: hunter2\n"
    (problem,) = problems_of(text)
    assert problem.startswith("kpi.yaml:4: sources[hook].secret: secrets are not allowed inline")
    assert "secret_env" in problem and "secret_file" in problem
    assert "hunter2" not in problem


def test_invalid_yaml_names_the_line() -> None:
    (problem,) = problems_of("sources:\n  - type: git\n   name: [\n")
    assert problem.startswith("kpi.yaml:3: not valid YAML")


def test_bad_regex_and_duplicate_source_names() -> None:
    text = (
        "production_environments: '(prod'\n"
        "sources:\n"
        "  - {type: git, name: a, path: .}\n"
        "  - {type: git, name: a, path: .}\n"
    )
    problems = problems_of(text)
    assert problems[0].startswith("kpi.yaml:1: production_environments: not a valid regular")
    assert problems[1] == "kpi.yaml:2: sources: source name 'a' is used twice"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("48h", 172800.0),
        ("7d", 604800.0),
        ("1w", 604800.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "-1", 0, True, "1y"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_relative_source_paths_start_at_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    config_file = tmp_path / "conf" / "kpi.yaml"
    config_file.write_text("sources:\n  - {type: git, name: a, path: ../repo}\n")
    config = load_config(config_file)
    assert config.resolve("../repo") == tmp_path / "repo"


def test_apps_map_repos_services_and_paths_to_app_and_team() -> None:
    config = parse_config(
        "defaults: {app: other, team: nobody}\n"
        "apps:\n"
        "  checkout: {team: payments, repos: [Acme/Checkout], services: [checkout-api],"
        " paths: ['services/checkout/*']}\n"
    )
    ownership = Ownership(config)
    assert ownership.of_repo("acme/checkout") == ("checkout", "payments")
    assert ownership.of_service("checkout-api") == ("checkout", "payments")
    assert ownership.match_path("services/checkout/main.py") == (
        ("checkout", "payments"),
        "services/checkout/*",
    )
    assert ownership.of_repo("acme/unknown") == ("other", "nobody")
    assert ownership.of_app("search") == ("search", "nobody")


def test_the_shipped_json_schema_accepts_the_examples_and_rejects_a_wrong_type() -> None:
    schema = json.loads((ROOT / "docs" / "config.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        validator.validate(yaml.safe_load(example.read_text()))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"sources": [{"type": "git", "name": "a", "path": 3}]})


def written(folder: Path, text: str) -> Path:
    """``text`` as the configuration file kpi.yaml in ``folder``."""
    path = folder / "kpi.yaml"
    path.write_text(text)
    return path


def test_cli_exits_2_and_prints_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = written(tmp_path, BAD)
    assert cli.main(["check-config", "--config", str(config_file)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: {config_file}:7: sources[ci].paths: expected a list"
    assert len(err) == 3


FIVE_PROBLEMS = """\
apps:
  shop:
    team: payments
    repo: [acme/shop]
sources:
  - type: github
    name: gh
    api_key: abc123
    repos: [acme/shop]
  - type: pagerduty
    name: pd
    intervall: 5m
    token_env: PD_TOKEN
  - type: events_file
    name: ci
    paths: ci.jsonl
  - type: nosuch
    name: what
"""


def test_check_config_prints_five_problems_at_once_in_line_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every problem in one run, ``file:line: key.path: problem``, sources named by their name,
    a close known key suggested, the secret's hint naming keys that exist."""
    config_file = written(tmp_path, FIVE_PROBLEMS)
    assert cli.main(["check-config", "--config", str(config_file)]) == 2
    err = [
        line.removeprefix(f"error: {config_file}") for line in capsys.readouterr().err.splitlines()
    ]
    assert err[:4] == [
        ":4: apps.shop.repo: unknown key (did you mean 'repos'?)",
        ":8: sources[gh].api_key: secrets are not allowed inline; use token_env (an"
        " environment variable) or token_file (a file) instead",
        ":12: sources[pd].intervall: unknown key (did you mean 'interval'?)",
        ":16: sources[ci].paths: expected a list",
    ]
    assert err[4].startswith(":17: sources[what]: unknown source type (expected one of: 'git',")
    assert len(err) == 5
    assert "abc123" not in "".join(err)


TWO_SECRETS = """\
sources:
  - {type: pagerduty, name: pd, token_env: KPI_TEST_PD_ABSENT}
  - {type: github, name: gh, token_env: KPI_TEST_GH_ABSENT, repos: [acme/shop]}
  - {type: events_file, name: ci, paths: [ci.jsonl]}
"""


def test_every_missing_secret_is_listed_together_and_ci_can_check_without_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = written(tmp_path, TWO_SECRETS)
    assert cli.main(["check-config", "--config", str(config_file)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: sources[pd]: environment variable KPI_TEST_PD_ABSENT is not set or empty",
        "error: sources[gh]: environment variable KPI_TEST_GH_ABSENT is not set or empty",
    ]
    assert cli.main(["check-config", "--config", str(config_file), "--without-secrets"]) == 0
    out = capsys.readouterr().out
    assert "secrets not read (--without-secrets): pd, gh checked as text only" in out
    assert "- ci (events_file" in out


def test_cli_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the configuration" in capsys.readouterr().err


def test_check_config_prints_what_would_be_polled(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check-config", "--config", str(ROOT / "examples" / "quickstart.yaml")]) == 0
    out = capsys.readouterr().out
    assert "configuration OK: 8 source(s)" in out
    assert "- self (git, every 60s)" in out and "deployments by train (HEAD)" in out
    assert "app=kpi-exporter team=platform environment=production" in out
    assert "examples/events/deployments.jsonl" in out
    assert "- image-scans (scan_report, every 300s): 3 file(s)" in out


def test_ingest_secret_reference_must_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KPI_TEST_SECRET", raising=False)
    config_file = tmp_path / "kpi.yaml"
    config_file.write_text(
        "sources:\n  - {type: ingest, name: hook, secret_env: KPI_TEST_SECRET}\n"
    )
    assert cli.main(["check-config", "--config", str(config_file)]) == 2
    assert "environment variable KPI_TEST_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("KPI_TEST_SECRET", "s3cret-value")
    assert cli.main(["check-config", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "secret from KPI_TEST_SECRET" in out and "s3cret-value" not in out
