"""The join, pure: events to producing and consuming spans; producers to consumers by parent,
by link and by location; unpaired spans kept; the same answer for any input order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.model import Event, Location, Span, SpanKind, SpanLink
from collector.traces.join import Via, join_spans, key_of

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
TRACE_A, TRACE_B, TRACE_C = "a" * 32, "b" * 32, "c" * 32


def ms(n: float) -> datetime:
    return T0 + timedelta(milliseconds=n)


def mk(trace: str, span_id: str, parent: str | None, kind: SpanKind, service: str,
       start: float, end: float, links: tuple[SpanLink, ...] = (), **attrs: Any) -> Span:
    return Span(trace, span_id.rjust(16, "0"), None if parent is None else parent.rjust(16, "0"),
                f"{service} {kind.value}", kind, service, ms(start), ms(end), links=links,
                attributes=attrs)


def event(eid: str, trace: str | None, span_id: str | None, at: float,
          topic: str = "orders", offset: int | None = None) -> Event:
    return Event(id=eid, type=f"Type{eid}", source="orders-svc", occurred_at=ms(at),
                 correlation_id="order-1", data={}, location=Location("kafka", topic, 0, offset),
                 received_at=ms(at), trace_id=trace,
                 span_id=None if span_id is None else span_id.rjust(16, "0"))


# trace A: the order service handles a request and sends two messages
ROOT = mk(TRACE_A, "1", None, SpanKind.SERVER, "orders", 0, 10)
SEND_1 = mk(TRACE_A, "2", "1", SpanKind.PRODUCER, "orders", 1, 2,
            **{"messaging.system": "kafka", "messaging.destination": "orders"})
SEND_2 = mk(TRACE_A, "3", "1", SpanKind.PRODUCER, "orders", 3, 4,
            **{"messaging.system": "kafka", "messaging.destination": "orders"})
# the per-message consumer (kafka-python instrumentation): child of the producer span
RECEIVE_1 = mk(TRACE_A, "4", "2", SpanKind.CONSUMER, "billing", 20, 30,
               **{"messaging.system": "kafka", "messaging.destination": "orders",
                  "messaging.kafka.partition": 0})
# a batch consumer in its own trace, linked to both producer spans
BATCH = mk(TRACE_B, "5", None, SpanKind.CONSUMER, "shipping", 40, 60,
           links=(SpanLink(TRACE_A, "2".rjust(16, "0")), SpanLink(TRACE_A, "3".rjust(16, "0"))),
           **{"messaging.system": "kafka", "messaging.batch.message_count": 2})
# a consumer with no trace context, found by topic, partition and offset
BY_OFFSET = mk(TRACE_C, "6", None, SpanKind.CONSUMER, "audit", 70, 71,
               **{"messaging.system": "kafka", "messaging.destination.name": "orders",
                  "messaging.destination.partition.id": "0", "messaging.kafka.offset": 7})
# a producer whose message nobody consumed, and a consumer of a producer never seen
LONELY_SEND = mk(TRACE_A, "7", "1", SpanKind.PRODUCER, "orders", 5, 6)
ORPHAN_RECEIVE = mk(TRACE_A, "8", "99", SpanKind.CONSUMER, "billing", 80, 81)
INTERNAL = mk(TRACE_A, "9", "4", SpanKind.INTERNAL, "billing", 21, 29)

SPANS = [ROOT, SEND_1, SEND_2, RECEIVE_1, BATCH, BY_OFFSET, LONELY_SEND, ORPHAN_RECEIVE,
         INTERNAL]
EVENTS = [event("e1", TRACE_A, "2", 1.5), event("e2", TRACE_A, "3", 3.5),
          event("e3", None, None, 65, offset=7)]


def test_an_event_is_joined_to_the_span_its_traceparent_names() -> None:
    join = join_spans(EVENTS, SPANS)
    assert join.producers == {EVENTS[0].identity: SEND_1, EVENTS[1].identity: SEND_2}


def test_consumers_of_each_event_by_parent_link_and_location() -> None:
    join = join_spans(EVENTS, SPANS)
    found = {(c.event.id, c.service, c.via) for c in join.consumptions}
    assert found == {
        ("e1", "billing", Via.PARENT),
        ("e1", "shipping", Via.LINK),
        ("e2", "shipping", Via.LINK),
        ("e3", "audit", Via.LOCATION),
    }


def test_producer_and_consumer_spans_pair_by_parent_and_by_link() -> None:
    join = join_spans([], SPANS)
    pairs = {(key_of(h.producer)[1], key_of(h.consumer)[1], h.via) for h in join.handoffs}
    assert pairs == {
        (SEND_1.span_id, RECEIVE_1.span_id, Via.PARENT),
        (SEND_1.span_id, BATCH.span_id, Via.LINK),
        (SEND_2.span_id, BATCH.span_id, Via.LINK),
    }
    handoff = next(h for h in join.handoffs if h.via is Via.PARENT)
    assert handoff.latency == timedelta(milliseconds=18)


def test_unpaired_messaging_spans_are_kept() -> None:
    join = join_spans(EVENTS, SPANS)
    assert set(join.unpaired) == {LONELY_SEND, ORPHAN_RECEIVE}
    without_events = join_spans([], SPANS)
    assert set(without_events.unpaired) == {LONELY_SEND, ORPHAN_RECEIVE, BY_OFFSET}


def test_a_span_received_twice_counts_once() -> None:
    join = join_spans(EVENTS, [*SPANS, SEND_1, BATCH])
    assert len(join.handoffs) == 3
    assert len(join.consumers_of(EVENTS[0].identity)) == 2


@settings(deadline=None)  # a shared machine: time is not what this property is about
@given(st.permutations(SPANS), st.permutations(EVENTS))
def test_any_input_order_gives_the_same_join(spans: list[Span], events: list[Event]) -> None:
    assert join_spans(events, spans) == join_spans(EVENTS, SPANS)
