"""Spans from a Kafka topic, as the OpenTelemetry Collector's Kafka exporter writes them
(``otlp_spans``: one OTLP record per span batch), read by the OTLP service through the Kafka
tap on the test session's real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaProducer
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as encode_json
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from collector.exceptions import StoreError
from collector.kafka.producer import ensure_topics
from collector.otlp.receiver import OtlpService
from collector.settings import KafkaSettings, OtlpSettings
from collector.store.base import Store, open_store
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


def test_otlp_command_reads_a_spans_topic(kafka_bootstrap: str, tmp_path: Path,
                                          make_tracer_provider: MakeProvider) -> None:
    topic = f"otlp_spans-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(topic, bytes(encode_spans(_order_spans(make_tracer_provider))
                               .SerializeToString()))
    producer.flush()
    producer.close()
    store_url = f"sqlite:///{tmp_path / 'cli.db'}"
    command = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "otlp", "--store", store_url, "--listen",
         "127.0.0.1:0", "--no-grpc", "--kafka-topic", topic, "--bootstrap-servers",
         kafka_bootstrap], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "CHOREOSCOPE_KAFKA__GROUP_ID": f"g-{topic}"})
    try:
        _wait_until(lambda: _stored(store_url) == 3, "the topic's spans in the store")
    finally:
        command.send_signal(signal.SIGTERM)
        _, err = command.communicate(timeout=60)
    assert command.returncode == 0, err[-3000:]


def _stored(store_url: str) -> int:
    try:
        store = open_store(store_url, read_only=True)
    except StoreError:
        return 0
    try:
        return len(stored_spans(store))
    except StoreError:  # not migrated yet
        return 0
    finally:
        store.close()


def test_otlp_commands_not_otlp_dead_letters_obey_the_dead_letter_bounds(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    """A flood of records that are not OTLP on a spans topic: ``choreoscope otlp`` keeps its
    dead letters within ``[dead_letters]`` (raw bytes cut, oldest dropped past the budget)."""
    topic = f"otlp_spans-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for i in range(300):
        producer.send(topic, b"not otlp %05d " % i + b"z" * 2000)
    producer.flush()
    producer.close()
    (tmp_path / "choreoscope.toml").write_text(
        "[dead_letters]\nmax_bytes = 40000\nmax_raw_bytes = 500\n")
    store_url = f"sqlite:///{tmp_path / 'cli.db'}"
    command = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "otlp", "--store", store_url, "--listen",
         "127.0.0.1:0", "--no-grpc", "--kafka-topic", topic, "--bootstrap-servers",
         kafka_bootstrap], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "CHOREOSCOPE_KAFKA__GROUP_ID": f"g-{topic}"})

    def usage() -> tuple[int, int, int, int]:
        try:
            store = open_store(store_url, read_only=True)
        except StoreError:
            return (0, 0, 0, 0)
        try:
            u = store.dead_letter_usage()
            return (u.stored, u.bytes, u.dropped_budget, u.truncated)
        except StoreError:  # not migrated yet
            return (0, 0, 0, 0)
        finally:
            store.close()

    try:
        _wait_until(lambda: usage()[0] + usage()[2] == 300, "300 records read")
    finally:
        command.send_signal(signal.SIGTERM)
        _, err = command.communicate(timeout=60)
    assert command.returncode == 0, err[-3000:]
    stored, used, dropped, truncated = usage()
    assert stored + dropped == 300
    assert used <= 40000
    assert dropped > 0
    assert truncated == 300
    store = open_store(store_url, read_only=True)
    try:
        rows = store.query('SELECT reason, length(raw) AS n, raw_size, "offset" FROM '
                           'dead_letters ORDER BY "offset"')
    finally:
        store.close()
    assert {(r["reason"], r["n"], r["raw_size"]) for r in rows} == {("not-otlp", 500, 2015)}
    assert rows[-1]["offset"] == 299  # the newest are kept
