"""JSON Lines files that any CI system appends deployments and incidents to.

Each file is read from where the last poll stopped (the cursor keeps, per file, its identity,
the byte offset of the last complete line and the line number), so appending is cheap and a
bad line is reported once. A line still being written (no newline yet) waits for the next
poll. A file that was replaced or truncated is read again from the start: the idempotent
upsert makes that safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any, BinaryIO, Literal

from pydantic import Field

from ..config_base import Duration, Name, Strict
from ..model import Event
from ..store import SourceState
from . import Poll, SourceError
from .event_format import EventFormatError, parse_event
from .files import FileSource
from .registry import SourceType, headline, listed


class EventsFileSource(Strict):
    type: Literal["events_file"]
    name: Name
    interval: Duration = 60.0
    paths: list[str] = Field(min_length=1, description="JSON Lines files or globs.")


log = logging.getLogger(__name__)
HEAD_BYTES = 4096


class EventsFiles(FileSource[EventsFileSource]):
    """Polls the files matching the configured paths or globs."""

    def poll(self, state: SourceState) -> Poll:
        positions: dict[str, Any] = json.loads(state.cursor) if state.cursor else {}
        events: list[Event] = []
        problems: list[str] = []
        readable = 0
        for path in self.files():
            try:
                new_events, position, bad = self.read(path, positions.get(path))
            except OSError as error:
                problems.append(f"{path}: cannot read: {error.strerror}")
                continue
            readable += 1
            events.extend(new_events)
            problems.extend(bad)
            positions[path] = position
        if readable == 0 and problems:
            raise SourceError("; ".join(problems))
        return Poll(events=events, cursor=json.dumps(positions, sort_keys=True), problems=problems)

    def read(
        self, path: str, position: dict[str, Any] | None
    ) -> tuple[list[Event], dict[str, Any], list[str]]:
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            identity = {"dev": stat.st_dev, "inode": stat.st_ino}
            offset, line_number = 0, 0
            if (
                position is not None
                and {"dev": position["dev"], "inode": position["inode"]} == identity
                and position["offset"] <= stat.st_size
                and _head(file, position["offset"]) == position.get("head")
            ):
                offset, line_number = position["offset"], position["line"]
            file.seek(offset)
            data = file.read()
            consumed = offset + data.rfind(b"\n") + 1
            head = _head(file, consumed)
        events: list[Event] = []
        problems: list[str] = []
        complete = data[: data.rfind(b"\n") + 1]
        for raw in complete.splitlines():
            line_number += 1
            text = raw.strip()
            if not text:
                continue
            try:
                events.extend(parse_event(json.loads(text), self.name, self.ownership))
            except UnicodeDecodeError:
                problems.append(f"{path}:{line_number}: not UTF-8 text")
            except json.JSONDecodeError as error:
                problems.append(f"{path}:{line_number}: not valid JSON: {error.msg}")
            except EventFormatError as error:
                problems.append(f"{path}:{line_number}: {error}")
            except RecursionError:
                problems.append(f"{path}:{line_number}: not valid JSON: nested too deeply")
            except ValueError:  # int() refuses more than 4,300 digits
                problems.append(f"{path}:{line_number}: not valid JSON: a number too long")
        position = {**identity, "offset": consumed, "line": line_number, "head": head}
        return events, position, problems


def _head(file: BinaryIO, offset: int) -> str:
    """A digest of the first bytes already read: a file truncated and written again in place
    (same inode, and as long as before) no longer matches and is read from the start."""
    file.seek(0)
    return hashlib.sha256(file.read(min(offset, HEAD_BYTES))).hexdigest()[:16]


def _describe(source: EventsFiles) -> list[str]:
    files = source.files()
    return [headline(source, "events_file", f"{len(files)} file(s)"), *listed(files)]


SOURCE_TYPE = SourceType("events_file", EventsFileSource, EventsFiles.build, _describe)
