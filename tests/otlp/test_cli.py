"""``choreoscope otlp`` and ``choreoscope timeline`` as a user runs them: real processes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collector.envelope import parse_traceparent
from collector.model import Event, Location
from collector.store.base import Batch, open_store

MakeProvider = Callable[[str, SpanExporter], TracerProvider]
CLI = [sys.executable, "-m", "collector.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port}")


def test_otlp_command_receives_and_timeline_command_shows(
    tmp_path: Path, make_tracer_provider: MakeProvider,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'cli.db'}"
    port = _free_port()
    server = subprocess.Popen([*CLI, "otlp", "--store", store_url, "--listen",
                               f"127.0.0.1:{port}", "--no-grpc"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        _wait_for_port(port, server)
        memory = InMemorySpanExporter()
        tracer = make_tracer_provider("orders", memory).get_tracer("cli")
        headers: dict[str, str] = {}
        with tracer.start_as_current_span("orders send", kind=trace.SpanKind.PRODUCER):
            propagate.inject(headers)
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        assert exporter.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "1 spans stored" in out

    parsed = parse_traceparent(headers["traceparent"])
    assert parsed is not None
    now = datetime.now(UTC)
    store = open_store(store_url)
    store.write(Batch(events=[Event(
        id="e1", type="OrderPlaced", source="orders", occurred_at=now, correlation_id="order-9",
        data={}, location=Location("kafka", "orders", 0, 1), received_at=now,
        trace_id=parsed[0], span_id=parsed[1])]))
    store.close()

    shown = subprocess.run([*CLI, "timeline", "order-9", "--store", store_url, "--json"],
                           capture_output=True, text=True, cwd=tmp_path, check=True)
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(r["kind"], r["label"]) for r in rows] == [("span", "orders send"),
                                                       ("event", "OrderPlaced")]
    assert rows[1]["note"] == f"  (sent by span {parsed[1]})"
    missing = subprocess.run([*CLI, "timeline", "nope", "--store", store_url],
                             capture_output=True, text=True, cwd=tmp_path)
    assert missing.returncode == 1
    assert "no flow with correlation id, business key or id prefix 'nope'" in missing.stderr


def test_bad_listen_address_is_exit_2_naming_the_flag(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "otlp", "--listen", "localhost"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert "--listen='localhost'" in done.stderr


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*CLI, "otlp", "--store", f"sqlite:///{tmp_path / 'x.db'}",
                               "--listen", f"127.0.0.1:{port}", "--no-grpc"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"choreoscope: cannot listen for OTLP/HTTP on "
                                   f"127.0.0.1:{port}: Address already in use")


def test_a_second_receiver_on_the_same_grpc_port_fails_at_start_up(tmp_path: Path) -> None:
    """Issue 14: a second ``choreoscope otlp`` used to share the gRPC port (SO_REUSEPORT) and
    take half of the exports into its own store; now it stops at start-up with one line."""
    grpc_port = _free_port()
    first = subprocess.Popen([*CLI, "otlp", "--store", f"sqlite:///{tmp_path / 'a.db'}",
                              "--listen", f"127.0.0.1:{_free_port()}", "--grpc-port",
                              str(grpc_port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=tmp_path)
    try:
        _wait_for_port(grpc_port, first)
        second = subprocess.run([*CLI, "otlp", "--store", f"sqlite:///{tmp_path / 'b.db'}",
                                 "--listen", f"127.0.0.1:{_free_port()}", "--grpc-port",
                                 str(grpc_port)], capture_output=True, text=True, cwd=tmp_path,
                                timeout=30)
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert second.returncode == 1
    assert second.stderr.strip() == (f"choreoscope: cannot listen for OTLP/gRPC on "
                                     f"127.0.0.1:{grpc_port}: Address already in use")
    assert first.returncode == 0
