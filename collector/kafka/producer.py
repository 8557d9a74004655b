"""Publish records to Kafka: how ``choreoscope simulate --bootstrap-servers`` feeds a broker.

A record is anything with ``topic``, ``key``, ``value``, ``headers`` and ``timestamp`` (see
`PublishableRecord`); the caller never touches kafka-python.
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

from collector.kafka.exceptions import PublishError

__all__ = ["PublishableRecord", "ensure_topics", "publish"]

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
                  client: Mapping[str, Any] | None = None) -> None:
    """Create the topics that do not exist yet (a missing topic is not auto-created)."""
    config = {"bootstrap_servers": bootstrap_servers.split(","), **(client or {})}
    try:
        admin = KafkaAdminClient(**config)
    except KafkaError as exc:
        raise PublishError(bootstrap_servers, str(exc)) from exc
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, partitions, 1) for t in sorted(set(topics) - existing)]
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
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers.split(","),
        **(client or {}),
        "acks": "all",
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "max_in_flight_requests_per_connection": 1,  # keeps per-partition order across retries
        "retries": 10,
    }
    try:
        producer = KafkaProducer(**config)
    except KafkaError as exc:
        raise PublishError(bootstrap_servers, str(exc)) from exc
    failures: list[BaseException] = []
    sent = 0
    try:
        for r in records:
            if create_topics and r.topic not in ensured:
                ensure_topics(bootstrap_servers, [r.topic], partitions=partitions, client=client)
                ensured.add(r.topic)
            ts = r.timestamp
            future = producer.send(
                r.topic, value=r.value, key=r.key, headers=list(r.headers),
                timestamp_ms=None if ts is None else int(ts.timestamp() * 1000))
            future.add_errback(failures.append)
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
