"""The session's servers are real and reachable with the clients the taps use."""


from __future__ import annotations

import asyncio

import nats
import pika
import pytest

from tests.brokers._servers import NatsServer, RabbitNode

pytestmark = pytest.mark.brokers


def test_rabbitmq_node_routes_a_published_message_to_a_bound_queue(
        rabbitmq_node: RabbitNode, name: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_node.url))
    try:
        ch = conn.channel()
        ch.exchange_declare(name, "topic", auto_delete=True)
        ch.queue_declare(name, exclusive=True)
        ch.queue_bind(name, name, routing_key="order.*")
        ch.basic_publish(name, "order.placed", b"hello")
        ch.basic_publish(name, "payment.done", b"not routed")
        method, _props, body = None, None, None
        for _ in range(50):
            method, _props, body = ch.basic_get(name, auto_ack=True)
            if method is not None:
                break
            conn.sleep(0.1)
        assert method is not None
        assert (method.routing_key, body) == ("order.placed", b"hello")
        assert ch.basic_get(name, auto_ack=True)[0] is None
    finally:
        conn.close()


def test_nats_server_has_jetstream_and_keeps_messages(nats_server: NatsServer, name: str) -> None:
    async def run() -> list[bytes]:
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            await js.add_stream(name=name, subjects=[f"{name}.>"])
            for i in range(3):
                await js.publish(f"{name}.orders", f"m{i}".encode())
            sub = await js.pull_subscribe(f"{name}.>", durable="t")
            msgs = await sub.fetch(3, timeout=5)
            for m in msgs:
                await m.ack()
            return [m.data for m in msgs]
        finally:
            await nc.close()

    assert asyncio.run(run()) == [b"m0", b"m1", b"m2"]
