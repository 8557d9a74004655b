"""Spans from a Kafka topic, as the OpenTelemetry Collector's Kafka exporter writes them
(``otlp_spans``: one OTLP record per span batch), read by the OTLP service through the Kafka
tap on the test session's real broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from kafka import KafkaProducer
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as encode_json
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from collector.kafka.producer import ensure_topics
from collector.otlp.receiver import OtlpService
from collector.settings import KafkaSettings, OtlpSettings
from collector.store.base import Store
from tests.otlp.conftest import stored_spans
from tests.otlp.test_receiver import _order_spans

pytestmark = pytest.mark.kafka

MakeProvider = Callable[[str, SpanExporter], TracerProvider]


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _service(store: Store, bootstrap: str, topic: str, group: str) -> OtlpService:
    return OtlpService(OtlpSettings(port=0, grpc=False, kafka_topics=(topic,)), store,
                       kafka=KafkaSettings(bootstrap_servers=bootstrap, group_id=group)).start()


def test_span_records_on_kafka_are_stored_with_their_positions(
    kafka_bootstrap: str, store: Store, make_tracer_provider: MakeProvider,
) -> None:
    topic, group = f"otlp_spans-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    first, second, third = (_order_spans(make_tracer_provider) for _ in range(3))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(topic, bytes(encode_spans(first).SerializeToString()))
    producer.send(topic, encode_json(second).to_json().encode(),
                  headers=[("content-type", b"application/json")])
    producer.send(topic, b"\x0a\xff not an OTLP record")
    producer.flush()

    service = _service(store, kafka_bootstrap, topic, group)
    try:
        _wait_until(lambda: len(stored_spans(store)) == 6 and store.query(
            "SELECT COUNT(*) AS n FROM dead_letters")[0]["n"] == 1, "6 spans and a dead letter")
    finally:
        service.close()
    assert service.kafka_reader is not None
    assert service.kafka_reader.stats.records == 3
    ids = {r["span_id"] for r in stored_spans(store)}
    assert ids == {format(s.context.span_id, "016x") for s in [*first, *second]}
    [dead] = store.query("SELECT reason, topic, partition, \"offset\", raw FROM dead_letters")
    assert (dead["reason"], dead["topic"], dead["offset"]) == ("not-otlp", topic, 2)
    assert store.positions(f"kafka:{group}-spans") == {(topic, 0): 3}

    # a restart resumes after the stored position: only the new record is read
    producer.send(topic, bytes(encode_spans(third).SerializeToString()))
    producer.flush()
    producer.close()
    service = _service(store, kafka_bootstrap, topic, group)
    try:
        _wait_until(lambda: len(stored_spans(store)) == 9, "the new record's spans")
    finally:
        service.close()
    assert service.kafka_reader is not None
    assert service.kafka_reader.stats.records == 1
    assert store.positions(f"kafka:{group}-spans") == {(topic, 0): 4}
