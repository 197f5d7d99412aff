"""Coverage report formats: Cobertura XML and lcov, read into line counts per covered file.

- **Cobertura** (coverage.py ``coverage xml``, Cobertura, JaCoCo converters, ``gcovr --xml``):
  every ``<class filename=...>`` with its ``<lines><line number hits>``; a line is covered when
  its hits are above 0. A file split over several classes (inner classes) counts each line
  number once, covered when any class covers it. Lines inside ``<methods>`` repeat the class's
  own and are not read again. A class with a ``line-rate`` but no ``<lines>`` cannot give
  counts: it is left out and said so (an empty ``<lines/>`` is a file without executable
  lines). Report time: the root's ``timestamp`` (milliseconds when above 1e11, as Cobertura
  and coverage.py write it, else seconds).
- **lcov** (``geninfo``, ``c8``, ``jest``, ``cargo llvm-cov``): per ``SF:`` record, the
  ``DA:<line>,<hits>`` lines; a record without ``DA`` lines counts its ``LH``/``LF`` summary. A
  file in several records (several test names) counts each line once. lcov has no report time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .safe_xml import parse_xml

TIMESTAMP_MS_ABOVE = 1e11
MAX_PROBLEMS = 5


class ReportError(ValueError):
    """A report that cannot be read at all; the message names it."""


@dataclass(slots=True)
class FileLines:
    """Lines of one covered file: line number -> covered, or a summary when only that is known."""

    lines: dict[int, bool] = field(default_factory=dict)
    summary_covered: int = 0
    summary_valid: int = 0

    def counts(self) -> tuple[int, int]:
        """(lines covered, lines valid)."""
        if self.lines:
            return sum(self.lines.values()), len(self.lines)
        return self.summary_covered, self.summary_valid

    def hit(self, number: int, hits: int) -> None:
        self.lines[number] = self.lines.get(number, False) or hits > 0


@dataclass(slots=True)
class Report:
    """Covered files (path as written in the report) and the report's own time, if any."""

    files: dict[str, FileLines] = field(default_factory=dict)
    measured_at: float | None = None
    problems: list[str] = field(default_factory=list)

    def file(self, path: str) -> FileLines:
        return self.files.setdefault(path, FileLines())


def detect(data: bytes) -> str:
    """``cobertura`` when the report starts with ``<`` (after a BOM and blanks), else ``lcov``."""
    return "cobertura" if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else "lcov"


def parse(data: bytes, form: str, where: str) -> Report:
    """Parse a report of format ``form`` (``auto``, ``cobertura`` or ``lcov``)."""
    if form == "auto":
        form = detect(data)
    report = parse_cobertura(data, where) if form == "cobertura" else parse_lcov(data, where)
    if not report.files and not report.problems:
        report.problems.append(f"{where}: no covered files in the report")
    return report


def parse_cobertura(data: bytes, where: str) -> Report:
    try:
        root = parse_xml(data, where)
    except ValueError as error:
        raise ReportError(str(error)) from None
    if root.tag != "coverage":
        raise ReportError(f"{where}: not a Cobertura report (root <{root.tag}>, not <coverage>)")
    report = Report(measured_at=_report_time(root.get("timestamp")))
    rate_only = 0
    for element in root.iter("class"):
        path = element.get("filename", "")
        if not path:
            report.problems.append(f"{where}: a <class> without filename: left out")
            continue
        lines = element.findall("lines/line")
        if not lines:
            # An empty <lines/> is a file without executable lines (coverage.py writes one
            # per empty __init__.py, Cobertura per interface): nothing to count, nothing wrong.
            rate_only += element.find("lines") is None and element.get("line-rate") is not None
            continue
        covered = report.file(path)
        for line in lines:
            try:
                covered.hit(int(line.get("number", "")), int(line.get("hits", "0")))
            except ValueError:
                report.problems.append(
                    f"{where}: {path}: <line number={line.get('number')!r}"
                    f" hits={line.get('hits')!r}>: expected integers; line left out"
                )
    if rate_only:
        report.problems.append(
            f"{where}: {rate_only} class(es) have a line-rate but no <line> hits: left out"
            " (line counts are needed)"
        )
    report.problems = _bounded(report.problems)
    return report


def _report_time(value: str | None) -> float | None:
    try:
        stamp = float(value) if value else 0.0
    except ValueError:
        return None
    if stamp <= 0:
        return None
    return stamp / 1000 if stamp > TIMESTAMP_MS_ABOVE else stamp


def parse_lcov(data: bytes, where: str) -> Report:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReportError(f"{where}: not UTF-8 text (neither Cobertura XML nor lcov)") from None
    report = Report()
    current: FileLines | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "end_of_record":
            current = None
            continue
        record, colon, value = line.partition(":")
        if not colon or not (record.isalpha() and record.isupper()):
            report.problems.append(f"{where}:{number}: not an lcov record")
            continue
        if record == "SF":
            current = report.file(value.strip())
            continue
        if record not in ("DA", "LF", "LH"):
            continue  # functions and branches: not line coverage
        if current is None:
            report.problems.append(f"{where}:{number}: {record} outside an SF record")
            continue
        try:
            if record == "DA":
                fields = value.split(",")
                current.hit(int(fields[0]), int(fields[1]))
            elif record == "LF":
                current.summary_valid = max(current.summary_valid, int(value))
            else:
                current.summary_covered = max(current.summary_covered, int(value))
        except (ValueError, IndexError):
            expected = "<line>,<hits>" if record == "DA" else "a count"
            report.problems.append(f"{where}:{number}: {record}: expected {expected}")
    report.problems = _bounded(report.problems)
    return report


def _bounded(problems: list[str]) -> list[str]:
    """At most a few problems per report: one broken generator must not flood the log."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problem(s)"]


def counts(report: Report) -> Iterator[tuple[str, int, int]]:
    """(path, lines covered, lines valid) of every covered file with lines."""
    for path, lines in sorted(report.files.items()):
        covered, valid = lines.counts()
        if valid:
            yield path, min(covered, valid), valid
