"""End to end without a broker: real SDK spans with W3C trace context carried in message headers,
exported over OTLP/HTTP to the receiver, events stored with the traceparent they carried, and
the flow's timeline read back from the store.

The Kafka-instrumented version (the simulator's services under opentelemetry-instrumentation-
kafka-python) needs the broker fixture; here the headers are built by the same propagator the
instrumentation uses (``opentelemetry.propagate.inject``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from collector.envelope import parse_traceparent
from collector.model import Event, Location
from collector.otlp.receiver import OtlpService
from collector.store.base import Batch, Store
from collector.traces.join import Via
from collector.traces.query import timeline_for

MakeProvider = Callable[[str, SpanExporter], TracerProvider]


def _event(eid: str, etype: str, correlation: str, headers: dict[str, str], offset: int) -> Event:
    parsed = parse_traceparent(headers.get("traceparent"))
    assert parsed is not None
    now = datetime.now(UTC)
    return Event(id=eid, type=etype, source="orders", occurred_at=now, correlation_id=correlation,
                 data={"order": correlation}, location=Location("kafka", "orders", 0, offset),
                 received_at=now, trace_id=parsed[0], span_id=parsed[1])


def _send(tracer: trace.Tracer, topic: str) -> dict[str, str]:
    """A producer span as kafka-python's instrumentation makes it; returns the headers."""
    headers: dict[str, str] = {}
    with tracer.start_as_current_span(
        f"{topic} send", kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.destination": topic,
                    "messaging.kafka.partition": 0},
    ):
        propagate.inject(headers)
    return headers


def test_flow_timeline_from_spans_sent_over_otlp(
    service: OtlpService, store: Store, make_tracer_provider: MakeProvider,
) -> None:
    endpoint = service.http.endpoint
    orders = make_tracer_provider("orders", OTLPSpanExporter(endpoint=endpoint))
    billing = make_tracer_provider("billing", OTLPSpanExporter(endpoint=endpoint))
    shipping = make_tracer_provider("shipping", OTLPSpanExporter(endpoint=endpoint))
    o_tracer, b_tracer, s_tracer = (p.get_tracer("flow") for p in (orders, billing, shipping))

    # orders: one request, two messages of order-1, then one message of another flow
    with o_tracer.start_as_current_span("POST /orders", kind=trace.SpanKind.SERVER):
        placed = _send(o_tracer, "orders")
        confirmed = _send(o_tracer, "orders")
    other_flow = _send(o_tracer, "orders")
    events = [_event("e1", "OrderPlaced", "order-1", placed, 1),
              _event("e2", "OrderConfirmed", "order-1", confirmed, 2),
              _event("x1", "OrderPlaced", "order-2", other_flow, 3)]
    store.write(Batch(events=events))

    # billing: a per-message consumer span, child of the producer span (extracted context)
    token = context.attach(propagate.extract(placed))
    try:
        with b_tracer.start_as_current_span(
            "orders receive", kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.destination": "orders",
                        "messaging.kafka.partition": 0},
        ), b_tracer.start_as_current_span("charge card"):
            pass
    finally:
        context.detach(token)
    # shipping: one span per polled batch, linked to each message's producer span; the batch
    # also holds order-2's message
    links = [trace.Link(trace.get_current_span(propagate.extract(h)).get_span_context())
             for h in (placed, confirmed, other_flow)]
    with s_tracer.start_as_current_span(
        "orders process", kind=trace.SpanKind.CONSUMER, links=links,
        attributes={"messaging.system": "kafka", "messaging.operation.type": "process",
                    "messaging.batch.message_count": 3},
    ):
        pass
    for provider in (orders, billing, shipping):
        provider.force_flush()

    timeline = timeline_for(store, "order-1")

    kinds = [(e.kind.value, e.label, e.service) for e in timeline.entries]
    assert [k for k in kinds if k[0] == "event"] == [("event", "OrderPlaced", "orders"),
                                                     ("event", "OrderConfirmed", "orders")]
    spans = {(label, svc) for kind, label, svc in kinds if kind == "span"}
    assert spans == {("POST /orders", "orders"), ("orders send", "orders"),
                     ("orders receive", "billing"), ("charge card", "billing"),
                     ("orders process", "shipping")}
    starts = [e.start for e in timeline.entries]
    assert starts == sorted(starts)
    # both traces touching the flow, and not order-2's own trace
    assert len(timeline.trace_ids) == 2
    assert events[2].trace_id not in timeline.trace_ids
    consumers = {(c.event.id, c.service, c.via) for c in timeline.join.consumptions}
    assert consumers == {("e1", "billing", Via.PARENT), ("e1", "shipping", Via.LINK),
                         ("e2", "shipping", Via.LINK)}
    assert {e.event.id for e in timeline.entries if e.event is not None} == {"e1", "e2"}
    produced = {e.event.id: e.produced_by for e in timeline.entries if e.event is not None}
    assert produced["e1"] == (events[0].trace_id, events[0].span_id)
    assert all(e.duration.total_seconds() >= 0 for e in timeline.entries)
    assert timeline.duration >= max(e.duration for e in timeline.entries)
