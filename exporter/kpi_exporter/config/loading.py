"""Loading YAML into a model, with errors that name the file, the line and the key path."""

from __future__ import annotations

import difflib
import typing
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
        if isinstance(part, int) or (isinstance(part, str) and part.startswith("[")):
            text += f"[{part}]" if isinstance(part, int) else part  # [3], or a name: [gh]
        else:
            text += f".{part}" if text else str(part)
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


def _message(error: Any, model: type[BaseModel], path: Path_, data: Any) -> str:
    if error["type"] == "extra_forbidden":
        known = _known_keys(model, path[:-1], data)
        close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
        return f"unknown key (did you mean {close[0]!r}?)" if close else "unknown key"
    return _text(error)


def _known_keys(model: type[BaseModel], path: Path_, data: Any) -> list[str]:
    """The keys the model accepts at ``path``: a field descends into its model (the item
    model of a list or mapping), a list index or mapping key stays on it, and a tagged union
    resolves to the entry's own type."""
    current: Any = model
    node: Any = data
    for part in path:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
        if isinstance(current, list) and isinstance(node, dict):  # a union: the entry's type
            current = next((m for m in current if _tag_of(m) == node.get("type")), None)
        fields: dict[str, Any] = getattr(current, "model_fields", {})
        if isinstance(part, str) and part in fields:
            current = _model_of(fields[part].annotation, node)
    if isinstance(current, list) and isinstance(node, dict):
        current = next((m for m in current if _tag_of(m) == node.get("type")), None)
    return list(getattr(current, "model_fields", {}))


def _model_of(annotation: Any, node: Any) -> Any:
    """The model inside an annotation (``list[X]``, ``dict[str, X]``, ``X | None``), or the
    list of models of a union."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [
        found
        for argument in typing.get_args(annotation)
        if (found := _model_of(argument, node)) is not None
    ]
    flat = [m for found in models for m in (found if isinstance(found, list) else [found])]
    return flat[0] if len(flat) == 1 else (flat or None)


def _tag_of(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("type")
    arguments = typing.get_args(field.annotation) if field is not None else ()
    return arguments[0] if arguments else None


def _text(error: Any) -> str:
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


# A check of the raw data before validation: the keys it refuses, each with its problem. The
# keys are left out of what is validated, so one mistake is reported once.
Check = Callable[[Any], list[tuple[Path_, str]]]


def parse_yaml_model(
    text: str,
    filename: str,
    model: type[M],
    check: Check | None = None,
    union_tags: frozenset[str] = frozenset(),
) -> M:
    """Validate YAML text into ``model``; :class:`ConfigError` names every problem at once,
    as ``file:line: key.path: problem``, in line order.

    ``check`` inspects the raw data first (see :data:`Check`). ``union_tags`` are the tags of
    the model's tagged unions in lists (the source types), left out of the key paths; an entry
    of a list that has a ``name`` is named by it (``sources[gh].interval``).
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

    def line(path: Path_) -> int:
        for end in range(len(path), -1, -1):
            if path[:end] in lines:
                return lines[path[:end]]
        return 0

    found: list[tuple[Path_, str]] = []
    if check is not None:
        found = check(data)
        for path, _ in found:
            _drop(data, path)
    # An entry whose secret was refused would also miss its reference: one problem is enough.
    refused_in = {path[:-1] for path, _ in found}
    try:
        validated = model.model_validate(data)
    except ValidationError as error:
        for item in error.errors():
            path = _without_union_tag(item["loc"], union_tags)
            if path not in refused_in:
                found.append((path, _message(item, model, path, data)))
    if not found:
        return validated
    found.sort(key=lambda problem: (line(problem[0]), problem[0] != ()))
    raise ConfigError(
        [
            f"{filename}:{line(path)}: {format_path(_named(path, data))}: {problem}"
            if line(path)
            else f"{filename}: {format_path(_named(path, data))}: {problem}"
            for path, problem in found
        ]
    )


def _drop(data: Any, path: Path_) -> None:
    """Remove the key at ``path`` from the raw data (a refused secret, say)."""
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def _named(path: Path_, data: Any) -> Path_:
    """``path`` with each list index whose entry has a ``name`` replaced by that name."""
    named: list[str | int] = []
    node = data
    for part in path:
        child = None
        if isinstance(node, dict):
            child = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            child = node[part]
        if isinstance(part, int) and isinstance(child, dict) and isinstance(child.get("name"), str):
            named.append(f"[{child['name']}]")
        else:
            named.append(part)
        node = child
    return tuple(named)


_REFERENCE = {"env": "an environment variable", "file": "a file"}


def inline_secrets(
    data: Any, references: Callable[[Any, Path_], list[str]]
) -> list[tuple[Path_, str]]:
    """Every secret written in the file itself, each with the keys that would name it
    instead: ``references(data, path)`` gives the ``*_env``/``*_file`` keys that exist where
    the secret stands (``token_env`` and ``token_file`` for an ``api_key:`` of a source)."""
    found = []
    for path in _inline_secrets(data):
        keys = references(data, path) or [f"{path[-1]}_env", f"{path[-1]}_file"]
        named = [f"{key} ({_REFERENCE[key.rsplit('_', 1)[-1]]})" for key in keys]
        found.append((path, f"secrets are not allowed inline; use {' or '.join(named)} instead"))
    return found


def _without_union_tag(loc: tuple[str | int, ...], tags: frozenset[str]) -> Path_:
    """Drop the source-type tag pydantic inserts after a list index for tagged unions."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (index and isinstance(loc[index - 1], int) and part in tags)
    )
