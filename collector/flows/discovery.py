"""What the flows really look like: directly-follows graphs, variants and deviations.

Pure and definition-free: events are grouped by correlation id, put in flow order (event time,
causation, source sequence: the tracker's order), and each trace is named by its first event's
type (the start event names the flow type), or by the flow type a definition gives that start.
Where a definition exists, `deviations` compares a trace with it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from sys import intern
from typing import Literal

from collector.flows._state import TYPE, Entry, T, order_entries
from collector.flows.definition import FlowDefinition
from collector.model import Event

__all__ = [
    "Deviation",
    "Discovery",
    "Edge",
    "FlowTypeReport",
    "Variant",
    "deviation_summary",
    "deviations",
    "percentiles",
]


@dataclass(frozen=True, slots=True)
class Edge:
    """``target`` directly followed ``source`` ``count`` times; durations in seconds."""

    source: str
    target: str
    count: int
    p50_s: float
    p95_s: float
    p99_s: float


@dataclass(frozen=True, slots=True)
class Variant:
    path: tuple[str, ...]
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class FlowTypeReport:
    flow_type: str
    cases: int
    events: int
    edges: tuple[Edge, ...]
    """Most frequent first, then by name."""
    variants: tuple[Variant, ...]
    """Most frequent first, then by path."""


DeviationKind = Literal["forbidden-event", "skipped-step", "wrong-order"]


@dataclass(frozen=True, slots=True)
class Deviation:
    kind: DeviationKind
    position: int
    """Index of the offending event in the trace."""
    event_type: str
    after: str | None
    """The step the flow was at."""


def percentiles(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 (linear interpolation between closest ranks, as numpy's default)."""
    if not values:
        return (0.0, 0.0, 0.0)
    if len(values) == 1:
        return (values[0],) * 3
    data = sorted(values)
    last = len(data) - 1
    return _cut(data, last, 50), _cut(data, last, 95), _cut(data, last, 99)


def _cut(data: Sequence[float], last: int, i: int) -> float:
    """The ``i``-th of ``statistics.quantiles(data, n=100, method="inclusive")``, the same
    float, without the other 98 (the flow rollups take three of them per step and minute)."""
    j, delta = divmod(i * last, 100)
    return (data[j] * (100 - delta) + data[j + 1] * delta) / 100


class Discovery:
    """Accumulates events, then reports per flow type. ``starts`` maps a start event type to
    the flow type a definition gives it; other traces are named by their first event type."""

    def __init__(self, starts: Mapping[str, str] | None = None,
                 kept: Mapping[str, frozenset[str]] | None = None) -> None:
        self._traces: dict[str, list[Entry]] = {}
        self._starts = dict(starts or {})
        self._kept = dict(kept or {})
        """Per flow type with a definition, the event types its paths are made of (its steps
        and forbidden types); other types join the flow without being steps."""

    @classmethod
    def for_definitions(cls, definitions: Iterable[FlowDefinition]) -> Discovery:
        defs = list(definitions)
        kept: dict[str, frozenset[str]] = {}
        for d in defs:
            kept[d.flow_type] = kept.get(d.flow_type, frozenset()) | d.event_types | d.forbidden
        return cls({name: d.flow_type for d in defs for name in d.start}, kept)

    def add(self, events: Iterable[Event]) -> Discovery:
        traces = self._traces
        for e in events:
            entry = (e.occurred_at, e.sequence or 0, e.source, e.id, intern(e.type),
                     e.causation_id)
            trace = traces.get(e.correlation_id)
            if trace is None:
                traces[e.correlation_id] = [entry]
            else:
                trace.append(entry)
        return self

    def traces(self) -> dict[str, list[tuple[str, datetime]]]:
        """Each correlation id's (event type, event time) pairs in flow order."""
        out = {}
        for corr, entries in self._traces.items():
            order_entries(entries)
            out[corr] = [(e[TYPE], e[T]) for e in _unique(entries)]
        return out

    def report(self) -> dict[str, FlowTypeReport]:
        counts: dict[str, Counter[tuple[str, str]]] = {}
        durations: dict[str, dict[tuple[str, str], list[float]]] = {}
        paths: dict[str, Counter[tuple[str, ...]]] = {}
        for trace in self.traces().values():
            if not trace:
                continue
            flow_type = self._starts.get(trace[0][0], trace[0][0])
            kept = self._kept.get(flow_type)
            if kept is not None:
                trace = [step for step in trace if step[0] in kept]
            pairs = counts.setdefault(flow_type, Counter())
            spans = durations.setdefault(flow_type, {})
            for (a, ta), (b, tb) in itertools.pairwise(trace):
                pairs[a, b] += 1
                spans.setdefault((a, b), []).append((tb - ta).total_seconds())
            paths.setdefault(flow_type, Counter())[tuple(k for k, _ in trace)] += 1
        return {ft: _report(ft, counts[ft], durations[ft], paths[ft]) for ft in sorted(paths)}


def _unique(entries: list[Entry]) -> list[Entry]:
    """Drop redelivered events (the same identity twice): they sort next to each other."""
    out: list[Entry] = []
    for e in entries:
        if not out or out[-1][2:4] != e[2:4]:
            out.append(e)
    return out


def _report(flow_type: str, counts: Counter[tuple[str, str]],
            durations: dict[tuple[str, str], list[float]],
            paths: Counter[tuple[str, ...]]) -> FlowTypeReport:
    cases = sum(paths.values())
    edges = tuple(Edge(a, b, n, *percentiles(durations[a, b]))
                  for (a, b), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    variants = tuple(Variant(p, n, n / cases)
                     for p, n in sorted(paths.items(), key=lambda kv: (-kv[1], kv[0])))
    return FlowTypeReport(flow_type, cases, sum(len(p) * n for p, n in paths.items()),
                          edges, variants)


def deviations(path: Sequence[str], definition: FlowDefinition) -> list[Deviation]:
    """How a trace departs from its definition: events of a type it forbids, steps jumped over
    (a later step arrived before the expected one), and events out of order (an earlier step,
    another branch, or anything after the flow ended). Types the definition does not name
    (notifications, audits) are no deviation: they join the flow without being steps."""
    known = definition.event_types
    nxt = {t.source: t.targets for t in definition.transitions}
    found: list[Deviation] = []
    current: str | None = None
    ended = False
    for i, kind in enumerate(path):
        if kind not in known:
            if kind in definition.forbidden:
                found.append(Deviation("forbidden-event", i, kind, current))
            continue
        if current is None:
            if kind not in definition.start:
                found.append(Deviation("skipped-step", i, kind, None))
        elif ended:
            found.append(Deviation("wrong-order", i, kind, current))
        elif kind not in nxt.get(current, ()):
            gap: DeviationKind = ("skipped-step" if kind in _reachable(nxt, current)
                                  else "wrong-order")
            found.append(Deviation(gap, i, kind, current))
        current = kind
        ended = ended or kind in definition.terminal
    return found


def _reachable(nxt: Mapping[str, frozenset[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(nxt.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(nxt.get(node, ()))
    return seen


def deviation_summary(report: FlowTypeReport, definition: FlowDefinition,
                      ) -> list[tuple[str, str, str | None, int]]:
    """How many flows show each deviation (kind, event type, step it came after), most first."""
    counts: Counter[tuple[str, str, str | None]] = Counter()
    for v in report.variants:
        for key in {(d.kind, d.event_type, d.after) for d in deviations(v.path, definition)}:
            counts[key] += v.count
    return [(k, t, a, n) for (k, t, a), n in
            sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1], kv[0][2] or ""))]
