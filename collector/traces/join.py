"""The join: events to the spans that produced and consumed them, producers to consumers.

Pure. An event's ``traceparent`` (`Event.trace_id`, `Event.span_id`) names the span that was
current when it was sent: its producing span. A consumer span consumed that event when the span
is that span's child (per-message consumers, kafka-python's instrumentation), when it links to
it (batch consumers: one span per batch, a link per message; Jaeger and Tempo do not pair
these), or, with no trace context at all, when its messaging attributes name the event's topic,
partition and offset. Producer and consumer spans pair the same two ways. Messaging spans that
pair with nothing are kept and reported, never dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from collector.model import Event, EventIdentity, Span
from collector.traces.messaging import Messaging, Role, messaging_of

__all__ = ["Consumption", "Handoff", "Join", "SpanKey", "Via", "join_spans", "key_of"]

SpanKey = tuple[str, str]
"""(trace id, span id): a span's natural key."""


def key_of(span: Span) -> SpanKey:
    return (span.trace_id, span.span_id)


class Via(StrEnum):
    """How two things were found to belong together."""

    PARENT = "parent"
    LINK = "link"
    LOCATION = "location"
    """The consumer span's destination, partition and offset are the event's."""


@dataclass(frozen=True, slots=True)
class Handoff:
    """A producer span paired with a consumer span of the same message."""

    producer: Span
    consumer: Span
    via: Via

    @property
    def latency(self) -> timedelta:
        """From the end of the send to the start of the consumer span (time in the broker and
        the consumer's queue); negative only when the hosts' clocks disagree."""
        return self.consumer.start - self.producer.end


@dataclass(frozen=True, slots=True)
class Consumption:
    """A service consumed an event: which span says so, and how it was matched."""

    event: EventIdentity
    service: str
    span: Span
    via: Via


@dataclass(frozen=True, slots=True)
class Join:
    producers: dict[EventIdentity, Span]
    """The producing span of each event whose traceparent names a known span."""
    consumptions: tuple[Consumption, ...]
    handoffs: tuple[Handoff, ...]
    unpaired: tuple[Span, ...]
    """Producer and consumer spans paired with no span and no event."""

    def consumers_of(self, event: EventIdentity) -> list[Consumption]:
        return [c for c in self.consumptions if c.event == event]


class _Index:
    """The spans by key, by parent and by link target, and the messaging ones by location."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self.by_key: dict[SpanKey, Span] = {}
        self.children: defaultdict[SpanKey, list[Span]] = defaultdict(list)
        self.linkers: defaultdict[SpanKey, list[Span]] = defaultdict(list)
        self.at_location: defaultdict[tuple[str, int, int], list[Span]] = defaultdict(list)
        self.messaging: dict[SpanKey, Messaging] = {}
        for span in spans:
            self._add(span)

    def _add(self, span: Span) -> None:
        key = key_of(span)
        if key in self.by_key:
            return
        self.by_key[key] = span
        if span.parent_id is not None:
            self.children[(span.trace_id, span.parent_id)].append(span)
        for link in span.links:
            self.linkers[(link.trace_id, link.span_id)].append(span)
        info = messaging_of(span)
        if info is None:
            return
        self.messaging[key] = info
        if (info.role is Role.CONSUMER and info.destination is not None
                and info.partition is not None and info.offset is not None):
            self.at_location[(info.destination, info.partition, info.offset)].append(span)

    def role(self, span: Span) -> Role | None:
        info = self.messaging.get(key_of(span))
        return None if info is None else info.role

    def consumers_of(self, key: SpanKey) -> Iterable[tuple[Span, Via]]:
        """Consumer spans that are children of, or link to, the span with this key."""
        for child in self.children.get(key, ()):
            if self.role(child) is Role.CONSUMER:
                yield child, Via.PARENT
        for linker in self.linkers.get(key, ()):
            if self.role(linker) is Role.CONSUMER:
                yield linker, Via.LINK


def join_spans(events: Sequence[Event], spans: Sequence[Span]) -> Join:
    """Join events and spans; the result depends on neither input's order."""
    index = _Index(sorted(spans, key=key_of))
    producers: dict[EventIdentity, Span] = {}
    consumptions: dict[tuple[EventIdentity, SpanKey], Consumption] = {}
    for event in sorted(events, key=lambda e: (e.source, e.id)):
        for consumption in _consumptions(event, index, producers):
            consumptions.setdefault((consumption.event, key_of(consumption.span)), consumption)
    handoffs = _handoffs(index)
    paired = {key_of(s) for h in handoffs for s in (h.producer, h.consumer)}
    paired |= {key_of(c.span) for c in consumptions.values()}
    paired |= {key_of(s) for s in producers.values()}
    unpaired = tuple(index.by_key[k] for k in index.messaging if k not in paired)
    return Join(producers, tuple(consumptions.values()), handoffs, unpaired)


def _consumptions(event: Event, index: _Index,
                  producers: dict[EventIdentity, Span]) -> Iterable[Consumption]:
    identity = event.identity
    if event.trace_id is not None and event.span_id is not None:
        key = (event.trace_id, event.span_id)
        producer = index.by_key.get(key)
        if producer is not None:
            producers[identity] = producer
        for span, via in index.consumers_of(key):
            yield Consumption(identity, span.service, span, via)
    loc = event.location
    if loc.topic is not None and loc.partition is not None and loc.offset is not None:
        for span in index.at_location.get((loc.topic, loc.partition, loc.offset), ()):
            yield Consumption(identity, span.service, span, Via.LOCATION)


def _handoffs(index: _Index) -> tuple[Handoff, ...]:
    found: list[Handoff] = []
    for key, info in index.messaging.items():
        if info.role is not Role.PRODUCER:
            continue
        producer = index.by_key[key]
        found.extend(Handoff(producer, consumer, via)
                     for consumer, via in index.consumers_of(key))
    return tuple(found)
