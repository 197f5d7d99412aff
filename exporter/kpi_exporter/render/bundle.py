"""The provisioning bundle rendered from the Jsonnet catalogue in ``alerts/``.

``alerts/rules.jsonnet``, ``alerts.jsonnet`` and ``slo.jsonnet`` become the Prometheus rule
files ``alerts/rendered/*.yaml``; ``alerts/docs.jsonnet`` becomes the runbooks
(``docs/runbooks/``) and the rule reference (``docs/rules.md``). Each entry point takes the
thresholds file as its ``overrides`` argument, merged over ``alerts/config.libsonnet``.

Only ``kpi-exporter render`` needs Jsonnet, so it is imported here, when rendering.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError
from . import jsonnet, runbooks, sources

# The Jsonnet sources live in the checkout, next to the package's source tree.
SOURCES = sources.ROOT / "alerts"

RULE_FILES = {
    "alerts/rendered/rules.yaml": "rules.jsonnet",
    "alerts/rendered/alerts.yaml": "alerts.jsonnet",
    "alerts/rendered/slo.yaml": "slo.jsonnet",
}

# The promtool unit tests (alerts/tests/*.yaml) read a copy of the rule files rendered with a
# fixed thresholds file, so that changing a default of config.libsonnet changes no test.
TEST_THRESHOLDS = SOURCES / "tests" / "thresholds.yaml"
TEST_RULE_FILES = {
    "alerts/tests/rendered/" + path.rsplit("/", 1)[1]: entry for path, entry in RULE_FILES.items()
}

# Keys of rule files in the order Prometheus' own documentation writes them.
_KEY_ORDER = (
    "name",
    "interval",
    "rules",
    "alert",
    "record",
    "expr",
    "for",
    "labels",
    "annotations",
    "summary",
    "description",
    "runbook_url",
    "action",
)


def evaluate(entry: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The JSON value of an entry point under ``alerts/``, with ``overrides`` merged over
    the configuration. Evaluated once per entry and overrides (the rule files, the runbooks
    and the chart's files read the same entry points); each call parses a fresh copy."""
    return json.loads(_evaluated(entry, json.dumps(dict(overrides or {}), sort_keys=True)))


@functools.lru_cache(maxsize=32)
def _evaluated(entry: str, overrides_json: str) -> str:
    return jsonnet.evaluate_file(SOURCES / entry, overrides_json, entry)


def load_thresholds(path: Path) -> dict[str, Any]:
    """A thresholds file (YAML or JSON), checked against the shape of the configuration."""
    try:
        overrides = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError([f"{path}: {error.strerror}"]) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{path}: not YAML or JSON: {error}"]) from None
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise ConfigError([f"{path}: expected a mapping like alerts/config.libsonnet"])
    problems = unknown_keys(overrides, evaluate("config.libsonnet"))
    if problems:
        raise ConfigError([f"{path}: {problem}" for problem in problems])
    return overrides


def unknown_keys(overrides: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """Keys of ``overrides`` the configuration does not have (a typo would otherwise be
    ignored). A mapping that is empty in the configuration (``wip_limits.teams``) takes any
    key; lists replace the configuration's (``slos``)."""
    problems: list[str] = []

    def walk(override: Mapping[str, Any], default: Mapping[str, Any], path: str) -> None:
        for key, value in override.items():
            where = f"{path}{key}"
            if value is None:
                problems.append(f"{where}: null would remove it; set a value")
            elif default and key not in default:
                problems.append(f"{where}: unknown key (known: {', '.join(sorted(default))})")
            elif isinstance(default.get(key), dict):
                if not isinstance(value, dict):
                    problems.append(f"{where}: expected a mapping")
                else:
                    walk(value, default[key], where + ".")

    walk(overrides, defaults, "")
    return problems


def rendered_files(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Path (relative to the repository root) -> content of every rendered file."""
    return dict(_rendered(json.dumps(dict(overrides or {}), sort_keys=True)))


@functools.lru_cache(maxsize=4)
def _rendered(overrides_json: str) -> tuple[tuple[str, str], ...]:
    overrides = json.loads(overrides_json)
    documents = {path: evaluate(entry, overrides) for path, entry in RULE_FILES.items()}
    files = {path: rule_file(documents[path], RULE_FILES[path]) for path in documents}
    groups = [group for document in documents.values() for group in document["groups"]]
    files.update(runbooks.documents(evaluate("docs.jsonnet", overrides), groups))
    files.update(test_rule_files())
    return tuple(files.items())


def test_rule_files() -> dict[str, str]:
    """The rule files of the promtool unit tests: rendered with ``alerts/tests/thresholds.yaml``
    whatever thresholds file the rest of the bundle is rendered with."""
    overrides = load_thresholds(TEST_THRESHOLDS)
    note = f"with {TEST_THRESHOLDS.relative_to(SOURCES.parent)}, for the promtool tests only"
    return {
        path: rule_file(evaluate(entry, overrides), entry, note)
        for path, entry in TEST_RULE_FILES.items()
    }


def rule_file(document: Any, entry: str, note: str = "") -> str:
    """A rule file as YAML: keys in the usual order, multi-line expressions as blocks."""
    source = f"alerts/{entry}" + (f" {note}" if note else "")
    header = f"# Generated by `kpi-exporter render` from {source}. Do not edit.\n"
    return header + yaml.dump(
        _ordered(document), Dumper=_Dumper, sort_keys=False, width=4096, allow_unicode=True
    )


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (_KEY_ORDER.index(k) if k in _KEY_ORDER else 99, k))
        return {key: _ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


# libyaml's emitter when PyYAML has it (three times faster; the same text, which
# `render --check` proves), else the pure Python one.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Block style for multi-line strings, so expressions read as they were written."""


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _string)
