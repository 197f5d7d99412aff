"""The local git source on real repositories built with known dates (tests/gitrepo.py).

Every expectation is computed by hand in the test: which deployment carries each commit, the
lead time of each change (author time -> deployment time) and the histogram bucket it falls in
(LEAD_TIME_BUCKETS: 5m, 15m, 30m, 1h, 2h, 4h, 8h, 1d, 2d, 4d, 1w, 2w, 30d, ...).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kpi_exporter.model import Change, Deployment, Event
from kpi_exporter.ownership import Owner
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import SourceError
from kpi_exporter.sources.git import GitRepository, GitSource
from kpi_exporter.store import SourceState, Store
from tests.support import exposition as exposition_of

from .gitrepo import GitRepo, git_env, run_git, ts
from .real_data import real_data_dir

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
LABELS = {"app": "shop", "team": "payments", "environment": "production"}
# Long enough that the fixed 2026 dates below stay inside the horizon for a century.
CENTURY = "36500d"


def git_source(path: Path, horizon: float | str = CENTURY, **deploy: Any) -> GitRepository:
    config = GitSource.model_validate(
        {"type": "git", "name": "shop-git", "path": str(path), "deploy": deploy, "horizon": horizon}
    )
    return GitRepository(config, path, Owner("shop", "payments"))


def deployments(events: Iterable[Event]) -> list[Deployment]:
    return sorted((e for e in events if isinstance(e, Deployment)), key=lambda d: d.finished_at)


def changes(events: Iterable[Event]) -> dict[str, Change]:
    return {e.key: e for e in events if isinstance(e, Change)}


def samples(metric_families: Iterable[Any]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in metric_families
        for sample in family.samples
    }


def deployments_total(values: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    return values[("kpi_deployments_total", frozenset(LABELS.items()))]


def lead_time(
    values: dict[tuple[str, frozenset[tuple[str, str]]], float],
) -> tuple[dict[float, int], float, float]:
    """(observations per bucket upper bound, not cumulative and without empty buckets;
    sum; count) of kpi_change_lead_time_seconds for the shop labels."""
    cumulative = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in values.items()
        if name == "kpi_change_lead_time_seconds_bucket" and set(LABELS.items()) <= labels
    )
    per_bucket, previous = {}, 0.0
    for bound, value in cumulative:
        if value != previous:
            per_bucket[bound] = int(value - previous)
        previous = value
    key = frozenset(LABELS.items())
    return (
        per_bucket,
        values[("kpi_change_lead_time_seconds_sum", key)],
        values[("kpi_change_lead_time_seconds_count", key)],
    )


def exposition(pipeline: Pipeline) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    pipeline.refresh()
    return samples(text_string_to_metric_families(pipeline.cache.current.text.decode()))


# --- rule: tags ----------------------------------------------------------------------------


def test_tags_rule_deploys_each_change_with_the_first_semver_tag_that_contains_it(tmp_path):
    repo = GitRepo(tmp_path / "shop")
    c1 = repo.commit("2026-01-05T10:00:00Z")
    c2 = repo.commit("2026-01-05T14:00:00Z")
    repo.tag("v1.0.0")  # lightweight: dated by its commit, 01-05 14:00
    # c3 was amended: authored 09:00, committed 11:00. Lead time starts at the author time.
    c3 = repo.commit("2026-01-06T11:00:00Z", author_date="2026-01-06T09:00:00Z")
    c4 = repo.commit("2026-01-06T12:00:00Z")
    # Annotated, tagged the next morning: the deployment time is the TAG date, not c4's date.
    repo.tag("v1.1.0", annotated_at="2026-01-07T09:30:00Z")
    c5 = repo.commit("2026-01-08T12:00:00Z")
    repo.tag("v1.2.0", annotated_at="2026-01-12T13:00:00Z")
    c6 = repo.commit("2026-01-13T08:00:00Z")
    repo.tag("nightly", annotated_at="2026-01-13T09:00:00Z")  # does not match the semver pattern

    poll = git_source(repo.path, rule="tags").poll(SourceState())

    assert poll.problems == []
    found = deployments(poll.events)
    assert [(d.key, d.version, d.finished_at, d.commit) for d in found] == [
        ("tag/v1.0.0", "v1.0.0", ts("2026-01-05T14:00:00Z"), c2),
        ("tag/v1.1.0", "v1.1.0", ts("2026-01-07T09:30:00Z"), c4),
        ("tag/v1.2.0", "v1.2.0", ts("2026-01-12T13:00:00Z"), c5),
    ]
    assert all((d.app, d.team, d.environment) == ("shop", "payments", "production") for d in found)
    by_sha = changes(poll.events)
    assert {sha: c.deployment_key for sha, c in by_sha.items()} == {
        c1: "tag/v1.0.0",
        c2: "tag/v1.0.0",
        c3: "tag/v1.1.0",  # v1.2.0 contains it too, but v1.1.0 came first
        c4: "tag/v1.1.0",
        c5: "tag/v1.2.0",
        c6: "",  # only "nightly" contains it: not deployed yet
    }
    assert by_sha[c3].first_commit_at == ts("2026-01-06T09:00:00Z")
    assert by_sha[c6].deployed_at is None

    values = samples(text_string_to_metric_families(exposition_of(poll.events)))
    assert deployments_total(values) == 3
    buckets, total, count = lead_time(values)
    # c1: 01-05 14:00 - 01-05 10:00 = 4 h           = 14400  -> le 4h (14400, bound inclusive)
    # c2: 01-05 14:00 - 01-05 14:00 = 0             = 0      -> le 5m (300)
    # c3: 01-07 09:30 - 01-06 09:00 = 24 h 30 m     = 88200  -> le 2d (172800)
    # c4: 01-07 09:30 - 01-06 12:00 = 21 h 30 m     = 77400  -> le 1d (86400)
    # c5: 01-12 13:00 - 01-08 12:00 = 4 d 1 h       = 349200 -> le 1w (604800; 4d = 345600 < it)
    # c6: not deployed, not observed.
    assert buckets == {300.0: 1, 4 * HOUR: 1, DAY: 1, 2 * DAY: 1, WEEK: 1}
    assert count == 5
    assert total == 14400 + 0 + 88200 + 77400 + 349200  # = 529200
    assert total == 529200


# --- rule: merges --------------------------------------------------------------------------


def test_merges_rule_deploys_each_branch_with_its_merge_commit(tmp_path):
    repo = GitRepo(tmp_path / "shop")
    m0 = repo.commit("2026-02-02T09:00:00Z")
    repo.branch("feature-a")
    a1 = repo.commit("2026-02-02T10:00:00Z")
    a2 = repo.commit("2026-02-02T11:00:00Z")
    repo.branch("feature-c", m0)  # branched from m0, merged last
    fc = repo.commit("2026-02-02T12:00:00Z")
    repo.checkout("main")
    merge_a = repo.merge("feature-a", "2026-02-02T15:00:00Z")
    repo.branch("feature-b")
    b1 = repo.commit("2026-02-03T09:00:00Z")
    repo.checkout("main")
    merge_b = repo.merge("feature-b", "2026-02-03T10:00:00Z")
    merge_c = repo.merge("feature-c", "2026-02-04T08:00:00Z")

    poll = git_source(repo.path, rule="merges", branch="main").poll(SourceState())

    assert [(d.key, d.finished_at, d.commit) for d in deployments(poll.events)] == [
        (f"merge/{merge_a}", ts("2026-02-02T15:00:00Z"), merge_a),
        (f"merge/{merge_b}", ts("2026-02-03T10:00:00Z"), merge_b),
        (f"merge/{merge_c}", ts("2026-02-04T08:00:00Z"), merge_c),
    ]
    by_sha = changes(poll.events)
    # Merge commits are deployments, never changes of their own.
    assert not {merge_a, merge_b, merge_c} & by_sha.keys()
    assert {sha: c.deployment_key for sha, c in by_sha.items()} == {
        m0: f"merge/{merge_a}",  # on main before the first merge: it ships with that merge
        a1: f"merge/{merge_a}",
        a2: f"merge/{merge_a}",
        b1: f"merge/{merge_b}",
        fc: f"merge/{merge_c}",  # authored before merge_b, but only merge_c contains it
    }

    values = samples(text_string_to_metric_families(exposition_of(poll.events)))
    assert deployments_total(values) == 3
    buckets, total, count = lead_time(values)
    # m0: 02-02 15:00 - 02-02 09:00 = 6 h  = 21600  -> le 8h (28800)
    # a1: 02-02 15:00 - 02-02 10:00 = 5 h  = 18000  -> le 8h
    # a2: 02-02 15:00 - 02-02 11:00 = 4 h  = 14400  -> le 4h (14400)
    # b1: 02-03 10:00 - 02-03 09:00 = 1 h  = 3600   -> le 1h (3600)
    # fc: 02-04 08:00 - 02-02 12:00 = 44 h = 158400 -> le 2d (172800)
    assert buckets == {HOUR: 1, 4 * HOUR: 1, 8 * HOUR: 2, 2 * DAY: 1}
    assert count == 5
    assert total == 21600 + 18000 + 14400 + 3600 + 158400  # = 216000
    assert total == 216000


def test_merges_rule_reads_a_branch_named_like_a_directory_of_the_repository(tmp_path):
    # A branch "release" next to a top-level directory "release/": `git log release` alone is
    # ambiguous (revision or path?) and git refuses it.
    repo = GitRepo(tmp_path / "shop")
    (repo.path / "release").mkdir()
    (repo.path / "release" / "notes.md").write_text("notes\n", encoding="utf-8")
    repo.git("add", "release")
    base = repo.commit("2026-02-02T09:00:00Z")
    repo.branch("release")
    repo.branch("fix")
    fix = repo.commit("2026-02-02T10:00:00Z")
    repo.checkout("release")
    merge = repo.merge("fix", "2026-02-02T12:00:00Z")

    poll = git_source(repo.path, rule="merges", branch="release").poll(SourceState())

    assert [d.key for d in deployments(poll.events)] == [f"merge/{merge}"]
    # base: 12:00 - 09:00 = 3 h; fix: 12:00 - 10:00 = 2 h
    assert {sha: c.deployed_at for sha, c in changes(poll.events).items()} == {
        base: ts("2026-02-02T12:00:00Z"),
        fix: ts("2026-02-02T12:00:00Z"),
    }


# --- rule: train ---------------------------------------------------------------------------


def test_train_rule_deploys_each_day_at_its_last_commit(tmp_path):
    repo = GitRepo(tmp_path / "shop")
    d1 = [repo.commit(f"2026-03-02T{t}:00Z") for t in ("09:00", "12:00", "17:30")]
    d2 = [repo.commit(f"2026-03-03T{t}:00Z") for t in ("10:00", "16:00")]
    d3 = [repo.commit("2026-03-04T08:00:00Z")]

    poll = git_source(repo.path, rule="train", period="1d").poll(SourceState())

    assert [(d.key, d.version, d.finished_at, d.commit) for d in deployments(poll.events)] == [
        ("train/2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z", ts("2026-03-02T17:30:00Z"), d1[-1]),
        ("train/2026-03-03T00:00:00Z", "2026-03-03T00:00:00Z", ts("2026-03-03T16:00:00Z"), d2[-1]),
        ("train/2026-03-04T00:00:00Z", "2026-03-04T00:00:00Z", ts("2026-03-04T08:00:00Z"), d3[-1]),
    ]
    by_sha = changes(poll.events)
    assert {sha: c.deployment_key for sha, c in by_sha.items()} == {
        **{sha: "train/2026-03-02T00:00:00Z" for sha in d1},
        **{sha: "train/2026-03-03T00:00:00Z" for sha in d2},
        **{sha: "train/2026-03-04T00:00:00Z" for sha in d3},
    }

    values = samples(text_string_to_metric_families(exposition_of(poll.events)))
    assert deployments_total(values) == 3
    buckets, total, count = lead_time(values)
    # day 1 departs 17:30: 09:00 -> 8 h 30 m = 30600 (8h = 28800 < 30600 -> le 1d),
    #                      12:00 -> 5 h 30 m = 19800 (le 8h), 17:30 -> 0 (le 5m)
    # day 2 departs 16:00: 10:00 -> 6 h = 21600 (le 8h), 16:00 -> 0 (le 5m)
    # day 3 departs 08:00: 08:00 -> 0 (le 5m)
    assert buckets == {300.0: 3, 8 * HOUR: 2, DAY: 1}
    assert count == 6
    assert total == 30600 + 19800 + 0 + 21600 + 0 + 0  # = 72000
    assert total == 72000


# --- incremental polls ---------------------------------------------------------------------


def test_unchanged_refs_poll_nothing_and_a_new_tag_is_counted_once(tmp_path):
    repo = GitRepo(tmp_path / "shop")
    c1 = repo.commit("2026-01-05T10:00:00Z")
    c2 = repo.commit("2026-01-05T12:00:00Z")
    repo.tag("v1.0.0")  # deployed 01-05 12:00
    source = git_source(repo.path, rule="tags")
    pipeline = Pipeline(Store(tmp_path / "s.db"))

    first = source.poll(pipeline.store.state("shop-git"))
    assert [d.key for d in deployments(first.events)] == ["tag/v1.0.0"]
    assert changes(first.events).keys() == {c1, c2}
    assert pipeline.record("shop-git", first) > 0

    # Nothing moved: no event, the same cursor, nothing changes in the store.
    second = source.poll(pipeline.store.state("shop-git"))
    assert second.events == []
    assert second.cursor == first.cursor
    assert pipeline.record("shop-git", second) == 0

    c3 = repo.commit("2026-01-06T10:00:00Z")
    repo.tag("v1.1.0", annotated_at="2026-01-06T11:00:00Z")
    third = source.poll(pipeline.store.state("shop-git"))
    assert third.cursor != first.cursor
    # The history is read again; v1.0.0 comes back unchanged and the upsert ignores it.
    assert [d.key for d in deployments(third.events)] == ["tag/v1.0.0", "tag/v1.1.0"]
    assert changes(third.events)[c3].deployment_key == "tag/v1.1.0"
    pipeline.record("shop-git", third)

    values = exposition(pipeline)
    assert deployments_total(values) == 2  # not 3: v1.0.0 is stored once
    buckets, total, count = lead_time(values)
    # c1: 12:00 - 10:00 = 2 h = 7200 (le 2h); c2: 0 (le 5m); c3: 11:00 - 10:00 = 1 h (le 1h)
    assert buckets == {300.0: 1, HOUR: 1, 2 * HOUR: 1}
    assert count == 3
    assert total == 7200 + 0 + 3600
    assert pipeline.store.state("shop-git").cursor == third.cursor


def test_a_new_owner_or_environment_reads_the_history_again(tmp_path):
    # The refs did not move, but the configuration did (the apps mapping gave the repository
    # to another team, the environment was renamed): the events must be sent again with the
    # new labels, or the old ones stay until the next commit.
    repo = GitRepo(tmp_path / "shop")
    repo.commit("2026-01-05T10:00:00Z")
    repo.tag("v1.0.0")
    source = git_source(repo.path, rule="tags")
    first = source.poll(SourceState())

    moved = GitRepository(source.config, repo.path, Owner("shop", "platform"))
    again = moved.poll(SourceState(cursor=first.cursor))
    assert {(e.kind, e.team) for e in again.events} == {
        ("deployment", "platform"),
        ("change", "platform"),
    }

    renamed = GitRepository(
        source.config.model_copy(update={"environment": "prod-eu"}), repo.path, source.owner
    )
    assert [
        d.environment for d in deployments(renamed.poll(SourceState(cursor=first.cursor)).events)
    ] == ["prod-eu"]


def test_horizon_leaves_older_history_out(tmp_path):
    repo = GitRepo(tmp_path / "shop")
    old = repo.commit("2001-03-01T10:00:00Z")
    repo.tag("v0.1.0")  # 2001: before the horizon
    recent = repo.commit("2026-01-05T10:00:00Z")
    repo.tag("v1.0.0")
    # The horizon reaches back to 2020-01-01, whatever today is.
    horizon = time.time() - ts("2020-01-01T00:00:00Z")

    poll = git_source(repo.path, horizon=horizon, rule="tags").poll(SourceState())

    assert [d.key for d in deployments(poll.events)] == ["tag/v1.0.0"]
    assert changes(poll.events).keys() == {recent}
    assert old not in changes(poll.events)


def test_a_horizon_reaching_back_before_1970_reads_the_whole_history(tmp_path):
    # 100 years before any date after 2026-01-01 is before 1970: git would get a negative
    # --since epoch, and list no commit at all.
    repo = GitRepo(tmp_path / "shop")
    first = repo.commit("1999-12-31T22:00:00Z")
    second = repo.commit("2026-01-05T10:00:00Z")
    repo.tag("v1.0.0")

    poll = git_source(repo.path, horizon="36500d", rule="tags").poll(SourceState())

    by_sha = changes(poll.events)
    assert by_sha.keys() == {first, second}
    # the first tag that contains the 1999 commit deploys it
    assert by_sha[first].deployment_key == "tag/v1.0.0"


# --- errors and unusual repositories -------------------------------------------------------


def test_a_directory_that_is_not_a_repository_fails_naming_the_path(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    # Keep git from finding a repository above tmp_path (a checkout the tests run in), and
    # its messages in English.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("LC_ALL", "C")

    with pytest.raises(SourceError) as error:
        git_source(plain).poll(SourceState())

    assert str(plain) in str(error.value)
    assert "not a git repository" in str(error.value)


def test_a_missing_path_fails_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere"

    with pytest.raises(SourceError) as error:
        git_source(missing).poll(SourceState())

    assert str(error.value) == f"{missing}: no such directory"


def test_an_unknown_branch_fails_naming_the_branch_and_the_path(tmp_path):
    repo = GitRepo(tmp_path / "shop")
    repo.commit("2026-01-05T10:00:00Z")

    with pytest.raises(SourceError) as error:
        git_source(repo.path, rule="merges", branch="release").poll(SourceState())

    assert str(error.value) == f"{repo.path}: branch 'release' has no commit"


def test_a_shallow_clone_still_polls(tmp_path):
    origin = GitRepo(tmp_path / "origin")
    origin.commit("2026-01-05T10:00:00Z")
    origin.tag("v1.0.0")
    head = origin.commit("2026-01-06T10:00:00Z")
    origin.tag("v1.1.0", annotated_at="2026-01-06T16:00:00Z")
    clone = origin.clone_shallow(tmp_path / "clone", depth=1)

    poll = git_source(clone, rule="tags").poll(SourceState())

    # The clone holds one commit (its parent is cut off) and the tag that points at it.
    assert [(d.key, d.finished_at) for d in deployments(poll.events)] == [
        ("tag/v1.1.0", ts("2026-01-06T16:00:00Z"))
    ]
    by_sha = changes(poll.events)
    assert by_sha.keys() == {head}
    deployed_at = by_sha[head].deployed_at
    assert deployed_at is not None
    # lead time: 01-06 16:00 - 01-06 10:00 = 6 h
    assert deployed_at - by_sha[head].first_commit_at == 6 * HOUR


def test_a_tag_of_a_tree_is_passed_over(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("2026-01-05T10:00:00Z")
    repo.tag("v1.0.0")
    tree = run_git(repo.path, "rev-parse", "HEAD^{tree}").strip()
    run_git(repo.path, "tag", "v2.0.0", tree)
    poll = git_source(repo.path, rule="tags").poll(SourceState())
    assert [d.version for d in deployments(poll.events)] == ["v1.0.0"]


# --- the horizon selects deployments -------------------------------------------------------


def test_a_deployment_in_the_horizon_keeps_its_changes_older_than_the_horizon(tmp_path):
    # v0.9.0 (2019) is before the horizon (2021-01-01): neither it nor its commit is read.
    # v1.0.0 (2026-01-05 10:00) is inside and ships two commits, one of 2020-06-01 10:00,
    # before the horizon: it keeps both. Lead time of the old one: 2020-06-01 10:00 ->
    # 2026-01-05 10:00 = 2,044 days (2020-06-01 -> 2026-06-01 is 2,191 days, less the 147
    # from 2026-01-05 to 2026-06-01).
    repo = GitRepo(tmp_path / "shop")
    older = repo.commit("2019-03-01T10:00:00Z")
    repo.tag("v0.9.0")
    old = repo.commit("2020-06-01T10:00:00Z")
    new = repo.commit("2026-01-05T10:00:00Z")
    repo.tag("v1.0.0")  # lightweight: dated by its commit
    horizon = time.time() - ts("2021-01-01T00:00:00Z")

    poll = git_source(repo.path, horizon=horizon, rule="tags").poll(SourceState())

    assert [d.key for d in deployments(poll.events)] == ["tag/v1.0.0"]
    found = changes(poll.events)
    assert found.keys() == {old, new}
    assert older not in found
    assert {sha: c.deployment_key for sha, c in found.items()} == {
        old: "tag/v1.0.0",
        new: "tag/v1.0.0",
    }
    lead = found[old].deployed_at - found[old].first_commit_at  # type: ignore[operator]
    assert lead == 2044 * DAY


def test_changes_no_deployment_reached_are_read_back_to_the_horizon_only(tmp_path):
    # After v1.0.0 (2026-01-05), HEAD has two undeployed commits: one merged from a branch
    # started in 2020 (committed 2020-06-01, before the 2021 horizon: not read) and one of
    # 2026-01-06 (read, not deployed).
    repo = GitRepo(tmp_path / "shop")
    repo.commit("2026-01-05T10:00:00Z")
    repo.tag("v1.0.0")
    repo.branch("old-idea", "HEAD")
    repo.checkout("old-idea")
    stale = repo.commit("2020-06-01T10:00:00Z")
    repo.checkout("main")
    fresh = repo.commit("2026-01-06T10:00:00Z")
    horizon = time.time() - ts("2021-01-01T00:00:00Z")
    repo.merge("old-idea", "2026-01-07T10:00:00Z")

    found = changes(git_source(repo.path, horizon=horizon, rule="tags").poll(SourceState()).events)

    assert stale not in found
    assert found[fresh].deployed_at is None


def _import_history(path: Path, history: dict[str, Any]) -> list[str]:
    """A real git repository with the commits and tags of ``history`` (client_python.json:
    parents, author and committer times; tags lightweight or annotated), written with
    ``git fast-import``; the SHA of each commit, by index."""
    path.mkdir(parents=True)
    run_git(path, "init", "--quiet")
    who = "KPI Test <kpi-test@example.invalid>"
    lines = []
    for index, (parents, authored, committed) in enumerate(history["commits"]):
        if not parents:
            lines.append("reset refs/heads/main")
        lines += [
            "commit refs/heads/main",
            f"mark :{index + 1}",
            f"author {who} {authored} +0000",
            f"committer {who} {committed} +0000",
            f"data {len(f'c{index}')}",
            f"c{index}",
        ]
        if parents:
            lines.append(f"from :{parents[0] + 1}")
            lines += [f"merge :{p + 1}" for p in parents[1:]]
    for tag in history["tags"]:
        if tag["annotated"]:
            lines += [f"tag {tag['name']}", f"from :{tag['commit'] + 1}"]
            lines += [f"tagger {who} {tag['time']} +0000", "data 0"]
        else:
            lines += [f"reset refs/tags/{tag['name']}", f"from :{tag['commit'] + 1}"]
    lines += ["reset refs/heads/main", f"from :{history['head'] + 1}", ""]
    marks = path / "marks"
    subprocess.run(
        ["git", "fast-import", "--quiet", f"--export-marks={marks}"],
        cwd=path,
        env=git_env(),
        input="\n".join(lines),
        text=True,
        check=True,
        timeout=60,
    )
    run_git(path, "checkout", "--quiet", "main")
    by_mark = dict(line.split() for line in marks.read_text().splitlines())
    return [by_mark[f":{index + 1}"] for index in range(len(history["commits"]))]


def test_client_python_v0_24_0_keeps_its_nine_changes_on_a_first_sync(tmp_path):
    # prometheus/client_python's real history (peers/client_python.json, 644 commits, 51
    # tags). v0.24.0 (annotated, tagged 2026-01-12 20:12:21) ships commits 613..621, the
    # non-merge ones reachable from it and from no earlier tag (v0.23.1 of 2025-09-18 reaches
    # 612). With a horizon starting 2025-12-02 (365 days before 2026-12-02), filtering commits
    # by date kept 619, 620 and 621 only: 6 of its 9 changes were lost.
    source = real_data_dir() / "peers" / "client_python.json"
    history = json.loads(source.read_text())
    shas = _import_history(tmp_path / "client_python", history)
    horizon = time.time() - ts("2025-12-02T00:00:00Z")

    poll = git_source(tmp_path / "client_python", horizon=horizon, rule="tags").poll(SourceState())

    shipped = {
        sha: change
        for sha, change in changes(poll.events).items()
        if change.deployment_key == "tag/v0.24.0"
    }
    assert sorted(shas.index(sha) for sha in shipped) == list(range(613, 622))
    tagged = ts("2026-01-12T20:12:21Z")
    assert {c.deployed_at for c in shipped.values()} == {tagged}
    # the oldest, commit 613 authored 2025-09-19 17:43:45: 115 d (09-19 -> 01-12: 30 + 31 +
    # 30 + 24) and 2 h 28 min 36 s (17:43:45 -> 20:12:21) before
    oldest = shipped[shas[613]]
    assert tagged - oldest.first_commit_at == 115 * DAY + 2 * HOUR + 28 * 60 + 36
    # the deployments read are those tagged since the horizon: v0.24.0 is the first
    first = deployments(poll.events)[0]
    assert (first.key, first.finished_at) == ("tag/v0.24.0", tagged)
