"""Publish Kafka-shaped records (the simulator's) to RabbitMQ: each topic is a durable topic
exchange of that name, the routing key is the event's type (the topic's name when the record
has none, e.g. an undecodable one); headers follow CloudEvents' AMQP binding
(``ce_X`` -> ``cloudEvents:X``). Publisher confirms, pipelined (up to ``WINDOW`` awaiting
their confirm at once, on pika's asynchronous ``SelectConnection``): the count returned is
what the broker confirmed; a nack or a lost connection raises, never a silent loss."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson
import pika
import pika.exceptions
import pika.spec

from collector.rabbitmq._connect import parameters, where
from collector.rabbitmq._message import to_amqp_headers
from collector.rabbitmq.exceptions import RabbitEdgeError, RabbitUnusable
from collector.settings import RabbitMQSettings

__all__ = ["WINDOW", "publish", "routing_key"]

WINDOW = 1000
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


def publish(records: Iterable[RecordLike], settings: RabbitMQSettings,
            window: int = WINDOW) -> int:
    """Publish every record, each confirmed by the broker; the number published. Up to
    ``window`` publishes await their confirms at once (pipelined, not one round trip each)."""
    assert settings.url is not None
    run = _ConfirmedRun(iter(records), window)
    try:
        conn = pika.SelectConnection(parameters(settings), on_open_callback=run.opened,
                                     on_open_error_callback=run.open_failed,
                                     on_close_callback=run.closed)
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise RabbitUnusable(f"cannot publish to RabbitMQ at {where(settings.url)}: "
                             f"{exc or 'connection refused or timed out'}") from exc
    conn.ioloop.start()
    if run.unusable is not None:
        raise RabbitUnusable(f"cannot publish to RabbitMQ at {where(settings.url)}: "
                             f"{run.unusable or 'connection refused or timed out'}")
    if run.failure is not None:
        raise RabbitEdgeError(f"publishing to RabbitMQ at {where(settings.url)} failed after "
                              f"{run.confirmed} confirmed records: {run.failure}")
    return run.confirmed


class _ConfirmedRun:
    """The callbacks of one pipelined publish on pika's ``SelectConnection``: publish while
    fewer than ``window`` confirms are outstanding; declare each topic's exchange before its
    first record; close when every record is confirmed; any nack, channel or connection loss
    ends the run with ``failure`` set (what was published but unconfirmed is not counted)."""

    def __init__(self, records: Iterator[RecordLike], window: int) -> None:
        self.records = records
        self.window = window
        self.unconfirmed: set[int] = set()
        self.next_tag = 0
        self.confirmed = 0
        self.declared: set[str] = set()
        self.held: RecordLike | None = None
        self.exhausted = False
        self.failure: str | None = None
        self.unusable: str | None = None
        self.conn: Any = None
        self.channel: Any = None

    def opened(self, conn: Any) -> None:
        self.conn = conn
        conn.channel(on_open_callback=self.channel_opened)

    def open_failed(self, conn: Any, exc: BaseException) -> None:
        self.unusable = str(exc)
        conn.ioloop.stop()

    def closed(self, conn: Any, reason: BaseException) -> None:
        if self.failure is None and not self._finished():
            self.failure = repr(reason)
        conn.ioloop.stop()

    def channel_opened(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_close_callback(self.channel_closed)
        channel.confirm_delivery(self.confirm, callback=lambda _frame: self.pump())

    def channel_closed(self, channel: Any, reason: BaseException) -> None:
        if self.failure is None and not self._finished():
            self.failure = repr(reason)
        if self.conn.is_open:
            self.conn.close()

    def confirm(self, frame: Any) -> None:
        method = frame.method
        tag: int = method.delivery_tag
        done = ({t for t in self.unconfirmed if t <= tag} if method.multiple
                else {tag} & self.unconfirmed)
        if isinstance(method, pika.spec.Basic.Nack):
            self._fail(f"the broker refused (nack) {len(done)} records")
            return
        self.unconfirmed -= done
        self.confirmed += len(done)
        self.pump()

    def pump(self) -> None:
        """Publish until the window is full, an exchange must be declared first, or the records
        end (then close once every confirm is in)."""
        while self.failure is None and len(self.unconfirmed) < self.window:
            record = self.held if self.held is not None else next(self.records, None)
            self.held = None
            if record is None:
                self.exhausted = True
                break
            if record.topic not in self.declared:
                self.held = record
                self.channel.exchange_declare(
                    record.topic, "topic", durable=True,
                    callback=lambda _frame, topic=record.topic: self._declared(topic))
                return
            self.channel.basic_publish(record.topic, routing_key(record), record.value,
                                       _properties(record))
            self.next_tag += 1
            self.unconfirmed.add(self.next_tag)
        if self._finished() and self.conn.is_open:
            self.conn.close()

    def _declared(self, topic: str) -> None:
        self.declared.add(topic)
        self.pump()

    def _finished(self) -> bool:
        return self.exhausted and not self.unconfirmed and self.held is None

    def _fail(self, why: str) -> None:
        self.failure = why
        if self.conn.is_open:
            self.conn.close()


def _properties(r: RecordLike) -> Any:
    headers, content_type = to_amqp_headers(tuple(r.headers))
    ts = r.timestamp
    return pika.BasicProperties(
        content_type=content_type, headers=headers or None, delivery_mode=2,
        timestamp=int(ts.timestamp()) if ts is not None else None)
