"""Re-read single records from the broker by topic, partition and offset.

For dead letters whose bytes were not stored (redaction rules applied to a record that could
not be parsed, or the bytes were cut to ``dead_letters.max_raw_bytes``): ``deadletters
replay`` reads them again while the broker still retains them. No consumer group is joined
and nothing is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from collector.kafka._client import client_config
from collector.kafka.exceptions import KafkaEdgeError
from collector.kafka.tap import _headers
from collector.model import Location, Observation
from collector.settings import KafkaSettings

__all__ = ["FetchError", "fetch_records"]

logger = logging.getLogger(__name__)

Where = tuple[str, int, int]
"""(topic, partition, offset)"""

_SKIP_AHEAD = 500
"""Seek straight to the next wanted offset when it is further than this from the position."""


class FetchError(KafkaEdgeError):
    """The broker could not be reached (or refused us) while re-reading records."""

    def __init__(self, bootstrap_servers: str, reason: str) -> None:
        super().__init__(f"cannot re-read records from Kafka at {bootstrap_servers}: {reason}")
        self.bootstrap_servers = bootstrap_servers
        self.reason = reason


def fetch_records(kafka: KafkaSettings, wanted: Iterable[Where], *, received_at: datetime,
                  timeout_s: float = 5.0) -> dict[Where, Observation]:
    """The records at ``wanted`` that the broker still holds, as observations received at
    ``received_at``; those it no longer retains (or never had) are absent from the answer.
    Raises `FetchError` when the broker cannot be reached within ``timeout_s``."""
    by_partition: dict[tuple[str, int], list[int]] = {}
    for topic, partition, offset in wanted:
        by_partition.setdefault((topic, partition), []).append(offset)
    if not by_partition:
        return {}
    try:
        consumer = KafkaConsumer(**client_config(kafka), group_id=None,
                                 enable_auto_commit=False, metrics_enabled=False,
                                 allow_auto_create_topics=False,
                                 bootstrap_timeout_ms=int(timeout_s * 1000),
                                 request_timeout_ms=int(max(timeout_s, 2.0) * 1000) + 1000)
    except KafkaError as exc:
        raise FetchError(kafka.bootstrap_servers, str(exc) or type(exc).__name__) from exc
    try:
        found: dict[Where, Observation] = {}
        for (topic, partition), offsets in sorted(by_partition.items()):
            found.update(_read(consumer, topic, partition, sorted(set(offsets)), received_at,
                               timeout_s))
        return found
    except KafkaError as exc:
        raise FetchError(kafka.bootstrap_servers, str(exc) or type(exc).__name__) from exc
    finally:
        consumer.close()


def _read(consumer: KafkaConsumer, topic: str, partition: int, offsets: list[int],
          received_at: datetime, timeout_s: float) -> dict[Where, Observation]:
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    first = consumer.beginning_offsets([tp], timeout_ms=int(timeout_s * 1000))[tp]
    end = consumer.end_offsets([tp], timeout_ms=int(timeout_s * 1000))[tp]
    todo = [o for o in offsets if first <= o < end]
    found: dict[Where, Observation] = {}
    if not todo:
        return found
    consumer.seek(tp, todo[0])
    i = 0
    idle = 0
    while i < len(todo) and idle < 3:
        polled = consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=1000)
        records = polled.get(tp, [])
        idle = 0 if records else idle + 1
        for r in records:
            while i < len(todo) and todo[i] < r.offset:
                i += 1  # compacted away or a transaction marker
            if i < len(todo) and todo[i] == r.offset:
                found[(topic, partition, r.offset)] = _observation(topic, partition, r,
                                                                  received_at)
                i += 1
        if i < len(todo) and todo[i] - consumer.position(tp) > _SKIP_AHEAD:
            consumer.seek(tp, todo[i])
    return found


def _observation(topic: str, partition: int, r: object,
                 received_at: datetime) -> Observation:
    value = getattr(r, "value", None)
    ts = getattr(r, "timestamp", None)
    headers = getattr(r, "headers", None)
    return Observation(
        Location("kafka", topic, partition, getattr(r, "offset", None)), received_at,
        value if value is not None else b"", getattr(r, "key", None),
        _headers(headers) if headers else (),
        datetime.fromtimestamp(ts / 1000, UTC) if ts is not None and ts >= 0 else None)
