"""Survey answers from CSV files (developer satisfaction, platform NPS): scores per team,
survey and question.

Columns (a header row names them, in any order): ``team``, ``question``, ``score``, and
optionally ``survey`` (else the file name without its extension) and ``date`` (ISO 8601; the
latest one is the gauges' time, else the file's modification time). Any other column (a
respondent id, a free-text comment) is never read: no label can name a person.

Per (team, survey, question), over every file:

- ``kpi_survey_score``: the mean score;
- ``kpi_survey_responses``: the number of valid answers;
- ``kpi_survey_nps_ratio`` (questions listed in ``nps_questions``, scored 0..10): promoters
  (9, 10) minus detractors (0..6), as a share of the answers: -1..1.

A bad row (missing team or question, a score that is not a number, out of the scale) is a
problem naming ``file:line`` and is left out; the other rows count. The files are read again
only when one of them changed (a digest per file is the cursor), and then all of them, as a
question's answers may span files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config_base import Duration, Name, Strict
from ..kpis.families import SURVEY_NPS_RATIO, SURVEY_RESPONSES, SURVEY_SCORE
from ..model import Event, Gauge
from ..store import SourceState
from . import Poll, SourceError
from .business_values import finite_number
from .files import matching_files
from .registry import SourceContext, SourceType, headline, listed
from .times import parse_time


class SurveySource(Strict):
    """CSV survey answers (columns team, question, score; optional survey, date)."""

    type: Literal["survey"]
    name: Name
    interval: Duration = 300.0
    paths: list[str] = Field(min_length=1, description="CSV files or globs.")
    scale_min: float = Field(1.0, description="Lowest score of the non-NPS questions.")
    scale_max: float = Field(5.0, description="Highest score of the non-NPS questions.")
    nps_questions: list[str] = Field(
        default_factory=list, description="Questions scored 0..10 whose NPS is exported."
    )

    @model_validator(mode="after")
    def _scale(self) -> SurveySource:
        if self.scale_min >= self.scale_max:
            raise ValueError("scale_min must be below scale_max")
        return self


NPS_SCALE = (0.0, 10.0)
REQUIRED = ("team", "question", "score")


@dataclass(slots=True)
class Answers:
    """The valid answers to one question of one team in one survey."""

    count: int = 0
    total: float = 0.0
    promoters: int = 0
    detractors: int = 0
    latest: float = 0.0


class SurveyFiles:
    """Polls the survey CSV files matching the configured paths or globs."""

    def __init__(self, config: SurveySource, base_dir: Path) -> None:
        self.name = config.name
        self.interval = config.interval
        self.config = config
        self.base_dir = base_dir
        self.paths = list(config.paths)
        self.nps = frozenset(config.nps_questions)

    def files(self) -> list[str]:
        return matching_files(self.base_dir, self.paths)

    def poll(self, state: SourceState) -> Poll:
        contents: dict[str, bytes] = {}
        problems: list[str] = []
        for path in self.files():
            try:
                contents[path] = Path(path).read_bytes()
            except OSError as error:
                problems.append(f"{path}: cannot read: {error.strerror}")
        if not contents and problems:
            raise SourceError("; ".join(problems))
        digests = {path: hashlib.sha256(data).hexdigest()[:16] for path, data in contents.items()}
        cursor = json.dumps(digests, sort_keys=True)
        if state.cursor == cursor:
            return Poll(events=[], cursor=cursor, problems=problems)
        answers: dict[tuple[str, str, str], Answers] = {}
        for path, data in contents.items():
            problems.extend(self.read(path, data, answers, partial(os.path.getmtime, path)))
        return Poll(events=self.gauges(answers), cursor=cursor, problems=problems)

    def read(
        self,
        path: str,
        data: bytes,
        answers: dict[tuple[str, str, str], Answers],
        modified: Callable[[], float],
    ) -> list[str]:
        """Add the valid rows of one file to ``answers``; the problems of the others."""
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [f"{path}: not UTF-8 text"]
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            return [f"{path}:1: missing column(s) {', '.join(missing)}"]
        reader.fieldnames = header
        survey_default = Path(path).stem
        try:
            fallback_time = modified()
        except OSError:
            fallback_time = 0.0
        problems: list[str] = []
        for row in reader:
            line = reader.line_num
            try:
                key, score, at = self._row(row, survey_default)
            except ValueError as error:
                problems.append(f"{path}:{line}: {error}")
                continue
            entry = answers.setdefault(key, Answers())
            entry.count += 1
            entry.total += score
            entry.promoters += score >= 9
            entry.detractors += score <= 6
            entry.latest = max(entry.latest, at if at is not None else fallback_time)
        return problems

    def _row(
        self, row: dict[str, Any], survey_default: str
    ) -> tuple[tuple[str, str, str], float, float | None]:
        team = (row.get("team") or "").strip()
        question = (row.get("question") or "").strip()
        survey = (row.get("survey") or "").strip() or survey_default
        if not team:
            raise ValueError("missing team")
        if not question:
            raise ValueError("missing question")
        try:
            score = finite_number(row.get("score") or "")
        except ValueError as error:
            raise ValueError(f"score: {error}") from None
        low, high = (
            NPS_SCALE if question in self.nps else (self.config.scale_min, self.config.scale_max)
        )
        if not low <= score <= high:
            raise ValueError(f"score {score:g} is outside {low:g}..{high:g} for {question!r}")
        at = None
        if date := (row.get("date") or "").strip():
            try:
                at = parse_time(date)  # a date without a zone is UTC
            except ValueError:
                raise ValueError(f"date {date[:40]!r} is not ISO 8601") from None
        return (team, survey, question), score, at

    def gauges(self, answers: dict[tuple[str, str, str], Answers]) -> list[Event]:
        events: list[Event] = []
        for (team, survey, question), entry in sorted(answers.items()):
            values = {
                SURVEY_SCORE.name: entry.total / entry.count,
                SURVEY_RESPONSES.name: float(entry.count),
            }
            if question in self.nps:
                values[SURVEY_NPS_RATIO.name] = (entry.promoters - entry.detractors) / entry.count
            for family, value in values.items():
                events.append(
                    Gauge(
                        source=self.name,
                        key=f"{self.name}/{family}/{team}/{survey}/{question}",
                        app="",
                        team=team,
                        name=family,
                        value=value,
                        measured_at=entry.latest,
                        labels=(("survey", survey), ("question", question)),
                    )
                )
        return events


def _build(config: SurveySource, context: SourceContext) -> SurveyFiles:
    return SurveyFiles(config, context.base_dir)


def _describe(source: SurveyFiles) -> list[str]:
    files = source.files()
    return [headline(source, "survey", f"{len(files)} file(s)"), *listed(files)]


SOURCE_TYPE = SourceType("survey", SurveySource, _build, _describe)
