"""``collect --nats-url`` with a server that is not there, a URL that is not one, or a stream
that does not exist: one line, exit 2, within the timeout, no traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.brokers._rabbit import cli
from tests.brokers._servers import NatsServer, free_port

pytestmark = pytest.mark.brokers


def _last(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


def test_a_refused_connection_ends_collect_with_one_line_and_exit_2(tmp_path: Path) -> None:
    started = time.monotonic()
    done = cli("collect", "--store", f"sqlite:///{tmp_path / 's.db'}", "--nats-url",
               f"nats://127.0.0.1:{free_port()}", "--metrics-port", "0",
               env={"CHOREOSCOPE_NATS__CONNECT_TIMEOUT_S": "2"}, ok=False, timeout=120)
    assert done.returncode == 2, done.stderr
    assert time.monotonic() - started < 60
    assert _last(done.stderr).startswith("choreoscope: cannot connect to NATS at 127.0.0.1:")
    assert "Traceback" not in done.stderr


def test_a_url_that_is_not_nats_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = cli("collect", "--store", f"sqlite:///{tmp_path / 's.db'}", "--nats-url",
               "http://x:4222", "--metrics-port", "0", ok=False)
    assert done.returncode == 2
    assert _last(done.stderr) == ("choreoscope: invalid configuration nats.url='http://x:4222': "
                                  "expected a NATS URL, nats://HOST:PORT or tls://HOST:PORT")


def test_a_missing_stream_is_named_in_one_line(nats_server: NatsServer, name: str,
                                               tmp_path: Path) -> None:
    done = cli("collect", "--store", f"sqlite:///{tmp_path / 's.db'}", "--nats-url",
               nats_server.url, "--metrics-port", "0",
               env={"CHOREOSCOPE_NATS__STREAMS": f'["{name}"]'}, ok=False)
    assert done.returncode == 2, done.stderr
    assert "does not exist" in _last(done.stderr)
    assert name in _last(done.stderr)
    assert "Traceback" not in done.stderr
