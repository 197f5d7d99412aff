"""The series names a PromQL expression reads: one parser for the rules' and the dashboards'
tests and the rules benchmark."""

from __future__ import annotations

import re

# An identifier that is not a function call, a keyword, a Grafana variable ($team,
# $__rate_interval), or inside a string, a label matcher, a range or a grouping clause.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w$.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The series names ``expr`` reads."""
    text = _GROUPING.sub(" ", _BRACES.sub(" ", _STRINGS.sub('""', expr)))
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}
