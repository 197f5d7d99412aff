"""Time to market: a work item's creation (or its first entry into a discovery status) to the
first successful production deployment of a change that references it. Every expected value
is computed by hand in the test (times in hours after T0)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import responses

from kpi_exporter.config import parse_config
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings
from kpi_exporter.model import Change, Deployment, Event, WorkItem, WorkItemDelivery
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.sources.delivery import work_item_keys
from kpi_exporter.sources.event_format import EventFormatError, parse_event
from kpi_exporter.store import SourceState, Store
from tests.github_fake import FakeGitHub, commit, deployment, pull
from tests.gitlab_fake import (
    Details,
    FakeGitLab,
    at,
    merge_request,
    serve_details,
    serve_history,
    serve_lists,
)
from tests.gitlab_fake import commit as gitlab_commit
from tests.gitlab_fake import deployment as gitlab_deployment
from tests.support import DAY, HOUR, by_key, samples, ts
from tests.test_github import Clock, clock, fake, source  # noqa: F401  (fixtures)
from tests.test_gitlab import TOKEN as GITLAB_TOKEN
from tests.test_gitlab import gitlab

T0 = ts("2026-11-20T00:00:00Z")
NOW = T0 + 252 * HOUR  # the 7d window holds (T0 + 84 h, T0 + 252 h]
SETTINGS = KpiSettings(
    windows=(("7d", 7 * DAY), ("30d", 30 * DAY)),
    quantiles=(0.5, 0.9),
    discovery_statuses=("Discovery",),
)
STAGE = {"Backlog": "waiting", "Discovery": "active", "In Progress": "active", "Done": "done"}
TTM = "kpi_work_item_time_to_production_seconds"
WINDOW_TTM = "kpi_window_work_item_time_to_production_seconds"


def item(key: str, app: str, team: str, category: str, *moves: tuple[float, str]) -> WorkItem:
    """A Jira item created at its first move (hours after T0), then in each status in turn."""
    return WorkItem(
        source="jira",
        key=f"jira/{key}",
        app=app,
        team=team,
        category=category,
        created_at=T0 + moves[0][0] * HOUR,
        statuses=tuple((T0 + h * HOUR, status, STAGE[status]) for h, status in moves),
    )


def deploy(key: str, app: str, team: str, hours: float, status: str = "success") -> Deployment:
    return Deployment(
        source="ci",
        key=key,
        app=app,
        team=team,
        environment="production",
        finished_at=T0 + hours * HOUR,
        status=status,
    )


def change(key: str, app: str, team: str, shipped: Deployment | None, *refs: str) -> Change:
    """A change merged at T0 + 1 h, shipped by ``shipped`` (None: not deployed)."""
    return Change(
        source="ci",
        key=key,
        app=app,
        team=team,
        first_commit_at=T0,
        merged_at=T0 + HOUR,
        deployed_environment=shipped.environment if shipped else "",
        deployed_at=shipped.finished_at if shipped else None,
        deployment_key=shipped.key if shipped else "",
        work_items=refs,
    )


# SHOP-1 (new capability): created at 0 in Backlog, Discovery at 10, In Progress at 20, done at
# 100. PR-1 names it, deployed by D1 at 48 h; PR-2 names it too, deployed by D2 at 96 h (another
# day). Time to market starts at Discovery and ends at the first: 48 - 10 = 38 h.
SHOP_1 = item(
    "SHOP-1",
    "shop",
    "a",
    "new_capability",
    (0, "Backlog"),
    (10, "Discovery"),
    (20, "In Progress"),
    (100, "Done"),
)
# SHOP-2 (defect), never in Discovery: from its creation at 24 h. PR-3 names it, shipped by D3
# at 120 h, which is later re-sent as failed; D4 at 150 h ships PR-3 again: 150 - 24 = 126 h
# (before the correction 120 - 24 = 96 h).
SHOP_2 = item("SHOP-2", "shop", "a", "defect", (24, "Backlog"), (30, "In Progress"))
# BILL-1 (maintenance, team b): created at 0, PR-4 deployed by D5 at 30 h: 30 h.
BILL_1 = item("BILL-1", "billing", "b", "maintenance", (0, "Backlog"))
# CART-1: PR-5 names it but was never deployed: no time to market.
CART_1 = item("CART-1", "cart", "a", "unmapped", (5, "Backlog"))
D1, D2 = deploy("D1", "shop", "a", 48), deploy("D2", "shop", "a", 96)
D3, D4 = deploy("D3", "shop", "a", 120), deploy("D4", "shop", "a", 150)
D5 = deploy("D5", "billing", "b", 30)
PR_1 = change("PR-1", "shop", "a", D1, "SHOP-1")
PR_2 = change("PR-2", "shop", "a", D2, "SHOP-1", "SHOP-99")  # SHOP-99: no such item
PR_3_D3 = change("PR-3", "shop", "a", D3, "SHOP-2")
PR_3_D4 = change("PR-3", "shop", "a", D4, "SHOP-2")
PR_4 = change("PR-4", "billing", "b", D5, "BILL-1")
PR_5 = change("PR-5", "cart", "a", None, "CART-1")
WORK: list[Event] = [SHOP_1, SHOP_2, BILL_1, CART_1]
DELIVERY: list[Event] = [D1, D2, D3, D5, PR_1, PR_2, PR_3_D3, PR_4, PR_5]
CORRECTION: list[Event] = [replace(D3, status="failure"), D4, PR_3_D4]


def exact(text: str, name: str, **labels: str) -> float | None:
    """The value of the one series called ``name`` with exactly these labels, or None."""
    wanted = frozenset(labels.items())
    found = [v for (sample, got), v in samples(text).items() if sample == name and got == wanted]
    assert len(found) <= 1
    return found[0] if found else None


def scrape(pipeline: Pipeline) -> str:
    pipeline.refresh()
    return pipeline.cache.current.text.decode()


def run(tmp_path: Path, *polls: list[Event], name: str = "kpi.db") -> tuple[Store, list[str]]:
    """Each poll recorded, then scraped; the store and the texts."""
    store = Store(tmp_path / name)
    pipeline = Pipeline(store, SETTINGS, clock=lambda: NOW)
    texts = []
    for events in polls:
        pipeline.record("ci", Poll(events=events, cursor=None))
        texts.append(scrape(pipeline))
    return store, texts


def ttm_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {key: value for key, value in samples(text).items() if "time_to_production" in key[0]}


def test_an_item_ends_at_its_first_deployment_and_a_failed_one_releases_it(
    tmp_path: Path,
) -> None:
    store, (before, after) = run(tmp_path, WORK + DELIVERY, CORRECTION)
    new = {"app": "shop", "team": "a", "category": "new_capability"}
    defect = {"app": "shop", "team": "a", "category": "defect"}
    bill = {"app": "billing", "team": "b", "category": "maintenance"}
    # SHOP-1 ends at its first deployment (D1, 48 h), not at D2: 48 - 10 = 38 h, once.
    assert exact(after, f"{TTM}_count", **new) == 1
    assert exact(after, f"{TTM}_sum", **new) == 38 * HOUR
    # 38 h is over 1 d and at most 2 d: in the 2 d bucket, not in the 1 d one.
    assert exact(after, f"{TTM}_bucket", **new, le="86400.0") == 0
    assert exact(after, f"{TTM}_bucket", **new, le="172800.0") == 1
    # SHOP-2 before the correction: D3 at 120 h, 120 - 24 = 96 h (4 d: the 5 d bucket).
    assert exact(before, f"{TTM}_count", **defect) == 1
    assert exact(before, f"{TTM}_sum", **defect) == 96 * HOUR
    # After D3 is re-sent as failed, D4 delivers it: 150 - 24 = 126 h. The counter never goes
    # down: 2 observations ever (96 h + 126 h), the first retracted.
    assert exact(after, f"{TTM}_count", **defect) == 2
    assert exact(after, f"{TTM}_sum", **defect) == (96 + 126) * HOUR
    assert exact(after, "kpi_work_item_time_to_production_retracted_seconds_count", **defect) == 1
    assert exact(after, "kpi_work_item_time_to_production_retracted_seconds_sum", **defect) == (
        96 * HOUR
    )
    # 126 h = 5.25 d: in the 7 d bucket, not the 5 d one.
    assert exact(after, f"{TTM}_bucket", **defect, le="432000.0") == 1  # 96 h, retracted
    assert exact(after, f"{TTM}_bucket", **defect, le="604800.0") == 2
    assert exact(after, f"{TTM}_sum", **bill) == 30 * HOUR
    # CART-1 was never deployed: no series.
    assert exact(after, f"{TTM}_count", app="cart", team="a", category="unmapped") is None

    # Windows at T0 + 252 h, by the time of the delivering deployment. 7d holds (84, 252]:
    # SHOP-2 only (150 h). 30d holds every delivery: shop 38 h and 126 h, billing 30 h.
    def window(text: str, percentile: str, window: str, **owner: str) -> float | None:
        return exact(text, WINDOW_TTM, **owner, window=window, percentile=percentile)

    assert window(after, "50", "7d", app="shop", team="a") == 126 * HOUR
    assert window(after, "50", "7d", team="b") is None
    # Team a over 30d: 38, 126 -> median (38 + 126) / 2 = 82 h; p90 38 + 0.9 x 88 = 117.2 h.
    assert window(after, "50", "30d", team="a") == 82 * HOUR
    assert window(after, "90", "30d", team="a") == pytest.approx(117.2 * HOUR)
    # The organisation: 30, 38, 126 -> median 38 h; p90 at rank 1.8: 38 + 0.8 x 88 = 108.4 h.
    assert window(after, "50", "30d") == 38 * HOUR
    assert window(after, "90", "30d") == pytest.approx(108.4 * HOUR)
    assert window(after, "50", "30d", app="billing", team="b") == 30 * HOUR
    # Before the correction the org's 30d median was that of 30, 38, 96: 38 h; the 7d one
    # held SHOP-2 at 96 h.
    assert window(before, "50", "7d", app="shop", team="a") == 96 * HOUR

    deliveries = {e.key: e for e in store.iter_events() if isinstance(e, WorkItemDelivery)}
    assert deliveries["jira/SHOP-1"].change == "ci/PR-1"
    assert deliveries["jira/SHOP-2"].delivered_at == T0 + 150 * HOUR
    assert "jira/CART-1" not in deliveries  # referenced, never deployed: nothing derived
    store.close()
    # A restart publishes the same.
    store = Store(tmp_path / "kpi.db")
    restarted = Pipeline(store, SETTINGS, clock=lambda: NOW)
    assert samples(scrape(restarted)) == samples(after)
    store.close()


def test_the_answer_does_not_depend_on_the_order_of_arrival(tmp_path: Path) -> None:
    _, (_, in_order) = run(tmp_path, WORK + DELIVERY, CORRECTION, name="a.db")
    # The same final events, one poll each, backwards: the correction before the deployment
    # it corrects was ever seen as a success, changes before their items.
    final = [e for e in DELIVERY if e is not D3] + CORRECTION
    _, texts = run(tmp_path, *([e] for e in reversed(final + WORK)), name="b.db")

    def windows(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        return {k: v for k, v in samples(text).items() if k[0] == WINDOW_TTM}

    assert windows(in_order) == windows(texts[-1])
    # 2 percentiles x (shop 7d + 30d, billing 30d only, team a 2, team b 1, org 2) = 2 x 8.
    assert len(windows(in_order)) == 16
    # SHOP-2 ended at D4 either way (and never counted D3 in the second run).
    defect = {"app": "shop", "team": "a", "category": "defect"}
    assert exact(texts[-1], f"{TTM}_sum", **defect) == 126 * HOUR


def test_an_item_no_change_delivers_any_more_keeps_a_retraction(tmp_path: Path) -> None:
    """BILL-1's only change loses its reference (a title edited): no time to market now."""
    edited = replace(PR_4, work_items=())
    store, (_, after) = run(tmp_path, WORK + DELIVERY, [edited])
    bill = {"app": "billing", "team": "b", "category": "maintenance"}
    assert exact(after, f"{TTM}_count", **bill) == 1
    assert exact(after, "kpi_work_item_time_to_production_retracted_seconds_count", **bill) == 1
    assert exact(after, WINDOW_TTM, team="b", window="30d", percentile="50") is None
    deliveries = {e.key: e for e in store.iter_events() if isinstance(e, WorkItemDelivery)}
    assert deliveries["jira/BILL-1"].delivered_at is None  # kept, delivering nothing
    store.close()


def test_keys_are_found_in_title_branch_and_body() -> None:
    pattern = r"\b[A-Z][A-Z0-9_]+-[1-9][0-9]*\b"
    assert work_item_keys(pattern, "SHOP-1: login", "feature/SHOP-2-remember", "Fixes CART-10") == (
        "CART-10",
        "SHOP-1",
        "SHOP-2",
    )
    # Case counts, as in Jira: lower case is not a key (a branch "feature-12" names nothing);
    # a key counts once; no key number starts with 0.
    assert work_item_keys(pattern, "shop-1 and SHOP-1", "feature-12", "SHOP-1 again") == ("SHOP-1",)
    assert work_item_keys(pattern, "SHOP-0", "fix/login", "") == ()


@pytest.mark.parametrize(
    ("title", "body", "keys"),
    [
        ("Fixes #12", "", ("ACME/SHOP#12",)),  # an issue of the same repository
        ("Login", "closes acme/other#5 and resolves #7", ("ACME/OTHER#5", "ACME/SHOP#7")),
        ("Login", "Fixed: #3\nRESOLVED #4", ("ACME/SHOP#3", "ACME/SHOP#4")),
        ("See #12", "prefix #13, refixes #14", ()),  # no closing keyword: no reference
        ("SHOP-1: login", "Fixes #2", ("ACME/SHOP#2", "SHOP-1")),
    ],
)
def test_the_issues_a_pull_request_closes_are_its_work_items(
    title: str, body: str, keys: tuple[str, ...]
) -> None:
    """GitHub's and GitLab's closing keywords (close, fix, resolve and their forms) name the
    issue a pull or merge request closes: the reference of a GitHub Issues or GitLab issues
    work item (its key without the source, upper-cased)."""
    pattern = r"\b[A-Z][A-Z0-9_]+-[1-9][0-9]*\b"
    assert work_item_keys(pattern, title, "feature/login", body, repository="acme/shop") == keys
    assert work_item_keys(pattern, "Fixes #12", "", "") == ()  # no repository: none


def test_a_github_issue_ends_at_the_first_deployment_of_the_pull_request_that_fixes_it(
    fake: FakeGitHub,  # noqa: F811  (the fixture of test_github)
    clock: Clock,  # noqa: F811
) -> None:
    """Issue acme/shop#12 (a GitHub Issues work item) created 03-01 00:00; the pull request
    whose body says "Fixes #12" is deployed 03-02 12:00: time to market 36 h."""
    shop = fake.repo("acme/shop")
    shop.commits = [
        commit("s1", "2026-03-02T10:00:00Z", "c0"),
        commit("c0", "2026-03-01T09:00:00Z"),
    ]
    shop.pulls = [
        pull(
            1,
            title="Remember me",
            body="Fixes #12",
            first_commit="2026-03-01T10:00:00Z",
            created="2026-03-01T12:00:00Z",
            merged="2026-03-02T10:00:00Z",
            merge_commit="s1",
        ),
    ]
    shop.deployments = [
        deployment(1, "s1", "2026-03-02T11:00:00Z", ("SUCCESS", "2026-03-02T12:00:00Z")),
    ]
    # the key the GitHub Issues source gives it
    delivered_in_36_hours(fake, clock, "github_issues", "github/acme/shop#12", "Open")


def delivered_in_36_hours(
    github_fake: FakeGitHub, github_clock: Clock, tracker: str, key: str, status: str
) -> Pipeline:
    """Record the work item ``key`` of ``tracker`` (app shop, team payments, created 03-01
    00:00, in ``status``), then a poll of acme/shop from ``github_fake``; its time to market ends at
    the first deployment naming it, 03-02 12:00: 36 h. The pipeline, for further checks."""
    github = source(github_fake, github_clock, repos=["acme/shop"])  # app shop, team payments
    now = github_clock.now
    pipeline = Pipeline(Store(":memory:"), KpiSettings(), LinkSettings(), clock=lambda: now)
    created = ts("2026-03-01T00:00:00Z")
    item = WorkItem(
        tracker, key, "shop", "payments", "new_capability", created, ((created, status, "waiting"),)
    )
    pipeline.record(tracker, Poll(events=[item], cursor=None))
    pipeline.record("gh", github.poll(pipeline.store.state("gh")))
    text = scrape(pipeline)
    labels = {"app": "shop", "team": "payments", "category": "new_capability"}
    assert exact(text, f"{TTM}_count", **labels) == 1
    assert exact(text, f"{TTM}_sum", **labels) == 36 * HOUR  # 03-01 00:00 -> 03-02 12:00
    return pipeline


def test_changes_of_the_event_format_carry_their_keys() -> None:
    ownership = Ownership(parse_config("apps: {shop: {team: a}}"))
    line = {
        "type": "deployment",
        "id": "D1",
        "app": "shop",
        "finished_at": "2026-11-22T00:00:00Z",
        "changes": [
            {"id": "c1", "first_commit_at": "2026-11-20T00:00:00Z", "work_items": ["shop-1"]}
        ],
    }
    changes = [e for e in parse_event(line, "ci", ownership) if isinstance(e, Change)]
    assert [c.work_items for c in changes] == [("SHOP-1",)]
    bad = {**line, "changes": [{**line["changes"][0], "work_items": ["SHOP 1"]}]}  # type: ignore[dict-item]
    with pytest.raises(EventFormatError, match="work_items"):
        parse_event(bad, "ci", ownership)


def test_pull_requests_naming_an_item_end_its_time_to_market_at_the_first_deployment(
    fake: FakeGitHub,  # noqa: F811  (the fixture of test_github)
    clock: Clock,  # noqa: F811
) -> None:
    """Two pull requests name SHOP-1 (its title, then its head branch), deployed on different
    days by GitHub deployments: the item's time to market ends at the first."""
    shop = fake.repo("acme/shop")
    shop.commits = [
        commit("s2", "2026-03-04T10:00:00Z", "s1"),
        commit("s1", "2026-03-02T10:00:00Z", "c0"),
        commit("c0", "2026-03-01T09:00:00Z"),
    ]
    shop.pulls = [
        pull(
            1,
            title="SHOP-1: sign in",
            first_commit="2026-03-01T10:00:00Z",
            created="2026-03-01T12:00:00Z",
            merged="2026-03-02T10:00:00Z",
            merge_commit="s1",
        ),
        pull(
            2,
            head="feature/SHOP-1-remember-me",
            body="Follows up on the sign-in.",
            first_commit="2026-03-03T10:00:00Z",
            created="2026-03-03T12:00:00Z",
            merged="2026-03-04T10:00:00Z",
            merge_commit="s2",
        ),
    ]
    shop.deployments = [
        deployment(1, "s1", "2026-03-02T11:00:00Z", ("SUCCESS", "2026-03-02T12:00:00Z")),
        deployment(2, "s2", "2026-03-04T11:00:00Z", ("SUCCESS", "2026-03-04T12:00:00Z")),
    ]
    # SHOP-1 was created on 03-01 at 00:00; the first deployment naming it ended 03-02 12:00.
    pipeline = delivered_in_36_hours(fake, clock, "jira", "jira/SHOP-1", "To Do")
    stored = [e for e in pipeline.store.iter_events() if isinstance(e, Change)]
    assert sorted(c.work_items for c in stored) == [("SHOP-1",), ("SHOP-1",)]


def test_a_merge_request_names_items_in_its_title_source_branch_and_description(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GitLab's merge request fields: ``title``, ``source_branch`` and ``description``."""
    monkeypatch.setenv("GITLAB_TOKEN", GITLAB_TOKEN)
    with responses.mock:  # any request without a route fails
        change = _gitlab_change(FakeGitLab())
    assert change.work_items == ("CART-2", "SHOP-7", "SHOP-8")
    assert change.deployed_at == ts("2026-03-03T15:00:00Z")


def _gitlab_change(gitlab_fake: FakeGitLab) -> Change:
    mr = merge_request(
        9,
        at("2026-03-03T10:00"),
        merged_at=at("2026-03-03T12:00"),
        merge_commit_sha="m9",
        title="SHOP-7: checkout",
        source_branch="feature/SHOP-8-cart",
        description="Also fixes CART-2; see the notes in shop-9 (lower case: not a key).",
    )
    serve_lists(
        gitlab_fake, "acme/shop", [gitlab_deployment(110, "m9", at("2026-03-03T15:00"))], [mr]
    )
    serve_details(gitlab_fake, "acme/shop", 9, Details(commits=[], diffs=[]))
    serve_history(
        gitlab_fake,
        "acme/shop",
        "2026-03-02T12:00:00Z",
        [gitlab_commit("m9", at("2026-03-03T12:00"), [])],
    )
    events = by_key(gitlab().poll(SourceState()).events)
    change = events[("change", "gitlab/acme/shop!9")]
    assert isinstance(change, Change)
    return change
