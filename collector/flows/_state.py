"""Per-flow state, kept compact: one slotted object per instance, events as small tuples.

The *progress* of a flow (its current step, the deadline, the terminal status, how late its
steps were) is a pure function of its events in flow order, recomputed by `replay` whenever an
event lands anywhere but at the end. What the detection clock found (stuck, breached while open)
is kept apart, so recomputing never forgets that an alert was given.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime, timedelta
from sys import intern
from typing import Final

from collector.flows.definition import FlowDefinition
from collector.model import FlowStatus

__all__ = ["Compiled", "Entry", "Flow", "order_entries", "sorted_entries"]

RUNNING, COMPLETED, FAILED, COMPENSATED = 0, 1, 2, 3
STATUS = (FlowStatus.RUNNING, FlowStatus.COMPLETED, FlowStatus.FAILED, FlowStatus.COMPENSATED)

Entry = tuple[datetime, int, str, str, str, str | None]
"""(occurred_at, source sequence or 0, source, id, type, causation id): sorts in flow order."""

T: Final = 0
SEQ: Final = 1
SRC: Final = 2
ID: Final = 3
TYPE: Final = 4
CAUSE: Final = 5


class Compiled:
    """A definition in the shape the hot path wants: dict lookups only."""

    __slots__ = ("compensations", "definition", "flow_type", "next", "retention", "sla",
                 "step_names", "terminal", "version")

    def __init__(self, d: FlowDefinition, retention: timedelta) -> None:
        self.definition = d
        self.flow_type = intern(d.flow_type)
        self.version = d.version
        self.sla = d.sla
        self.retention = retention
        self.terminal: dict[str, int] = {}
        for names, code in ((d.success, COMPLETED), (d.failure, FAILED),
                            (d.compensated, COMPENSATED)):
            for name in names:
                self.terminal[intern(name)] = code
        self.next: dict[str, tuple[tuple[str, ...], timedelta]] = {
            intern(t.source): (tuple(sorted(intern(x) for x in t.targets)), t.deadline)
            for t in d.transitions
        }
        for name in d.event_types - d.start:
            if name not in self.terminal and name not in self.next:
                self.next[intern(name)] = ((), timedelta(0))  # a step with nothing expected
        self.compensations = {c.on: c for c in d.compensations}
        self.step_names: dict[tuple[str, str], tuple[str, timedelta | None]] = {}
        """(from, to) -> ("From->To", the deadline it had or None), filled as steps are seen."""

    def step(self, source: str, target: str) -> tuple[str, timedelta | None]:
        rule = self.next.get(source)
        deadline = rule[1] if rule is not None and rule[0] else None
        return intern(f"{source}->{target}"), deadline


class Flow:
    """One flow instance: identity, events in flow order, progress, and detection marks."""

    __slots__ = (
        "alerted", "corr", "d", "deadline", "det_over", "det_step", "ended", "entries",
        "expected", "flagged", "iid", "judged", "late", "late_step", "n_steps", "recovered",
        "sla_deadline", "start", "status", "step", "stuck_n", "stuck_since", "stuck_step",
        "wake", "wake_seq",
    )

    def __init__(self, iid: str, corr: str, d: Compiled, start: Entry) -> None:
        self.iid = iid
        self.corr = corr
        self.d = d
        self.start = start
        self.entries: tuple[Entry, ...] = (start,)
        """In flow order; a tuple of flat tuples, which the garbage collector stops tracking, so
        a million open flows do not make every full collection walk millions of objects."""
        self.sla_deadline = start[T] + d.sla
        # detection marks (survive a replay)
        self.flagged = False
        self.stuck_step: str | None = None
        self.stuck_since: datetime | None = None
        self.stuck_n = 0
        self.recovered = False
        self.det_over: timedelta | None = None
        self.det_step: str | None = None
        self.alerted = False
        self.judged = 0
        """Counted in the rollups: 1 as an open flow past its SLA, 3 once ended."""
        self.wake: datetime | None = None
        self.wake_seq = 0
        self.replay()

    # -- progress ---------------------------------------------------------------------------

    def replay(self) -> None:
        """Recompute the progress from the events, in flow order."""
        t0, d = self.start[T], self.d
        self.status = RUNNING
        self.step = self.start[TYPE]
        self.n_steps = 0
        self.ended: datetime | None = None
        self.late: timedelta | None = None
        self.late_step: str | None = None
        self.expected, wait = d.next.get(self.step, ((), timedelta(0)))
        self.deadline: datetime | None = t0 + wait if self.expected else None
        start_id = self.start[ID]
        for e in self.entries:
            if e[ID] != start_id or e[SRC] != self.start[SRC]:
                self.apply(e[TYPE], e[T])

    def apply(self, kind: str, t: datetime) -> None:
        """Move the progress on by one event (already placed at the end of the flow order)."""
        if self.status:
            return
        d = self.d
        code = d.terminal.get(kind)
        nxt = d.next.get(kind) if code is None else None
        if code is None and nxt is None:
            return  # not a step of this flow (a notification, an unknown type)
        deadline = self.deadline
        if deadline is not None and t > deadline:
            self._late(t - deadline, self.step)
        self.n_steps += 1
        self.step = kind
        if code is not None:
            self.status = code
            self.ended = t
            self.expected, self.deadline = (), None
            over = t - self.start[T] - d.sla
            if over > timedelta(0):
                self._late(over, None)
            return
        assert nxt is not None
        self.expected = nxt[0]
        self.deadline = t + nxt[1] if nxt[0] else None
        comp = d.compensations.get(kind)
        if comp is not None and any(e[TYPE] == comp.after for e in self.entries):
            until = t + comp.within
            if comp.expect not in self.expected:
                self.expected = (*self.expected, comp.expect)
            self.deadline = until if self.deadline is None else min(self.deadline, until)

    def _late(self, over: timedelta, step: str | None) -> None:
        if self.late is None or over > self.late:
            self.late, self.late_step = over, step

    def step_times(self) -> list[tuple[str, float, bool]]:
        """Each step taken: ("From->To", seconds, within its deadline), in flow order."""
        d, out = self.d, []
        steps, terminal = d.step_names, d.terminal
        start = self.start
        prev, prev_t = start[TYPE], start[T]
        for e in self.entries:
            kind = e[TYPE]
            if e is start or (kind not in terminal and kind not in d.next):
                continue
            step = steps.get((prev, kind))
            if step is None:
                step = steps[prev, kind] = d.step(prev, kind)
            took = e[T] - prev_t
            out.append((step[0], took.total_seconds(), step[1] is None or took <= step[1]))
            if kind in terminal:
                break
            prev, prev_t = kind, e[T]
        return out

    # -- verdicts ---------------------------------------------------------------------------

    @property
    def breached(self) -> bool:
        return self.late is not None or (self.status == RUNNING and self.det_over is not None)

    @property
    def over(self) -> timedelta | None:
        if self.status != RUNNING or self.det_over is None:
            return self.late
        return self.det_over if self.late is None else max(self.late, self.det_over)

    def next_wake(self) -> datetime | None:
        """When the detection clock next has something to decide about this flow."""
        if self.status:
            assert self.ended is not None
            return self.ended + self.d.retention
        wake = None if self.flagged else self.deadline
        if self.det_over is None and self.late is None:
            sla = self.sla_deadline
            wake = sla if wake is None or sla < wake else wake
        return wake


def sorted_entries(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """The entries in flow order (see `order_entries`)."""
    out = list(entries)
    order_entries(out)
    return tuple(out)


def order_entries(entries: list[Entry]) -> None:
    """Sort in flow order, in place: event time, then causation, then source sequence.

    Events sharing a time are ordered so that an event comes after the one that caused it;
    among those free to go next, the source sequence and then the identity decide, so the order
    depends on the set of events only, never on how they arrived.
    """
    entries.sort()
    i, n = 0, len(entries)
    while i < n:
        j = i + 1
        while j < n and entries[j][T] == entries[i][T]:
            j += 1
        if j - i > 1:
            entries[i:j] = _causal(entries[i:j])
        i = j


def _causal(run: list[Entry]) -> list[Entry]:
    ids = {e[ID] for e in run}
    waiting: dict[str, list[Entry]] = {}
    ready: list[Entry] = []
    for e in run:
        cause = e[CAUSE]
        if cause is not None and cause in ids and cause != e[ID]:
            waiting.setdefault(cause, []).append(e)
        else:
            ready.append(e)
    heapq.heapify(ready)
    out: list[Entry] = []
    while ready:
        e = heapq.heappop(ready)
        out.append(e)
        for child in waiting.pop(e[ID], ()):
            heapq.heappush(ready, child)
    if len(out) < len(run):  # a causation cycle: keep the rest in key order
        out.extend(sorted(_rest(waiting.values())))
    return out


def _rest(groups: Iterable[list[Entry]]) -> list[Entry]:
    return [e for g in groups for e in g]
