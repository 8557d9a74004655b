"""Three of the simulator's services as real Kafka processes, traced with OpenTelemetry.

Run as ``python -m tests.otlp._instrumented ROLE --bootstrap B --endpoint URL --prefix P``.
Each process is one service with its own tracer provider (``service.name``) exporting over
OTLP/HTTP; kafka-python is instrumented by opentelemetry-instrumentation-kafka-python, which
traces ``send`` (a PRODUCER span whose context goes into the record's ``traceparent``) and
iteration over a consumer (a CONSUMER span, child of the producer's), not ``poll()``.

- ``order``: the order service places orders (OrderPlaced) with an instrumented producer.
- ``payment``: the payment service iterates over the orders topic (instrumented); it handles
  each record in a span whose parent is the producer's context, and its reactions are sent from
  inside that span, so they stay in the order's trace.
- ``notification``: the notification service polls the orders topic in batches with ``poll()``,
  which the instrumentation does not cover: one CONSUMER span per batch by hand, in a trace of
  its own, linked to each message's producer span (the messaging conventions' batch process),
  its reactions sent inside it.

Business logic is the simulator's own (`collector.simulator.services`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from random import Random
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.kafka import KafkaInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from collector.simulator._envelope import encode_event, new_id
from collector.simulator.domain import EVENT_TYPES
from collector.simulator.services import (
    Emission,
    NotificationService,
    OrderService,
    PaymentService,
)

CONTENT_TYPE = b"application/cloudevents+json"


class _Getter:
    """Reads W3C trace context from kafka-python's header list."""

    def get(self, carrier: list[tuple[str, bytes]], key: str) -> list[str] | None:
        values = [v.decode() for k, v in carrier if k == key and v is not None]
        return values or None

    def keys(self, carrier: list[tuple[str, bytes]]) -> list[str]:
        return [k for k, _ in carrier]


GETTER = _Getter()


def _provider(service: str, endpoint: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    KafkaInstrumentor().instrument(tracer_provider=provider)
    return provider


def _send(producer: KafkaProducer, prefix: str, service: str, emission: Emission,
          correlation: str, causation: str | None, rng: Random) -> None:
    info = EVENT_TYPES[emission.type]
    value = encode_event(
        event_id=new_id(rng), event_type=emission.type, source=service,
        time=datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z",
        subject=str(emission.data[info.subject_key]), version=emission.version,
        correlation=correlation, causation=causation, data=emission.data)
    producer.send(f"{prefix}{info.topic}", value=value, key=correlation.encode(),
                  headers=[("content-type", CONTENT_TYPE)])


def _order(args: argparse.Namespace, producer: KafkaProducer, tracer: trace.Tracer) -> None:
    service, rng = OrderService(), Random(args.seed)
    placed = []
    for _ in range(args.count):
        emission = service.place(rng)
        order_id = str(emission.data["order_id"])
        with tracer.start_as_current_span("POST /orders", kind=trace.SpanKind.SERVER):
            _send(producer, args.prefix, service.name, emission, order_id, None, rng)
        placed.append(order_id)
    producer.flush()
    print(json.dumps(placed))


def _payment(args: argparse.Namespace, producer: KafkaProducer, tracer: trace.Tracer) -> None:
    service, rng = PaymentService(), Random(args.seed)
    consumer = KafkaConsumer(f"{args.prefix}orders", bootstrap_servers=args.bootstrap,
                             group_id="payment-service", auto_offset_reset="earliest",
                             consumer_timeout_ms=30_000)
    for handled, record in enumerate(consumer, start=1):  # iteration: traced by the instrumentation
        event = json.loads(record.value)
        parent = propagate.extract(record.headers, getter=GETTER)
        with tracer.start_as_current_span(f"handle {event['type']}", context=parent):
            for emission in service.react(event["type"], event["data"], rng):
                _send(producer, args.prefix, service.name, emission, event["correlationid"],
                      event["id"], rng)
        if handled == args.count:
            break
    producer.flush()
    consumer.close()


def _notification(args: argparse.Namespace, producer: KafkaProducer,
                  tracer: trace.Tracer) -> None:
    service, rng = NotificationService(), Random(args.seed)
    consumer = KafkaConsumer(f"{args.prefix}orders", bootstrap_servers=args.bootstrap,
                             group_id="notification-service", auto_offset_reset="earliest")
    seen = 0
    deadline = time.monotonic() + 30
    while seen < args.count and time.monotonic() < deadline:
        batch = [r for rs in consumer.poll(timeout_ms=500).values() for r in rs]
        if batch:
            seen += len(batch)
            _handle_batch(batch, service, producer, tracer, args.prefix, rng)
    producer.flush()
    consumer.close()


def _handle_batch(batch: list[Any], service: NotificationService, producer: KafkaProducer,
                  tracer: trace.Tracer, prefix: str, rng: Random) -> None:
    """One span for the polled batch, linked to every message's producer span."""
    links = [trace.Link(trace.get_current_span(
        propagate.extract(r.headers, getter=GETTER)).get_span_context()) for r in batch]
    attributes = {"messaging.system": "kafka", "messaging.operation.type": "process",
                  "messaging.batch.message_count": len(batch),
                  "messaging.consumer.group.name": "notification-service"}
    token = context.attach(context.Context())  # a batch starts its own trace
    try:
        with tracer.start_as_current_span("orders process", kind=trace.SpanKind.CONSUMER,
                                          links=links, attributes=attributes):
            for record in batch:
                event = json.loads(record.value)
                if event["type"] not in service.consumes:
                    continue
                for emission in service.react(event["type"], event["data"], rng):
                    _send(producer, prefix, service.name, emission, event["correlationid"],
                          event["id"], rng)
    finally:
        context.detach(token)


ROLES = {"order": ("order-service", _order), "payment": ("payment-service", _payment),
         "notification": ("notification-service", _notification)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    name, run = ROLES[args.role]
    provider = _provider(name, args.endpoint)
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all")
    try:
        run(args, producer, provider.get_tracer(name))
    finally:
        producer.close()
        provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
