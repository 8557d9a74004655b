"""The broker restarted mid-stream (RabbitMQ node stopped and started; nats-server stopped and
started), with ``collect`` running: the collector says the broker is unreachable, reconnects on
its own when it is back, and in the end has stored every event once and every poison message
as one dead letter (what was published before, during the read and after the restart).

Each test has a server of its own (stopping the session's would break the other tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.brokers import _acceptance
from tests.brokers._rabbit import cli, declare_exchanges, declare_tap, query
from tests.brokers._servers import NatsServer, RabbitNode

pytestmark = [pytest.mark.brokers, pytest.mark.slow]

SMALL_BATCHES = {"CHOREOSCOPE_KAFKA__BATCH_MAX": "50", "CHOREOSCOPE_KAFKA__BATCH_WAIT_MS": "20",
                 "CHOREOSCOPE_RABBITMQ__PREFETCH": "100", "CHOREOSCOPE_NATS__FETCH_BATCH": "50"}


def _simulate(flag: str, url: str, tmp: Path, seed: int) -> list[dict[str, Any]]:
    truth_file = tmp / f"truth-{seed}.jsonl"
    cli("simulate", "--flows", "300", "--seed", str(seed), "--fault-rate", "undecodable=0.03",
        "--fault-rate", "duplicate=0.05", "--truth", str(truth_file), flag, url)
    return [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]


def _count(url: str, table: str) -> int:
    try:
        return int(query(url, f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])
    except Exception:  # the store is being created
        return 0


def _wait(what: Callable[[], bool], within: float, why: str) -> None:
    deadline = time.monotonic() + within
    while not what():
        assert time.monotonic() < deadline, why
        time.sleep(0.1)


def _restart_mid_stream(flag: str, url: str, tmp: Path, restart: Callable[[], None]) -> str:
    """Publish, collect, restart the broker once some (not all) is stored, publish again,
    wait for everything; the collector's log."""
    first = _simulate(flag, url, tmp, 31)
    store = f"sqlite:///{tmp / 'store.db'}"
    collect = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "--log-level", "WARNING", "collect", "--store",
         store, flag, url, "--group-id", "restart", "--metrics-port", "0"],
        env={**os.environ, **SMALL_BATCHES}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        _wait(lambda: _count(store, "events") >= 100, 120, "the collector stored nothing")
        restart()
        second = _simulate(flag, url, tmp, 32)  # published after the restart
        truth = first + second
        expected = {tuple(e) for t in truth for e in t["events"]}
        assert 0 < len(expected & {(r["source"], r["id"]) for r in
                                   query(store, "SELECT source, id FROM events")}) < len(expected)
        _wait(lambda: _count(store, "events") >= len(expected), 180,
              "the collector did not read everything after the restart")
        time.sleep(2)  # anything more (a double) would be stored by now
    finally:
        collect.send_signal(signal.SIGTERM)
        _out, err = collect.communicate(timeout=60)
    assert collect.returncode == 0, err[-3000:]
    events = query(store, "SELECT source, id FROM events")
    assert {(e["source"], e["id"]) for e in events} == expected
    assert len(events) == len(expected)
    poison = sum(1 for t in truth for f in t["faults"] if f["name"] == "undecodable")
    assert poison > 0
    assert _count(store, "dead_letters") == poison  # each once, redelivered or not
    return err


def test_the_rabbitmq_tap_reconnects_after_a_node_restart(tmp_path: Path) -> None:
    (tmp_path / "node").mkdir()
    node = RabbitNode(tmp_path / "node")
    node.start()
    try:
        declare_exchanges(node.url)
        declare_tap(node.url, "restart")

        def restart() -> None:
            node.stop()
            time.sleep(1)
            node.start()  # same ports and data: the durable tap queue and its messages stay

        err = _restart_mid_stream("--amqp-url", node.url, tmp_path, restart)
    finally:
        node.stop()
    assert "unreachable" in err
    assert "reachable again" in err


def test_the_jetstream_tap_reconnects_after_a_server_restart(tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    server = NatsServer(tmp_path / "server")
    server.start()
    try:
        _acceptance.reset_streams(server.url)

        def restart() -> None:
            server.stop()
            time.sleep(1)
            server.start()  # same port and store directory: streams and consumer stay

        err = _restart_mid_stream("--nats-url", server.url, tmp_path, restart)
    finally:
        server.stop()
    assert "unreachable" in err
    assert "reachable again" in err
