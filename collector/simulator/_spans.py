"""The spans the simulated services would export: one PRODUCER span per published event, one
CONSUMER span per subscribed service that receives it.

Trace context as an OpenTelemetry-instrumented Kafka client sets it: the producer span is the
one the record's ``traceparent`` names; each consumer span is its child; an event published in
reaction has the consumer span that handled its cause as parent. Consumer span ids are derived
from (producer span, service) rather than drawn, so turning spans on changes no other id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from collector.model import Span, SpanKind, SpanStatus

__all__ = ["SCOPE", "consumer_span_id", "delivery_spans"]

SCOPE = "choreoscope.simulator"
_SEND = timedelta(milliseconds=2)
_QUEUED = timedelta(milliseconds=3)
_PROCESS = timedelta(milliseconds=15)


def consumer_span_id(producer_span: str, service: str) -> str:
    return hashlib.blake2b(f"{producer_span}/{service}".encode(), digest_size=8).hexdigest()


def delivery_spans(*, trace: str, span: str, cause_span: str | None, source: str,
                   event_id: str, topic: str, consumers: tuple[str, ...],
                   when: datetime) -> list[Span]:
    """The producer span of one event and the consumer spans of its subscribers."""
    parent = None if cause_span is None else consumer_span_id(cause_span, source)
    spans = [Span(
        trace_id=trace, span_id=span, parent_id=parent, name=f"{topic} publish",
        kind=SpanKind.PRODUCER, service=source, start=when, end=when + _SEND,
        status=SpanStatus.OK, scope=SCOPE,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                    "messaging.operation": "publish", "messaging.message.id": event_id})]
    start = when + _SEND + _QUEUED
    for service in consumers:
        spans.append(Span(
            trace_id=trace, span_id=consumer_span_id(span, service), parent_id=span,
            name=f"{topic} process", kind=SpanKind.CONSUMER, service=service, start=start,
            end=start + _PROCESS, status=SpanStatus.OK, scope=SCOPE,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                        "messaging.operation": "process", "messaging.message.id": event_id,
                        "messaging.kafka.consumer.group": service}))
    return spans
