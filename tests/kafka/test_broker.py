"""The session broker is a real Kafka: records round-trip, and survive a restart."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

pytestmark = pytest.mark.kafka


def _consume_all(bootstrap: str, topic: str, n: int) -> list[bytes]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=10_000)
    try:
        out: list[bytes] = []
        for record in consumer:
            out.append(record.value)
            if len(out) == n:
                break
        return out
    finally:
        consumer.close()


def test_records_round_trip_and_survive_a_restart(kafka: Any, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for i in range(10):
        producer.send(topic, f"r{i}".encode(), partition=0)
    producer.flush()
    producer.close()
    kafka.restart()
    assert kafka.running
    assert _consume_all(kafka.bootstrap, topic, 10) == [f"r{i}".encode() for i in range(10)]


def test_the_script_fetch_is_idempotent_and_fast() -> None:
    from tests.kafka.conftest import kafka_script

    first = kafka_script.fetch()
    second = kafka_script.fetch()
    assert first == second
    assert (second / ".complete").is_file()
    assert any(p.name.startswith("kafka_2.13-") for p in second.iterdir())
