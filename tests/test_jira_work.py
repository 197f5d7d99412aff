"""Jira work items (``work_jql``) against the fake Jira of ``tests.test_jira``, Cloud and Data
Center: status histories from the changelog (read whole when the search cuts it short),
investment categories by type and label, stages by status category and configuration, the
incremental next poll. Every expectation is computed by hand in the test."""

from __future__ import annotations

from typing import Any

import pytest

from kpi_exporter.config import ConfigError, parse_config
from kpi_exporter.model import WorkItem, to_json
from kpi_exporter.sources import SourceError
from kpi_exporter.store import SourceState
from tests.support import HOUR, by_key, history, ts, value
from tests.support import exposition as render
from tests.test_jira import (
    CLOUD,
    DC,
    WORK,
    FakeJira,
    issue,
    jira,
    jira_time,
    mocked,  # noqa: F401 (a fixture)
)

# An automation account: who moved an item is never read, so it counts like anyone.
BOT = {"accountId": "557058:automation", "accountType": "app", "displayName": "Automation"}
NAMES = {"1": "Open", "3": "In Progress", "10001": "Done", "10002": "Closed", "10003": "In Review"}
WORK_SETTINGS: dict[str, Any] = {
    "incident_jql": "",
    "bug_jql": "",
    "work_jql": WORK,
    "work": {"category_labels": {"tech-debt": "tech_debt"}, "stages": {"In Review": "waiting"}},
}


def moved(at: str, source: str, to: str, author: dict[str, Any] | None = None) -> dict[str, Any]:
    """A changelog history: the status changed from ``source`` to ``to`` at ``at``."""
    item = {
        "field": "status",
        "fieldtype": "jira",
        "from": source,
        "fromString": NAMES[source],
        "to": to,
        "toString": NAMES[to],
    }
    history: dict[str, Any] = {"id": f"h{at}{to}", "created": jira_time(at), "items": [item]}
    history["author"] = author or {
        "accountId": "5b10a2844c20165700ede21g",
        "accountType": "atlassian",
    }
    return history


# SHOP-10, a Story: Open 09:00-10:00 on 03-02, In Progress to 03-03 10:00, In Review (a queue by
# configuration) to 03-04 10:00, moved back to Open to 03-05 10:00, In Progress to 03-06 10:00,
# Done by the automation. Lead 4 d 1 h = 97 h; cycle 96 h; active 24 + 24 = 48 h; waits Open
# 1 + 24 = 25 h, In Review 24 h. The search returns 2 of its 5 histories.
SHOP_10_HISTORY = [
    moved("2026-03-02T10:00", "1", "3"),
    moved("2026-03-03T10:00", "3", "10003"),
    moved("2026-03-04T10:00", "10003", "1"),
    moved("2026-03-05T10:00", "1", "3"),
    moved("2026-03-06T10:00", "3", "10001", BOT),
]
SHOP_10 = issue(
    "SHOP-10",
    "2026-03-02T09:00",
    "10001",
    updated="2026-03-06T10:00",
    histories=SHOP_10_HISTORY[:2],
    history_total=5,
    components=[{"name": "Checkout"}],
    issuetype={"name": "Story"},
    labels=[],
)
# SHOP-11, a Spike (a type nobody mapped): Open, then Closed 3 h later, never active.
SHOP_11 = issue(
    "SHOP-11",
    "2026-03-03T09:00",
    "10002",
    updated="2026-03-03T12:00",
    histories=[moved("2026-03-03T12:00", "1", "10002")],
    issuetype={"name": "Spike"},
    labels=[],
)
# SHOP-12, a Task labelled tech-debt, reopened: Open 09:00-10:00, In Progress to 12:00, Done to
# 03-05 09:00, reopened In Progress to 15:00, Done. Lead 30 h, cycle 29 h, active 2 + 6 h.
SHOP_12 = issue(
    "SHOP-12",
    "2026-03-04T09:00",
    "10001",
    updated="2026-03-05T15:00",
    histories=[
        moved("2026-03-04T10:00", "1", "3"),
        moved("2026-03-04T12:00", "3", "10001"),
        moved("2026-03-05T09:00", "10001", "3"),
        moved("2026-03-05T15:00", "3", "10001"),
    ],
    issuetype={"name": "Task"},
    labels=["tech-debt"],
)
# SHOP-13, a Story created In Progress and never moved: in progress now.
SHOP_13 = issue(
    "SHOP-13",
    "2026-03-07T08:00",
    "3",
    histories=[],
    components=[{"name": "Checkout"}],
    issuetype={"name": "Story"},
    labels=[],
)


def serve_work(fake: FakeJira) -> None:
    fake.work = [SHOP_10, SHOP_11, SHOP_12, SHOP_13]
    fake.changelogs = {"SHOP-10": SHOP_10_HISTORY}


@pytest.mark.parametrize(("api", "flavour"), [(CLOUD, "cloud"), (DC, "datacenter")])
def test_work_items_carry_their_whole_status_history_category_and_owner(
    mocked: None,  # noqa: F811
    api: str,
    flavour: str,
) -> None:
    fake = FakeJira(api, flavour)
    serve_work(fake)

    events = by_key(jira(api, flavour, **WORK_SETTINGS).poll(SourceState()).events)

    shop_10 = events[("workitem", "jira/SHOP-10")]
    assert isinstance(shop_10, WorkItem)
    assert (shop_10.app, shop_10.team, shop_10.category) == ("shop", "payments", "new_capability")
    assert shop_10.statuses == history(
        "2026-03-02T09:00 Open: waiting",
        "2026-03-02T10:00 In Progress: active",
        "2026-03-03T10:00 In Review: waiting",
        "2026-03-04T10:00 Open: waiting",
        "2026-03-05T10:00 In Progress: active",
        "2026-03-06T10:00 Done: done",
    )
    # The cut-short changelog was read whole (Cloud: 2 histories a page, 3 pages; Data
    # Center: the issue once); no other issue needed it.
    expected_reads = 3 if flavour == "cloud" else 1
    assert len(fake.changelog_reads) == expected_reads
    assert all("SHOP-10" in url for url in fake.changelog_reads)
    # The automation's transition counts; no account reaches the store.
    assert "557058" not in to_json(shop_10) and "Automation" not in to_json(shop_10)
    spike = events[("workitem", "jira/SHOP-11")]
    assert (spike.app, spike.category) == ("shop", "unmapped")  # type: ignore[union-attr]
    assert events[("workitem", "jira/SHOP-12")].category == "tech_debt"  # type: ignore[union-attr]
    assert events[("workitem", "jira/SHOP-13")].statuses == history(  # type: ignore[union-attr]
        "2026-03-07T08:00 In Progress: active",
    )

    text = render(events.values())
    shop = {"app": "shop", "team": "payments"}
    # SHOP-10: lead 97 h, cycle 96 h (in the 5-day bucket: 4 d < 96 h <= 5 d), active 48 h.
    new = {**shop, "category": "new_capability"}
    assert value(text, "kpi_work_items_completed_total", **new) == 1
    assert value(text, "kpi_work_item_lead_time_seconds_sum", **new) == 97 * HOUR
    assert value(text, "kpi_work_item_cycle_time_seconds_sum", **new) == 96 * HOUR
    assert value(text, "kpi_work_item_cycle_time_seconds_bucket", **new, le="345600.0") == 0
    assert value(text, "kpi_work_item_cycle_time_seconds_bucket", **new, le="432000.0") == 1
    assert value(text, "kpi_work_items_active_seconds_total", **new) == 48 * HOUR
    # Open: SHOP-10 1 + 24 h, SHOP-11 3 h, SHOP-12 1 h; In Review: SHOP-10 24 h.
    assert value(text, "kpi_work_item_wait_seconds_sum", **shop, status="Open") == 29 * HOUR
    assert value(text, "kpi_work_item_wait_seconds_count", **shop, status="Open") == 3
    assert value(text, "kpi_work_item_wait_seconds_sum", **shop, status="In Review") == 24 * HOUR
    # SHOP-12, reopened: done at the last time, lead 30 h, cycle 29 h, active 2 + 6 h.
    debt = {**shop, "category": "tech_debt"}
    assert value(text, "kpi_work_item_lead_time_seconds_sum", **debt) == 30 * HOUR
    assert value(text, "kpi_work_item_cycle_time_seconds_sum", **debt) == 29 * HOUR
    assert value(text, "kpi_work_items_active_seconds_total", **debt) == 8 * HOUR
    # SHOP-11, never active: completed, a lead time of 3 h, no cycle time.
    spiked = {"app": "shop", "team": "payments", "category": "unmapped"}
    assert value(text, "kpi_work_items_completed_total", **spiked) == 1
    assert value(text, "kpi_work_item_lead_time_seconds_sum", **spiked) == 3 * HOUR
    assert value(text, "kpi_work_item_cycle_time_seconds_count", **spiked) == 0
    # SHOP-13 is in progress.
    assert value(text, "kpi_work_items_in_progress", **shop) == 1
    assert value(text, "kpi_work_items_open", **shop, stage="active", status="In Progress") == 1


def test_the_next_poll_reads_work_items_updated_since_the_newest_less_a_day(
    mocked: None,  # noqa: F811
) -> None:
    fake = FakeJira(DC, "datacenter")
    serve_work(fake)
    source = jira(DC, "datacenter", **WORK_SETTINGS)
    first = source.poll(SourceState())
    # The first sync reads a year back from 2026-03-10.
    assert [s["jql"] for s in fake.searches if s["startAt"] == "0"] == [
        f'({WORK}) AND updated >= "2025/03/10 00:00" ORDER BY updated ASC, key ASC'
    ]
    fake.searches.clear()

    second = source.poll(SourceState(first.cursor, first.validators))

    # The newest update is SHOP-13's creation, 2026-03-07T08:00: less a day.
    assert [s["jql"] for s in fake.searches if s["startAt"] == "0"] == [
        f'({WORK}) AND updated >= "2026/03/06 08:00" ORDER BY updated ASC, key ASC'
    ]
    assert source.health.api_requests[("jira", "304")] == 1  # the status list, conditional
    assert by_key(second.events) == by_key(first.events)  # re-read, upserted unchanged


def test_a_changed_stage_mapping_starts_over_and_categories_replace_the_defaults(
    mocked: None,  # noqa: F811
) -> None:
    fake = FakeJira(DC, "datacenter")
    serve_work(fake)
    first = jira(DC, "datacenter", **WORK_SETTINGS).poll(SourceState())
    fake.searches.clear()
    settings = {**WORK_SETTINGS, "work": {"categories": {"Spike": "new_capability"}}}

    second = jira(DC, "datacenter", **settings).poll(SourceState(first.cursor, first.validators))

    assert all('updated >= "2025/03/10 00:00"' in s["jql"] for s in fake.searches)
    events = by_key(second.events)
    # Only Spike is mapped now; In Review is In Progress's category again: active.
    assert events[("workitem", "jira/SHOP-11")].category == "new_capability"  # type: ignore[union-attr]
    assert events[("workitem", "jira/SHOP-10")].category == "unmapped"  # type: ignore[union-attr]
    review = events[("workitem", "jira/SHOP-10")].statuses[2]  # type: ignore[union-attr]
    assert review == (ts("2026-03-03T10:00:00Z"), "In Review", "active")


def test_a_category_must_be_a_label_value() -> None:
    text = (
        "sources:\n"
        "  - type: jira\n"
        "    name: jira\n"
        "    flavour: datacenter\n"
        "    api_url: https://jira.test\n"
        "    token_env: JIRA_TOKEN\n"
        f"    work_jql: '{WORK}'\n"
        "    work:\n"
        "      categories: {Story: New Cap}\n"
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert "<config>:9: sources[jira].work.categories: Story: 'New Cap' is not a category" in str(
        raised.value
    )


def test_a_malformed_changelog_fails_the_poll_naming_the_issue(mocked: None) -> None:  # noqa: F811
    fake = FakeJira(CLOUD, "cloud")
    broken = issue("SHOP-20", "2026-03-02T09:00", "3", histories=[{"created": "x", "items": {}}])
    fake.work = [SHOP_13, broken]

    with pytest.raises(SourceError, match="Jira issue SHOP-20: a changelog history without a list"):
        jira(CLOUD, "cloud", **WORK_SETTINGS).poll(SourceState())
