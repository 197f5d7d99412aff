"""Log output in logfmt (default) or JSON, like the Prometheus exporters; every configured
secret redacted (see :mod:`kpi_exporter.redaction`)."""

from __future__ import annotations

import json
import logging
import sys
import time

from .redaction import redact

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
        f".{int(record.msecs):03d}Z"
    )


def _level(record: logging.LogRecord) -> str:
    return "warn" if record.levelno == logging.WARNING else record.levelname.lower()


def _fields(formatter: logging.Formatter, record: logging.LogRecord) -> dict[str, str]:
    """The fields of a log line, secrets redacted, in the order both formats write them."""
    fields = {
        "ts": _timestamp(record),
        "level": _level(record),
        "caller": record.name.removeprefix("kpi_exporter."),
        "msg": redact(record.getMessage()),
    }
    if record.exc_info:
        fields["err"] = redact(formatter.formatException(record.exc_info))
    return fields


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(self, record)
        return " ".join(f"{key}={_quote(value)}" for key, value in fields.items())


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(self, record))


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' ="\n\t'):
        return value
    return json.dumps(value)


def setup(level: str, format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if format == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
