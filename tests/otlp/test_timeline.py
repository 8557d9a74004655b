"""The flow timeline, pure: one time-ordered list of events and spans with durations and gaps."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.model import Event, Span
from collector.traces.timeline import EntryKind, build_timeline
from tests.otlp.test_join import (
    BATCH,
    EVENTS,
    INTERNAL,
    LONELY_SEND,
    RECEIVE_1,
    ROOT,
    SEND_1,
    SEND_2,
    T0,
)

SPANS = [ROOT, SEND_1, SEND_2, LONELY_SEND, RECEIVE_1, INTERNAL, BATCH]


def test_entries_are_in_time_order_with_durations_and_gaps() -> None:
    timeline = build_timeline("order-1", EVENTS[:2], SPANS)
    rows = [(e.kind.value, e.label, e.service, e.depth,
             (e.start - T0) / timedelta(milliseconds=1), e.duration / timedelta(milliseconds=1),
             e.gap / timedelta(milliseconds=1)) for e in timeline.entries]
    assert rows == [
        ("span", "orders server", "orders", 0, 0, 10, 0),
        ("span", "orders producer", "orders", 1, 1, 1, 0),
        ("event", "Typee1", "orders-svc", 2, 1.5, 0, 0),
        ("span", "orders producer", "orders", 1, 3, 1, 0),
        ("event", "Typee2", "orders-svc", 2, 3.5, 0, 0),
        ("span", "orders producer", "orders", 1, 5, 1, 0),
        # 10 ms in the broker and the consumer's queue before billing starts
        ("span", "billing consumer", "billing", 2, 20, 10, 10),
        ("span", "billing internal", "billing", 3, 21, 8, 0),
        ("span", "shipping consumer", "shipping", 0, 40, 20, 10),
    ]
    assert timeline.duration == timedelta(milliseconds=60)
    assert timeline.idle == timedelta(milliseconds=20)
    assert timeline.trace_ids == ("a" * 32, "b" * 32)


def test_entries_say_who_produced_and_consumed_what() -> None:
    timeline = build_timeline("order-1", EVENTS[:2], SPANS)
    by_label = {(e.kind, e.start): e for e in timeline.entries}
    e1 = next(e for e in timeline.entries if e.kind is EntryKind.EVENT and e.label == "Typee1")
    assert e1.produced_by == (SEND_1.trace_id, SEND_1.span_id)
    billing = by_label[(EntryKind.SPAN, RECEIVE_1.start)]
    shipping = by_label[(EntryKind.SPAN, BATCH.start)]
    assert billing.consumes == (EVENTS[0].identity,)
    assert set(shipping.consumes) == {EVENTS[0].identity, EVENTS[1].identity}
    lonely = by_label[(EntryKind.SPAN, LONELY_SEND.start)]
    assert lonely.unpaired
    assert not billing.unpaired


def test_an_empty_flow_has_an_empty_timeline() -> None:
    timeline = build_timeline("nothing", [], [])
    assert (timeline.entries, timeline.duration, timeline.start) == ((), timedelta(0), None)


@settings(deadline=None)  # a shared machine: time is not what this property is about
@given(st.permutations(SPANS), st.permutations(EVENTS[:2]))
def test_any_input_order_gives_the_same_timeline(spans: list[Span], events: list[Event]) -> None:
    assert (build_timeline("order-1", events, spans).entries
            == build_timeline("order-1", EVENTS[:2], SPANS).entries)


def test_spans_that_sent_other_flows_events_are_marked_not_unpaired() -> None:
    elsewhere = {(LONELY_SEND.trace_id, LONELY_SEND.span_id): "order-2"}
    timeline = build_timeline("order-1", EVENTS[:2], SPANS, elsewhere)
    lonely = next(e for e in timeline.entries if e.span == LONELY_SEND)
    assert (lonely.unpaired, lonely.other_flow) == (False, "order-2")
    assert not any(e.unpaired for e in timeline.entries)
