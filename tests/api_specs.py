"""The vendors' own API descriptions (``../shared/real-data/api-specs/``) as test helpers: find
the operation a request calls, and tell whether a payload, or a field a source reads, exists in
the operation's response schema.

The stored subsets are OpenAPI 3 or Swagger 2 operations with their ``$ref``s resolved inline
(``SOURCES.md`` beside them); a schema combines ``allOf`` (every part), ``oneOf`` / ``anyOf``
(any branch), ``nullable`` / ``x-nullable``, ``properties``, ``items`` and ``type``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.real_data import real_data_dir

Schema = dict[str, Any]


def specs_dir() -> Path:
    """``api-specs/`` of the real data (skipped when missing, failed under ``CI=true``)."""
    return real_data_dir() / "api-specs"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]

    def parameters(self, where: str) -> set[str]:
        return {p["name"] for p in self.spec.get("parameters") or () if p.get("in") == where}

    def response(self, status: int) -> Schema | None:
        responses = self.spec.get("responses") or {}
        found = responses.get(str(status))
        return found if isinstance(found, dict) else None


@dataclass(frozen=True)
class Spec:
    name: str
    operations: dict[str, Operation]
    all_paths: frozenset[str]

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation of a concrete request path; the most literal template wins
        (``/incidents/{id}`` over a hypothetical ``/{kind}/{id}``)."""
        matches = [
            op
            for op in self.operations.values()
            if op.method == method and _template_regex(op.template).fullmatch(path)
        ]
        matches.sort(key=lambda op: op.template.count("{"))
        return matches[0] if matches else None

    def has_path(self, path: str, template: str | None = None) -> bool:
        """Whether the description has ``path`` (through ``template`` only, if given)."""
        templates = self.all_paths if template is None else self.all_paths & {template}
        return any(_template_regex(t).fullmatch(path) for t in templates)


@cache
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


@cache
def spec(name: str) -> Spec:
    """One stored description, e.g. ``pagerduty-rest-subset``."""
    path = specs_dir() / f"{name}.json"
    data = json.loads(path.read_text())
    operations = {}
    for key, body in data["operations"].items():
        method, template = key.split(" ", 1)
        operations[key] = Operation(method, template, body)
    return Spec(name, operations, frozenset(data["all_paths"]))


# --- schemas ------------------------------------------------------------------------------------


def _nullable(schema: Schema) -> bool:
    if schema.get("nullable") or schema.get("x-nullable") or schema.get("type") == "null":
        return True
    parts = schema.get("allOf") or ()
    branches = [*(schema.get("oneOf") or ()), *(schema.get("anyOf") or ())]
    return any(_nullable(p) for p in parts) or any(_nullable(b) for b in branches)


def _merged(schema: Schema) -> Schema:
    """An ``allOf`` folded into one schema: properties and required of every part."""
    if "allOf" not in schema:
        return schema
    merged: Schema = {k: v for k, v in schema.items() if k != "allOf"}
    properties = dict(merged.get("properties") or {})
    for part in schema["allOf"]:
        part = _merged(part)
        for key, value in part.items():
            if key == "properties":
                properties.update(value)
            elif key not in merged:
                merged[key] = value
    if properties:
        merged["properties"] = properties
    return merged


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def problems(value: Any, schema: Schema, where: str = "$") -> list[str]:
    """What in ``value`` the schema does not describe: a field it does not have, a value of
    another type, a null where none is allowed. Missing fields are not problems (the fakes
    carry what the tests need)."""
    if value is None:
        return [] if _nullable(schema) or not schema else [f"{where}: null is not allowed"]
    branches = [*(schema.get("oneOf") or ()), *(schema.get("anyOf") or ())]
    if branches:
        tried = [
            problems(value, {**schema, "oneOf": [], "anyOf": [], **b}, where) for b in branches
        ]
        if any(not t for t in tried):
            return []
        return min(tried, key=len)
    schema = _merged(schema)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    if kind is not None:
        allowed = _TYPES.get(kind, (object,))
        if isinstance(value, bool) and kind in ("integer", "number"):
            return [f"{where}: expected {kind}, got a boolean"]
        if not isinstance(value, allowed):
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    found: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                found += problems(item, properties[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                found += problems(item, extra, f"{where}.{key}")
            elif properties is not None and extra is not True:
                found.append(f"{where}.{key}: no such field")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += problems(item, schema["items"], f"{where}[{index}]")
    return found


def has_field(schema: Schema, path: tuple[str, ...]) -> bool:
    """Whether the field at ``path`` (keys, ``[]`` for a list's items) exists in ``schema``."""
    if not path:
        return True
    branches = [*(schema.get("oneOf") or ()), *(schema.get("anyOf") or ())]
    if branches:
        return any(has_field({**schema, "oneOf": [], "anyOf": [], **b}, path) for b in branches)
    schema = _merged(schema)
    head, rest = path[0], path[1:]
    if head == "[]":
        items = schema.get("items")
        return isinstance(items, dict) and has_field(items, rest)
    properties = schema.get("properties") or {}
    if head in properties:
        return has_field(properties[head], rest)
    extra = schema.get("additionalProperties")
    if extra is True or extra == {}:
        return True  # free-form (Jira's issue fields): any field may be there
    return isinstance(extra, dict) and has_field(extra, rest)


# --- what a source reads ------------------------------------------------------------------------


class ReadDict(dict[str, Any]):
    """A JSON object that notes every key a source looks up, present or not."""

    def __init__(self, data: dict[str, Any], where: tuple[str, ...], read: set[tuple[str, ...]]):
        super().__init__({k: watched(v, (*where, k), read) for k, v in data.items()})
        self._where = where
        self._read = read

    def __getitem__(self, key: str) -> Any:
        self._read.add((*self._where, key))
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._read.add((*self._where, key))
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._read.add((*self._where, key))
        return super().__contains__(key)


def watched(value: Any, where: tuple[str, ...], read: set[tuple[str, ...]]) -> Any:
    """``value`` (decoded JSON) with its objects noting the keys read into ``read``."""
    if isinstance(value, dict):
        return ReadDict(value, where, read)
    if isinstance(value, list):
        return [watched(item, (*where, "[]"), read) for item in value]
    return value


def dotted(path: tuple[str, ...]) -> str:
    return ".".join(path).replace(".[]", "[]") or "$"


def parameter_problems(operation: Operation, query: list[tuple[str, str]]) -> list[str]:
    """Query parameters the operation does not declare, or whose value its schema refuses
    (an enum, an integer, a maximum)."""
    declared = {
        p["name"]: p.get("schema") or p
        for p in operation.spec.get("parameters") or ()
        if p.get("in") == "query"
    }
    found = []
    for name, value in query:
        schema = declared.get(name)
        if schema is None:
            found.append(f"query parameter {name!r} is not declared")
            continue
        if schema.get("type") == "array":
            schema = schema.get("items") or {}
        if "enum" in schema and value not in [
            str(v).lower() if isinstance(v, bool) else str(v) for v in schema["enum"]
        ]:
            found.append(f"{name}={value!r} is not one of {schema['enum']}")
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?\d+", value):
                found.append(f"{name}={value!r} is not an integer")
            elif "maximum" in schema and int(value) > schema["maximum"]:
                found.append(f"{name}={value} is above the maximum {schema['maximum']}")
    return found
