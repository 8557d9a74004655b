"""The OTLP/gRPC receiver with real clients: the SDK's OTLP/gRPC span exporter (plain and gzip)
and a raw grpcio channel for what an exporter never sends."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from collector.otlp.receiver import OtlpService
from collector.store.base import Store
from tests.otlp.conftest import stored_spans
from tests.otlp.test_receiver import _order_spans, _wait_until

MakeProvider = Callable[[str, SpanExporter], TracerProvider]
METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _call(service: OtlpService, body: bytes,
          metadata: tuple[tuple[str, str], ...] = ()) -> bytes:
    assert service.grpc is not None
    with grpc.insecure_channel(service.grpc.endpoint) as channel:
        export = channel.unary_unary(METHOD)
        response: bytes = export(body, metadata=metadata, timeout=30)
        return response


@pytest.mark.parametrize("compression", [grpc.Compression.NoCompression,
                                         grpc.Compression.Gzip], ids=["plain", "gzip"])
def test_sdk_grpc_exporter_spans_are_stored(service: OtlpService, store: Store,
                                            make_tracer_provider: MakeProvider,
                                            compression: grpc.Compression) -> None:
    assert service.grpc is not None
    spans = _order_spans(make_tracer_provider)
    exporter = OTLPSpanExporter(endpoint=service.grpc.endpoint, insecure=True,
                                compression=compression)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    rows = {r["name"]: r for r in stored_spans(store)}
    assert set(rows) == {"POST /orders", "orders send", "orders process"}
    assert rows["orders send"]["parent_id"] == rows["POST /orders"]["span_id"]
    assert rows["orders process"]["kind"] == "consumer"


def test_partial_success_over_grpc(service: OtlpService, store: Store,
                                   make_tracer_provider: MakeProvider) -> None:
    request = encode_spans(_order_spans(make_tracer_provider))
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x00" * 16
    raw = _call(service, request.SerializeToString())
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(raw)
    assert response.partial_success.rejected_spans == 1
    assert "invalid trace id" in response.partial_success.error_message
    assert len(stored_spans(store)) == 2


def test_bad_input_over_grpc_and_still_serving(start_service: Callable[..., OtlpService],
                                               store: Store,
                                               make_tracer_provider: MakeProvider) -> None:
    service = start_service(max_body_bytes=50_000)
    valid = encode_spans(_order_spans(make_tracer_provider)).SerializeToString()
    for body, code in ((valid[:-7], grpc.StatusCode.INVALID_ARGUMENT),
                       (valid + b"\x00" * 60_000, grpc.StatusCode.RESOURCE_EXHAUSTED)):
        with pytest.raises(grpc.RpcError) as caught:
            _call(service, body)
        assert caught.value.code() is code
        assert stored_spans(store) == []
    _call(service, valid)
    assert len(stored_spans(store)) == 3


def test_bearer_token_over_grpc(start_service: Callable[..., OtlpService], store: Store,
                                make_tracer_provider: MakeProvider) -> None:
    service = start_service(token="s3cret")
    body = encode_spans(_order_spans(make_tracer_provider)).SerializeToString()
    with pytest.raises(grpc.RpcError) as caught:
        _call(service, body, (("authorization", "Bearer wrong"),))
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert stored_spans(store) == []
    _call(service, body, (("authorization", "Bearer s3cret"),))
    assert len(stored_spans(store)) == 3


def test_saturated_pipeline_is_unavailable_with_retry_info(
    start_service: Callable[..., OtlpService], store: Store, store_url: str,
    make_tracer_provider: MakeProvider,
) -> None:
    service = start_service(max_pending_spans=3, retry_after_s=4)
    first = encode_spans(_order_spans(make_tracer_provider)).SerializeToString()
    second = encode_spans(_order_spans(make_tracer_provider)).SerializeToString()
    blocker = sqlite3.connect(Path(store_url.removeprefix("sqlite:///")), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    sender = threading.Thread(target=_call, args=(service, first))
    sender.start()
    _wait_until(lambda: service.sink.pending == 3)
    with pytest.raises(grpc.RpcError) as caught:
        _call(service, second)
    blocker.execute("ROLLBACK")
    blocker.close()
    sender.join(30)
    error = caught.value
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry)
    assert retry.retry_delay.seconds == 4
    assert len(stored_spans(store)) == 3
