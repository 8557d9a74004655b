"""Headers exchanges: a binding's arguments (``x-match`` and the headers to match) are given
after ``?`` in ``[rabbitmq] bindings`` and the tap's queue is bound with them, so it receives
exactly what the headers exchange routes by them; a malformed entry exits 2 naming the key."""

from __future__ import annotations

import time
from pathlib import Path

import pika
import pytest

from collector.rabbitmq._binding import Binding, parse_binding
from collector.rabbitmq.tap import RabbitTap, RabbitTapOptions
from collector.settings import RabbitMQSettings
from tests.brokers._rabbit import cli, declare_exchanges
from tests.brokers._servers import RabbitNode


def test_bindings_parse_with_and_without_arguments() -> None:
    assert parse_binding("orders") == Binding("orders", "#", None)
    assert parse_binding("orders:order.*") == Binding("orders", "order.*", None)
    assert parse_binding("events?x-match=any&type=OrderPlaced&region=eu") == Binding(
        "events", "#", {"x-match": "any", "type": "OrderPlaced", "region": "eu"})
    assert parse_binding("events:k?type=a%26b") == Binding("events", "k", {"type": "a&b"})
    with pytest.raises(ValueError, match="x-match is one of all, any"):
        parse_binding("events?x-match=some&type=a")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_binding("events?type")


def test_a_bad_binding_argument_exits_2_naming_the_key(tmp_path: Path) -> None:
    done = cli("collect", "--store", f"sqlite:///{tmp_path / 's.db'}", "--amqp-url",
               "amqp://127.0.0.1:1/%2F", "--metrics-port", "0",
               env={"CHOREOSCOPE_RABBITMQ__BINDINGS": '["events?x-match=most&type=a"]'},
               ok=False)
    assert done.returncode == 2
    last = [line for line in done.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("choreoscope: invalid configuration rabbitmq.bindings"), last
    assert "x-match is one of" in last


def _publish(url: str, exchange: str, headers: list[dict[str, str]]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for i, h in enumerate(headers):
            ch.basic_publish(exchange, "", f'{{"n": {i}}}'.encode(),
                             pika.BasicProperties(headers=h, message_id=f"m{i}"))
    finally:
        conn.close()


def _drain(tap: RabbitTap, within: float = 5) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        more, _ = tap.poll(timeout_ms=200)
        got.extend(o.value.decode() for o in more)
    return sorted(got)


@pytest.mark.brokers
@pytest.mark.parametrize(("match", "expected"), [
    ("any", ['{"n": 0}', '{"n": 1}', '{"n": 2}']),
    ("all", ['{"n": 0}'])])
def test_a_headers_exchange_routes_to_the_tap_by_its_binding_arguments(
        rabbitmq_node: RabbitNode, name: str, match: str, expected: list[str]) -> None:
    declare_exchanges(rabbitmq_node.url, (name,), kind="headers")
    settings = RabbitMQSettings(url=rabbitmq_node.url,
                                bindings=(f"{name}?x-match={match}&type=OrderPlaced&region=eu",))
    tap = RabbitTap(RabbitTapOptions(settings, name))
    tap.open()
    try:
        _publish(rabbitmq_node.url, name, [
            {"type": "OrderPlaced", "region": "eu"},  # 0: both
            {"type": "OrderPlaced", "region": "us"},  # 1: type only
            {"region": "eu"},                         # 2: region only
            {"type": "PaymentTaken"},                 # 3: neither
            {}])                                      # 4: no headers
        assert _drain(tap) == expected
    finally:
        tap.close()
