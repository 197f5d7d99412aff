"""Where a merged change comes from: ``human``, ``ai_agent`` or ``bot`` (the ``origin`` label).

One rule, read by every source that knows a change's author (GitHub, GitLab) and by the
event format (which takes ``origin`` as sent). The author's login is read here to classify
and dropped: an event keeps its origin, never the login.

In this order, the first that holds decides:

1. the author account is an AI agent (``ai_agents``: ``copilot-swe-agent``,
   ``devin-ai-integration``, ...) -> ``ai_agent``;
2. the head branch starts with an AI agent's prefix (``copilot/``, ``codex/``, ``cursor/``)
   -> ``ai_agent``;
3. the author is a bot: GitHub's ``Bot`` user type, a login ending in ``[bot]`` or one of
   ``bots`` (Dependabot, Renovate) -> ``bot``;
4. a commit message has a ``Co-authored-by`` trailer naming an AI tool (``ai_coauthors``:
   Copilot, Claude, ...) -> ``ai_agent``;
5. otherwise ``human``.

Account patterns match case-insensitively, with ``*`` wildcards (any other character is
itself: ``*[bot]`` ends with ``[bot]``), against the
login with and without its ``[bot]`` suffix (``renovate`` matches ``renovate[bot]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

HUMAN, AI_AGENT, BOT = "human", "ai_agent", "bot"
ORIGINS: tuple[str, ...] = (HUMAN, AI_AGENT, BOT)

# GitHub Apps end in [bot]; GitLab names a project's or group's access token user
# project_<id>_bot_<hash> or group_<id>_bot_<hash>, and Renovate often runs as renovate-bot.
DEFAULT_BOTS: tuple[str, ...] = (
    "dependabot",
    "dependabot-preview",
    "renovate",
    "renovate-bot",
    "*[bot]",
    "project_*_bot*",
    "group_*_bot*",
)
# GitHub's Copilot coding agent opens its pull requests as the bot ``Copilot`` (app
# ``copilot-swe-agent``); the others are GitHub Apps (``name[bot]``). A plain ``claude`` or
# ``cursor`` could be a person's account, so those are listed with their ``[bot]`` suffix.
DEFAULT_AI_AGENTS: tuple[str, ...] = (
    "copilot",
    "copilot-swe-agent",
    "devin-ai-integration",
    "chatgpt-codex-connector[bot]",
    "cursor[bot]",
    "claude[bot]",
)
DEFAULT_AI_BRANCH_PREFIXES: tuple[str, ...] = ("copilot/", "codex/", "cursor/", "devin/")
DEFAULT_AI_COAUTHORS: tuple[str, ...] = (
    "copilot",
    "claude",
    "codex",
    "cursor",
    "devin",
    "aider",
    "gemini",
)

_TRAILER = re.compile(r"^\s*co-authored-by\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class OriginRules:
    """The accounts, branch prefixes and co-author names that classify a change's origin,
    and whether bot changes count in the flow metrics (by default they do not)."""

    bots: tuple[str, ...] = DEFAULT_BOTS
    ai_agents: tuple[str, ...] = DEFAULT_AI_AGENTS
    ai_branch_prefixes: tuple[str, ...] = DEFAULT_AI_BRANCH_PREFIXES
    ai_coauthors: tuple[str, ...] = DEFAULT_AI_COAUTHORS
    bots_in_flow: bool = False

    def counts_in_flow(self, origin: str) -> bool:
        """Whether a change of ``origin`` counts in lead time, the flow stages, size and the
        merged and unreviewed counts."""
        return self.bots_in_flow or origin != BOT


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    """An account pattern: ``*`` matches anything, every other character itself (``[bot]``
    is literal, not a character class)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.lower().split("*")))


def _matches(login: str, patterns: Iterable[str]) -> bool:
    name = login.lower()
    names = {name, name.removesuffix("[bot]")}
    return any(_pattern(p).fullmatch(n) for p in patterns for n in names)


def ai_coauthored(messages: Iterable[str], coauthors: Iterable[str]) -> bool:
    """Whether a ``Co-authored-by`` trailer of one of ``messages`` names an AI tool: one of
    ``coauthors`` is a word of the trailer's name or address (``Claude <...>``,
    ``Copilot <...>``)."""
    wanted = {c.lower() for c in coauthors}
    for message in messages:
        for trailer in _TRAILER.findall(message):
            if wanted & set(_WORD.findall(trailer.lower())):
                return True
    return False


def classify(
    rules: OriginRules,
    login: str | None,
    *,
    user_type: str = "",
    head_branch: str = "",
    messages: Sequence[str] = (),
) -> str:
    """The origin of a change (see the module's documentation for the order).

    ``login``: its author's account (None when deleted); ``user_type``: the forge's type of
    that account (GitHub's ``Bot``); ``head_branch``: the branch it was merged from;
    ``messages``: the commit messages read (first commit, merge or squash commit)."""
    account = login or ""
    if account and _matches(account, rules.ai_agents):
        return AI_AGENT
    branch = head_branch.lower()
    if branch and any(branch.startswith(p.lower()) for p in rules.ai_branch_prefixes):
        return AI_AGENT
    if user_type.lower() == "bot" or (account and _matches(account, rules.bots)):
        return BOT
    if ai_coauthored(messages, rules.ai_coauthors):
        return AI_AGENT
    return HUMAN
