"""Where changes come from (human, ai_agent, bot): the classification rule, and the KPIs per
team through the fake GitHub, with hand-computed values.

The scenario (acme/shop, app shop, team payments; now 2026-06-01: every merge is in the 30d
and 90d windows, none in the 7d one, which starts 05-25):

  #1 human (alice), reviewed by bob 05-10 11:00, merged 12:00            review 1 h
  #2 ai_agent: the bot Copilot, branch copilot/fix-login, reviewed by bob
     05-11 10:00, merged 14:00                                           review 4 h
  #3 ai_agent: devin-ai-integration[bot], merged 05-12 10:00 unreviewed  (no review)
  #4 bot: dependabot[bot], merged 05-13 09:30 unreviewed, 4 lines        (no review)
  #5 ai_agent: alice with a "Co-authored-by: Claude" trailer, reviewed by
     carol 05-14 10:00, merged 12:00                                     review 2 h
  #6 human (alice): GitHub's Revert button on #3 (branch revert-3-...),
     reviewed by bob 05-15 09:30, merged 10:00                           review 30 min
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import responses
import yaml

from kpi_exporter.config import parse_config
from kpi_exporter.kpis import KpiSettings
from kpi_exporter.linking import LinkSettings
from kpi_exporter.model import Change, ChangeRevert
from kpi_exporter.origin import OriginRules, classify
from kpi_exporter.ownership import Ownership
from kpi_exporter.pipeline import Pipeline
from kpi_exporter.sources import Poll
from kpi_exporter.sources.event_format import EventFormatError, parse_event
from kpi_exporter.store import Store
from tests import test_gitlab as gl
from tests.github_fake import FakeGitHub, bot, commit, pull, review
from tests.gitlab_fake import BOB, FakeGitLab, at, serve_details, serve_history, serve_lists
from tests.gitlab_fake import commit as gitlab_commit
from tests.prometheus_fixture import ROOT, SCRAPE
from tests.support import poll_into, samples, value
from tests.test_github import (
    HOUR,
    Clock,
    clock,  # noqa: F401 (a fixture)
    exposition,
    fake,  # noqa: F401 (a fixture)
    of,
    record,
    source,
)
from tests.test_rules import promtool

SHOP = {"app": "shop", "team": "payments"}
RULES = OriginRules()


@pytest.mark.parametrize(
    ("login", "fields", "origin"),
    [
        ("alice", {}, "human"),
        ("Copilot", {"user_type": "Bot"}, "ai_agent"),  # account before the Bot type
        ("copilot-swe-agent[bot]", {}, "ai_agent"),
        ("devin-ai-integration[bot]", {"user_type": "Bot"}, "ai_agent"),
        ("alice", {"head_branch": "codex/add-tests"}, "ai_agent"),
        ("alice", {"head_branch": "Cursor/refactor"}, "ai_agent"),  # case-insensitive
        ("alice", {"head_branch": "feature/copilot/x"}, "human"),  # a prefix, not a part
        ("dependabot[bot]", {"user_type": "Bot"}, "bot"),
        ("renovate[bot]", {}, "bot"),  # "renovate" matches with the [bot] suffix
        ("renovate", {}, "bot"),
        ("codecov", {"user_type": "Bot"}, "bot"),  # GitHub's Bot type
        ("some-app[bot]", {}, "bot"),  # *[bot]
        ("claude", {}, "human"),  # a person may be called so: only claude[bot] is an agent
        ("claude[bot]", {}, "ai_agent"),
        (None, {}, "human"),  # a deleted account
        ("alice", {"messages": ["Fix\n\nCo-authored-by: Claude <ai-assistant>"]}, "ai_agent"),
        ("alice", {"messages": ["Fix\n\nco-authored-by: GitHub Copilot <x>"]}, "ai_agent"),
        ("alice", {"messages": ["Fix\n\nCo-authored-by: Bob Smith <bob>"]}, "human"),
        ("alice", {"messages": ["Mentions Claude, no trailer"]}, "human"),
        # A bot's change with an AI co-author stays a bot's (the account decides first).
        ("renovate[bot]", {"messages": ["Co-authored-by: Copilot <x>"]}, "bot"),
    ],
)
def test_origin_is_classified_by_account_branch_bot_type_and_trailer(login, fields, origin):
    assert classify(RULES, login, **fields) == origin


def test_origin_rules_come_from_the_configuration():
    config = parse_config(
        """
origins:
  bots: [ci-robot]
  ai_agents: [our-agent]
  ai_branch_prefixes: [agent/]
  ai_coauthors: [helper]
  bots_in_flow: true
"""
    )
    rules = config.kpi_settings().origins
    assert classify(rules, "CI-Robot") == "bot"
    assert classify(rules, "our-agent[bot]", user_type="Bot") == "ai_agent"
    assert classify(rules, "alice", head_branch="agent/x") == "ai_agent"
    assert classify(rules, "alice", head_branch="copilot/x") == "human"  # the defaults replaced
    assert classify(rules, "alice", messages=["Co-authored-by: Helper <h>"]) == "ai_agent"
    assert rules.counts_in_flow("bot")
    assert not RULES.counts_in_flow("bot") and RULES.counts_in_flow("ai_agent")


def exact(text: str, name: str, **labels: str) -> float | None:
    """The sample called ``name`` with exactly ``labels`` (None when there is none)."""
    return samples(text).get((name, frozenset(labels.items())))


def scenario(github: FakeGitHub) -> None:
    repo = github.repo("acme/shop")
    repo.commits = [commit("x1", "2026-05-01T10:00:00Z")]
    # number: May day, first commit, opened, (reviewer, review), merged, what else it has
    rows: list[tuple[int, int, str, str, tuple[str, str] | None, str, dict[str, Any]]] = [
        (1, 10, "08:00", "09:00", ("bob", "11:00"), "12:00", {}),
        (2, 11, "08:00", "09:00", ("bob", "10:00"), "14:00", COPILOT),
        (3, 12, "08:00", "09:00", None, "10:00", DEVIN),
        (4, 13, "08:55", "09:00", None, "09:30", DEPENDABOT),
        (5, 14, "08:00", "09:00", ("carol", "10:00"), "12:00", CO_AUTHORED),
        (6, 15, "08:50", "09:00", ("bob", "09:30"), "10:00", REVERT_OF_3),
    ]

    def day(number: int, hour: str) -> str:
        return f"2026-05-{number:02d}T{hour}:00Z"

    repo.pulls = [
        pull(
            number,
            first_commit=day(may, first),
            created=day(may, opened),
            reviews=[review(looked[0], "APPROVED", day(may, looked[1]))] if looked else [],
            merged=day(may, merged),
            merge_commit=f"m{number}",
            **extra,
        )
        for number, may, first, opened, looked, merged, extra in rows
    ]


COPILOT = {"author": bot("Copilot"), "head": "copilot/fix-login"}
DEVIN = {"author": bot("devin-ai-integration"), "head": "devin/17-cleanup", "title": "Clean up"}
DEPENDABOT = {
    "author": bot("dependabot"),
    "head": "dependabot/npm_and_yarn/left-pad-1.3.1",
    "additions": 2,
    "deletions": 2,
}
CO_AUTHORED = {"message": "Speed up search\n\nCo-authored-by: Claude <ai-assistant>"}
REVERT_OF_3 = {"head": "revert-3-devin/17-cleanup", "title": 'Revert "Clean up"'}


def recorded(github: FakeGitHub, now: Clock, settings: KpiSettings) -> tuple[Pipeline, Poll]:
    pipeline = Pipeline(Store(":memory:"), settings, LinkSettings(), clock=now)
    return pipeline, record(pipeline, source(github, now, kpi=settings, repos=["acme/shop"]))


def test_origins_reviews_and_reverts_per_team_are_exact(fake, clock):  # noqa: F811
    scenario(fake)
    pipeline, poll = recorded(fake, clock, KpiSettings())

    changes = of(poll.events, Change)
    origins = {key.rsplit("#")[1]: c.origin for key, c in changes.items()}
    assert origins == {
        "1": "human",
        "2": "ai_agent",
        "3": "ai_agent",
        "4": "bot",
        "5": "ai_agent",
        "6": "human",
    }
    assert changes["github/acme/shop#6"].reverts == "github/acme/shop#3"
    # No event keeps a login.
    assert not any("alice" in repr(c) or "Copilot" in repr(c) for c in changes.values())

    text = exposition(pipeline)
    w30 = {**SHOP, "window": "30d"}

    def merged(origin: str) -> float:
        return value(text, "kpi_window_changes_merged_by_origin", origin=origin, **w30)

    # Merged in the 30d window: human #1 #6, ai_agent #2 #3 #5, bot #4; 6 in all.
    assert (merged("human"), merged("ai_agent"), merged("bot")) == (2, 3, 1)
    assert merged("ai_agent") / 6 == 0.5
    assert value(text, "kpi_changes_merged_by_origin_total", origin="ai_agent", **SHOP) == 3
    # Merged with no human review: #3 (ai_agent) of 3, #4 (bot) of 1; Copilot's reviews of
    # others would not count either (bots never review for a person).
    unreviewed = "kpi_window_changes_merged_unreviewed_by_origin"
    assert value(text, unreviewed, origin="ai_agent", **w30) / merged("ai_agent") == 1 / 3
    assert value(text, unreviewed, origin="bot", **w30) == 1
    assert value(text, unreviewed, origin="human", **w30) == 0
    # Review time (first review to merge) of the AI agents' changes: #2 4 h, #5 2 h.
    # p50 = (2 h + 4 h) / 2 = 3 h; p75 = 2 h + 0.75 * 2 h = 3.5 h; p90 = 2 h + 0.9 * 2 h = 3.8 h
    # at the app, team and organisation level; the humans': #1 1 h, #6 0.5 h -> p50 0.75 h.
    agent = "kpi_window_change_review_ai_agent_seconds"
    for level in (SHOP, {"team": "payments"}, {}):
        assert exact(text, agent, percentile="50", window="30d", **level) == 3 * HOUR
    assert value(text, agent, percentile="75", **w30) == 3.5 * HOUR
    assert value(text, agent, percentile="90", **w30) == 3.8 * HOUR
    assert value(text, "kpi_window_change_review_human_seconds", percentile="50", **w30) == (
        0.75 * HOUR
    )
    assert "kpi_window_change_review_bot_seconds{" not in text  # #4 was never reviewed
    # Reverted: #3 (ai_agent), counted by its merge time 05-12: 1 of 3 AI-agent changes,
    # 0 of the 2 human ones.
    reverted = "kpi_window_changes_reverted"
    assert value(text, reverted, origin="ai_agent", **w30) / merged("ai_agent") == 1 / 3
    assert value(text, reverted, origin="human", **w30) == 0
    assert value(text, "kpi_changes_reverted_total", origin="ai_agent", **SHOP) == 1
    # Out of the 7d window (from 05-25): nothing.
    assert value(text, "kpi_window_changes_merged_by_origin", window="7d", **SHOP) == 0

    # Bots apart: the flow families count #1 #2 #3 #5 #6, never Dependabot's #4.
    assert value(text, "kpi_changes_merged_total", **SHOP) == 5
    assert value(text, "kpi_window_changes_merged", **w30) == 5
    assert value(text, "kpi_window_changes_merged_unreviewed", **w30) == 1  # #3 only
    assert value(text, "kpi_change_size_lines_count", **SHOP) == 5
    assert value(text, "kpi_change_size_lines_bucket", le="10.0", **SHOP) == 0  # #4's 4 lines
    assert value(text, "kpi_change_coding_seconds_count", **SHOP) == 5


def test_bots_count_in_flow_when_configured(fake, clock):  # noqa: F811
    scenario(fake)
    settings = KpiSettings(origins=OriginRules(bots_in_flow=True))
    pipeline, _ = recorded(fake, clock, settings)
    text = exposition(pipeline)
    assert value(text, "kpi_changes_merged_total", **SHOP) == 6
    assert value(text, "kpi_change_size_lines_bucket", le="10.0", **SHOP) == 1  # #4's 4 lines
    # Counted apart all the same.
    assert value(text, "kpi_changes_merged_by_origin_total", origin="bot", **SHOP) == 1


def change(key: str, merged: float, **fields: Any) -> Change:
    return Change(
        source="push",
        key=key,
        app="shop",
        team="payments",
        first_commit_at=merged - HOUR,
        merged_at=merged,
        **fields,
    )


def test_a_revert_stored_before_what_it_reverts_counts_once_that_arrives():
    pipeline = Pipeline(Store(":memory:"), KpiSettings(), LinkSettings(), clock=lambda: 2e9)
    base = 2e9 - 10 * 86400
    revert = change("r", base + 3600, reverts="a")
    pipeline.record("push", Poll([revert], None))
    assert value(exposition(pipeline), "kpi_changes_reverted_total") == 0

    pipeline.record("push", Poll([change("a", base, origin="ai_agent")], None))
    text = exposition(pipeline)
    assert value(text, "kpi_changes_reverted_total", origin="ai_agent", **SHOP) == 1
    assert value(text, "kpi_window_changes_reverted", origin="ai_agent", window="30d") == 1

    # The revert re-sent without naming it: no longer reverted; the counter keeps its 1 and
    # the retraction says so, the window drops to 0.
    pipeline.record("push", Poll([change("r", base + 3600)], None))
    text = exposition(pipeline)
    assert value(text, "kpi_changes_reverted_total", origin="ai_agent") == 1
    assert value(text, "kpi_changes_reverted_retracted_total", origin="ai_agent") == 1
    assert value(text, "kpi_window_changes_reverted", origin="ai_agent", window="30d") == 0
    with pipeline.store.transaction() as tx:
        probe = ChangeRevert("push", "a", "shop", "payments", merged_at=0, reverted_at=0)
        record = tx.get(probe)
    assert isinstance(record, ChangeRevert) and record.reverted_by == ""


@pytest.fixture
def gitlab_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitLab]:
    """The fake GitLab of tests/test_gitlab.py: any request without a route fails."""
    monkeypatch.setenv("GITLAB_TOKEN", gl.TOKEN)
    with responses.mock:
        yield FakeGitLab()


def test_gitlab_merge_requests_get_their_origin_and_revert(gitlab_fake):
    """GitLab (REST v4, the fake of tests/test_gitlab.py): !2 by a project access token's
    bot user, !3 from a cursor/ branch whose commit says "This reverts merge request !1" (the
    wording of GitLab's Revert button); !1 and !4 by a person."""
    bot_user = {**BOB, "id": 99, "username": "project_3_bot_5f1c", "name": "Deploy token bot"}
    mr2 = {**gl.MR2, "author": bot_user}
    mr3 = {**gl.MR3, "source_branch": "cursor/tidy-up", "title": 'Revert "Change 1"'}
    reverting = {
        **gitlab_commit("f3a", at("2026-03-05T20:00"), ["s2"]),
        "message": 'Revert "Change 1"\n\nThis reverts merge request !1',
    }
    serve_lists(
        gitlab_fake, "acme/shop", [gl.D103, gl.D102, gl.D101], [gl.MR4, mr3, mr2, gl.MR1], gl.ISSUES
    )
    for iid, details in gl.DETAILS.items():
        if iid == 3:
            details = replace(details, commits=[reverting])
        serve_details(gitlab_fake, "acme/shop", iid, details)
    serve_history(gitlab_fake, "acme/shop", "2026-03-01T16:00:00Z", gl.HISTORY)

    changes = of(poll_into(Pipeline(Store(":memory:")), gl.gitlab()).events, Change)

    origins = {key: c.origin for key, c in changes.items()}
    assert origins == {
        "gitlab/acme/shop!1": "human",
        "gitlab/acme/shop!2": "bot",
        "gitlab/acme/shop!3": "ai_agent",
        "gitlab/acme/shop!4": "human",
    }
    assert changes["gitlab/acme/shop!3"].reverts == "gitlab/acme/shop!1"
    assert not any("project_3_bot" in repr(c) for c in changes.values())


def test_the_event_format_takes_origin_and_reverts_as_sent():
    ownership = Ownership(parse_config("apps: {shop: {team: payments}}"))
    pushed = {
        "type": "change",
        "app": "shop",
        "id": "pr-2",
        "first_commit_at": "2026-05-01T10:00:00Z",
        "merged_at": "2026-05-01T12:00:00Z",
        "origin": "ai_agent",
        "reverts": "pr-1",
    }
    [event] = parse_event(pushed, "push", ownership)
    assert isinstance(event, Change)
    assert (event.origin, event.reverts) == ("ai_agent", "pr-1")
    unsaid = {k: v for k, v in pushed.items() if k not in ("origin", "reverts")}
    [plain] = parse_event(unsaid, "push", ownership)
    assert isinstance(plain, Change) and (plain.origin, plain.reverts) == ("human", "")
    with pytest.raises(EventFormatError, match="field 'origin'"):
        parse_event({**pushed, "origin": "robot"}, "push", ownership)


def test_the_records_of_the_scenario_equal_the_hand_values(fake, clock, tmp_path):  # noqa: F811
    """The exporter's window samples of the scenario, as scraped (job and instance added),
    through the rendered rules with the test thresholds (origins.min_changes 5: payments'
    6 changes show their split) in the real promtool: the records equal the hand values."""
    scenario(fake)
    pipeline, _ = recorded(fake, clock, KpiSettings())
    families = (
        "kpi_window_changes_merged_by_origin",
        "kpi_window_changes_merged_unreviewed_by_origin",
        "kpi_window_changes_reverted",
        "kpi_window_change_review_human_seconds",
        "kpi_window_change_review_ai_agent_seconds",
    )
    inputs = [
        {
            "series": name
            + "{"
            + ", ".join(f'{k}="{v}"' for k, v in sorted({*labels, *SCRAPE.items()}))
            + "}",
            "values": f"{sample:g}x15",
        }
        for (name, labels), sample in samples(exposition(pipeline)).items()
        if name in families
    ]
    third, sixth = 1 / 3, 1 / 6
    expected = {  # (record, labels) -> value; every series of each record listed
        "team:kpi_changes_merged_by_origin:share_30d": [
            ({"origin": "human"}, third),  # #1 #6 of 6
            ({"origin": "ai_agent"}, 0.5),  # #2 #3 #5
            ({"origin": "bot"}, sixth),  # #4
        ],
        "team:kpi_changes_merged_unreviewed_per_changes_merged_by_origin:ratio_30d": [
            ({"origin": "human"}, 0),
            ({"origin": "ai_agent"}, third),  # #3 of #2 #3 #5
            ({"origin": "bot"}, 1),  # #4 of #4
        ],
        "team:kpi_changes_reverted_per_changes_merged_by_origin:ratio_30d": [
            ({"origin": "human"}, 0),
            ({"origin": "ai_agent"}, third),  # #3, reverted by #6
            ({"origin": "bot"}, 0),
        ],
        "team:kpi_change_review_seconds_by_origin:p50_30d": [
            ({"origin": "human"}, 0.75 * HOUR),  # (0.5 h + 1 h) / 2
            ({"origin": "ai_agent"}, 3 * HOUR),  # (2 h + 4 h) / 2
        ],
        "team:kpi_change_review_seconds_by_origin:p90_30d": [
            ({"origin": "human"}, 0.95 * HOUR),  # 0.5 h + 0.9 * 0.5 h
            ({"origin": "ai_agent"}, 3.8 * HOUR),  # 2 h + 0.9 * 2 h
        ],
    }
    rules = ROOT / "alerts" / "tests" / "rendered" / "rules.yaml"
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "group_eval_order": [g["name"] for g in yaml.safe_load(rules.read_text())["groups"]],
        "tests": [
            {
                "interval": "1m",
                "input_series": inputs,
                "promql_expr_test": [
                    {
                        "expr": record,
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": record
                                + "{"
                                + ", ".join(
                                    f'{k}="{v}"' for k, v in {"team": "payments", **extra}.items()
                                )
                                + "}",
                                "value": value,
                            }
                            for extra, value in values
                        ],
                    }
                    for record, values in expected.items()
                ],
            }
        ],
    }
    path = tmp_path / "origin.yaml"
    path.write_text(yaml.safe_dump(test))
    result = subprocess.run(
        [promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
