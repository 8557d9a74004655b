"""Issue 14: the OTLP receivers bound their total memory, not only each request.

``choreoscope otlp`` runs as a user runs it (its own process, default settings) and 25 clients
send 20 MB bodies at once, all of them held mid-body until every one has sent all but its last
byte: without the bound on bytes in flight and requests at once, the receiver held every body
(RSS from 64 to 535 MB). Its peak RSS (``VmHWM``) must stay below 250 MB, the refused requests
get 503 with ``Retry-After``, and a real exporter's export succeeds afterwards. The same load
over OTLP/gRPC held 530 MB: gRPC's HTTP/2 flow control now holds back what its workers are not
reading (no BDP probing), and it reads as many messages at once as the bytes bound holds.
"""

from __future__ import annotations

import gzip
import http.client
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from collector.otlp._admission import Admission
from collector.otlp.receiver import grpc_workers
from collector.settings import OtlpSettings
from tests.otlp.test_cli import CLI, MakeProvider, _free_port, _wait_for_port
from tests.otlp.test_receiver import _order_spans

CLIENTS = 25
BODY = 20_000_000  # 20 MB, under the 20 MiB request limit with gzip overhead
LIMIT_MB = 250


def _memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def _held_request(port: int, body: bytes, encoding: str, gate: threading.Barrier,
                  answers: list[tuple[int, str | None]]) -> None:
    """Send all of ``body`` but its last byte, wait for every client, then finish."""
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        head = (f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                f"application/x-protobuf\r\nContent-Encoding: {encoding}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        sock.sendall(head.encode())
        sock.sendall(memoryview(body)[:-1])
        gate.wait()
        sock.sendall(body[-1:])
        response = http.client.HTTPResponse(sock)
        response.begin()
        response.read()
        answers.append((response.status, response.getheader("Retry-After")))


@pytest.mark.slow
def test_many_large_bodies_at_once_keep_the_receiver_under_250_mb(
    tmp_path: Path, make_tracer_provider: MakeProvider,
) -> None:
    plain = b"\xff" * BODY  # not a protobuf message: each admitted one is a quick 400
    packed = gzip.compress(os.urandom(BODY), compresslevel=1)  # 20 MB in, 20 MB out
    port = _free_port()
    store_url = f"sqlite:///{tmp_path / 'otlp.db'}"
    server = subprocess.Popen([*CLI, "otlp", "--store", store_url, "--listen",
                               f"127.0.0.1:{port}", "--no-grpc"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        _wait_for_port(port, server)
        before = _memory_mb(server.pid, "VmRSS")
        gate = threading.Barrier(CLIENTS, timeout=300)
        answers: list[tuple[int, str | None]] = []
        clients = [threading.Thread(target=_held_request, args=(
            port, packed if i % 5 == 0 else plain, "gzip" if i % 5 == 0 else "identity",
            gate, answers)) for i in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(300)
        peak = _memory_mb(server.pid, "VmHWM")
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        exported = exporter.export(_order_spans(make_tracer_provider))
        exporter.shutdown()
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert peak < LIMIT_MB, f"peak RSS {peak:.0f} MB (from {before:.0f} MB) under {CLIENTS} x 20 MB"
    assert len(answers) == CLIENTS, err
    statuses = sorted(status for status, _ in answers)
    assert set(statuses) <= {400, 503}, statuses
    assert all(retry == "1" for status, retry in answers if status == 503)
    assert 503 in statuses, "no request was refused: the bound did not act"
    assert exported is SpanExportResult.SUCCESS
    assert server.returncode == 0, err
    assert "3 spans stored" in out


def _grpc_export(port: int, body: bytes, codes: list[str]) -> None:
    options = [("grpc.max_send_message_length", 2 * len(body))]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        try:
            export(body, timeout=300)
            codes.append("OK")
        except grpc.RpcError as exc:
            codes.append(exc.code().name)


@pytest.mark.slow
def test_many_large_grpc_exports_at_once_keep_the_receiver_under_250_mb(
    tmp_path: Path, make_tracer_provider: MakeProvider,
) -> None:
    body = b"\xff" * BODY  # not a protobuf message: INVALID_ARGUMENT once read
    http_port, grpc_port = _free_port(), _free_port()
    server = subprocess.Popen([*CLI, "otlp", "--store", f"sqlite:///{tmp_path / 'g.db'}",
                               "--listen", f"127.0.0.1:{http_port}", "--grpc-port",
                               str(grpc_port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=tmp_path)
    try:
        _wait_for_port(grpc_port, server)
        before = _memory_mb(server.pid, "VmRSS")
        codes: list[str] = []
        clients = [threading.Thread(target=_grpc_export, args=(grpc_port, body, codes))
                   for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(300)
        peak = _memory_mb(server.pid, "VmHWM")
        exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)
        exported = exporter.export(_order_spans(make_tracer_provider))
        exporter.shutdown()
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert peak < LIMIT_MB, f"peak RSS {peak:.0f} MB (from {before:.0f} MB) under {CLIENTS} x 20 MB"
    assert codes == ["INVALID_ARGUMENT"] * CLIENTS, err  # every call answered, none refused
    assert exported is SpanExportResult.SUCCESS
    assert server.returncode == 0, err
    assert "3 spans stored" in out


def test_grpc_reads_what_the_bytes_bound_holds() -> None:
    assert grpc_workers(OtlpSettings()) == 2  # 64 MiB for 20 MiB bodies held twice: at least 2
    assert grpc_workers(OtlpSettings(max_inflight_bytes=400 * 1024 * 1024)) == 10
    assert grpc_workers(OtlpSettings(max_inflight_bytes=10**10)) == 16  # max_concurrent_requests


def test_admission_bounds_requests_and_bytes_and_lets_one_alone_through() -> None:
    admission = Admission(max_bytes=100, max_requests=2)
    big = admission.enter(500)  # alone: always let in, whatever its size
    assert big is not None
    assert admission.enter(1) is None  # over the bytes
    big.close()
    first, second = admission.enter(60), admission.enter(40)
    assert first is not None
    assert second is not None
    assert admission.enter(0) is None  # over the requests
    assert not first.reserve(1)  # over the bytes while another is in progress
    second.close()
    assert first.reserve(1000)  # alone again: may grow
    first.close()
    first.close()  # closing twice releases once
    assert (admission.usage.requests, admission.usage.bytes) == (0, 0)
