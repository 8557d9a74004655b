"""``collect --amqp-url`` with a broker that is not there or a URL that is not one: one line,
exit 2, within the timeout; ``rabbitmq remove-tap`` deletes the tap queue and its bindings."""

from __future__ import annotations

import time
from pathlib import Path

import pika
import pytest

from tests.brokers._rabbit import cli, declare_exchanges, declare_tap
from tests.brokers._servers import RabbitNode, free_port

pytestmark = pytest.mark.brokers


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_refused_connection_ends_collect_with_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"amqp://u:s3cret-pw@127.0.0.1:{free_port()}/%2F"
    started = time.monotonic()
    done = cli("collect", "--store", f"sqlite:///{tmp_path / 's.db'}", "--amqp-url", url,
               "--metrics-port", "0", env={"CHOREOSCOPE_RABBITMQ__CONNECT_TIMEOUT_S": "2"},
               ok=False, timeout=120)
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - started < 60
    last = _lines(done.stderr)[-1]
    assert last.startswith("choreoscope: cannot connect to RabbitMQ at 127.0.0.1:"), last
    assert "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_a_url_that_is_not_amqp_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = cli("collect", "--store", f"sqlite:///{tmp_path / 's.db'}", "--amqp-url",
               "http://u:pw-123@rabbit/", "--metrics-port", "0", ok=False)
    assert done.returncode == 2
    assert _lines(done.stderr) == [
        "choreoscope: invalid configuration rabbitmq.url='http://u:***@rabbit/': expected an "
        "AMQP URL, amqp://HOST:PORT/VHOST or amqps://..."]


def test_a_missing_exchange_is_named_in_one_line(rabbitmq_node: RabbitNode, name: str,
                                                 tmp_path: Path) -> None:
    done = cli("collect", "--store", f"sqlite:///{tmp_path / 's.db'}", "--amqp-url",
               rabbitmq_node.url, "--group-id", name, "--metrics-port", "0",
               env={"CHOREOSCOPE_RABBITMQ__BINDINGS": f'["{name}:#"]'}, ok=False)
    assert done.returncode == 2
    assert f"no exchange '{name}'" in _lines(done.stderr)[-1]
    assert "Traceback" not in done.stderr


def test_remove_tap_deletes_the_queue_and_its_bindings(rabbitmq_node: RabbitNode,
                                                       name: str) -> None:
    declare_exchanges(rabbitmq_node.url, (name,))
    declare_tap(rabbitmq_node.url, name, bindings=(f"{name}:#",))
    done = cli("rabbitmq", "remove-tap", "--amqp-url", rabbitmq_node.url, "--group-id", name)
    assert f"removed the tap queue choreoscope.tap.{name}" in done.stdout
    conn = pika.BlockingConnection(pika.URLParameters(rabbitmq_node.url))
    try:
        for queue in (f"choreoscope.tap.{name}", f"choreoscope.tap.{name}.dropped"):
            ch = conn.channel()
            with pytest.raises(pika.exceptions.ChannelClosedByBroker) as gone:
                ch.queue_declare(queue, passive=True)
            assert gone.value.reply_code == 404
        ch = conn.channel()
        ch.confirm_delivery()  # the exchange routes nowhere now; publishing still succeeds
        ch.basic_publish(name, "a.b", b"x")
    finally:
        conn.close()
