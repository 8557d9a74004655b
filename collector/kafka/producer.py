"""Publish records to Kafka: how ``choreoscope simulate --bootstrap-servers`` feeds a broker,
and how the collector sends its alerts.

A record is anything with ``topic``, ``key``, ``value``, ``headers`` and ``timestamp`` (see
`PublishableRecord`); the caller never touches kafka-python. `publish` is one-shot (a producer
for one stream of records); `RecordProducer` keeps one producer open for a process's life and
sends batches with a bound on how long each may block.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from collector.kafka._client import connect_failure, watch_client
from collector.kafka.exceptions import PublishError

__all__ = ["PublishableRecord", "RecordProducer", "ensure_topics", "publish"]

logger = logging.getLogger(__name__)


class PublishableRecord(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...
    @property
    def timestamp(self) -> datetime | None: ...


def ensure_topics(bootstrap_servers: str, topics: Iterable[str], *, partitions: int = 3,
                  client: Mapping[str, Any] | None = None, replication: int = 1) -> None:
    """Create the topics that do not exist yet (a missing topic is not auto-created)."""
    config = {"bootstrap_servers": bootstrap_servers.split(","), **(client or {})}
    with watch_client() as watch:
        try:
            admin = KafkaAdminClient(**config)
        except KafkaError as exc:
            raise PublishError(bootstrap_servers, connect_failure(config, watch, exc)) from exc
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, partitions, replication) for t in sorted(set(topics) - existing)]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile: fine
                admin.create_topics(missing)
    except KafkaError as exc:
        raise PublishError(bootstrap_servers, str(exc)) from exc
    finally:
        admin.close()


def publish(
    records: Iterable[PublishableRecord],
    bootstrap_servers: str,
    *,
    client: Mapping[str, Any] | None = None,
    create_topics: bool = True,
    partitions: int = 3,
    on_sent: Callable[[int], None] | None = None,
    flush_every: int = 10_000,
) -> int:
    """Publish the records in order (per key) and wait until the broker has them all.

    Records are streamed (an iterator is never held in memory); a topic is created, when
    missing, before its first record. Returns how many were published. ``client`` carries
    security settings (see ``collector.kafka._client.client_config``); ``on_sent(n)`` reports
    progress.
    """
    ensured: set[str] = set()
    producer = _open(_config(bootstrap_servers, client))
    failures: list[BaseException] = []
    sent = 0
    try:
        for r in records:
            if create_topics and r.topic not in ensured:
                ensure_topics(bootstrap_servers, [r.topic], partitions=partitions, client=client)
                ensured.add(r.topic)
            _send(producer, r).add_errback(failures.append)
            sent += 1
            if sent % flush_every == 0:
                producer.flush()
                if on_sent is not None:
                    on_sent(flush_every)
        producer.flush()
        if on_sent is not None and sent % flush_every:
            on_sent(sent % flush_every)
    except KafkaError as exc:
        raise PublishError(bootstrap_servers, str(exc)) from exc
    finally:
        producer.close()
    if failures:
        raise PublishError(bootstrap_servers, f"{len(failures)} records failed: {failures[0]}")
    logger.info("published %d records to %s", sent, bootstrap_servers)
    return sent


def _config(bootstrap_servers: str, client: Mapping[str, Any] | None,
            **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap_servers.split(","),
        **(client or {}),
        "acks": "all",
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "max_in_flight_requests_per_connection": 1,  # keeps per-partition order across retries
        "retries": 10,
        **extra,
    }


def _open(config: dict[str, Any]) -> KafkaProducer:
    with watch_client() as watch:
        try:
            return KafkaProducer(**config)
        except KafkaError as exc:
            raise PublishError(",".join(config["bootstrap_servers"]),
                               connect_failure(config, watch, exc)) from exc


def _send(producer: KafkaProducer, r: PublishableRecord) -> Any:
    ts = r.timestamp
    return producer.send(r.topic, value=r.value, key=r.key, headers=list(r.headers),
                         timestamp_ms=None if ts is None else int(ts.timestamp() * 1000))


class RecordProducer:
    """One producer kept open: `send` publishes a batch and waits until the broker has it all,
    or raises `PublishError` within about ``timeout`` seconds (the producer is then reopened on
    the next send, so a broker that was down is found again).

    The producer is opened on the first send; topics are created, when missing, with
    ``partitions`` partitions before their first record.
    """

    def __init__(self, bootstrap_servers: str, *, client: Mapping[str, Any] | None = None,
                 partitions: int = 3, timeout: float = 10.0) -> None:
        self.servers, self.timeout, self.partitions = bootstrap_servers, timeout, partitions
        self._client = dict(client or {})
        self._producer: KafkaProducer | None = None
        self._ensured: set[str] = set()

    def send(self, records: Sequence[PublishableRecord]) -> int:
        """Publish ``records`` in order (per key) and wait for the broker's acknowledgements."""
        if not records:
            return 0
        failures: list[BaseException] = []
        try:
            self._ensure({r.topic for r in records})
            producer = self._open()
            for r in records:
                _send(producer, r).add_errback(failures.append)
            producer.flush(timeout=self.timeout)
        except KafkaError as exc:
            self._reset()
            raise PublishError(self.servers, str(exc)) from exc
        if failures:
            self._reset()
            raise PublishError(self.servers,
                               f"{len(failures)} records failed: {failures[0]}")
        return len(records)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self.timeout)
            self._producer = None

    def _ensure(self, topics: set[str]) -> None:
        missing = topics - self._ensured
        if missing:
            ensure_topics(self.servers, missing, partitions=self.partitions,
                          client={**self._client, "request_timeout_ms": int(self.timeout * 1000)})
            self._ensured |= missing

    def _open(self) -> KafkaProducer:
        if self._producer is None:
            ms = int(self.timeout * 1000)
            self._producer = _open(_config(self.servers, self._client, max_block_ms=ms,
                                           request_timeout_ms=ms, delivery_timeout_ms=2 * ms))
        return self._producer

    def _reset(self) -> None:
        """Drop a producer that failed; what it still buffers is not waited for."""
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=0)
