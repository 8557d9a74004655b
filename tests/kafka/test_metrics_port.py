"""The collector's health endpoint on a port in use: one line and exit 1 at start-up, as the
OTLP receivers do, not a traceback (issue 14, servers). No broker is needed: it fails first."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from collector.kafka.exceptions import KafkaEdgeError
from collector.kafka.health import MetricsServer

CLI = [sys.executable, "-m", "collector.cli"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_metrics_server_on_a_port_in_use_names_it(taken_port: int) -> None:
    with pytest.raises(KafkaEdgeError) as caught:
        MetricsServer(CollectorRegistry(), "127.0.0.1", taken_port)
    assert str(caught.value) == (
        f"cannot serve the collector's health on 127.0.0.1:{taken_port}: Address already in "
        "use (set kafka.metrics_port to another port, or 0 for none)")


def test_collect_with_its_health_port_in_use_stops_with_one_line(taken_port: int,
                                                                 tmp_path: Path) -> None:
    (tmp_path / "schemas" / "events").mkdir(parents=True)
    (tmp_path / "schemas" / "flows").mkdir()
    done = subprocess.run([*CLI, "--log-level", "WARNING", "collect", "--store",
                           f"sqlite:///{tmp_path / 'c.db'}", "--bootstrap-servers",
                           "127.0.0.1:1", "--metrics-port", str(taken_port), "--until-idle", "5"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"choreoscope: cannot serve the collector's health on 127.0.0.1:{taken_port}: Address "
        "already in use (set kafka.metrics_port to another port, or 0 for none)")
