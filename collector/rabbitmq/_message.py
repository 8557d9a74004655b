"""A RabbitMQ delivery as an `Observation` (pure: plain values in, plain values out).

AMQP properties and application headers become the headers the envelope rules read, as Kafka
headers do: ``content_type`` is ``content-type``; CloudEvents' AMQP binding (``cloudEvents:X``
or ``cloudEvents_X`` application properties) is ``ce_X``, so binary-mode CloudEvents decode as
on Kafka; ``message_id``, ``correlation_id``, ``type``, ``app_id`` and ``timestamp`` are
``amqp-message-id`` and so on, and a ``correlation_id`` is also ``x-correlation-id`` (the
default correlation rule) unless a header of that name is there.

The stored name of a delivery is ``rabbitmq:EXCHANGE/ROUTING_KEY``; its position is a stable
identity (`identity`), so a redelivered message (a poison one too) is stored once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from collector.model import Location, Observation

__all__ = ["AmqpProperties", "identity", "observation_of", "stored_name", "to_amqp_headers"]

_PROPERTY_HEADERS = (("message_id", "amqp-message-id"), ("correlation_id", "amqp-correlation-id"),
                     ("type", "amqp-type"), ("app_id", "amqp-app-id"))
_CE_PREFIXES = ("cloudevents:", "cloudevents_")


@dataclass(frozen=True, slots=True)
class AmqpProperties:
    """The AMQP basic properties the tap keeps (pika's are converted at the edge)."""

    message_id: str | None = None
    correlation_id: str | None = None
    type: str | None = None
    app_id: str | None = None
    timestamp: int | None = None
    """Seconds since the epoch, as AMQP carries it."""
    content_type: str | None = None
    headers: Mapping[str, Any] | None = None


def stored_name(exchange: str, routing_key: str) -> str:
    """How a RabbitMQ source is named wherever a topic is shown."""
    return f"rabbitmq:{exchange or '(default)'}/{routing_key}"


def identity(exchange: str, routing_key: str, props: AmqpProperties, body: bytes) -> int:
    """A stable 63-bit identity: of ``message_id`` when set, else of the exchange, routing key,
    properties and body, so every delivery of one message has the same."""
    h = hashlib.blake2b(digest_size=8)
    if props.message_id:
        h.update(b"id\0" + props.message_id.encode())
    else:
        h.update(f"{exchange}\0{routing_key}\0".encode())
        h.update(orjson.dumps(_plain(props), option=orjson.OPT_SORT_KEYS))
        h.update(body)
    return int.from_bytes(h.digest(), "big") >> 1


def _plain(props: AmqpProperties) -> dict[str, Any]:
    return {"message_id": props.message_id, "correlation_id": props.correlation_id,
            "type": props.type, "app_id": props.app_id, "timestamp": props.timestamp,
            "content_type": props.content_type,
            "headers": {k: _text(v) for k, v in (props.headers or {}).items()}}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else _text(value).encode()


def headers_of(props: AmqpProperties) -> tuple[tuple[str, bytes], ...]:
    """The properties and application headers as the envelope rules read them."""
    out: list[tuple[str, bytes]] = []
    names: set[str] = set()
    for name, value in (props.headers or {}).items():
        if value is None:
            continue
        low = name.lower()
        if low.startswith(_CE_PREFIXES):
            name = "ce_" + name[len("cloudEvents:"):]
        out.append((name, _bytes(value)))
        names.add(name.lower())
    if props.content_type and "content-type" not in names:
        out.append(("content-type", props.content_type.encode()))
    for attribute, header in _PROPERTY_HEADERS:
        value = getattr(props, attribute)
        if value is not None:
            out.append((header, value.encode()))
    if props.correlation_id and "x-correlation-id" not in names:
        out.append(("x-correlation-id", props.correlation_id.encode()))
    if props.timestamp is not None:
        out.append(("amqp-timestamp", str(props.timestamp).encode()))
    return tuple(out)


def observation_of(exchange: str, routing_key: str, props: AmqpProperties, body: bytes,
                   received: datetime) -> Observation:
    """One delivery as the pipeline sees it."""
    ts = props.timestamp
    return Observation(
        Location("rabbitmq", stored_name(exchange, routing_key), 0,
                 identity(exchange, routing_key, props, body)),
        received, body, None, headers_of(props),
        datetime.fromtimestamp(ts, UTC) if ts is not None and ts >= 0 else None)


def to_amqp_headers(headers: tuple[tuple[str, bytes], ...]) -> tuple[dict[str, str], str | None]:
    """Kafka-style headers as AMQP application headers (``ce_X`` as ``cloudEvents:X``, the AMQP
    binding's names) and the content type, for the simulator's publisher."""
    out: dict[str, str] = {}
    content_type = None
    for name, value in headers:
        text = value.decode("utf-8", "replace")
        if name.lower() == "content-type":
            content_type = text
        elif name.startswith("ce_"):
            out["cloudEvents:" + name[3:]] = text
        else:
            out[name] = text
    return out, content_type
