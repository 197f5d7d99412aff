"""The GitHub source stores a first sync repository by repository (issue 19, item 17): the
scheduler records each repository's events, validators and cursor in a transaction of its own
as it is read, with only a few repositories read ahead, so memory does not grow with the
organisation; a failure part-way keeps what was stored and the next poll reads the rest."""

from __future__ import annotations

import re
from typing import Any

import kpi_exporter.config  # noqa: F401 (the source registry before the github package)
from kpi_exporter.health import Health
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.scheduler import Scheduler
from kpi_exporter.sources import Poll
from kpi_exporter.store import SourceState
from tests.github_fake import FakeGitHub, commit, deployment
from tests.support import net_samples, value
from tests.test_github import (
    clock,  # noqa: F401 (a fixture)
    exposition,
    fake,  # noqa: F401 (a fixture)
    pipeline_for,
    source,
)

REPOS = [f"acme/r{index}" for index in range(1, 11)]


def org_of_ten(github: FakeGitHub) -> None:
    """Ten repositories (of the default app), each a commit deployed once to production."""
    for index, name in enumerate(REPOS, start=1):
        repo = github.repo(name)
        day = f"2026-05-{index:02d}"
        repo.commits = [commit(f"c{index}", f"{day}T09:00:00Z")]
        repo.deployments = [
            deployment(index, f"c{index}", f"{day}T10:00:00Z", ("SUCCESS", f"{day}T10:30:00Z"))
        ]


def repos_requested(github: FakeGitHub) -> set[str]:
    found = set()
    for _, url, _ in github.calls:
        match = re.search(r"/repos/(acme/r\d+)/", url)
        if match:
            found.add(match.group(1))
    return found


def scheduler_for(github: Any, pipeline: Pipeline) -> Scheduler:
    pipeline.health.register("gh", "github")
    return Scheduler(pipeline, [github])


def test_a_first_sync_stores_each_repository_as_read_with_few_read_ahead(fake, clock):  # noqa: F811
    org_of_ten(fake)
    github = source(fake, clock, repos=REPOS, concurrency=2)
    pipeline = pipeline_for(Health())
    recorded: list[tuple[int, int]] = []  # (deployments in the part, repositories requested)
    record = pipeline.record

    def spy(name: str, poll: Poll, **kwargs: Any) -> int:
        deployments = sum(1 for event in poll.events if event.kind == "deployment")
        recorded.append((deployments, len(repos_requested(fake))))
        return record(name, poll, **kwargs)

    pipeline.record = spy  # type: ignore[method-assign,assignment]

    assert scheduler_for(github, pipeline).poll_once(github)

    # one transaction per repository with its deployment, then the closing one
    assert [deployments for deployments, _ in recorded] == [1] * 10 + [0]
    # when the k-th repository is stored, at most 2 x concurrency = 4 more have been asked for
    assert all(requested <= k + 4 for k, (_, requested) in enumerate(recorded, start=1))
    assert recorded[0][1] < 10  # the first was stored before the last was read
    # the same store and metrics as the whole poll recorded in one transaction
    whole = pipeline_for()
    fake.reset_calls()
    other = source(fake, clock, repos=REPOS, concurrency=2)
    whole.record("gh", other.poll(SourceState()))
    # 10 deployments and the 10 changes they shipped (one commit each)
    assert pipeline.store.count() == whole.store.count() == 10 + 10
    assert net_samples(exposition(pipeline)) == net_samples(exposition(whole))


def test_a_failure_part_way_keeps_the_repositories_stored_and_the_next_poll_reads_the_rest(
    fake,  # noqa: F811
    clock,  # noqa: F811
):
    org_of_ten(fake)
    github = source(fake, clock, repos=REPOS, concurrency=1)  # one at a time: in order
    pipeline = pipeline_for(Health())
    scheduler = scheduler_for(github, pipeline)
    # the 4th repository's commits answer half a JSON array
    fake.fail("GET", r"/repos/acme/r4/commits", 200, '[{"sha": "c4", "comm')

    assert not scheduler.poll_once(github)

    text = exposition(pipeline)
    assert value(text, "kpi_deployments_total") == 3  # r1, r2, r3 stored
    # the next poll: r1..r3 answer 304 to their checks, r4..r10 are read
    fake.reset_calls()
    assert scheduler.poll_once(github)
    assert value(exposition(pipeline), "kpi_deployments_total") == 10
    read_again = {
        name for name in REPOS[:3] if any(f"/repos/{name}/" in url for _, url, _ in fake.calls)
    }
    unconditional = [
        url
        for _, url, conditional in fake.calls
        if not conditional and re.search(r"/repos/acme/r[123]/", url)
    ]
    assert read_again == set(REPOS[:3])  # checked ...
    assert unconditional == []  # ... with conditional requests only
