"""Loading YAML into a model, with errors that name the file, the line and the key path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from ..config_base import ConfigError

# --- loading -------------------------------------------------------------------------------

# Keys that would hold a secret in clear text. Their *_env / *_file forms are the allowed ones.
_SECRET_KEYS = frozenset({"token", "password", "secret", "api_key", "apikey", "private_key"})

Path_ = tuple[str | int, ...]

# Bounds of a configuration file: bytes read, nesting, and nodes once aliases are expanded
# (an "alias bomb" of 9 levels of 10 aliases each expands to 10^9 nodes from 1 KB).
# The pure-Python parser reads about 250 KB/s of CPU: 4 MiB is refused unread, and reading
# stops at the 100,001st value (25,000 apps with a team each; a big installation has 2,000).
MAX_BYTES = 4 * 2**20
MAX_DEPTH = 64
MAX_NODES = 100_000
TOO_MANY = f"more than {MAX_NODES:,} values once aliases are expanded"


class _Limited(yaml.YAMLError):
    """A configuration beyond one of the bounds, at a mark."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _Loader(yaml.SafeLoader):
    """The safe loader, bounded in nesting and values, refusing a key given twice in one
    mapping."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            self._nodes += 1
            if self._depth > MAX_DEPTH or self._nodes > MAX_NODES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                if self._depth > MAX_DEPTH:
                    raise _Limited(f"nested deeper than {MAX_DEPTH} levels", mark)
                raise _Limited(TOO_MANY, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key, _ in node.value:  # merged keys (<<) may be overridden: only explicit ones
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise _Limited(f"duplicate key '{key.value}'", key.start_mark)
                seen.add(key.value)
        return super().construct_mapping(node, deep)


def _expanded(node: yaml.Node) -> int:
    """How many nodes ``node`` holds with every alias expanded (each shared node counted
    where it is used); refuses a node that contains itself. Linear in the composed nodes."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(current: yaml.Node) -> int:
        known = sizes.get(id(current))
        if known is not None:
            return known
        if id(current) in visiting:
            raise _Limited("an alias refers to a node that contains it", current.start_mark)
        visiting.add(id(current))
        total = 1
        if isinstance(current, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            total += sum(size(item) for item in current.value)
        visiting.discard(id(current))
        sizes[id(current)] = total = min(total, MAX_NODES + 1)
        return total

    return size(node)


def _lines(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    """1-based line of every key path in a composed YAML document."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines.update(_lines(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_lines(item, (*path, index)))
    return lines


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


_MESSAGES = {
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
    "union_tag_invalid": "unknown source type (expected one of: {expected_tags})",
    "union_tag_not_found": "missing key 'type'",
    "too_short": "expected at least {min_length} item(s)",
    "string_pattern_mismatch": "expected letters, digits, '.', '_' or '-'",
}


def _message(error: Any) -> str:
    template = _MESSAGES.get(error["type"])
    if template is None:
        message: str = error["msg"]
        return message.removeprefix("Value error, ")
    context = error.get("ctx") or {}
    try:
        return template.format(**context)
    except KeyError:
        return template


def _inline_secrets(data: Any, path: Path_ = ()) -> list[Path_]:
    found: list[Path_] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower() in _SECRET_KEYS and value not in (None, ""):
                found.append((*path, key))
            else:
                found.extend(_inline_secrets(value, (*path, key)))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found.extend(_inline_secrets(item, (*path, index)))
    return found


M = TypeVar("M", bound=BaseModel)


def parse_yaml_model(
    text: str,
    filename: str,
    model: type[M],
    check: Callable[[Any, Callable[[Path_], str]], None] | None = None,
    union_tags: frozenset[str] = frozenset(),
) -> M:
    """Validate YAML text into ``model``; :class:`ConfigError` names every bad key and line.

    ``check`` may inspect the raw data first and raise ConfigError itself; it receives a
    function that turns a key path into ``file:line``. ``union_tags`` are the tags of the
    model's tagged unions in lists (the source types), left out of the key paths.
    """
    if len(text) > MAX_BYTES:
        raise ConfigError([f"{filename}: larger than {MAX_BYTES // 2**20} MiB"])
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None and _expanded(node) > MAX_NODES:
                raise _Limited(TOO_MANY, node.start_mark)
            data = loader.construct_document(node) if node is not None else {}
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where_ = f"{filename}:{mark.line + 1}" if mark is not None else filename
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError([f"{where_}: not valid YAML: {problem}"]) from None
    lines = _lines(node) if node is not None else {}
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError([f"{filename}:1: (top level): expected a mapping"])

    def where(path: Path_) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in lines:
                return f"{filename}:{lines[path[:end]]}"
        return filename

    if check is not None:
        check(data, where)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            path = _without_union_tag(item["loc"], union_tags)
            problems.append(f"{where(path)}: {format_path(path)}: {_message(item)}")
        raise ConfigError(problems) from None


def no_inline_secrets(data: Any, where: Callable[[Path_], str]) -> None:
    secrets = _inline_secrets(data)
    if secrets:
        raise ConfigError(
            [
                f"{where(p)}: {format_path(p)}: secrets are not allowed inline; "
                f"use {p[-1]}_env (an environment variable) or {p[-1]}_file (a file) instead"
                for p in secrets
            ]
        )


def _without_union_tag(loc: tuple[str | int, ...], tags: frozenset[str]) -> Path_:
    """Drop the source-type tag pydantic inserts after a list index for tagged unions."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (index and isinstance(loc[index - 1], int) and part in tags)
    )
