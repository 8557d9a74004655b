"""A collector that cannot reach its brokers at start-up exits, bounded by
``kafka.connect_timeout_s``, with one line naming the broker and the reason (issue 14)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from collector.kafka._client import unreachable_reason

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_collect_against_no_broker_exits_with_one_line_naming_it(tmp_path: Path) -> None:
    port = _closed_port()
    env = {**os.environ, "CHOREOSCOPE_KAFKA__CONNECT_TIMEOUT_S": "3",
           "CHOREOSCOPE_SCHEMAS_DIR": str(ROOT / "schemas")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "--log-level", "WARNING", "collect",
         "--bootstrap-servers", f"127.0.0.1:{port}", "--until-idle", "5", "--metrics-port", "0",
         "--store", f"sqlite:///{tmp_path / 'c.db'}"],
        capture_output=True, text=True, timeout=90, check=False, env=env)
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "loaded " not in line]
    assert errors == [f"choreoscope: cannot connect to Kafka at 127.0.0.1:{port} within 3 s: "
                      f"127.0.0.1:{port}: connection refused (check kafka.bootstrap_servers "
                      "and that the broker is up; kafka.connect_timeout_s sets how long to "
                      "try)"], done.stderr
    assert took < 60  # bounded: before the fix it never exited


def test_the_reason_names_the_first_server_that_refuses() -> None:
    port = _closed_port()
    reason = unreachable_reason({"bootstrap_servers": [f"127.0.0.1:{port}"]}, TimeoutError())
    assert reason == f"127.0.0.1:{port}: connection refused"
    assert unreachable_reason({"bootstrap_servers": ["nonsense"]}, TimeoutError()) == (
        "nonsense: not HOST:PORT")
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        where = f"127.0.0.1:{listening.getsockname()[1]}"
        # reachable over TCP: what kafka-python said is the reason
        assert unreachable_reason({"bootstrap_servers": [where]},
                                  TimeoutError("Unable to bootstrap")) == "Unable to bootstrap"


def test_simulate_against_no_broker_says_why_in_one_line() -> None:
    """The producer side: kafka-python's retries stay out of sight, the reason is named."""
    port = _closed_port()
    env = {**os.environ, "CHOREOSCOPE_SCHEMAS_DIR": str(ROOT / "schemas")}
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "simulate", "--flows", "3",
         "--bootstrap-servers", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=120, check=False, env=env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"choreoscope: cannot publish to Kafka at 127.0.0.1:{port}: 127.0.0.1:{port}: "
        "connection refused"], done.stderr
