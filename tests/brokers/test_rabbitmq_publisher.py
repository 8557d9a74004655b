"""``simulate --amqp-url``'s publisher (pipelined confirms on pika's asynchronous connection):
everything confirmed is counted and routed; a broker that is not there or a channel the broker
closes mid-publish raises at once with one clear message, never a hang or a silent loss."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pika
import pytest

from collector.flows.definition import load_definitions
from collector.rabbitmq.exceptions import RabbitEdgeError, RabbitUnusable
from collector.rabbitmq.publisher import publish
from collector.settings import RabbitMQSettings
from collector.simulator import SimRecord, Simulation
from tests.brokers._servers import RabbitNode, free_port

pytestmark = pytest.mark.brokers

ROOT = Path(__file__).resolve().parents[2]


def _records(topic: str, flows: int = 40) -> list[SimRecord]:
    sim = Simulation(load_definitions([ROOT / "schemas" / "flows"]), flows=flows, seed=4,
                     fault_rates={})
    return [replace(r, topic=topic) for r in sim.records()]


def test_every_record_is_confirmed_and_routed_with_a_small_window(
        rabbitmq_node: RabbitNode, name: str) -> None:
    records = _records(name)
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_node.url))
    try:
        ch = conn.channel()
        ch.exchange_declare(name, "topic", durable=True)
        ch.queue_declare(name, durable=True)
        ch.queue_bind(name, name, "#")
        assert publish(records, RabbitMQSettings(url=rabbitmq_node.url), window=7) == len(
            records)
        assert ch.queue_declare(name, passive=True).method.message_count == len(records)
    finally:
        conn.close()


def test_a_broker_that_is_not_there_raises_unusable() -> None:
    settings = RabbitMQSettings(url=f"amqp://127.0.0.1:{free_port()}/%2F", connect_timeout_s=2)
    with pytest.raises(RabbitUnusable, match=r"cannot publish to RabbitMQ at 127\.0\.0\.1:"):
        publish(_records("orders", 2), settings)


def test_a_channel_the_broker_closes_mid_publish_raises(rabbitmq_node: RabbitNode,
                                                        name: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_node.url))
    try:  # the second topic's exchange exists with another type: 406 when it is declared
        conn.channel().exchange_declare(f"{name}-b", "fanout", durable=True)
    finally:
        conn.close()
    records = _records(name, 10) + _records(f"{name}-b", 10)
    with pytest.raises(RabbitEdgeError, match="failed after") as caught:
        publish(records, RabbitMQSettings(url=rabbitmq_node.url))
    assert "PRECONDITION_FAILED" in str(caught.value)
