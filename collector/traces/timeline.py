"""One time-ordered timeline of a flow: its events and the spans of every trace touching it.

Pure. Entries are ordered by start time (then depth in the trace, then name), each with its
duration (zero for an event, which is an instant) and the gap before it: the time since
everything earlier had ended, when nothing of the flow was running, which is where waiting
time (a queue, a broker, a stuck consumer) shows. Spans keep their place even when they pair
with nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from collector.model import Event, EventIdentity, Span
from collector.traces.join import Join, SpanKey, join_spans, key_of

__all__ = ["EntryKind", "Timeline", "TimelineEntry", "build_timeline"]

_ZERO = timedelta(0)


class EntryKind(StrEnum):
    EVENT = "event"
    SPAN = "span"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: EntryKind
    start: datetime
    end: datetime
    label: str
    """The event's type or the span's name."""
    service: str
    """The event's source or the span's service."""
    depth: int
    """A span's depth in its trace (0 for a root); an event sits one below its producing span."""
    gap: timedelta
    """Time since every earlier entry had ended (zero when this one overlaps them)."""
    event: Event | None = None
    span: Span | None = None
    produced_by: SpanKey | None = None
    """For an event: the span its traceparent names, if that span is known."""
    consumes: tuple[EventIdentity, ...] = ()
    """For a span: the flow's events it consumed."""
    unpaired: bool = False
    """For a producer or consumer span: paired with no span and no event."""
    other_flow: str | None = None
    """For a span that sent an event of another flow (a batch consumer's reply to another
    message of its batch): that flow's correlation id."""

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Timeline:
    correlation_id: str
    entries: tuple[TimelineEntry, ...]
    join: Join
    trace_ids: tuple[str, ...]

    @property
    def start(self) -> datetime | None:
        return self.entries[0].start if self.entries else None

    @property
    def end(self) -> datetime | None:
        return max((e.end for e in self.entries), default=None)

    @property
    def duration(self) -> timedelta:
        start, end = self.start, self.end
        return _ZERO if start is None or end is None else end - start

    @property
    def idle(self) -> timedelta:
        """The sum of the gaps: time when nothing of the flow was running."""
        return sum((e.gap for e in self.entries), _ZERO)


def build_timeline(correlation_id: str, events: Sequence[Event], spans: Sequence[Span],
                   elsewhere: Mapping[SpanKey, str] | None = None) -> Timeline:
    """The timeline of a flow's events and the given spans (of the traces touching it).

    ``elsewhere`` names the spans that sent events of other flows (span key -> correlation
    id): they are marked so, not as unpaired.
    """
    elsewhere = elsewhere or {}
    unique = {key_of(s): s for s in spans}
    join = join_spans(events, list(unique.values()))
    depths = _depths(unique)
    consumed: dict[SpanKey, list[EventIdentity]] = {}
    for c in join.consumptions:
        consumed.setdefault(key_of(c.span), []).append(c.event)
    unpaired = {key_of(s) for s in join.unpaired} - set(elsewhere)
    drafts: list[TimelineEntry] = [
        TimelineEntry(EntryKind.SPAN, s.start, s.end, s.name, s.service, depths[key], _ZERO,
                      span=s, consumes=tuple(consumed.get(key, ())), unpaired=key in unpaired,
                      other_flow=elsewhere.get(key))
        for key, s in unique.items()
    ]
    for e in events:
        producer = join.producers.get(e.identity)
        produced_by = None if producer is None else key_of(producer)
        depth = 0 if produced_by is None else depths[produced_by] + 1
        drafts.append(TimelineEntry(EntryKind.EVENT, e.occurred_at, e.occurred_at, e.type,
                                    e.source, depth, _ZERO, event=e, produced_by=produced_by))
    drafts.sort(key=_order)
    return Timeline(correlation_id, tuple(_with_gaps(drafts)), join,
                    tuple(sorted({s.trace_id for s in unique.values()})))


def _order(entry: TimelineEntry) -> tuple[datetime, int, str, str]:
    ident = (f"{entry.span.trace_id}{entry.span.span_id}" if entry.span is not None
             else f"{entry.event.source}\0{entry.event.id}" if entry.event is not None else "")
    return (entry.start, entry.depth, entry.label, ident)


def _with_gaps(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    out: list[TimelineEntry] = []
    frontier: datetime | None = None
    for entry in entries:
        gap = _ZERO if frontier is None else max(_ZERO, entry.start - frontier)
        out.append(replace(entry, gap=gap))
        frontier = entry.end if frontier is None else max(frontier, entry.end)
    return out


def _depths(spans: dict[SpanKey, Span]) -> dict[SpanKey, int]:
    """Each span's depth below the first ancestor present (cycles, from bad data, stop)."""
    depths: dict[SpanKey, int] = {}
    for key in spans:
        chain: list[SpanKey] = []
        current: SpanKey | None = key
        while current is not None and current in spans and current not in depths:
            if current in chain:
                break
            chain.append(current)
            parent = spans[current].parent_id
            current = None if parent is None else (current[0], parent)
        base = depths.get(current, -1) if current is not None else -1
        for offset, item in enumerate(reversed(chain), start=1):
            depths[item] = base + offset
    return depths
