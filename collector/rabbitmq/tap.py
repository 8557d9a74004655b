"""The RabbitMQ tap: what is published to the configured exchanges, through a queue of its own.

The tap never takes messages from the services' queues. It declares a durable queue named from
the collector's group (``choreoscope.tap.<group>``) and binds it to the configured exchanges, so
it receives a copy of what is published. The queue is bounded (``x-max-length-bytes``,
overflow ``drop-head``: the oldest messages go, the services' publishes never fail); what the
bound drops is dead-lettered to ``<queue>.dropped``, which the tap empties and counts
(`RabbitTap.figures`, a warning when it grows). That count is exact while the drops queue,
bounded in turn to a sixteenth of the tap's, does not overflow itself.

Effectively once: messages are acknowledged (manual acks, ``multiple``) only after the store
commit of their batch; a crash before that has the broker deliver them again, and a redelivered
message changes nothing (events by their identity, dead letters by `_message.identity`).
Positions stored with a batch are ``(queue, channel generation, last delivery tag + 1)``: what
to acknowledge, not where to resume (the broker keeps that).

With ``firehose = true`` a second queue, exclusive to the tap's connection and bounded
(``firehose_max_bytes``), is bound to ``amq.rabbitmq.trace`` (``publish.#``, ``deliver.#``) and
read without acknowledgements: its messages are counted (`collector.rabbitmq._firehose`), never
stored as events (those come through the bindings), so it is at most once and only feeds the
rates per exchange and the consumers (`RabbitTap.consumers`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions

from collector.model import Observation
from collector.rabbitmq._binding import parse_binding
from collector.rabbitmq._connect import parameters, where
from collector.rabbitmq._firehose import TRACE_EXCHANGE, Firehose
from collector.rabbitmq._message import AmqpProperties, observation_of
from collector.rabbitmq.exceptions import RabbitEdgeError, RabbitUnusable
from collector.settings import RabbitMQSettings
from collector.store.base import ConsumerSeen, Position
from collector.tap import Lag

__all__ = ["RabbitTap", "RabbitTapOptions", "firehose_queue", "parse_binding", "queue_arguments",
           "tap_queue"]

logger = logging.getLogger(__name__)

_LOST = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError,
         pika.exceptions.ConnectionWrongStateError, pika.exceptions.ChannelWrongStateError,
         OSError)
"""Errors after which the connection is given up and opened again."""


def tap_queue(group_id: str) -> str:
    """The tap's own queue for a collector group."""
    return f"choreoscope.tap.{group_id}"


def firehose_queue(group_id: str) -> str:
    """The tap's firehose queue (exclusive to its connection) for a collector group."""
    return f"choreoscope.firehose.{group_id}"


def queue_arguments(max_bytes: int, queue: str) -> dict[str, Any]:
    """The tap queue's arguments: bounded, oldest dropped (never ``reject-publish``, which
    would nack the services' publishers), drops dead-lettered to be counted."""
    return {"x-max-length-bytes": max_bytes, "x-overflow": "drop-head",
            "x-dead-letter-exchange": f"{queue}.dropped"}


@dataclass(frozen=True, slots=True)
class RabbitTapOptions:
    settings: RabbitMQSettings
    group_id: str = "choreoscope"

    @property
    def queue(self) -> str:
        return tap_queue(self.group_id)

    @property
    def source(self) -> str:
        return f"rabbitmq:{self.group_id}"


class _Link:
    def __init__(self, where: str, monotonic: Callable[[], float]) -> None:
        self.where = where
        self.up = True
        self.backoff = 0.5
        self._monotonic = monotonic
        self._since = monotonic()

    def ok(self) -> None:
        if not self.up:
            logger.warning("RabbitMQ at %s reachable again after %.1f s; resuming", self.where,
                           self._monotonic() - self._since)
            self.up, self._since = True, self._monotonic()
        self.backoff = 0.5

    def failed(self, exc: BaseException) -> None:
        if self.up:
            logger.warning("RabbitMQ at %s unreachable (%s); unacknowledged messages will be "
                           "delivered again; retrying with backoff", self.where,
                           type(exc).__name__)
            self.up, self._since = False, self._monotonic()
        self.backoff = min(self.backoff * 2, 30.0)


def _properties(p: Any) -> AmqpProperties:
    return AmqpProperties(p.message_id, p.correlation_id, p.type, p.app_id, p.timestamp,
                          p.content_type, p.headers)


class RabbitTap:
    """Reads the tap queue; `poll` answers observations and the acknowledgement position."""

    delivery = "effectively once (acknowledged after the store commit; redeliveries deduplicated)"

    def __init__(self, options: RabbitTapOptions, *,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if options.settings.url is None:
            raise RabbitUnusable("no RabbitMQ to read: set rabbitmq.url (--amqp-url)")
        if not options.settings.bindings:
            raise RabbitUnusable("nothing to read: set rabbitmq.bindings (EXCHANGE:KEY, ...)")
        self.options = options
        self._now = now
        self._monotonic = monotonic
        self.link = _Link(where(options.settings.url), monotonic)
        self.on_revoke: Callable[[], object] | None = None
        self.on_open: Callable[[], object] | None = None
        self._conn: Any = None
        self._channel: Any = None
        self._admin: Any = None
        self._generation = 0
        self._buffer: list[tuple[int, str, str, Any, bytes]] = []
        self._next_connect = 0.0
        self._next_check = 0.0
        self._ready: int | None = None
        self._consumers = 0
        self.dropped = 0
        """Messages the queue bound dropped, counted since this tap was created."""
        self.firehose = (Firehose(options.settings.consumer_pattern)
                         if options.settings.firehose else None)

    @property
    def source(self) -> str:
        return self.options.source

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self, stop: threading.Event | None = None) -> None:
        """Connect, declare the queue and its bindings, start consuming; retry a refused
        connection until ``rabbitmq.connect_timeout_s`` has passed, then raise."""
        deadline = self._monotonic() + self.options.settings.connect_timeout_s
        while True:
            try:
                self._connect()
                break
            except pika.exceptions.AMQPConnectionError as exc:
                self._drop()
                if self._monotonic() >= deadline or (stop is not None and stop.is_set()):
                    raise RabbitUnusable(
                        f"cannot connect to RabbitMQ at {self.link.where}: {_reason(exc)} "
                        f"(check rabbitmq.url / --amqp-url and the credentials)") from exc
                time.sleep(min(0.5, max(0.0, deadline - self._monotonic())))
        self.link.ok()
        if self.on_open is not None:
            self.on_open()
        logger.info("reading queue %s bound to %s at %s", self.options.queue,
                    ", ".join(self.options.settings.bindings), self.link.where)

    def _connect(self) -> None:
        s = self.options.settings
        self._conn = pika.BlockingConnection(parameters(s))
        try:
            self._channel = self._conn.channel()
            self._declare(self._channel)
            self._channel.basic_qos(prefetch_count=s.prefetch)
            self._channel.basic_consume(self.options.queue, self._on_message, auto_ack=False)
            self._admin = self._conn.channel()
            if self.firehose is not None:
                self._read_firehose(self._conn.channel())
        except pika.exceptions.ChannelClosedByBroker as exc:
            self._drop()
            raise RabbitUnusable(_channel_reason(exc, self.options)) from exc
        self._generation += 1
        self._buffer = []
        self._next_check = 0.0

    def _declare(self, ch: Any) -> None:
        s, queue = self.options.settings, self.options.queue
        for exchange, _key, _arguments in map(parse_binding, s.bindings):
            ch.exchange_declare(exchange, passive=True)  # 404: named in _channel_reason
        dropped = f"{queue}.dropped"
        ch.exchange_declare(dropped, "fanout", durable=True)
        ch.queue_declare(dropped, durable=True, arguments={
            "x-max-length-bytes": max(s.queue_max_bytes // 16, 1024 * 1024),
            "x-overflow": "drop-head"})
        ch.queue_bind(dropped, dropped)
        ch.queue_declare(queue, durable=True,
                         arguments=queue_arguments(s.queue_max_bytes, queue))
        for exchange, key, arguments in map(parse_binding, s.bindings):
            ch.queue_bind(queue, exchange, routing_key=key, arguments=arguments)

    def _read_firehose(self, ch: Any) -> None:
        queue = firehose_queue(self.options.group_id)
        ch.queue_declare(queue, exclusive=True, auto_delete=True, arguments={
            "x-max-length-bytes": self.options.settings.firehose_max_bytes,
            "x-overflow": "drop-head"})
        for key in ("publish.#", "deliver.#"):
            ch.queue_bind(queue, TRACE_EXCHANGE, routing_key=key)
        ch.basic_consume(queue, self._on_trace, auto_ack=True)
        logger.info("reading RabbitMQ's firehose (%s) through %s: published and delivered "
                    "rates per exchange, consumers by queue (tracing must be on: rabbitmqctl "
                    "trace_on)", TRACE_EXCHANGE, queue)

    def _on_trace(self, _ch: Any, method: Any, props: Any, _body: bytes) -> None:
        assert self.firehose is not None
        self.firehose.record(method.routing_key, props.headers, self._now())

    def consumers(self) -> list[ConsumerSeen]:
        """With the firehose: the services (by queue) seen receiving each stored topic since
        the last call; else none."""
        return self.firehose.drain() if self.firehose is not None else []

    def close(self) -> None:
        """Close the connection: what was not acknowledged is delivered again next time."""
        conn = self._conn
        self._drop()
        if conn is not None and conn.is_open:
            with contextlib.suppress(*_LOST):
                conn.close()

    def _drop(self) -> None:
        self._conn = self._channel = self._admin = None
        self._buffer = []

    def __enter__(self) -> RabbitTap:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------------

    def _on_message(self, _ch: Any, method: Any, props: Any, body: bytes) -> None:
        self._buffer.append((method.delivery_tag, method.exchange, method.routing_key, props,
                             body))

    def poll(self, timeout_ms: int = 200) -> tuple[list[Observation], list[Position]]:
        """The deliveries so far (waiting up to ``timeout_ms`` for the first), and the
        position to acknowledge them by."""
        if self._conn is None:
            self._reconnect(timeout_ms)
            return [], []
        try:
            if not self._buffer:
                self._conn.process_data_events(time_limit=timeout_ms / 1000)
            else:
                self._conn.process_data_events(time_limit=0)
            self._check()
        except _LOST as exc:
            self._lost(exc)
            return [], []
        if self._buffer:
            self.link.ok()
        return self._convert()

    def _convert(self) -> tuple[list[Observation], list[Position]]:
        buffer, self._buffer = self._buffer, []
        if not buffer:
            return [], []
        received = self._now()
        observations = [observation_of(exchange, key, _properties(props), body, received)
                        for _tag, exchange, key, props, body in buffer]
        last = buffer[-1][0]
        return observations, [Position(self.source, self.options.queue, self._generation,
                                       last + 1)]

    def _lost(self, exc: BaseException) -> None:
        self.link.failed(exc)
        conn = self._conn
        self._drop()
        self._next_connect = self._monotonic() + self.link.backoff
        if conn is not None and conn.is_open:
            with contextlib.suppress(*_LOST):
                conn.close()

    def _reconnect(self, timeout_ms: int) -> None:
        if self._monotonic() < self._next_connect:
            time.sleep(min(timeout_ms / 1000, max(0.0, self._next_connect - self._monotonic())))
            return
        try:
            self._connect()
        except (pika.exceptions.AMQPError, OSError, RabbitEdgeError) as exc:
            self._lost(exc)
            return
        self.link.ok()

    # -- acknowledgements and health ------------------------------------------------------------

    def commit(self, positions: Sequence[Position]) -> bool:
        """Acknowledge everything up to each position (its batch is in the store). Positions of
        an earlier connection are done with: the broker delivers those messages again."""
        for p in positions:
            if p.partition != self._generation or self._channel is None:
                continue
            try:
                self._channel.basic_ack(delivery_tag=p.next_offset - 1, multiple=True)
            except _LOST as exc:
                self._lost(exc)
                return True  # nothing to retry: a new connection redelivers them
        return True

    def due_commits(self) -> list[Position]:
        return []

    def _check(self, force: bool = False) -> None:
        """Once a second: the queue's depth and consumers, and the drops to count."""
        now = self._monotonic()
        if (now < self._next_check and not force) or self._admin is None:
            return
        self._next_check = now + 1.0
        queue = self.options.queue
        ok = self._admin.queue_declare(queue, passive=True).method
        self._ready, self._consumers = ok.message_count, ok.consumer_count
        purged = self._admin.queue_purge(f"{queue}.dropped").method.message_count
        if purged:
            self.dropped += purged
            logger.warning("the tap queue %s dropped %d messages at its bound "
                           "(rabbitmq.queue_max_bytes=%d): the collector falls behind",
                           queue, purged, self.options.settings.queue_max_bytes)

    def lag(self) -> Lag:
        if self._conn is None:
            return {}
        return {(self.options.queue, self._generation): self._ready}

    def caught_up(self) -> bool:
        return self._conn is not None and self._ready == 0 and not self._buffer

    def figures(self) -> Mapping[str, float]:
        """Tap queue depth, its consumers, and what its bound dropped; with the firehose, the
        published and delivered rates per exchange since the last call."""
        if self._conn is not None:
            try:
                self._check(force=True)
            except _LOST as exc:
                self._lost(exc)
        rates = (self.firehose.rates(self._monotonic()) if self.firehose is not None else {})
        return {"rabbitmq_queue_depth": float(self._ready or 0),
                "rabbitmq_consumers": float(self._consumers),
                "rabbitmq_dropped": float(self.dropped), **rates}


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, pika.exceptions.ProbableAuthenticationError):
        return "authentication failed"
    if isinstance(exc, pika.exceptions.ProbableAccessDeniedError):
        return "access to the virtual host denied"
    if isinstance(exc, pika.exceptions.AMQPConnectionError) and not str(exc).strip("()"):
        return "connection refused or timed out"
    return text


def _channel_reason(exc: pika.exceptions.ChannelClosedByBroker,
                    options: RabbitTapOptions) -> str:
    if exc.reply_code == 404:
        return (f"RabbitMQ refused a binding: {exc.reply_text} (rabbitmq.bindings names "
                "exchanges that must exist; start the services, or fix the names)")
    if exc.reply_code == 406:
        return (f"the tap queue {options.queue} exists with other arguments ({exc.reply_text}); "
                "run `choreoscope rabbitmq remove-tap` and start again")
    return f"RabbitMQ closed the tap's channel: {exc.reply_code} {exc.reply_text}"
