"""The internal repartition topic of scale-out mode (docs/SCALE-OUT.md): its partitioner and
the producer the readers forward through.

Each forwarded record is keyed by its correlation id and sent to the partition
`partition_of` names (Kafka's own default partitioner, murmur2 of the key), so the trackers,
which restore the open flows of the partitions they are given, find a flow where its events go.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from collector.kafka.exceptions import PublishError
from collector.kafka.producer import _config, _open, ensure_topics

__all__ = ["InternalProducer", "partition_of"]

logger = logging.getLogger(__name__)


def partition_of(correlation_id: str, partitions: int) -> int:
    """The internal partition of a flow's events (as Kafka's default partitioner keys it)."""
    hashed: int = murmur2(correlation_id.encode())
    return (hashed & 0x7FFFFFFF) % partitions


class InternalProducer:
    """Sends forwarded records to the internal topic (created on first use with
    ``partitions`` partitions) and waits for the broker's acknowledgements."""

    def __init__(self, bootstrap_servers: str, topic: str, *, partitions: int,
                 replication: int = 1, client: Mapping[str, Any] | None = None,
                 timeout: float = 30.0) -> None:
        self.servers, self.topic = bootstrap_servers, topic
        self._partitions, self._replication = partitions, replication
        self._client = dict(client or {})
        self._timeout = timeout
        self._producer: KafkaProducer | None = None
        self._count: int | None = None

    @property
    def partitions(self) -> int:
        """The internal topic's partition count (its own, if it existed already)."""
        if self._count is None:
            self._open()
        assert self._count is not None
        return self._count

    def send(self, records: Sequence[tuple[str, bytes]]) -> None:
        """Send ``(correlation id, value)`` records in order and wait until all are
        acknowledged; raises `PublishError` (the producer is reopened on the next send)."""
        if not records:
            return
        failures: list[BaseException] = []
        try:
            producer = self._open()
            n = self.partitions
            topic = self.topic
            for corr, value in records:
                producer.send(topic, value=value, key=corr.encode(),
                              partition=partition_of(corr, n)).add_errback(failures.append)
            producer.flush(timeout=self._timeout)
        except KafkaError as exc:
            self._reset()
            raise PublishError(self.servers, f"forwarding to {topic}: {exc}") from exc
        if failures:
            self._reset()
            raise PublishError(self.servers, f"forwarding to {topic}: {len(failures)} records "
                               f"failed: {failures[0]}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self._timeout)
            self._producer = None

    def _open(self) -> KafkaProducer:
        if self._producer is None:
            ms = int(self._timeout * 1000)
            ensure_topics(self.servers, [self.topic], partitions=self._partitions,
                          replication=self._replication,
                          client={**self._client, "request_timeout_ms": ms})
            producer = _open(_config(self.servers, self._client, max_block_ms=ms,
                                     request_timeout_ms=ms, delivery_timeout_ms=2 * ms,
                                     linger_ms=5))
            found = producer.partitions_for(self.topic)
            self._count = len(found) if found else self._partitions
            self._producer = producer
            logger.info("forwarding to %s (%d partitions)", self.topic, self._count)
        return self._producer

    def _reset(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=0)
