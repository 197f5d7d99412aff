"""The JSON Lines events file source: bad lines, incremental reads, rewrites, lead times and
ownership. Every expectation is computed by hand in the test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kpi_exporter.config import parse_config
from kpi_exporter.model import Change, Defect, Deployment, Event, Incident
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll, SourceError
from kpi_exporter.sources.event_format import EventFormatError, parse_event
from kpi_exporter.sources.events_file import EventsFiles, EventsFileSource
from kpi_exporter.store import SourceState, Store
from tests.support import exposition as exposition_of
from tests.support import samples as samples_of
from tests.support import value

from .gitrepo import ts

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
TIMESTAMP = "expected an RFC 3339 timestamp with a time zone, or epoch seconds"
SHOP = {"app": "shop", "team": "payments", "environment": "production"}
CONFIG = """
defaults: {app: unknown, team: unassigned}
apps:
  shop:
    team: payments
    repos: [acme/shop]
    services: [shop-api]
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def events_files(base: Path, *paths: str) -> EventsFiles:
    config = EventsFileSource(type="events_file", name="ci", paths=list(paths or ["events.jsonl"]))
    return EventsFiles(config, base, Ownership(parse_config(CONFIG)))


def line(**fields: Any) -> str:
    return json.dumps(fields) + "\n"


def deploy(key: str, at: str, **fields: Any) -> str:
    return line(type="deployment", id=key, app="shop", finished_at=at, **fields)


def keys(events: Iterable[Event]) -> list[tuple[str, str]]:
    return [(event.kind, event.key) for event in events]


def position(poll: Poll, path: Path) -> tuple[int, int]:
    """(byte offset, line number) the next poll of ``path`` resumes from."""
    assert poll.cursor is not None
    cursor = json.loads(poll.cursor)[str(path)]
    return cursor["offset"], cursor["line"]


def samples(metric_families: Iterable[Any]) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in metric_families
        for sample in family.samples
    }


def exposition(pipeline: Pipeline) -> Samples:
    pipeline.refresh()
    return samples(text_string_to_metric_families(pipeline.cache.current.text.decode()))


def deployments_total(values: Samples) -> float:
    return values[("kpi_deployments_total", frozenset(SHOP.items()))]


# --- bad lines -----------------------------------------------------------------------------


def test_bad_lines_are_reported_with_file_line_and_field_and_good_lines_are_kept(tmp_path):
    path = tmp_path / "events.jsonl"
    text = "".join(
        [
            deploy("d1", "2026-01-05T10:00:00Z"),  # 1: good
            "{not json\n",  # 2
            deploy("d2", "2026-01-05T11:00:00Z", colour="blue"),  # 3: unknown field
            line(type="deployment", id="d3", app="shop"),  # 4: no finished_at
            deploy("d4", "05/01/2026 10:00"),  # 5: not RFC 3339
            line(type="deploy", id="d5", app="shop", finished_at="2026-01-05T12:00:00Z"),  # 6
            '{"type": "deployment", "id": "d6", "app": "shop", "finished_at": NaN}\n',  # 7
            "\n",  # 8: blank, skipped
            line(  # 9: a field called "deployment" on an incident, of the wrong type
                type="incident",
                id="i1",
                app="shop",
                started_at="2026-01-05T13:00:00Z",
                deployment=42,
            ),
            deploy("d7", "2026-01-05T10:00:00"),  # 10: no time zone
            line(  # 11: good
                type="incident",
                id="i2",
                service="shop-api",
                started_at="2026-01-05T13:00:00Z",
                resolved_at="2026-01-05T14:00:00Z",
            ),
            "[1, 2]\n",  # 12: not an object
        ]
    )
    path.write_text(text, encoding="utf-8")

    poll = events_files(tmp_path).poll(SourceState())

    assert poll.problems == [
        f"{path}:2: not valid JSON: Expecting property name enclosed in double quotes",
        f"{path}:3: field 'colour': unknown field",
        f"{path}:4: field 'finished_at': required field is missing",
        f"{path}:5: field 'finished_at': {TIMESTAMP}",
        f"{path}:6: field 'type': expected one of deployment, incident, change, defect",
        f"{path}:7: field 'finished_at': {TIMESTAMP}",
        f"{path}:9: field 'deployment': Input should be a valid string",
        f"{path}:10: field 'finished_at': {TIMESTAMP}",
        f"{path}:12: expected a JSON object",
    ]
    assert keys(poll.events) == [("deployment", "d1"), ("incident", "i2")]
    (d1, i2) = poll.events
    assert isinstance(d1, Deployment) and d1.finished_at == ts("2026-01-05T10:00:00Z")
    assert isinstance(i2, Incident) and i2.resolved_at == ts("2026-01-05T14:00:00Z")
    assert position(poll, path) == (len(text.encode()), 12)


def test_a_deployment_without_app_repo_or_service_is_a_clear_error(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(line(type="deployment", id="d1", finished_at="2026-01-05T10:00:00Z"))

    poll = events_files(tmp_path).poll(SourceState())

    assert poll.events == []
    assert poll.problems == [
        f"{path}:1: field 'app': required (or 'repo' or 'service' to map from)"
    ]


def test_a_missing_file_fails_the_poll_naming_the_file(tmp_path):
    with pytest.raises(SourceError) as error:
        events_files(tmp_path).poll(SourceState())

    assert (
        str(error.value) == f"{tmp_path / 'events.jsonl'}: cannot read: No such file or directory"
    )


# --- incremental reads ---------------------------------------------------------------------


def test_an_appended_line_is_read_next_poll_without_rereading_earlier_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    first = deploy("d1", "2026-01-05T10:00:00Z") + deploy("d0", "2026-01-05T10:00:00Z", x=1)
    path.write_text(first, encoding="utf-8")
    source = events_files(tmp_path)

    poll1 = source.poll(SourceState())
    assert keys(poll1.events) == [("deployment", "d1")]
    assert poll1.problems == [f"{path}:2: field 'x': unknown field"]
    assert position(poll1, path) == (len(first.encode()), 2)

    appended = deploy("d2", "2026-01-06T10:00:00Z") + "{bad\n"
    with path.open("a", encoding="utf-8") as file:
        file.write(appended)
    poll2 = source.poll(SourceState(cursor=poll1.cursor))

    # Only the new lines: d1 is not sent again, line 2 is not reported again, and the new bad
    # line is numbered from where the last poll stopped (2 + 2 = line 4).
    assert keys(poll2.events) == [("deployment", "d2")]
    assert poll2.problems == [
        f"{path}:4: not valid JSON: Expecting property name enclosed in double quotes"
    ]
    assert position(poll2, path) == (len(first.encode()) + len(appended.encode()), 4)

    poll3 = source.poll(SourceState(cursor=poll2.cursor))
    assert poll3.events == []
    assert poll3.problems == []
    assert poll3.cursor == poll2.cursor


def test_a_partial_last_line_waits_for_its_newline(tmp_path):
    path = tmp_path / "events.jsonl"
    complete = deploy("d1", "2026-01-05T10:00:00Z")
    rest = deploy("d2", "2026-01-06T10:00:00Z")
    path.write_text(complete + rest[:20], encoding="utf-8")  # d2 is still being written
    source = events_files(tmp_path)

    poll1 = source.poll(SourceState())
    assert keys(poll1.events) == [("deployment", "d1")]
    assert poll1.problems == []
    assert position(poll1, path) == (len(complete.encode()), 1)

    with path.open("a", encoding="utf-8") as file:
        file.write(rest[20:])
    poll2 = source.poll(SourceState(cursor=poll1.cursor))
    assert keys(poll2.events) == [("deployment", "d2")]
    assert poll2.problems == []
    assert position(poll2, path) == (len((complete + rest).encode()), 2)


def test_a_truncated_or_replaced_file_is_reread_and_counts_stay_unchanged(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [deploy(f"d{n}", f"2026-01-0{n}T10:00:00Z") for n in (1, 2, 3, 4)]
    path.write_text("".join(lines[:3]), encoding="utf-8")
    source = events_files(tmp_path)
    pipeline = Pipeline(Store(tmp_path / "s.db"))

    first = source.poll(pipeline.store.state("ci"))
    pipeline.record("ci", first)
    assert deployments_total(exposition(pipeline)) == 3

    # Truncated in place (same file, now shorter than the saved offset): read from the start.
    with path.open("w", encoding="utf-8") as file:
        file.write(lines[0])
    truncated = source.poll(pipeline.store.state("ci"))
    assert keys(truncated.events) == [("deployment", "d1")]
    assert position(truncated, path) == (len(lines[0].encode()), 1)
    assert pipeline.record("ci", truncated) == 0  # d1 is stored already, unchanged
    assert deployments_total(exposition(pipeline)) == 3

    # Replaced by a new file (rename over it): read from the start, d1 to d3 upserted again.
    replacement = tmp_path / "events.jsonl.tmp"
    replacement.write_text("".join(lines), encoding="utf-8")
    os.replace(replacement, path)
    replaced = source.poll(pipeline.store.state("ci"))
    assert keys(replaced.events) == [("deployment", f"d{n}") for n in (1, 2, 3, 4)]
    pipeline.record("ci", replaced)
    assert deployments_total(exposition(pipeline)) == 4  # 3 stored + d4, nothing counted twice


def test_a_file_rewritten_in_place_and_longer_than_before_is_reread(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(deploy("d1", "2026-01-01T10:00:00Z"), encoding="utf-8")
    source = events_files(tmp_path)
    first = source.poll(SourceState())
    # Truncated and written again in place (same inode) with more than before, between polls.
    with path.open("w", encoding="utf-8") as file:
        file.write(deploy("e1", "2026-01-02T10:00:00Z") + deploy("e2", "2026-01-03T10:00:00Z"))
    second = source.poll(SourceState(cursor=first.cursor))
    assert keys(second.events) == [("deployment", "e1"), ("deployment", "e2")]
    assert position(second, path) == (path.stat().st_size, 2)


def test_each_file_of_a_glob_keeps_its_own_position(tmp_path):
    (tmp_path / "ci").mkdir()
    a, b = tmp_path / "ci" / "a.jsonl", tmp_path / "ci" / "b.jsonl"
    a.write_text(deploy("a1", "2026-01-05T10:00:00Z"), encoding="utf-8")
    b.write_text(deploy("b1", "2026-01-05T11:00:00Z"), encoding="utf-8")
    source = events_files(tmp_path, "ci/*.jsonl")

    poll1 = source.poll(SourceState())
    assert keys(poll1.events) == [("deployment", "a1"), ("deployment", "b1")]

    with b.open("a", encoding="utf-8") as file:
        file.write(deploy("b2", "2026-01-06T11:00:00Z"))
    poll2 = source.poll(SourceState(cursor=poll1.cursor))
    assert keys(poll2.events) == [("deployment", "b2")]
    assert position(poll2, a) == position(poll1, a)
    assert position(poll2, b)[1] == 2


# --- what the events mean ------------------------------------------------------------------


def test_a_deployment_with_changes_gives_their_lead_times(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        "".join(
            [
                deploy(
                    "d1",
                    "2026-01-10T12:00:00Z",
                    changes=[
                        {"id": "c1", "first_commit_at": "2026-01-10T11:30:00Z"},
                        {"id": "c2", "first_commit_at": "2026-01-09T12:00:00+00:00"},
                        # epoch seconds: 2026-01-01T00:00Z = 1767225600, + 2.5 d = 1767441600
                        # = 2026-01-03T12:00Z
                        {"id": "c3", "first_commit_at": 1767441600},
                    ],
                ),
                # A failed deployment deploys nothing: c4 gets no lead time, d2 is no deployment.
                deploy(
                    "d2",
                    "2026-01-11T12:00:00Z",
                    status="failure",
                    changes=[{"id": "c4", "first_commit_at": "2026-01-11T11:00:00Z"}],
                ),
                line(
                    type="change",
                    id="c5",
                    app="shop",
                    first_commit_at="2026-01-10T00:00:00Z",
                    deployed_at="2026-01-10T06:00:00Z",
                ),
            ]
        ),
        encoding="utf-8",
    )

    poll = events_files(tmp_path).poll(SourceState())

    assert poll.problems == []
    assert keys(poll.events) == [
        ("deployment", "d1"),
        ("change", "c1"),
        ("change", "c2"),
        ("change", "c3"),
        ("deployment", "d2"),
        ("change", "c5"),
    ]
    by_key = {e.key: e for e in poll.events if isinstance(e, Change)}
    assert by_key["c1"].deployment_key == "d1"
    assert by_key["c1"].deployed_environment == "production"
    assert by_key["c3"].first_commit_at == ts("2026-01-03T12:00:00Z")

    values = samples(text_string_to_metric_families(exposition_of(poll.events)))
    assert deployments_total(values) == 1  # d2 failed
    labels = frozenset(SHOP.items())
    # c1: 01-10 12:00 - 01-10 11:30 = 30 m = 1800   -> le 30m (1800)
    # c2: 01-10 12:00 - 01-09 12:00 = 1 d  = 86400  -> le 1d (86400)
    # c3: 01-10 12:00 - 01-03 12:00 = 7 d  = 604800 -> le 1w (604800)
    # c5: 01-10 06:00 - 01-10 00:00 = 6 h  = 21600  -> le 8h (28800)
    cumulative = {
        float(dict(sample_labels)["le"]): value
        for (name, sample_labels), value in values.items()
        if name == "kpi_change_lead_time_seconds_bucket"
    }
    assert cumulative[1800.0] == 1  # c1
    assert cumulative[4 * HOUR] == 1
    assert cumulative[8 * HOUR] == 2  # + c5
    assert cumulative[DAY] == 3  # + c2
    assert cumulative[4 * DAY] == 3
    assert cumulative[WEEK] == 4  # + c3
    assert cumulative[float("inf")] == 4
    assert values[("kpi_change_lead_time_seconds_count", labels)] == 4
    assert values[("kpi_change_lead_time_seconds_sum", labels)] == 1800 + 86400 + 604800 + 21600


def test_repo_and_service_are_mapped_to_app_and_team_by_the_apps_config(tmp_path):
    path = tmp_path / "events.jsonl"
    at = "2026-01-05T10:00:00Z"
    path.write_text(
        "".join(
            [
                line(type="deployment", id="by-repo", repo="Acme/Shop", finished_at=at),
                line(type="incident", id="by-service", service="shop-api", started_at=at),
                line(type="deployment", id="app-unmapped", app="billing", finished_at=at),
                line(type="deployment", id="team-given", app="shop", team="sre", finished_at=at),
                line(type="deployment", id="repo-unmapped", repo="acme/other", finished_at=at),
            ]
        ),
        encoding="utf-8",
    )

    poll = events_files(tmp_path).poll(SourceState())

    assert poll.problems == []
    assert {e.key: (e.app, e.team) for e in poll.events} == {
        "by-repo": ("shop", "payments"),  # repos match without regard to case
        "by-service": ("shop", "payments"),
        "app-unmapped": ("billing", "unassigned"),  # an app not in the mapping: default team
        "team-given": ("shop", "sre"),  # an explicit team wins over the mapping
        "repo-unmapped": ("unknown", "unassigned"),  # the defaults
    }


def test_a_change_merged_without_review_counts_as_unreviewed(tmp_path):
    change = {"first_commit_at": "2026-01-05T08:00:00Z", "merged_at": "2026-01-05T09:00:00Z"}
    (tmp_path / "events.jsonl").write_text(
        deploy(
            "d1",
            "2026-01-05T10:00:00Z",
            changes=[{"id": "pr-1", **change}, {"id": "pr-2", "reviewed": False, **change}],
        ),
        encoding="utf-8",
    )

    events = events_files(tmp_path).poll(SourceState()).events

    reviewed = {e.key: e.reviewed for e in events if isinstance(e, Change)}
    assert reviewed == {"pr-1": True, "pr-2": False}
    values = samples(text_string_to_metric_families(exposition_of(events)))
    unreviewed = (
        "kpi_changes_merged_unreviewed_total",
        frozenset({("app", "shop"), ("team", "payments")}),
    )
    # pr-2 only: 1 of the 2 changes merged
    assert values[unreviewed] == 1


def test_defects_are_read_with_where_they_were_found_and_who_reported_them() -> None:
    """A defect event counts as the jira source's bugs do: three defects of shop, two found in
    production (escaped), one of those reported by a customer, one still open."""
    ownership = Ownership(parse_config(CONFIG))
    lines: list[dict[str, Any]] = [
        {
            "type": "defect",
            "id": "B-1",
            "app": "shop",
            "severity": "high",
            "created_at": "2026-11-20T09:00:00Z",
            "customer_reported": True,
            "resolved_at": "2026-11-21T09:00:00Z",
        },
        {"type": "defect", "id": "B-2", "service": "shop-api", "created_at": 1_795_000_000},
        {
            "type": "defect",
            "id": "B-3",
            "app": "shop",
            "created_at": "2026-11-22T09:00:00Z",
            "found_in": "pre-production",
            "resolved_at": "2026-11-22T12:00:00Z",
        },
    ]
    events = [event for line in lines for event in parse_event(line, "ci", ownership)]
    assert all(isinstance(event, Defect) for event in events)
    defects = [event for event in events if isinstance(event, Defect)]
    assert [(e.key, e.app, e.team, e.found_in, e.customer_reported) for e in defects] == [
        ("B-1", "shop", "payments", "production", True),
        ("B-2", "shop", "payments", "production", False),
        ("B-3", "shop", "payments", "pre-production", False),
    ]
    text = exposition_of(events)
    labels = {"app": "shop", "team": "payments"}
    assert value(text, "kpi_defects_total", severity="high", **labels) == 1
    assert value(text, "kpi_defects_total", severity="unknown", **labels) == 2
    assert sum_of(text, "kpi_defects_escaped_total") == 2  # B-1, B-2
    assert sum_of(text, "kpi_defects_customer_reported_total") == 1  # B-1
    assert sum_of(text, "kpi_defects_open") == 1  # B-2: never resolved
    with pytest.raises(EventFormatError, match="field 'found_in'"):
        parse_event({**lines[0], "found_in": "staging"}, "ci", ownership)
    with pytest.raises(EventFormatError, match="field 'customer_reported': expected true or false"):
        parse_event({**lines[0], "customer_reported": "yes"}, "ci", ownership)


def sum_of(text: str, name: str) -> float:
    return sum(v for (sample, _), v in samples_of(text).items() if sample == name)
