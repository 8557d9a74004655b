"""The RabbitMQ tap's delivery promise on a real broker: a redelivered poison message is one
dead letter; kill -9 of the collector mid-stream then a restart loses and doubles nothing; the
tap queue's bound drops the oldest messages (the services' publishes still succeed) and counts
what it dropped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pika
import pytest

from collector.commands.collect import build_pipeline
from collector.model import Observation
from collector.rabbitmq.tap import RabbitTap, RabbitTapOptions
from collector.settings import RabbitMQSettings, Settings
from collector.store.base import Position, open_store
from tests.brokers import _acceptance
from tests.brokers._rabbit import cli, declare_exchanges, declare_tap, query
from tests.brokers._servers import RabbitNode

pytestmark = pytest.mark.brokers


def _publish(url: str, exchange: str, messages: list[tuple[bytes, pika.BasicProperties]]
             ) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()  # a nack raises: every publish here must succeed
        for body, props in messages:
            ch.basic_publish(exchange, "poison.kind", body, props)
    finally:
        conn.close()


def _read(tap: RabbitTap, n: int, within: float = 30) -> tuple[list[Observation], list[Position]]:
    got: list[Observation] = []
    positions: list[Position] = []
    deadline = time.monotonic() + within
    while len(got) < n and time.monotonic() < deadline:
        more, at = tap.poll(timeout_ms=200)
        got.extend(more)
        positions = at or positions
    assert len(got) == n
    return got, positions


def test_a_redelivered_poison_message_is_one_dead_letter(rabbitmq_node: RabbitNode, name: str,
                                                         tmp_path: Path) -> None:
    declare_exchanges(rabbitmq_node.url, (name,))
    settings = RabbitMQSettings(url=rabbitmq_node.url, bindings=(f"{name}:#",))
    declare_tap(rabbitmq_node.url, name, bindings=(f"{name}:#",))
    same = pika.BasicProperties(headers={"k": "v"}, timestamp=1_700_000_000)
    _publish(rabbitmq_node.url, name, [
        (b"\xff\xfe not utf-8", pika.BasicProperties(message_id="poison-1")),
        (b"{not json", same), (b"{not json", same)])  # published twice: one message to us
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    pipeline = build_pipeline(Settings(store=url), store)
    try:
        first = RabbitTap(RabbitTapOptions(settings, name))
        first.open()
        observations, _ = _read(first, 3)
        pipeline.process(observations)  # stored, then the collector dies before the ack:
        first.close()  # the broker delivers all three again
        second = RabbitTap(RabbitTapOptions(settings, name))
        second.open()
        again, positions = _read(second, 3)
        pipeline.process(again, positions)
        assert second.commit(positions)
        second.close()
    finally:
        store.close()
    letters = query(url, "SELECT reason, topic, detail FROM dead_letters ORDER BY reason")
    assert [(d["reason"], d["topic"]) for d in letters] == [
        ("not-json", f"rabbitmq:{name}/poison.kind"),
        ("not-utf8", f"rabbitmq:{name}/poison.kind")]
    assert all(d["detail"] for d in letters)  # with its reason spelled out
    third = RabbitTap(RabbitTapOptions(settings, name))
    third.open()
    try:
        assert third.poll(timeout_ms=1000) == ([], [])  # acknowledged: nothing comes back
    finally:
        third.close()


def _count(url: str, sql: str) -> int:
    try:
        return int(query(url, sql)[0]["n"])
    except Exception:  # the store is being created
        return 0


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
        rabbitmq_node: RabbitNode, tmp_path: Path) -> None:
    group = f"kill9-{os.getpid()}"
    declare_exchanges(rabbitmq_node.url)
    declare_tap(rabbitmq_node.url, group)
    truth_file = tmp_path / "truth.jsonl"
    faults = [arg for f in _acceptance.FAULTS for arg in ("--fault-rate", f)]
    cli("simulate", "--flows", "1000", "--seed", "5", *faults, "--truth", str(truth_file),
        "--amqp-url", rabbitmq_node.url)
    truth = [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]
    expected = {tuple(e) for t in truth for e in t["events"]}
    url = f"sqlite:///{tmp_path / 'store.db'}"
    args = [sys.executable, "-m", "collector.cli", "--log-level", "WARNING", "collect",
            "--store", url, "--amqp-url", rabbitmq_node.url, "--group-id", group,
            "--metrics-port", "0"]
    small = {**os.environ, "CHOREOSCOPE_KAFKA__BATCH_MAX": "50",
             "CHOREOSCOPE_KAFKA__BATCH_WAIT_MS": "20", "CHOREOSCOPE_RABBITMQ__PREFETCH": "100"}
    first = subprocess.Popen(args, env=small, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and stored < 200:
        time.sleep(0.05)
        stored = _count(url, "SELECT COUNT(*) AS n FROM events")
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    at_kill = _count(url, "SELECT COUNT(*) AS n FROM events")
    assert 0 < at_kill < len(expected), "the kill must land mid-stream"
    cli("collect", "--store", url, "--amqp-url", rabbitmq_node.url, "--group-id", group,
        "--metrics-port", "0", "--until-idle", "2")
    events = query(url, "SELECT source, id FROM events")
    assert len(events) == len({(e["source"], e["id"]) for e in events})
    assert {(e["source"], e["id"]) for e in events} == expected
    letters = _count(url, "SELECT COUNT(*) AS n FROM dead_letters")
    undecodable = sum(1 for t in truth for f in t["faults"]
                      if f["name"] in ("undecodable", "no-correlation"))
    assert letters == undecodable > 0
    depth = _depth(rabbitmq_node.url, f"choreoscope.tap.{group}")
    assert depth == 0  # everything acknowledged
    # and the flows spanning the kill are whole, with their outcomes (issue 19)
    _acceptance.assert_flows_match(_acceptance.stored(truth, url), url)


def _depth(url: str, queue: str) -> Any:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def test_the_tap_queue_bound_drops_the_oldest_and_counts_them(rabbitmq_node: RabbitNode,
                                                               name: str) -> None:
    declare_exchanges(rabbitmq_node.url, (name,))
    settings = RabbitMQSettings(url=rabbitmq_node.url, bindings=(f"{name}:#",),
                                queue_max_bytes=20_000)
    declare_tap(rabbitmq_node.url, name, bindings=(f"{name}:#",), queue_max_bytes=20_000)
    # the collector is stopped: the services publish 300 messages of 500 bytes, 150 kB
    sent = [(f"{i:04d}".encode() + b"x" * 496, pika.BasicProperties()) for i in range(300)]
    _publish(rabbitmq_node.url, name, sent)  # confirmed by the broker, every one
    tap = RabbitTap(RabbitTapOptions(settings, name))
    tap.open()
    try:
        got: list[Observation] = []
        for _ in range(20):
            more, positions = tap.poll(timeout_ms=300)
            got.extend(more)
            if positions:
                tap.commit(positions)
        figures = tap.figures()
    finally:
        tap.close()
    assert 0 < len(got) <= 40  # what fits in 20,000 bytes
    assert got[-1].value.startswith(b"0299")  # the newest kept, the oldest dropped
    assert figures["rabbitmq_dropped"] == 300 - len(got)
    assert figures["rabbitmq_queue_depth"] == 0
