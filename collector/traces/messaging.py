"""Messaging spans: which spans produced or consumed a message, and what they say about it.

Recognised by span kind and by the OpenTelemetry messaging semantic conventions, in the current
attribute names and in the older ones that instrumentations still emit (kafka-python's
instrumentation sets ``messaging.destination`` and ``messaging.kafka.partition``). Each field
is read from the first name of its row in `ATTRIBUTE_NAMES` that the span carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from collector.model import Span, SpanKind

__all__ = ["ATTRIBUTE_NAMES", "Messaging", "Role", "messaging_of"]


class Role(StrEnum):
    PRODUCER = "producer"
    CONSUMER = "consumer"


ATTRIBUTE_NAMES: Mapping[str, tuple[str, ...]] = {
    # field: (current name, then older names, newest first)
    "system": ("messaging.system",),
    "destination": ("messaging.destination.name", "messaging.destination"),
    "partition": ("messaging.destination.partition.id", "messaging.kafka.destination.partition",
                  "messaging.kafka.partition"),
    "offset": ("messaging.kafka.offset", "messaging.kafka.message.offset"),
    "consumer_group": ("messaging.consumer.group.name", "messaging.kafka.consumer.group",
                       "messaging.kafka.consumer_group"),
    "message_key": ("messaging.kafka.message.key", "messaging.kafka.message_key"),
    "message_id": ("messaging.message.id", "messaging.message_id"),
    "conversation_id": ("messaging.message.conversation_id", "messaging.conversation_id"),
    "operation": ("messaging.operation.type", "messaging.operation"),
    "batch_size": ("messaging.batch.message_count",),
}

_OPERATION_ALIASES = {"publish": "send", "deliver": "process"}
"""Operation values renamed by the conventions (old -> current)."""
_PRODUCING = frozenset({"create", "send"})
_CONSUMING = frozenset({"receive", "process", "settle"})


@dataclass(frozen=True, slots=True)
class Messaging:
    """What a producer or consumer span says about the message(s) it handled."""

    role: Role
    system: str | None = None
    destination: str | None = None
    partition: int | None = None
    offset: int | None = None
    consumer_group: str | None = None
    message_key: str | None = None
    message_id: str | None = None
    conversation_id: str | None = None
    operation: str | None = None
    """Normalised to the current values: create, send, receive, process, settle."""
    batch_size: int | None = None


def messaging_of(span: Span) -> Messaging | None:
    """The span's messaging role and attributes, or None if it neither produces nor consumes."""
    attrs = span.attributes
    operation = _text(_first(attrs, "operation"))
    if operation is not None:
        operation = _OPERATION_ALIASES.get(operation.lower(), operation.lower())
    role = _role(span.kind, operation, "messaging.system" in attrs)
    if role is None:
        return None
    return Messaging(
        role=role,
        system=_text(_first(attrs, "system")),
        destination=_text(_first(attrs, "destination")),
        partition=_int(_first(attrs, "partition")),
        offset=_int(_first(attrs, "offset")),
        consumer_group=_text(_first(attrs, "consumer_group")),
        message_key=_text(_first(attrs, "message_key")),
        message_id=_text(_first(attrs, "message_id")),
        conversation_id=_text(_first(attrs, "conversation_id")),
        operation=operation,
        batch_size=_int(_first(attrs, "batch_size")),
    )


def _role(kind: SpanKind, operation: str | None, has_system: bool) -> Role | None:
    if kind is SpanKind.PRODUCER:
        return Role.PRODUCER
    if kind is SpanKind.CONSUMER:
        return Role.CONSUMER
    if operation is None or not has_system:
        return None  # a plain client or internal span
    if operation in _PRODUCING:
        return Role.PRODUCER
    if operation in _CONSUMING:
        return Role.CONSUMER
    return None


def _first(attrs: Mapping[str, Any], field: str) -> Any:
    for name in ATTRIBUTE_NAMES[field]:
        value = attrs.get(name)
        if value is not None:
            return value
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None
