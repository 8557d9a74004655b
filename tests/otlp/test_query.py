"""Reading a flow's timeline back from a real store: which traces are loaded, and by index."""

from __future__ import annotations

from dataclasses import replace

from collector.model import Location, SpanKind
from collector.store.base import Batch, Store
from collector.traces.join import Via
from collector.traces.query import _OFFSET, span_from_row, timeline_for
from tests.otlp.conftest import stored_spans
from tests.otlp.test_join import (
    BATCH,
    BY_OFFSET,
    EVENTS,
    ROOT,
    SPANS,
    TRACE_A,
    event,
    mk,
)


def test_timeline_loads_every_trace_touching_the_flow_and_no_other(store: Store) -> None:
    unrelated = mk("d" * 32, "a1", None, SpanKind.SERVER, "elsewhere", 0, 5)
    other_flow = replace(event("x1", "d" * 32, "a1", 1), correlation_id="order-2")
    store.write(Batch(events=[*EVENTS, other_flow], spans=[*SPANS, unrelated]))
    timeline = timeline_for(store, "order-1")
    assert timeline.trace_ids == (TRACE_A, BATCH.trace_id, BY_OFFSET.trace_id)
    assert unrelated not in [e.span for e in timeline.entries]
    consumed = {(c.event.id, c.service, c.via) for c in timeline.join.consumptions}
    assert ("e3", "audit", Via.LOCATION) in consumed  # no trace context: found by offset
    assert len([e for e in timeline.entries if e.event is not None]) == 3


def test_stored_spans_read_back_equal(store: Store) -> None:
    store.write(Batch(spans=SPANS))
    assert sorted(map(span_from_row, stored_spans(store)), key=lambda s: s.span_id) == sorted(
        SPANS, key=lambda s: s.span_id)


def test_consumers_by_offset_are_found_by_index(store: Store) -> None:
    plan = store.query("EXPLAIN QUERY PLAN SELECT * FROM spans WHERE kind = 'consumer' AND "
                       f"{_OFFSET} IN (7)")
    assert "spans_consumer_offset" in " ".join(str(r["detail"]) for r in plan)


def test_a_flow_with_no_stored_traces_is_its_events_alone(store: Store) -> None:
    lone = replace(event("z1", None, None, 3), correlation_id="order-3",
                   location=Location("kafka", "orders", 1, None))
    store.write(Batch(events=[lone], spans=[ROOT]))
    timeline = timeline_for(store, "order-3")
    assert [(e.kind.value, e.label) for e in timeline.entries] == [("event", "Typez1")]
    assert timeline.trace_ids == ()
