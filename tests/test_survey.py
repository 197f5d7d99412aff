"""The survey CSV source: mean score, responses and NPS per team, survey and question,
hand-computed; bad rows reported as file:line and left out; respondent columns never read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.model import Event, Gauge
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.survey import SurveyFiles, SurveySource
from kpi_exporter.store import SourceState
from tests.support import exposition, ts, value

PULSE = """respondent,team,question,score,date,comment
alice@example.com,payments,satisfaction,4,2026-02-01,fine
bob@example.com,payments,satisfaction,5,2026-02-03,
carol@example.com,payments,satisfaction,2,2026-02-02,slow CI
alice@example.com,payments,platform_nps,10,2026-02-01,
bob@example.com,payments,platform_nps,9,2026-02-03,
carol@example.com,payments,platform_nps,7,2026-02-02,
dave@example.com,payments,platform_nps,3,2026-02-02,
erin@example.com,finance,satisfaction,3,2026-02-04,
"""


def survey(tmp_path: Path, files: dict[str, str], **config: Any) -> SurveyFiles:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    settings: dict[str, Any] = {
        "type": "survey",
        "name": "surveys",
        "paths": ["*.csv"],
        "nps_questions": ["platform_nps"],
    }
    settings.update(config)
    return SurveyFiles(SurveySource(**settings), tmp_path)


def results(events: list[Event]) -> dict[tuple[str, str, str, str], float]:
    found = {}
    for event in events:
        assert isinstance(event, Gauge)
        labels = dict(event.labels)
        found[(event.name, event.team, labels["survey"], labels["question"])] = event.value
    return found


def test_mean_score_responses_and_nps_per_team_survey_and_question(tmp_path):
    poll = survey(tmp_path, {"pulse-2026q1.csv": PULSE}).poll(SourceState())

    s = "pulse-2026q1"  # no survey column: the file name is the survey
    assert results(poll.events) == {
        # (4 + 5 + 2) / 3
        ("kpi_survey_score", "payments", s, "satisfaction"): 11 / 3,
        ("kpi_survey_responses", "payments", s, "satisfaction"): 3,
        # (10 + 9 + 7 + 3) / 4; promoters 2 (10, 9), detractors 1 (3): (2 - 1) / 4
        ("kpi_survey_score", "payments", s, "platform_nps"): 29 / 4,
        ("kpi_survey_responses", "payments", s, "platform_nps"): 4,
        ("kpi_survey_nps_ratio", "payments", s, "platform_nps"): 0.25,
        ("kpi_survey_score", "finance", s, "satisfaction"): 3,
        ("kpi_survey_responses", "finance", s, "satisfaction"): 1,
    }
    assert poll.problems == []
    # The latest date of the answers is the gauges' time.
    times = {e.measured_at for e in poll.events if isinstance(e, Gauge) and e.team == "payments"}
    assert times == {ts("2026-02-03T00:00:00Z")}
    # No respondent, comment or other column reaches a label.
    text = exposition(poll.events)
    assert "alice" not in text and "slow CI" not in text
    assert value(text, "kpi_survey_nps_ratio", team="payments", survey=s) == 0.25
    assert value(text, "kpi_survey_responses", team="finance", question="satisfaction") == 1


def test_bad_rows_are_problems_naming_file_and_line_and_the_rest_counts(tmp_path):
    text = """team,survey,question,score
payments,devex,satisfaction,4
,devex,satisfaction,5
payments,devex,satisfaction,great
payments,devex,satisfaction,6
payments,devex,platform_nps,11
payments,devex,satisfaction,NaN
payments,devex,,3
payments,devex,satisfaction,2
"""
    source = survey(tmp_path, {"answers.csv": text})

    poll = source.poll(SourceState())

    path = tmp_path / "answers.csv"
    assert results(poll.events) == {
        ("kpi_survey_score", "payments", "devex", "satisfaction"): 3.0,  # (4 + 2) / 2
        ("kpi_survey_responses", "payments", "devex", "satisfaction"): 2,
    }
    assert poll.problems == [
        f"{path}:3: missing team",
        f"{path}:4: score: expected a finite number, got 'great'",
        f"{path}:5: score 6 is outside 1..5 for 'satisfaction'",
        f"{path}:6: score 11 is outside 0..10 for 'platform_nps'",
        f"{path}:7: score: expected a finite number, got 'NaN'",
        f"{path}:8: missing question",
    ]


def test_unchanged_files_are_not_read_again_and_a_change_rereads_them_all(tmp_path):
    source = survey(
        tmp_path,
        {"a.csv": "team,survey,question,score\npayments,devex,q,4\n", "b.csv": PULSE},
    )
    first = source.poll(SourceState())
    second = source.poll(SourceState(cursor=first.cursor))
    (tmp_path / "a.csv").write_text("team,survey,question,score\npayments,devex,q,2\n")
    third = source.poll(SourceState(cursor=first.cursor))

    assert second.events == [] and second.cursor == first.cursor
    assert results(third.events)[("kpi_survey_score", "payments", "devex", "q")] == 2
    assert ("kpi_survey_responses", "finance", "b", "satisfaction") in results(third.events)


def test_a_file_without_the_required_columns_is_a_problem_and_no_file_fails(tmp_path):
    source = survey(tmp_path, {"x.csv": "group,question,rating\na,b,3\n"})
    poll = source.poll(SourceState())
    assert poll.events == []
    assert poll.problems == [f"{tmp_path / 'x.csv'}:1: missing column(s) team, score"]

    missing = SurveyFiles(SurveySource(type="survey", name="s", paths=["gone.csv"]), tmp_path)
    with pytest.raises(SourceError, match=r"gone\.csv: cannot read"):
        missing.poll(SourceState())


def test_a_scale_must_be_increasing():
    with pytest.raises(ConfigError, match="scale_min must be below scale_max"):
        parse_config(
            "sources: [{type: survey, name: s, paths: [a.csv], scale_min: 5, scale_max: 1}]"
        )
