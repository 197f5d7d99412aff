"""What the ``responses`` fakes of list APIs share: one-off replies queued ahead of the real
answers (a 429, a 500) and the ``path?query`` of every request received, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qs, urlsplit

import requests

Reply = tuple[int, dict[str, str], str]


@dataclass
class QueuedReplies:
    queued: list[Reply] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # path?query of every request

    def received(
        self, request: requests.PreparedRequest
    ) -> tuple[SplitResult, dict[str, str], Reply | None]:
        """Note ``request``: its URL's parts, its query (the last value of each parameter)
        and the queued reply it takes (None when none is queued)."""
        parts = urlsplit(request.url or "")
        self.seen.append(f"{parts.path}?{parts.query}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return parts, query, self.queued.pop(0) if self.queued else None
