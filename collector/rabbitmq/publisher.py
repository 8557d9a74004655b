"""Publish Kafka-shaped records (the simulator's) to RabbitMQ: each topic is a durable topic
exchange of that name, the routing key is the event's type (the topic's name when the record
has none, e.g. an undecodable one); headers follow CloudEvents' AMQP binding
(``ce_X`` -> ``cloudEvents:X``). Publisher confirms: a record the broker did not take raises."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson
import pika
import pika.exceptions

from collector.rabbitmq._connect import parameters, where
from collector.rabbitmq._message import to_amqp_headers
from collector.rabbitmq.exceptions import RabbitEdgeError, RabbitUnusable
from collector.settings import RabbitMQSettings

__all__ = ["publish", "routing_key"]

logger = logging.getLogger(__name__)


class RecordLike(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def value(self) -> bytes: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...
    @property
    def timestamp(self) -> datetime | None: ...


def routing_key(record: RecordLike) -> str:
    """The event type of a record (binary ``ce_type`` header or structured ``type``)."""
    for name, value in record.headers:
        if name == "ce_type":
            return value.decode("utf-8", "replace")
    try:
        doc = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        return record.topic
    kind = doc.get("type") if isinstance(doc, dict) else None
    return kind if isinstance(kind, str) and kind else record.topic


def publish(records: Iterable[RecordLike], settings: RabbitMQSettings) -> int:
    """Publish every record (confirmed by the broker); the number published."""
    assert settings.url is not None
    try:
        conn = pika.BlockingConnection(parameters(settings))
    except pika.exceptions.AMQPConnectionError as exc:
        raise RabbitUnusable(f"cannot publish to RabbitMQ at {where(settings.url)}: "
                              f"{exc or 'connection refused or timed out'}") from exc
    sent = 0
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        declared: set[str] = set()
        for r in records:
            if r.topic not in declared:
                ch.exchange_declare(r.topic, "topic", durable=True)
                declared.add(r.topic)
            ch.basic_publish(r.topic, routing_key(r), r.value, _properties(r))
            sent += 1
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise RabbitEdgeError(f"publishing to RabbitMQ at {where(settings.url)} failed after "
                              f"{sent} records: {exc!r}") from exc
    finally:
        if conn.is_open:
            conn.close()
    return sent


def _properties(r: RecordLike) -> Any:
    headers, content_type = to_amqp_headers(tuple(r.headers))
    ts = r.timestamp
    return pika.BasicProperties(
        content_type=content_type, headers=headers or None, delivery_mode=2,
        timestamp=int(ts.timestamp()) if ts is not None else None)
