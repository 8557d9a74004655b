"""Consumers discovered from real spans: the OpenTelemetry SDK exports producer and consumer
spans over OTLP/HTTP to the collector's receiver; events carry the producer's traceparent.

A per-message consumer is a child of the producer span; a batch consumer links to each
message's producer span. Both make consume edges, with the consumer's errors and the
producer-to-consumer latency.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from catalog.traffic import LATENCY_BUCKETS_MS
from collector.catalog_source import load_event_map, refresh_rollups, rollup_store
from collector.envelope import parse_traceparent
from collector.model import Event, Location
from collector.otlp.receiver import OtlpService
from collector.settings import OtlpSettings
from collector.store import Batch, Store, open_store
from tests.catalog_map.conftest import ROOT


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def provider(name: str, endpoint: str) -> TracerProvider:
    p = TracerProvider(resource=Resource.create({"service.name": name}))
    p.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return p


def send(tracer: trace.Tracer, topic: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    with tracer.start_as_current_span(f"{topic} send", kind=trace.SpanKind.PRODUCER,
                                      attributes={"messaging.system": "kafka",
                                                  "messaging.destination.name": topic}):
        propagate.inject(headers)
    return headers


def stored_event(i: int, event_type: str, headers: dict[str, str], topic: str) -> Event:
    parsed = parse_traceparent(headers["traceparent"])
    assert parsed is not None
    now = datetime.now(UTC)
    return Event(id=f"e{i}", type=event_type, source="order-service", occurred_at=now,
                 correlation_id=f"c{i}", data={}, location=Location("kafka", topic, 0, i),
                 received_at=now, trace_id=parsed[0], span_id=parsed[1])


def test_consumers_and_their_metrics_from_sdk_spans(store: Store) -> None:
    with OtlpService(OtlpSettings(port=0, grpc=False), store) as receiver:
        play(receiver.http.endpoint, store)
    # closing the receiver wrote every span it accepted
    refresh_rollups(rollup_store(store))
    event_map = load_event_map(store, ROOT / "schemas").event_map
    assert event_map.consumers("OrderPlaced", observed=True) == ["billing-service",
                                                                 "shipping-service"]
    billed = event_map.graph.edges["event:OrderPlaced", "service:billing-service"]
    assert billed["count"] == 4
    assert billed["error_rate"] == pytest.approx(1 / 4)
    assert billed["topics"] == ["orders"]
    assert 0 < billed["p95_ms"] <= LATENCY_BUCKETS_MS[-2]
    shipped = event_map.graph.edges["event:OrderPlaced", "service:shipping-service"]
    assert shipped["count"] == 3
    assert shipped["error_rate"] == 0


def play(endpoint: str, store: Store) -> None:
    """order-service sends four messages; billing consumes each, shipping polls three."""
    orders, billing, shipping = (provider(n, endpoint) for n in
                                 ("order-service", "billing-service", "shipping-service"))
    try:
        o, b, s = (p.get_tracer("catalog-test") for p in (orders, billing, shipping))
        headers = [send(o, "orders") for _ in range(4)]
        store.write(Batch(events=[stored_event(i, "OrderPlaced", h, "orders")
                                  for i, h in enumerate(headers)]))
        for i, h in enumerate(headers):  # billing: one consumer span per message, one fails
            token = context.attach(propagate.extract(h))
            try:
                with b.start_as_current_span("orders process", kind=trace.SpanKind.CONSUMER,
                                             attributes={"messaging.system": "kafka"}) as span:
                    if i == 0:
                        span.set_status(trace.Status(trace.StatusCode.ERROR, "declined"))
            finally:
                context.detach(token)
        links = [trace.Link(trace.get_current_span(propagate.extract(h)).get_span_context())
                 for h in headers[:3]]
        with s.start_as_current_span("orders process", kind=trace.SpanKind.CONSUMER,
                                     links=links):
            pass
        for p in (orders, billing, shipping):
            p.force_flush()
    finally:
        for p in (orders, billing, shipping):
            p.shutdown()
