"""The Kafka tap's offset commits: positions already in the store sent to Kafka asynchronously
(for lag tools), the replies counted, failed commits kept to send again, and the last offsets
sent on close.

It logs under the tap's name (``collector.kafka.tap``), where its lines were before it had a
module of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from collector.kafka import _rdkafka
from collector.kafka._link import Link
from collector.store.base import Position

__all__ = ["Commits"]

logger = logging.getLogger("collector.kafka.tap")


class Commits:
    """A tap's commits to Kafka: what was sent per partition, how many replies are awaited,
    and what is due to be sent (again)."""

    def __init__(self, source: str, link: Link, monotonic: Callable[[], float]) -> None:
        self._source = source
        self._link = link
        self._monotonic = monotonic
        self._sent: dict[tuple[str, int], int] = {}
        """The last offsets sent to Kafka per partition."""
        self._in_flight = 0
        """Asynchronous commits whose reply has not come back yet."""
        self._due: dict[tuple[str, int], Position] = {}
        """Positions to send to Kafka again: commits the broker failed, and the stored positions
        of partitions resumed from the store (a crash between the store's commit and Kafka's
        leaves Kafka behind, and a partition read to its end is never committed otherwise)."""

    def send(self, consumer: Consumer, positions: Sequence[Position]) -> bool:
        """Send positions to Kafka on ``consumer`` without waiting for the reply (False when
        the commit could not be sent)."""
        offsets = [TopicPartition(p.topic, p.partition, p.next_offset) for p in positions]
        try:
            consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            self.failed(_rdkafka.error_of(exc))
            return False
        self._in_flight += 1
        for p in positions:
            self._sent[(p.topic, p.partition)] = p.next_offset
        return True

    def on_committed(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """librdkafka's commit callback (run on the polling thread): what failed comes back
        from `take_due`, unless superseded by a later commit."""
        self._in_flight = max(0, self._in_flight - 1)
        failed = [tp for tp in partitions if tp.error is not None]
        if err is not None and not failed:
            failed = list(partitions)
        if not failed:
            return
        self.failed(err if err is not None else failed[0].error)  # type: ignore[arg-type]
        sent = self._sent
        for tp in failed:
            key = (tp.topic, tp.partition)
            if sent.get(key) != tp.offset:  # superseded by a later commit
                continue
            self._due[key] = Position(self._source, tp.topic, tp.partition, tp.offset)

    def failed(self, err: KafkaError) -> None:
        if err.code() in _rdkafka.UNREACHABLE:
            self._link.failed(err.name())
        else:  # e.g. a rebalance took the partitions meanwhile
            logger.info("offset commit to Kafka failed (%s); the store has the positions",
                        err.name())

    def resumed(self, position: Position) -> None:
        """A partition resumed from the store: its stored position is due to be sent."""
        self._due[(position.topic, position.partition)] = position

    def take_due(self) -> list[Position]:
        """Positions to send (again) since the last call: commits the broker failed, and the
        stored positions of partitions just resumed from the store."""
        due, self._due = self._due, {}
        return list(due.values())

    def flush(self, consumer: Consumer, timeout: float = 5.0) -> None:
        """On close, send the last offsets of the partitions still assigned and wait for the
        replies, so lag tools see where the collector stopped (skipped while the broker is
        unreachable)."""
        assigned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        last = {key: offset for key, offset in self._sent.items() if key in assigned}
        for p in self.take_due():  # e.g. resumed, then closed before the loop sent them
            if (p.topic, p.partition) in assigned:
                last.setdefault((p.topic, p.partition), p.next_offset)
        self._sent.clear()
        if not last or not self._link.up or not self.send(
                consumer, [Position(self._source, t, p, n) for (t, p), n in last.items()]):
            return
        deadline = self._monotonic() + timeout
        while self._in_flight and self._monotonic() < deadline:
            consumer.poll(0.05)  # serves the commit callbacks (a record polled is let go)
