"""Messaging spans recognised by kind and by the semantic conventions, current and older names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.model import Span, SpanKind
from collector.traces.messaging import Messaging, Role, messaging_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def span(kind: SpanKind = SpanKind.INTERNAL, **attributes: Any) -> Span:
    return Span("a" * 32, "b" * 16, None, "s", kind, "svc", T0, T0 + timedelta(milliseconds=1),
                attributes={k.replace("__", "."): v for k, v in attributes.items()})


CURRENT = {
    "messaging.system": "kafka",
    "messaging.destination.name": "orders",
    "messaging.destination.partition.id": "3",
    "messaging.consumer.group.name": "billing",
    "messaging.kafka.offset": 42,
    "messaging.kafka.message.key": "o-1",
    "messaging.message.id": "m-1",
    "messaging.message.conversation_id": "c-1",
    "messaging.operation.type": "process",
    "messaging.batch.message_count": 10,
}
OLDER = {  # opentelemetry-instrumentation-kafka-python and earlier conventions
    "messaging.system": "kafka",
    "messaging.destination": "orders",
    "messaging.kafka.partition": 3,
    "messaging.kafka.consumer_group": "billing",
    "messaging.kafka.message.offset": 42,
    "messaging.kafka.message_key": "o-1",
    "messaging.message_id": "m-1",
    "messaging.conversation_id": "c-1",
    "messaging.operation": "process",
    "messaging.url": '["localhost:9092"]',
}
EXPECTED = Messaging(Role.CONSUMER, "kafka", "orders", 3, 42, "billing", "o-1", "m-1", "c-1",
                     "process")


@pytest.mark.parametrize("attributes", [CURRENT, OLDER], ids=["current", "older"])
def test_both_generations_of_names_read_the_same(attributes: dict[str, Any]) -> None:
    found = messaging_of(Span("a" * 32, "b" * 16, None, "orders process", SpanKind.CONSUMER,
                              "billing", T0, T0, attributes=attributes))
    expected = EXPECTED if attributes is OLDER else Messaging(
        **{**_fields(EXPECTED), "batch_size": 10})
    assert found == expected


def _fields(m: Messaging) -> dict[str, Any]:
    return {name: getattr(m, name) for name in Messaging.__slots__}


def test_kafka_python_instrumentation_producer_span() -> None:
    """What opentelemetry-instrumentation-kafka-python sets on ``send``: kind PRODUCER,
    messaging.system, messaging.destination, messaging.kafka.partition, messaging.url."""
    found = messaging_of(span(SpanKind.PRODUCER, **{
        "messaging.system": "kafka", "messaging.destination": "orders",
        "messaging.kafka.partition": 0, "messaging.url": '["127.0.0.1:9092"]'}))
    assert found == Messaging(Role.PRODUCER, "kafka", "orders", 0)


@pytest.mark.parametrize(("kind", "attributes", "role"), [
    (SpanKind.PRODUCER, {}, Role.PRODUCER),
    (SpanKind.CONSUMER, {}, Role.CONSUMER),
    (SpanKind.CLIENT, {"messaging.system": "kafka", "messaging.operation.type": "send"},
     Role.PRODUCER),
    (SpanKind.CLIENT, {"messaging.system": "kafka", "messaging.operation.type": "create"},
     Role.PRODUCER),
    (SpanKind.CLIENT, {"messaging.system": "kafka", "messaging.operation": "publish"},
     Role.PRODUCER),
    (SpanKind.CLIENT, {"messaging.system": "kafka", "messaging.operation.type": "receive"},
     Role.CONSUMER),
    (SpanKind.CLIENT, {"messaging.system": "kafka", "messaging.operation": "deliver"},
     Role.CONSUMER),
    (SpanKind.CLIENT, {"messaging.system": "kafka", "messaging.operation.type": "settle"},
     Role.CONSUMER),
    (SpanKind.CLIENT, {"messaging.system": "kafka"}, None),
    (SpanKind.INTERNAL, {"messaging.operation.type": "send"}, None),
    (SpanKind.SERVER, {"http.request.method": "POST"}, None),
], ids=lambda v: str(v))
def test_role_by_kind_then_operation(kind: SpanKind, attributes: dict[str, Any],
                                     role: Role | None) -> None:
    found = messaging_of(Span("a" * 32, "b" * 16, None, "s", kind, "svc", T0, T0,
                              attributes=attributes))
    assert (found.role if found is not None else None) is role


def test_old_operation_values_are_normalised() -> None:
    found = messaging_of(span(SpanKind.PRODUCER, **{"messaging.operation": "publish"}))
    assert found is not None
    assert found.operation == "send"


def test_unparseable_numbers_are_left_out() -> None:
    found = messaging_of(span(SpanKind.CONSUMER, **{
        "messaging.destination.partition.id": "p-7", "messaging.kafka.offset": True}))
    assert found == Messaging(Role.CONSUMER)
