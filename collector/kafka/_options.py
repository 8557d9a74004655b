"""The Kafka tap's options (`TapOptions`, plain values built from `KafkaSettings`) and the
consumer configurations they give: librdkafka's for the tap (`rdkafka_config`) and kafka-python's
for the benchmark's raw baseline (`consumer_config`), the same settings on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from collector.kafka import _rdkafka
from collector.kafka._client import client_config
from collector.settings import KafkaSettings

__all__ = ["StartPolicy", "TapOptions", "consumer_config", "rdkafka_config"]

StartPolicy = Literal["earliest", "latest"] | datetime


@dataclass(frozen=True, slots=True)
class TapOptions:
    """What the tap reads and how it connects (plain values, built from `KafkaSettings`)."""

    topics: tuple[str, ...] = ()
    pattern: str | None = None
    group_id: str = "choreoscope"
    start: StartPolicy = "earliest"
    max_poll_records: int = 5000
    metadata_max_age_ms: int = 10_000
    """How soon new topics matching the pattern are found."""
    client: Mapping[str, Any] = field(default_factory=dict)
    """Connection and security arguments, with kafka-python's names (see
    ``_client.client_config``; ``rdkafka_config`` maps them for the tap's consumer)."""
    connect_timeout: float | None = None
    """At start-up, seconds to reach the brokers before `KafkaUnreachable` (None: until
    stopped)."""
    session_timeout_ms: int = 10_000
    """How long the group waits for a silent member before its partitions move (scale-out's
    fail-over bound sets it)."""

    @classmethod
    def from_settings(cls, kafka: KafkaSettings) -> TapOptions:
        start: StartPolicy = "earliest"
        if kafka.start == "latest":
            start = "latest"
        elif kafka.start != "earliest":
            start = datetime.fromisoformat(kafka.start)
        return cls(topics=kafka.topics, pattern=kafka.topic_pattern, group_id=kafka.group_id,
                   start=start, max_poll_records=kafka.max_poll_records,
                   client=client_config(kafka), connect_timeout=kafka.connect_timeout_s)

    @property
    def source(self) -> str:
        """The reader name positions are stored under."""
        return f"kafka:{self.group_id}"

    @property
    def heartbeat_ms(self) -> int:
        return min(2_000, self.session_timeout_ms // 5)


def consumer_config(options: TapOptions) -> dict[str, Any]:
    """A kafka-python consumer's arguments for these options: the benchmark's raw baseline."""
    return {
        **options.client,
        "group_id": options.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest" if options.start == "earliest" else "latest",
        "max_poll_records": options.max_poll_records,
        "fetch_max_bytes": 64 * 1024 * 1024,
        "max_partition_fetch_bytes": 8 * 1024 * 1024,
        "metrics_enabled": False,
        "allow_auto_create_topics": False,
        "metadata_max_age_ms": options.metadata_max_age_ms,
        # a collector that died is replaced within seconds, not after the 45 s default
        "session_timeout_ms": options.session_timeout_ms,
        "heartbeat_interval_ms": options.heartbeat_ms,
    }


def rdkafka_config(options: TapOptions) -> dict[str, Any]:
    """The tap's librdkafka consumer configuration (without its callbacks), the same
    settings as `consumer_config`."""
    return {
        **_rdkafka.rdkafka_client(options.client),
        "group.id": options.group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest" if options.start == "earliest" else "latest",
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 8 * 1024 * 1024,
        "receive.message.max.bytes": 64 * 1024 * 1024 + 512,  # librdkafka wants the margin
        # a fetch waiting for records holds up the requests behind it on the connection
        # (subscribed's metadata, read_to_end's offsets): 500 ms by default
        "fetch.wait.max.ms": 100,
        "isolation.level": "read_uncommitted",  # kafka-python's: the end is the high watermark
        "allow.auto.create.topics": False,
        "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": options.metadata_max_age_ms,
        "session.timeout.ms": options.session_timeout_ms,
        "heartbeat.interval.ms": options.heartbeat_ms,
        # eager: a rebalance revokes the whole assignment (the collector's callbacks assume it)
        "partition.assignment.strategy": "range,roundrobin",
        "log.connection.close": False,  # a broker closing an idle connection is no outage
    }
