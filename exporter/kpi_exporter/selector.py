"""A small JSONPath-like selector for the generic HTTP JSON source.

Grammar (a subset of JSONPath, no filters, no recursion)::

    selector := "$" step*
    step     := "." name        a key of an object (name: letters, digits, "_", "-")
              | "['" text "']"  a key with any other characters (no quote inside)
              | "[" n "]"       the n-th item of a list (0-based; negative counts from the end)
              | "[*]" | ".*"    every item of a list, or every value of an object

``$`` is the document (or, for a measure's ``value`` and ``labels``, the selected item).
A selection yields every match with its concrete path (``$.items[3].value``), so an error can
name exactly what was wrong. A key or index that does not exist matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_STEP = re.compile(
    r"\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)"
    r"|\['(?P<quoted>[^']+)'\]"
    r"|\[(?P<index>-?\d+)\]"
    r"|(?P<wild>\[\*\]|\.\*)"
)

Step = str | int | None  # key, index, or None for the wildcard


class SelectorError(ValueError):
    """A selector that does not follow the grammar."""


def parse(selector: str) -> tuple[Step, ...]:
    """The steps of ``selector``; :class:`SelectorError` says where it stops making sense."""
    if not selector.startswith("$"):
        raise SelectorError(f"selector {selector!r} must start with $")
    steps: list[Step] = []
    position = 1
    while position < len(selector):
        match = _STEP.match(selector, position)
        if match is None:
            raise SelectorError(
                f"selector {selector!r}: unexpected {selector[position:]!r} at {position}"
                " (expected .key, ['key'], [n], [*] or .*)"
            )
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("quoted") is not None:
            steps.append(match.group("quoted"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(None)
        position = match.end()
    return tuple(steps)


def select(document: Any, selector: str) -> Iterator[tuple[str, Any]]:
    """Every ``(path, value)`` that ``selector`` matches in ``document``, in document order."""
    yield from _walk(document, parse(selector), "$")


def _walk(node: Any, steps: tuple[Step, ...], path: str) -> Iterator[tuple[str, Any]]:
    if not steps:
        yield path, node
        return
    step, rest = steps[0], steps[1:]
    if step is None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _walk(item, rest, f"{path}[{index}]")
        elif isinstance(node, dict):
            for key, item in node.items():
                yield from _walk(item, rest, _key_path(path, str(key)))
    elif isinstance(step, int):
        if isinstance(node, list) and -len(node) <= step < len(node):
            yield from _walk(node[step], rest, f"{path}[{step}]")
    elif isinstance(node, dict) and step in node:
        yield from _walk(node[step], rest, _key_path(path, step))


def _key_path(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}"
    return f"{path}['{key}']"
