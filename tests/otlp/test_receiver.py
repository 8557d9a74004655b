"""The OTLP/HTTP receiver with real clients: the OpenTelemetry SDK's OTLP/HTTP span exporters
(protobuf and JSON, plain and gzip) and raw HTTP requests for what an exporter never sends."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from google.rpc import status_pb2
from opentelemetry import trace
from opentelemetry.exporter.otlp.common.http import Compression as JsonCompression
from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonSpanExporter,
)
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collector.otlp.receiver import OtlpService
from collector.store.base import Store
from tests.otlp.conftest import stored_spans

MakeProvider = Callable[[str, SpanExporter], TracerProvider]


def _order_spans(make: MakeProvider) -> list[ReadableSpan]:
    """Three real SDK spans: a server span, a producer child with messaging attributes, a
    consumer span linked to the producer."""
    memory = InMemorySpanExporter()
    tracer = make("orders", memory).get_tracer("tests.otlp")
    attributes = {"messaging.system": "kafka", "messaging.destination.name": "orders",
                  "messaging.kafka.offset": 42, "retry": False, "tags": ["a", "b"]}
    with (tracer.start_as_current_span("POST /orders", kind=trace.SpanKind.SERVER),
          tracer.start_as_current_span("orders send", kind=trace.SpanKind.PRODUCER,
                                       attributes=attributes) as producer):
        producer_context = producer.get_span_context()
    with tracer.start_as_current_span("orders process", kind=trace.SpanKind.CONSUMER,
                                      links=[trace.Link(producer_context, {"n": 1})]):
        pass
    return list(memory.get_finished_spans())


def _post(url: str, body: bytes, content_type: str = "application/x-protobuf",
          **headers: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("POST", parts.path, body=body,
                     headers={"Content-Type": content_type,
                              **{k.replace("_", "-"): v for k, v in headers.items()}})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def _status_message(body: bytes, content_type: str) -> str:
    if content_type.startswith("application/json"):
        return str(json.loads(body)["message"])
    return str(status_pb2.Status.FromString(body).message)


def _protobuf(spans: list[ReadableSpan]) -> bytes:
    return bytes(encode_spans(spans).SerializeToString())


# -- real exporters -----------------------------------------------------------------------


@pytest.mark.parametrize(("exporter_class", "compression"), [
    (OTLPSpanExporter, Compression.NoCompression),
    (OTLPSpanExporter, Compression.Gzip),
    (JsonSpanExporter, None),
    (JsonSpanExporter, JsonCompression.GZIP),
    (JsonSpanExporter, JsonCompression.DEFLATE),
], ids=["protobuf", "protobuf-gzip", "json", "json-gzip", "json-deflate"])
def test_sdk_exporter_spans_are_stored_as_sent(
    service: OtlpService, store: Store, make_tracer_provider: MakeProvider,
    exporter_class: Any, compression: Any,
) -> None:
    spans = _order_spans(make_tracer_provider)
    kwargs = {"compression": compression} if compression is not None else {}
    exporter = exporter_class(endpoint=service.http.endpoint, **kwargs)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    rows = {r["name"]: r for r in stored_spans(store)}
    assert set(rows) == {"POST /orders", "orders send", "orders process"}
    server, producer, consumer = (rows["POST /orders"], rows["orders send"],
                                  rows["orders process"])
    sdk = {s.name: s for s in spans}
    assert producer["trace_id"] == format(sdk["orders send"].context.trace_id, "032x")
    assert producer["span_id"] == format(sdk["orders send"].context.span_id, "016x")
    assert producer["parent_id"] == server["span_id"]
    assert server["parent_id"] is None
    assert (server["kind"], producer["kind"], consumer["kind"]) == ("server", "producer",
                                                                    "consumer")
    assert {r["service"] for r in rows.values()} == {"orders"}
    assert json.loads(producer["attributes"]) == {
        "messaging.system": "kafka", "messaging.destination.name": "orders",
        "messaging.kafka.offset": 42, "retry": False, "tags": ["a", "b"]}
    assert json.loads(consumer["links"]) == [[producer["trace_id"], producer["span_id"],
                                              {"n": 1}]]
    assert store.query("SELECT trace_id, span_id FROM span_links") == [
        {"trace_id": consumer["trace_id"], "span_id": consumer["span_id"]}]


def test_a_resent_export_changes_nothing(service: OtlpService, store: Store,
                                         make_tracer_provider: MakeProvider) -> None:
    spans = _order_spans(make_tracer_provider)
    exporter = OTLPSpanExporter(endpoint=service.http.endpoint)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    before = stored_spans(store)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert stored_spans(store) == before
    assert len(before) == 3


def test_bearer_token_is_required_when_configured(
    start_service: Callable[..., OtlpService], store: Store, make_tracer_provider: MakeProvider,
) -> None:
    service = start_service(token="s3cret")
    spans = _order_spans(make_tracer_provider)
    status, headers, body = _post(service.http.endpoint, _protobuf(spans))
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert "bearer token" in _status_message(body, headers["Content-Type"])
    status, _, _ = _post(service.http.endpoint, _protobuf(spans), Authorization="Bearer nope")
    assert status == 401
    assert stored_spans(store) == []
    exporter = OTLPSpanExporter(endpoint=service.http.endpoint,
                                headers={"Authorization": "Bearer s3cret"})
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert len(stored_spans(store)) == 3


# -- responses per the specification ------------------------------------------------------


def test_success_response_is_in_the_request_encoding(
    service: OtlpService, make_tracer_provider: MakeProvider,
) -> None:
    spans = _order_spans(make_tracer_provider)
    status, headers, body = _post(service.http.endpoint, _protobuf(spans))
    assert (status, headers["Content-Type"]) == (200, "application/x-protobuf")
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(body)
    assert not response.HasField("partial_success")
    status, headers, body = _post(service.http.endpoint, b'{"resourceSpans": []}',
                                  "application/json")
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", {})


def _json_request(*trace_ids: str) -> bytes:
    spans = [{"traceId": tid, "spanId": f"{i + 1:016x}", "name": f"s{i}", "kind": 4,
              "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": 1700000000500000000,
              "attributes": [{"key": "messaging.system", "value": {"stringValue": "kafka"}}]}
             for i, tid in enumerate(trace_ids)]
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name",
                                     "value": {"stringValue": "billing"}}]},
        "scopeSpans": [{"scope": {"name": "manual"}, "spans": spans}]}]}).encode()


@pytest.mark.parametrize("encoding", ["application/json", "application/x-protobuf"])
def test_partial_success_names_the_rejected_spans(service: OtlpService, store: Store,
                                                  encoding: str) -> None:
    good = "5B8EFFF798038103D269B633813FC60C"
    body = _json_request(good, "00000000000000000000000000000000", "zz")
    if encoding == "application/x-protobuf":
        from google.protobuf import json_format

        document = json.loads(body)
        for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
            span["traceId"] = _hex_to_b64(span["traceId"])
            span["spanId"] = _hex_to_b64(span["spanId"])
        request = json_format.ParseDict(document, trace_service_pb2.ExportTraceServiceRequest())
        body = request.SerializeToString()
    status, headers, raw = _post(service.http.endpoint, body, encoding)
    assert (status, headers["Content-Type"]) == (200, encoding)
    if encoding == "application/json":
        partial = json.loads(raw)["partialSuccess"]
        rejected, message = int(partial["rejectedSpans"]), partial["errorMessage"]
    else:
        response = trace_service_pb2.ExportTraceServiceResponse.FromString(raw)
        rejected = response.partial_success.rejected_spans
        message = response.partial_success.error_message
    assert rejected == 2
    assert "invalid trace id" in message
    rows = stored_spans(store)
    assert [(r["trace_id"], r["service"], r["kind"]) for r in rows] == [
        (good.lower(), "billing", "producer")]


def _hex_to_b64(value: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except (ValueError, binascii.Error):
        return ""


# -- bad input: answered per the spec, nothing stored, the receiver still serving ----------


def _bad_requests(valid: bytes) -> list[tuple[str, bytes, str, dict[str, str], int]]:
    return [
        ("truncated protobuf", valid[: len(valid) - 7], "application/x-protobuf", {}, 400),
        ("invalid JSON", b'{"resourceSpans": [', "application/json", {}, 400),
        ("JSON not an object", b"[1, 2]", "application/json", {}, 400),
        ("JSON of the wrong shape", b'{"resourceSpans": 5}', "application/json", {}, 400),
        ("wrong content type", valid, "text/plain", {}, 415),
        ("wrong content encoding", valid, "application/x-protobuf",
         {"Content-Encoding": "br"}, 415),
        ("bad deflate", b"not deflate", "application/x-protobuf",
         {"Content-Encoding": "deflate"}, 400),
        ("empty JSON body", b"", "application/json", {}, 400),
        ("bad gzip", b"\x1f\x8b not gzip", "application/x-protobuf",
         {"Content-Encoding": "gzip"}, 400),
        ("truncated gzip", gzip.compress(valid)[:-12], "application/x-protobuf",
         {"Content-Encoding": "gzip"}, 400),
        ("over the limit", valid + b"\x00" * 70_000, "application/x-protobuf", {}, 413),
        ("over the limit once decompressed", gzip.compress(b"\x0a\x00" * 40_000),
         "application/x-protobuf", {"Content-Encoding": "gzip"}, 413),
    ]


def test_bad_input_is_refused_and_the_receiver_keeps_serving(
    start_service: Callable[..., OtlpService], store: Store, make_tracer_provider: MakeProvider,
) -> None:
    service = start_service(max_body_bytes=64_000)
    spans = _order_spans(make_tracer_provider)
    valid = _protobuf(spans)
    for case, body, content_type, headers, expected in _bad_requests(valid):
        status, response_headers, raw = _post(service.http.endpoint, body, content_type,
                                              **headers)
        assert status == expected, case
        assert response_headers["Content-Type"] in ("application/x-protobuf",
                                                    "application/json"), case
        assert _status_message(raw, response_headers["Content-Type"]), case
        assert stored_spans(store) == [], case
    exporter = OTLPSpanExporter(endpoint=service.http.endpoint)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert len(stored_spans(store)) == 3


def test_empty_protobuf_body_is_an_empty_request_and_succeeds(service: OtlpService,
                                                              store: Store) -> None:
    """An empty body is a valid protobuf message with no spans: the spec says succeed."""
    status, headers, body = _post(service.http.endpoint, b"")
    assert (status, body) == (200, b"")
    assert headers["Content-Type"] == "application/x-protobuf"
    assert stored_spans(store) == []


def test_wrong_path_and_method(service: OtlpService) -> None:
    host, port = service.http.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/v1/metrics", body=b"", headers={"Content-Type":
                                                           "application/x-protobuf"})
    assert conn.getresponse().status == 404
    conn.close()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/v1/traces")
    response = conn.getresponse()
    assert (response.status, response.headers["Allow"]) == (405, "POST")
    conn.close()


@pytest.mark.parametrize("method", ["DELETE", "HEAD", "PATCH", "OPTIONS", "PUT", "TRACE"])
def test_every_other_method_is_405_with_allow(service: OtlpService, method: str) -> None:
    """Issue 14: DELETE and HEAD got the standard library's 501 HTML page."""
    host, port = service.http.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, "/v1/traces", headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert (response.status, response.headers["Allow"]) == (405, "POST")
    assert response.headers["Content-Type"] == "application/json"
    if method == "HEAD":
        assert body == b""
    else:
        assert _status_message(body, "application/json") == f"{method} is not allowed: use POST"


def _raw(service: OtlpService, request_head: bytes) -> bytes:
    host, port = service.http.address
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request_head)
        chunks = []
        while chunk := sock.recv(65_536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(("request_head", "status"), [
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"POST /v1/traces HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    (b"GARBAGE\r\n\r\n", None),  # an HTTP/0.9-style answer: the body alone
    (b"POST /v1/traces HTTP/2.0\r\n\r\n", None),
], ids=["uri-too-long", "header-too-long", "malformed-request-line", "http-2-version"])
def test_what_the_http_server_refuses_itself_is_a_status_not_html(
    service: OtlpService, request_head: bytes, status: int | None,
) -> None:
    answer = _raw(service, request_head)
    assert b"<html" not in answer.lower()
    if status is None:
        assert status_pb2.Status.FromString(answer).message
        return
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"\r\nContent-Type: application/x-protobuf\r\n" in head
    assert status_pb2.Status.FromString(body).message


def test_chunked_request_body_is_read(service: OtlpService, store: Store,
                                      make_tracer_provider: MakeProvider) -> None:
    """Some exporters (OkHttp with gzip) send bodies in chunked transfer coding."""
    body = gzip.compress(_protobuf(_order_spans(make_tracer_provider)))
    host, port = service.http.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/v1/traces", body=iter([body[:100], body[100:]]), encode_chunked=True,
                 headers={"Content-Type": "application/x-protobuf",
                          "Content-Encoding": "gzip", "Transfer-Encoding": "chunked"})
    assert conn.getresponse().status == 200
    conn.close()
    assert len(stored_spans(store)) == 3


def test_saturated_pipeline_answers_503_with_retry_after(
    start_service: Callable[..., OtlpService], store: Store, store_url: str,
    make_tracer_provider: MakeProvider,
) -> None:
    """The store is locked by another writer, so the first request's spans wait in the sink;
    the queue's bound is one request's spans, so the next request is refused at once."""
    service = start_service(max_pending_spans=3, retry_after_s=2)
    first = _protobuf(_order_spans(make_tracer_provider))
    second = _protobuf(_order_spans(make_tracer_provider))
    blocker = sqlite3.connect(Path(store_url.removeprefix("sqlite:///")), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    results: dict[str, int] = {}

    def send_first() -> None:
        results["first"] = _post(service.http.endpoint, first)[0]

    sender = threading.Thread(target=send_first)
    sender.start()
    _wait_until(lambda: service.sink.pending == 3)
    status, headers, body = _post(service.http.endpoint, second)
    assert status == 503
    assert headers["Retry-After"] == "2"
    assert "saturated" in _status_message(body, headers["Content-Type"])
    blocker.execute("ROLLBACK")
    blocker.close()
    sender.join(30)
    assert results["first"] == 200
    assert len(stored_spans(store)) == 3
    assert _post(service.http.endpoint, second)[0] == 200
    assert len(stored_spans(store)) == 6


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize(("content_type", "expected"), [("application/x-protobuf", 413),
                                                         ("text/plain", 415)])
def test_a_large_refused_body_still_gets_its_answer(
    start_service: Callable[..., OtlpService], store: Store, content_type: str, expected: int,
) -> None:
    """The client sends the whole 8 MiB before reading: the answer must reach it, not a reset."""
    service = start_service(max_body_bytes=64_000)
    status, headers, body = _post(service.http.endpoint, b"\x0a" * (8 * 1024 * 1024),
                                  content_type)
    assert status == expected
    assert _status_message(body, headers["Content-Type"])
    assert stored_spans(store) == []


def test_a_stalled_or_vanished_client_does_not_stop_the_receiver(
    store: Store, make_tracer_provider: MakeProvider, capfd: pytest.CaptureFixture[str],
) -> None:
    import socket

    from collector.otlp.handler import ExportHandler
    from collector.otlp.receiver import OtlpHttpReceiver
    from collector.otlp.sink import SpanSink

    sink = SpanSink(store).start()
    receiver = OtlpHttpReceiver(ExportHandler(sink.submit), port=0, read_timeout=0.5).start()
    try:
        head = (b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf"
                b"\r\nContent-Length: 1000\r\n\r\n0123456789")
        stalled = socket.create_connection(receiver.address)
        stalled.sendall(head)  # and then nothing: the read times out
        vanished = socket.create_connection(receiver.address)
        vanished.sendall(head)
        vanished.close()  # gone mid-body
        exporter = OTLPSpanExporter(endpoint=receiver.endpoint)
        assert exporter.export(_order_spans(make_tracer_provider)) is SpanExportResult.SUCCESS
        stalled.settimeout(5)
        assert stalled.recv(100) == b""  # closed by the receiver after the read timeout
        stalled.close()
    finally:
        receiver.close()
        sink.close()
    assert len(stored_spans(store)) == 3
    assert "Traceback" not in capfd.readouterr().err
