"""Windowed KPIs by event time: exact counts, quantiles and deploy days over each window.

The KPI functions date what they observe (:class:`~kpi_exporter.kpis.observation.Dated`:
a family, the app-level series, the event time and a value). Every dated observation is kept,
per app-level series, in a :class:`Timeline` sorted by time, so each window is computed
exactly at any instant: a window of width ``W`` at ``now`` holds the observations with
``now - W < at <= now``.

- a **count** adds up the values in the window, per app (teams and the organisation are sums,
  which the recording rules do);
- **quantiles** are exact (:func:`quantile`) at the app, team and organisation level: a
  team's median is the median of its observations, never a combination of app medians; a
  family with labels after ``team`` (``category``) has them at every level (a team's median
  per category, the organisation's per category);
- **deploy days** count the UTC days with an observation among the last N complete UTC days
  (N: the window in days), at the same three levels.

A level this process cannot see whole (the organisation of a sharded installation, or a team
split across shards) gets the window's observations per bucket instead (``_observations``),
from which the rules estimate the quantile over every shard.

What it costs: the results are cached per series and level, with the instant until which they
hold (the next observation to enter or leave one of the windows). A render recomputes only
the entries that a poll changed or whose time has come, so the timer that moves windows on as
time passes costs the series whose windows changed, never the whole store.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush

from ..exposition import format_value, header, label_block
from ..gofloat import go_float
from .families import WINDOWED, Windowed, observations_family
from .observation import Dated

DAY = 86400.0
INF = math.inf
Labels = tuple[str, ...]
LEVELS = ("app", "team", "org")


def quantile(ordered: Sequence[float], q: float) -> float:
    """The exact ``q`` quantile of sorted values, interpolated between the two closest ranks
    (the "inclusive" definition of spreadsheets' PERCENTILE.INC, numpy's default and
    ``statistics.quantiles(method="inclusive")``): the median of an even count is the mean of
    the two middle values."""
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    if below + 1 >= len(ordered):
        return ordered[-1]
    low, high = ordered[below], ordered[below + 1]
    return low + (position - below) * (high - low)


def percentile_label(q: float) -> str:
    """The ``percentile`` label of a quantile: 0.5 -> "50", 0.999 -> "99.9"."""
    return f"{round(q * 100, 6):g}"


class Timeline:
    """The dated observations of one series: times ascending, values alongside."""

    __slots__ = ("times", "values")

    def __init__(self) -> None:
        self.times = array("d")
        self.values = array("d")

    def __len__(self) -> int:
        return len(self.times)

    def add(self, at: float, value: float) -> None:
        index = bisect_right(self.times, at)
        self.times.insert(index, at)
        self.values.insert(index, value)

    def remove(self, at: float, value: float) -> bool:
        """Take out one observation equal to (at, value); False when there is none."""
        start = bisect_left(self.times, at)
        for index in range(start, bisect_right(self.times, at, start)):
            if self.values[index] == value:
                del self.times[index]
                del self.values[index]
                return True
        return False

    def span(self, now: float, width: float) -> tuple[int, int]:
        """Index range of the observations in the window ``(now - width, now]``."""
        return bisect_right(self.times, now - width), bisect_right(self.times, now)


Sample = tuple[Labels, Labels, float]
"""(label names, label values, value) of one published series."""


@dataclass(slots=True)
class Entry:
    """The samples of one series (app) or level (team, organisation) of a window family,
    their rendered lines, and until when they hold."""

    samples: list[Sample] = field(default_factory=list)
    lines: str = ""
    valid_until: float = -INF

    def set(self, name: str, samples: list[Sample], valid_until: float) -> None:
        self.samples, self.valid_until = samples, valid_until
        self.lines = "".join(
            f"{name}{{{label_block(names, values)}}} {format_value(value)}\n"
            for names, values, value in samples
        )


@dataclass(slots=True)
class FamilyState:
    """One window family: its app-level timelines, the app-level series of each team (keyed
    by the team and the labels after it, :func:`group`), the cached entries (app labels, or
    ("\x00team", team, ...) and ("\x00org", ...) for levels) and its rendered text."""

    windowed: Windowed
    timelines: dict[Labels, Timeline] = field(default_factory=dict)
    teams: dict[Labels, set[Labels]] = field(default_factory=dict)
    entries: dict[Labels, Entry] = field(default_factory=dict)
    dirty: set[Labels] = field(default_factory=set)
    order: list[Labels] | None = None  # entry keys in rendering order; None: sort again
    # Where the team entries and the organisation's start in ``order``.
    split: tuple[int, int] = (0, 0)
    # The entries' lines, in order, without the header, in three parts (apps, teams, the
    # organisation), each joined again only when one of its entries changed: the
    # organisation's result changes at almost every tick, an app's rarely.
    parts: list[bytes] = field(default_factory=lambda: [b"", b"", b""])
    # (valid until, app labels) of the app entries, earliest first, so that a refresh finds
    # the entries whose time has come without looking at every app; an item whose entry was
    # recomputed since holds another instant and is skipped.
    due: list[tuple[float, Labels]] = field(default_factory=list)
    # Per organisation entry (see _org_key): its values in each window, sorted, kept from one
    # instant to the next (quantile families at an exact organisation level); built again
    # when missing.
    sliding: dict[Labels, Sliding] = field(default_factory=dict)
    # Deploy-days families, per organisation entry: how many observations each UTC day holds
    # across every app; counted again when missing.
    day_counts: dict[Labels, Counter[int]] = field(default_factory=dict)


class Sliding:
    """The values each window of one quantile family holds across every app at the instant
    ``at``, each window's kept sorted, so that the organisation's exact quantiles follow the
    clock and the polls by the values that enter and leave instead of sorting every
    observation again. An observation added or taken out updates the windows that hold it."""

    __slots__ = ("at", "sorted", "valid_until")

    def __init__(
        self, durations: Sequence[tuple[str, float]], timelines: Sequence[Timeline], now: float
    ) -> None:
        self.at = now
        self.sorted = [_gathered(timelines, now, width) for _, width in durations]
        # Until when the windows hold as they are.
        self.valid_until = _next_change(durations, timelines, now)

    def observe(
        self, durations: Sequence[tuple[str, float]], at: float, value: float, sign: int
    ) -> None:
        """An observation added (sign 1) or taken out (-1): in every window holding it. An
        added one may enter or leave a window sooner than the windows held until."""
        if sign > 0 and at > self.at:
            self.valid_until = min(self.valid_until, at)
        for (_, width), values in zip(durations, self.sorted, strict=True):
            if self.at - width < at <= self.at:
                if sign > 0:
                    insort(values, value)
                    self.valid_until = min(self.valid_until, at + width)
                else:
                    del values[bisect_left(values, value)]

    def advance(
        self, durations: Sequence[tuple[str, float]], timelines: Sequence[Timeline], now: float
    ) -> float:
        """Move the windows on to ``now`` (not before ``at``, by less than the narrowest
        window): add the values that entered, take out those that left, or gather a window
        again when more than a 64th of it moved (each insertion moves half the array: measured,
        sorting afresh is cheaper from about a 100th at 100,000 values). Returns until when
        the windows hold: the next value to enter, or the first one of a window to leave."""
        before = self.at
        valid_until = INF
        entered: list[float] = []
        gone: list[list[float]] = [[] for _ in durations]
        for timeline in timelines:
            times, values = timeline.times, timeline.values
            high = bisect_right(times, now)
            if high < len(times):
                valid_until = min(valid_until, times[high])
            entered += values[bisect_right(times, before, 0, high) : high]
            for (_, width), leaving in zip(durations, gone, strict=True):
                low = bisect_right(times, before - width, 0, high)
                out = bisect_right(times, now - width, low, high)
                leaving += values[low:out]
                if out < high:
                    valid_until = min(valid_until, times[out] + width)
        for index, ((_, width), leaving) in enumerate(zip(durations, gone, strict=True)):
            held = self.sorted[index]
            if 64 * (len(entered) + len(leaving)) > len(held):
                self.sorted[index] = _gathered(timelines, now, width)
                continue
            for value in entered:
                insort(held, value)
            for value in leaving:
                del held[bisect_left(held, value)]
        self.at, self.valid_until = now, valid_until
        return valid_until


def _next_change(
    durations: Sequence[tuple[str, float]], timelines: Sequence[Timeline], now: float
) -> float:
    """Until when the windows of ``timelines`` hold at ``now``: the next value to enter, or
    the first one of a window to leave."""
    valid_until = INF
    for timeline in timelines:
        times = timeline.times
        high = bisect_right(times, now)
        if high < len(times):
            valid_until = min(valid_until, times[high])
        for _, width in durations:
            low = bisect_right(times, now - width, 0, high)
            if low < high:
                valid_until = min(valid_until, times[low] + width)
    return valid_until


def _gathered(timelines: Sequence[Timeline], now: float, width: float) -> array[float]:
    """The values of ``timelines`` in the window ``(now - width, now]``, sorted."""
    values: list[float] = []
    for timeline in timelines:
        low, high = timeline.span(now, width)
        values += timeline.values[low:high]
    values.sort()
    return array("d", values)


def group(labels: Labels) -> Labels:
    """The team-level series an app-level series belongs to: its team and the labels after
    it (("shop", "a", "defect") -> ("a", "defect"))."""
    return labels[1:]


def _team_key(team: Labels) -> Labels:
    return ("\x00team", *team)


def _org_key(team: Labels) -> Labels:
    """The organisation's entry of a team-level series: the labels after the team."""
    return ("\x00org", *team[1:])


APPS, TEAMS, ORG = 0, 1, 2  # the parts of a family's lines


class Windows:
    """Every window family's dated observations, and their rendering at any instant.

    ``durations``: (label, seconds) of each window; ``quantiles``: the quantiles published;
    ``exact_levels``: the levels above the app this process sees whole ("team", "org"); at
    the others it publishes ``_observations`` per bucket instead of exact values.
    """

    def __init__(
        self,
        durations: Sequence[tuple[str, float]],
        quantiles: Sequence[float],
        exact_levels: Iterable[str] = ("team", "org"),
    ) -> None:
        self.durations = tuple(durations)
        self.quantiles = tuple(quantiles)
        self.percentile_labels = tuple(percentile_label(q) for q in self.quantiles)
        self.exact_levels = frozenset(exact_levels)
        self.families = {w.family.name: FamilyState(w) for w in WINDOWED}

    # -- observations ---------------------------------------------------------------------

    def add(self, dated: Dated, sign: int) -> None:
        """Add (sign 1) or take out (sign -1) one dated observation."""
        state = self.families[dated.family]
        timeline = state.timelines.get(dated.labels)
        if sign > 0:
            if timeline is None:
                timeline = state.timelines[dated.labels] = Timeline()
                state.teams.setdefault(group(dated.labels), set()).add(dated.labels)
                state.order = None
            timeline.add(dated.at, dated.value)
        elif timeline is not None and timeline.remove(dated.at, dated.value):
            if not timeline:
                del state.timelines[dated.labels]
                members = state.teams[group(dated.labels)]
                members.discard(dated.labels)
                if not members:
                    del state.teams[group(dated.labels)]
                state.order = None
        else:
            return  # nothing to take out
        org = _org_key(group(dated.labels))
        sliding = state.sliding.get(org)
        if sliding is not None:
            sliding.observe(self.durations, dated.at, dated.value, sign)
        counts = state.day_counts.get(org)
        if counts is not None:
            counts[math.floor(dated.at / DAY)] += sign
        state.dirty.add(dated.labels)

    def invalidate(self) -> None:
        """Forget every cached result: the next exposition computes every entry afresh."""
        for state in self.families.values():
            state.entries.clear()
            state.dirty = set(state.timelines)
            state.order = None
            state.parts = [b"", b"", b""]
            state.due = []
            state.sliding = {}
            state.day_counts = {}

    def observations(self, after: float = -INF, until: float = INF) -> int:
        """How many dated observations are kept with ``after < at <= until`` (for memory
        figures)."""
        return sum(
            bisect_right(t.times, until) - bisect_right(t.times, after)
            for s in self.families.values()
            for t in s.timelines.values()
        )

    # -- rendering ------------------------------------------------------------------------

    def exposition(self, now: float, openmetrics: bool) -> Iterator[str]:
        """Every window family with at least one series, at ``now``, as text."""
        for chunk in self.chunks(now, openmetrics):
            yield chunk if isinstance(chunk, str) else chunk.decode()

    def chunks(self, now: float, openmetrics: bool) -> Iterator[str | bytes]:
        """Every window family with at least one series, at ``now``: each family's header,
        then its cached lines, encoded."""
        for state in self.families.values():
            self._update(state, now)
            if any(state.parts):
                yield header(state.windowed.family, openmetrics)
                yield from (part for part in state.parts if part)
            if state.windowed.kind == "quantiles" and self.exact_levels != {"team", "org"}:
                text = self._observations_text(state, now)
                if text:
                    yield header(observations_family(state.windowed), openmetrics) + text

    def samples(self, now: float) -> Iterator[tuple[str, Labels, Labels, float]]:
        """Every sample at ``now``: (family, label names, label values, value)."""
        for state in self.families.values():
            self._update(state, now)
            for key in state.order or ():
                for names, values, value in state.entries[key].samples:
                    yield state.windowed.family.name, names, values, value
            if state.windowed.kind == "quantiles" and self.exact_levels != {"team", "org"}:
                name = observations_family(state.windowed).name
                for names, values, value in self._observation_samples(state, now):
                    yield name, names, values, value

    def _update(self, state: FamilyState, now: float) -> None:
        """Recompute the entries a change or the passing time made stale, then the text."""
        name = state.windowed.family.name
        stale_teams: set[Labels] = set()
        stale: set[Labels] = set()
        for labels in state.dirty:
            if labels in state.timelines:
                stale.add(labels)
            else:
                state.entries.pop(labels, None)
            stale_teams.add(group(labels))
        state.dirty.clear()
        changed = {APPS} if stale_teams else set()
        due = state.due
        while due and due[0][0] <= now:
            at, labels = heappop(due)
            entry = state.entries.get(labels)
            if entry is not None and entry.valid_until == at:
                stale.add(labels)
        for labels in stale:
            entry = state.entries.setdefault(labels, Entry())
            timeline = state.timelines[labels]
            entry.set(name, *self._app_samples(state.windowed, labels, timeline, now))
            if entry.valid_until < INF:
                heappush(due, (entry.valid_until, labels))
            stale_teams.add(group(labels))
            changed.add(APPS)
        if len(due) > 2 * len(state.timelines) + 64:  # mostly items of entries since recomputed
            until = {labels: state.entries[labels].valid_until for labels in state.timelines}
            state.due = [(at, labels) for labels, at in until.items() if at < INF]
            heapify(state.due)
        if state.windowed.kind != "count":
            changed |= self._update_levels(state, now, stale_teams)
        if state.order is None:
            apps = sorted(k for k in state.entries if not k[0].startswith("\x00"))
            teams = sorted(k for k in state.entries if k[0] == "\x00team")
            state.order = apps + teams + sorted(k for k in state.entries if k[0] == "\x00org")
            state.split = (len(apps), len(apps) + len(teams))
            changed = {APPS, TEAMS, ORG}
        bounds = (0, *state.split, len(state.order))
        for part in changed:
            keys = state.order[bounds[part] : bounds[part + 1]]
            state.parts[part] = "".join([state.entries[key].lines for key in keys]).encode()

    def _update_levels(self, state: FamilyState, now: float, stale_teams: set[Labels]) -> set[int]:
        """Recompute the team and organisation entries that are stale; the parts changed."""
        changed: set[int] = set()
        family = state.windowed.family
        if "team" in self.exact_levels:
            for team in list(stale_teams) + [t for t in state.teams if t not in stale_teams]:
                key = _team_key(team)
                members = state.teams.get(team)
                if not members:
                    if state.entries.pop(key, None) is not None:
                        state.order = None
                    continue
                entry = state.entries.get(key)
                if entry is None:
                    entry = state.entries[key] = Entry()
                    state.order = None
                if team in stale_teams or now >= entry.valid_until:
                    timelines = [state.timelines[m] for m in members]
                    names = family.labels[1 : 1 + len(team)]
                    entry.set(
                        family.name,
                        *self._level_samples(state.windowed, names, team, timelines, now),
                    )
                    changed.add(TEAMS)
        if "org" in self.exact_levels:
            # The organisation's entries: one per combination of the labels after the team
            # (one entry for a family without such labels), found from the teams.
            orgs = {_org_key(team) for team in state.teams}
            for key in [k for k in state.entries if k[0] == "\x00org" and k not in orgs]:
                del state.entries[key]
                state.sliding.pop(key, None)
                state.day_counts.pop(key, None)
                state.order = None
            stale = {_org_key(team) for team in stale_teams}
            for key in orgs:
                entry = state.entries.get(key)
                if entry is None:
                    entry = state.entries[key] = Entry()
                    state.order = None
                if key in stale or now >= entry.valid_until:
                    if state.windowed.kind == "quantiles":
                        samples = self._org_quantiles(state, key, now)
                    else:
                        samples = self._org_days(state, key, now)
                    entry.set(family.name, *samples)
                    changed.add(ORG)
        return changed

    @staticmethod
    def _org_timelines(state: FamilyState, key: Labels) -> list[Timeline]:
        """The app-level timelines of one organisation entry."""
        return [
            state.timelines[member]
            for team, members in state.teams.items()
            if _org_key(team) == key
            for member in members
        ]

    def _org_days(self, state: FamilyState, key: Labels, now: float) -> tuple[list[Sample], float]:
        """The organisation's deploy days at ``now``: the UTC days among the last N complete
        ones (N: the window in days) that hold an observation, from the count of each day."""
        counts = state.day_counts.get(key)
        if counts is None:
            timelines = self._org_timelines(state, key)
            counts = Counter(math.floor(t / DAY) for tl in timelines for t in tl.times)
            state.day_counts[key] = counts
        today = math.floor(now / DAY)
        names = (*state.windowed.family.labels[2 : 1 + len(key)], "window")
        samples: list[Sample] = []
        for window, width in self.durations:
            days = round(width / DAY)
            held = sum(1 for day in range(today - days, today) if counts.get(day, 0) > 0)
            samples.append((names, (*key[1:], window), float(held)))
        return samples, (today + 1) * DAY

    def _org_quantiles(
        self, state: FamilyState, key: Labels, now: float
    ) -> tuple[list[Sample], float]:
        """The organisation's exact quantiles at ``now``, from the sorted values of each
        window moved on from the last instant (gathered afresh when the clock went back or
        jumped by a 64th of the narrowest window or more: a backfill, a first render)."""
        sliding = state.sliding.get(key)
        narrowest = min(width for _, width in self.durations)
        if sliding is None or not sliding.at <= now < sliding.at + narrowest / 64:
            # A first render, the clock back, or a jump (a day, say) that moves many values:
            # gathered afresh.
            timelines = self._org_timelines(state, key)
            sliding = state.sliding[key] = Sliding(self.durations, timelines, now)
            valid_until = sliding.valid_until
        elif sliding.at <= now < sliding.valid_until:
            # Nothing entered nor left since: a poll's additions and retractions are in.
            sliding.at = now
            valid_until = sliding.valid_until
        else:
            timelines = self._org_timelines(state, key)
            valid_until = sliding.advance(self.durations, timelines, now)
        names = (*state.windowed.family.labels[2 : 1 + len(key)], "window", "percentile")
        samples: list[Sample] = []
        for (window, _), held in zip(self.durations, sliding.sorted, strict=True):
            if not held:
                continue
            for q, percentile in zip(self.quantiles, self.percentile_labels, strict=True):
                samples.append((names, (*key[1:], window, percentile), quantile(held, q)))
        return samples, valid_until

    def _app_samples(
        self, windowed: Windowed, labels: Labels, timeline: Timeline, now: float
    ) -> tuple[list[Sample], float]:
        if windowed.kind == "quantiles":
            return self._app_quantiles(windowed, labels, timeline, now)
        if windowed.kind != "count":
            names = windowed.family.labels[: len(labels)]
            return self._level_samples(windowed, names, labels, [timeline], now)
        held, valid_until = self._held(timeline, now)
        names = windowed.family.labels
        return [(names, (*labels, window), sum(values)) for window, values in held], valid_until

    def _held(self, timeline: Timeline, now: float) -> tuple[list[tuple[str, array[float]]], float]:
        """The values each window holds of one timeline at ``now``, and until when they
        hold: the next one enters, or the first one of a window leaves."""
        times, values = timeline.times, timeline.values
        high = bisect_right(times, now)
        valid_until = times[high] if high < len(times) else INF  # the next one enters
        held: list[tuple[str, array[float]]] = []
        for window, width in self.durations:
            low = bisect_right(times, now - width, 0, high)
            if low < high:  # the first one in the window leaves
                valid_until = min(valid_until, times[low] + width)
            held.append((window, values[low:high]))
        return held, valid_until

    def _app_quantiles(
        self, windowed: Windowed, labels: Labels, timeline: Timeline, now: float
    ) -> tuple[list[Sample], float]:
        """:meth:`_level_samples` of quantiles over one app's timeline, without the
        bookkeeping of several (the most frequent recomputation)."""
        names = (*windowed.family.labels[: len(labels)], "window", "percentile")
        samples: list[Sample] = []
        held, valid_until = self._held(timeline, now)
        for window, values in held:
            if not values:
                continue
            ordered = sorted(values)
            for q, q_label in zip(self.quantiles, self.percentile_labels, strict=True):
                samples.append((names, (*labels, window, q_label), quantile(ordered, q)))
        return samples, valid_until

    def _level_samples(
        self,
        windowed: Windowed,
        names: Labels,
        values: Labels,
        timelines: Sequence[Timeline],
        now: float,
    ) -> tuple[list[Sample], float]:
        """Quantiles or deploy days over the union of ``timelines`` (one app, a team, the
        organisation), labelled ``names`` = ``values``."""
        samples: list[Sample] = []
        if windowed.kind == "days":
            for window, width in self.durations:
                days = round(width / DAY)
                seen = {day for timeline in timelines for day in _days(timeline, now, days)}
                samples.append(((*names, "window"), (*values, window), float(len(seen))))
            # Complete days change at midnight UTC; new deployments come through add().
            return samples, (math.floor(now / DAY) + 1) * DAY
        # Each window holds, per timeline, the observations from its first after
        # ``now - width`` up to ``highs[i]`` (the first after ``now``, which enters next).
        highs = [bisect_right(timeline.times, now) for timeline in timelines]
        valid_until = min(
            (t.times[high] for t, high in zip(timelines, highs, strict=True) if high < len(t)),
            default=INF,
        )
        for window, width in self.durations:
            in_window: list[float] = []
            start = now - width
            for timeline, high in zip(timelines, highs, strict=True):
                times = timeline.times
                low = bisect_right(times, start, 0, high)
                if low < high:
                    in_window += timeline.values[low:high]
                    valid_until = min(valid_until, times[low] + width)  # the first leaves
            if not in_window:
                continue
            in_window.sort()
            for q, percentile in zip(self.quantiles, self.percentile_labels, strict=True):
                samples.append(
                    (
                        (*names, "window", "percentile"),
                        (*values, window, percentile),
                        quantile(in_window, q),
                    )
                )
        return samples, valid_until

    def _observation_samples(self, state: FamilyState, now: float) -> Iterator[Sample]:
        """Per-bucket observation counts at the levels this process does not see whole."""
        family = observations_family(state.windowed)
        bounds = (*(go_float(b) for b in family.buckets), "+Inf")
        labels = state.windowed.family.labels
        groups: list[tuple[Labels, Labels, list[Timeline]]] = []
        if "team" not in self.exact_levels:
            for team in sorted(state.teams):
                members = [state.timelines[m] for m in state.teams[team]]
                groups.append((labels[1 : 1 + len(team)], team, members))
        if "org" not in self.exact_levels:
            orgs: dict[Labels, list[Timeline]] = {}
            for series, timeline in state.timelines.items():
                orgs.setdefault(series[2:], []).append(timeline)
            for rest in sorted(orgs):
                groups.append((labels[2 : 2 + len(rest)], rest, orgs[rest]))
        for names, values, timelines in groups:
            for window, width in self.durations:
                counts = [0] * (len(family.buckets) + 1)
                for timeline in timelines:
                    low, high = timeline.span(now, width)
                    for value in timeline.values[low:high]:
                        counts[bisect_left(family.buckets, value)] += 1
                cumulative = 0
                for bound, count in zip(bounds, counts, strict=True):
                    cumulative += count
                    yield (*names, "window", "le"), (*values, window, bound), float(cumulative)

    def _observations_text(self, state: FamilyState, now: float) -> str:
        name = observations_family(state.windowed).name
        return "".join(
            f"{name}{{{label_block(names, values)}}} {format_value(value)}\n"
            for names, values, value in self._observation_samples(state, now)
        )


def _days(timeline: Timeline, now: float, days: int) -> set[int]:
    today = math.floor(now / DAY)
    low = bisect_left(timeline.times, (today - days) * DAY)
    high = bisect_left(timeline.times, today * DAY)
    return {math.floor(t / DAY) for t in timeline.times[low:high]}
