"""JSON Lines files that any CI system appends deployments and incidents to.

Each file is read from where the last poll stopped (the cursor keeps, per file, its identity,
the byte offset of the last complete line and the line number), so appending is cheap and a
bad line is reported once. A line still being written (no newline yet) waits for the next
poll. Files are followed by device and inode, as log shippers do: when another file takes the
path (rotation: ``mv f f.1``, then a new ``f``), the rest of the old file, found next to the
path by its inode, is read first, then the new one from the start. A file truncated or
rewritten (its first 4 KiB changed) is read again from the start: the idempotent upsert makes
that safe. An edit in place before the read position that leaves the first 4 KiB and the
length alone is not seen (docs/events.md).
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
from .event_format import DuplicateKeyError, EventFormatError, parse_event, unique_keys
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
        """The new events of the file at ``path`` since ``position`` (its identity, offset,
        line and head digest), the new position and the bad lines. When another file took
        the path (rotation: ``mv f f.1``, then a new ``f``), the rest of the old one is read
        first, found by its device and inode next to the path."""
        events: list[Event] = []
        problems: list[str] = []
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            identity = {"dev": stat.st_dev, "inode": stat.st_ino}
            offset, line_number = 0, 0
            if position is not None and _same(position, identity):
                if _continues(file, position, stat.st_size):
                    offset, line_number = position["offset"], position["line"]
            elif position is not None and (rotated := _rotated(path, position)) is not None:
                self._read_rest(rotated, position, events, problems)
            data, consumed, head = _new_lines(file, offset)
        self._parse(path, data, line_number, events, problems)
        line_number += data.count(b"\n")
        position = {**identity, "offset": consumed, "line": line_number, "head": head}
        return events, position, problems

    def _read_rest(
        self, path: str, position: dict[str, Any], events: list[Event], problems: list[str]
    ) -> None:
        """The complete lines of a rotated file after the position read in it."""
        try:
            with open(path, "rb") as file:
                if not _continues(file, position, os.fstat(file.fileno()).st_size):
                    return  # not the file read before (its start changed)
                data, _, _ = _new_lines(file, position["offset"])
        except OSError as error:
            problems.append(f"{path}: cannot read the rest of a rotated file: {error.strerror}")
            return
        log.info("%s: read %d byte(s) left in the rotated file %s", self.name, len(data), path)
        self._parse(path, data, position["line"], events, problems)

    def _parse(
        self,
        path: str,
        complete: bytes,
        line_number: int,
        events: list[Event],
        problems: list[str],
    ) -> None:
        for raw in complete.split(b"\n")[:-1]:
            line_number += 1
            text = raw.strip()
            if not text:
                continue
            try:
                data = json.loads(text, object_pairs_hook=unique_keys)
                events.extend(parse_event(data, self.name, self.ownership))
            except DuplicateKeyError as error:
                problems.append(f"{path}:{line_number}: {error}")
            except UnicodeDecodeError:
                problems.append(f"{path}:{line_number}: not UTF-8 text")
            except json.JSONDecodeError as error:
                problems.append(f"{path}:{line_number}: not valid JSON: {error.msg}")
            except EventFormatError as error:
                problems.append(f"{path}:{line_number}: {error}")
            except ValueError as error:  # an integer of more than 4,300 digits
                problems.append(f"{path}:{line_number}: number out of range: {error}")
            except RecursionError:
                problems.append(f"{path}:{line_number}: nested too deeply")


def _same(position: dict[str, Any], identity: dict[str, int]) -> bool:
    return bool(position["dev"] == identity["dev"] and position["inode"] == identity["inode"])


def _continues(file: BinaryIO, position: dict[str, Any], size: int) -> bool:
    """Whether ``file`` still holds what was read of it (not truncated, same first bytes)."""
    return bool(
        position["offset"] <= size and _head(file, position["offset"]) == position.get("head")
    )


def _new_lines(file: BinaryIO, offset: int) -> tuple[bytes, int, str]:
    """The complete lines after ``offset``, the offset after them and the new head digest."""
    file.seek(offset)
    data = file.read()
    complete = data[: data.rfind(b"\n") + 1]
    consumed = offset + len(complete)
    return complete, consumed, _head(file, consumed)


def _rotated(path: str, position: dict[str, Any]) -> str | None:
    """The file next to ``path`` with the device and inode read before (``f.1`` after
    ``mv f f.1``), if any."""
    directory = os.path.dirname(path) or "."
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if (
                    entry.inode() == position["inode"]
                    and entry.is_file()
                    and entry.stat().st_dev == position["dev"]
                ):
                    return entry.path
    except OSError:
        return None
    return None


def _head(file: BinaryIO, offset: int) -> str:
    """A digest of the first bytes already read: a file truncated and written again in place
    (same inode, and as long as before) no longer matches and is read from the start."""
    file.seek(0)
    return hashlib.sha256(file.read(min(offset, HEAD_BYTES))).hexdigest()[:16]


def _describe(source: EventsFiles) -> list[str]:
    files = source.files()
    return [headline(source, "events_file", f"{len(files)} file(s)"), *listed(files)]


SOURCE_TYPE = SourceType("events_file", EventsFileSource, EventsFiles.build, _describe)
