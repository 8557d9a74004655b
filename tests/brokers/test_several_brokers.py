"""``collect --amqp-url URL --nats-url URL``: both brokers read by one collector into one store,
each message acknowledged to its own broker (nothing left unacknowledged on either)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import orjson
import pika
import pytest

from tests.brokers._rabbit import cli, declare_exchanges, declare_tap, query
from tests.brokers._servers import NatsServer, RabbitNode

pytestmark = [pytest.mark.brokers, pytest.mark.slow]


def _truth(path: Path) -> set[tuple[str, str]]:
    return {tuple(e) for line in path.read_bytes().splitlines()
            for e in orjson.loads(line)["events"]}


def test_rabbitmq_and_nats_at_once(rabbitmq_node: RabbitNode, nats_server: NatsServer,
                                   tmp_path: Path) -> None:
    group = "both"
    declare_exchanges(rabbitmq_node.url)
    declare_tap(rabbitmq_node.url, group)
    cli("simulate", "--flows", "200", "--seed", "21", "--truth", str(tmp_path / "r.jsonl"),
        "--amqp-url", rabbitmq_node.url)
    cli("simulate", "--flows", "200", "--seed", "22", "--truth", str(tmp_path / "n.jsonl"),
        "--nats-url", nats_server.url)
    url = f"sqlite:///{tmp_path / 's.db'}"
    done = cli("collect", "--store", url, "--amqp-url", rabbitmq_node.url, "--nats-url",
               nats_server.url, "--group-id", group, "--metrics-port", "0", "--until-idle", "2")
    assert f"reading rabbitmq:{group}+nats:{group}:" in done.stderr
    events = query(url, "SELECT source, id, topic FROM events")
    from_rabbit = {(e["source"], e["id"]) for e in events if e["topic"].startswith("rabbitmq:")}
    from_nats = {(e["source"], e["id"]) for e in events if e["topic"].startswith("nats:")}
    assert from_rabbit == _truth(tmp_path / "r.jsonl")
    assert from_nats >= _truth(tmp_path / "n.jsonl")  # streams may hold earlier tests' too
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_node.url))
    try:
        ok = conn.channel().queue_declare(f"choreoscope.tap.{group}", passive=True).method
        assert ok.message_count == 0
    finally:
        conn.close()

    async def ack_pending() -> int:
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            infos = [await js.consumer_info(s, f"choreoscope-{group}") for s in (
                "orders", "payments", "inventory", "shipping", "notifications", "customers")]
            return sum(i.num_ack_pending + i.num_pending for i in infos)
        finally:
            await nc.close()

    assert asyncio.run(ack_pending()) == 0
