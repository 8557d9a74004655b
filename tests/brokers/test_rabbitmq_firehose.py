"""``[rabbitmq] firehose = true`` on a real node with tracing on (``rabbitmqctl trace_on``): the
services' deliveries (``deliver.#``) name the queues that receive each stored topic, so the
event map gets consumer edges without any span; ``publish.#`` and ``deliver.#`` give published
and delivered rates per exchange (the ``tap`` health samples, the Prometheus ``choreoscope_tap``
gauge). The pure bookkeeping (`collector.rabbitmq._firehose`) is tested alone first."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pika
import pytest

from collector.catalog_source import load_event_map, refresh_rollups
from collector.flows.definition import load_definitions
from collector.rabbitmq._firehose import Firehose, service_of
from collector.rabbitmq.publisher import publish, routing_key
from collector.settings import RabbitMQSettings
from collector.simulator import SimRecord, Simulation
from collector.store.base import ConsumerSeen, open_store
from tests.brokers._rabbit import declare_exchanges, query
from tests.brokers._servers import RabbitNode

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def test_deliveries_name_consumers_and_count_per_exchange() -> None:
    fh = Firehose(r"^(?P<service>[^.]+)")
    pub = {"exchange_name": "orders", "routing_keys": ["OrderPlaced"]}
    fh.record("publish.orders", pub, AT)
    fh.record("deliver.billing.order-placed", pub, AT)
    fh.record("deliver.audit", pub, AT)
    fh.record("deliver.choreoscope.tap.g", pub, AT)  # the collector's own queue: left out
    fh.record("publish.choreoscope.tap.g.dropped", {"exchange_name": "choreoscope.tap.g.dropped",
                                                    "routing_keys": [""]}, AT)
    assert fh.drain() == [ConsumerSeen("audit", "rabbitmq:orders/OrderPlaced", AT),
                          ConsumerSeen("billing", "rabbitmq:orders/OrderPlaced", AT)]
    assert fh.drain() == []
    assert fh.published == {"orders": 1}
    assert fh.delivered == {"orders": 2}
    assert fh.rates(10.0) == {"rabbitmq_published_per_s:orders": 0.0,
                              "rabbitmq_delivered_per_s:orders": 0.0}
    for _ in range(4):
        fh.record("publish.orders", pub, AT)
    assert fh.rates(12.0) == {"rabbitmq_published_per_s:orders": 2.0,
                              "rabbitmq_delivered_per_s:orders": 0.0}


def test_the_consumer_pattern_names_the_service() -> None:
    pattern = re.compile(r"^svc-(?P<service>[^.]+)\.")
    assert service_of("svc-billing.orders", pattern) == "billing"
    assert service_of("plain-queue", pattern) == "plain-queue"


@pytest.fixture
def tracing(rabbitmq_node: RabbitNode) -> Iterator[RabbitNode]:
    """Tracing on for the node's default virtual host during the test only (it costs every
    other test's messages a trip through the trace exchange)."""
    rabbitmq_node.ctl("trace_on")
    yield rabbitmq_node
    rabbitmq_node.ctl("trace_off")


def _service_queues(url: str, exchange: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.queue_declare(f"billing.{exchange}", auto_delete=False)
        ch.queue_bind(f"billing.{exchange}", exchange, "OrderPlaced")
        ch.queue_declare(f"audit-{exchange}", auto_delete=False)
        ch.queue_bind(f"audit-{exchange}", exchange, "#")
    finally:
        conn.close()


def _consume_all(url: str, queues: list[str]) -> int:
    """What the services do: take their queues' messages (each a ``deliver.<queue>`` trace)."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    n = 0
    try:
        ch = conn.channel()
        for q in queues:
            while ch.basic_get(q, auto_ack=True)[0] is not None:
                n += 1
    finally:
        conn.close()
    return n


@pytest.mark.brokers
def test_the_firehose_gives_the_event_map_its_consumers_and_the_rates(
        tracing: RabbitNode, name: str, tmp_path: Path) -> None:
    url = tracing.url
    declare_exchanges(url, (name,))
    _service_queues(url, name)
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    env = {**os.environ, "CHOREOSCOPE_RABBITMQ__FIREHOSE": "true",
           "CHOREOSCOPE_RABBITMQ__BINDINGS": f'["{name}:#"]',
           "CHOREOSCOPE_KAFKA__METRICS_EVERY_S": "0.5"}
    collect = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "--log-level", "INFO", "collect", "--store",
         store_url, "--amqp-url", url, "--group-id", name, "--metrics-port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        conn = pika.BlockingConnection(pika.URLParameters(url))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the tap consumes (its firehose queue is next)
            ch = conn.channel()
            try:
                if ch.queue_declare(f"choreoscope.tap.{name}", passive=True
                                    ).method.consumer_count:
                    break
            except pika.exceptions.ChannelClosedByBroker:
                pass
            time.sleep(0.3)
        time.sleep(1.0)
        conn.close()
        sim = Simulation(load_definitions([ROOT / "schemas" / "flows"]), flows=20, seed=3,
                         fault_rates={})
        records = [replace(r, topic=name) for r in sim.records()]
        publish(records, RabbitMQSettings(url=url))
        placed = sum(1 for r in records if routing_key(r) == "OrderPlaced")
        assert placed > 0
        assert _consume_all(url, [f"billing.{name}", f"audit-{name}"]) == placed + len(records)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = _consumers(store_url)
            if {r["group_id"] for r in rows} >= {"billing", f"audit-{name}"}:
                break
            time.sleep(0.5)
        time.sleep(1.5)  # a health sample after the last delivery
    finally:
        collect.send_signal(signal.SIGTERM)
        _out, err = collect.communicate(timeout=60)
    assert collect.returncode == 0, err[-3000:]
    assert "reading RabbitMQ's firehose" in err
    rows = _consumers(store_url)
    assert {(r["group_id"], r["topic"]) for r in rows if r["group_id"] == "billing"} == {
        ("billing", f"rabbitmq:{name}/OrderPlaced")}
    audit_topics = {r["topic"] for r in rows if r["group_id"] == f"audit-{name}"}
    assert audit_topics == {f"rabbitmq:{name}/{t}" for t in _types(records)}
    store = open_store(store_url)
    try:
        refresh_rollups(store)  # type: ignore[arg-type]
        event_map = load_event_map(store, ROOT / "schemas").event_map
    finally:
        store.close()
    assert "billing" in event_map.consumers("OrderPlaced")
    assert f"audit-{name}" in event_map.consumers("OrderPlaced")
    edge = event_map.graph.edges["event:OrderPlaced", "service:billing"]
    assert "consumer-group" in edge["evidence"]
    samples = query(store_url, "SELECT labels, value FROM metrics WHERE name = 'tap'")
    published = [r["value"] for r in samples
                 if f'"rabbitmq_published_per_s:{name}"' in r["labels"]]
    delivered = [r["value"] for r in samples
                 if f'"rabbitmq_delivered_per_s:{name}"' in r["labels"]]
    assert max(published, default=0) > 0
    assert max(delivered, default=0) > 0


def _consumers(store_url: str) -> list[dict[str, object]]:
    try:
        return query(store_url, "SELECT group_id, topic FROM consumer_groups")
    except Exception:  # the store is being created
        return []


def _types(records: list[SimRecord]) -> set[str]:
    return {routing_key(r) for r in records}
