"""The codec, pure: OTLP/JSON's deviations from the proto3 JSON mapping, binary protobuf as
the SDK and the Collector's Kafka exporter write it, and span-by-span rejection."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from collector.model import (
    DeadLetter,
    DeadLetterReason,
    Location,
    Observation,
    SpanKind,
    SpanLink,
    SpanStatus,
)
from collector.otlp import (
    DecodeError,
    Encoding,
    decode_export_request,
    decode_otlp_record,
    decode_traces,
)
from collector.otlp.record import decode_span_record

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN, PARENT = "eee19b7ec3c1b174", "eee19b7ec3c1b173"


def _request(span: dict[str, Any], resource: list[dict[str, Any]] | None = None) -> bytes:
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": resource if resource is not None else [
            {"key": "service.name", "value": {"stringValue": "billing"}}]},
        "scopeSpans": [{"scope": {"name": "my.scope", "version": "1"}, "spans": [span]}],
    }]}).encode()


SPAN_JSON: dict[str, Any] = {
    "traceId": TRACE.upper(),  # hex is case-insensitive
    "spanId": SPAN,
    "parentSpanId": PARENT,
    "name": "orders process",
    "kind": 5,
    "startTimeUnixNano": "1700000000123456789",  # int64 as a decimal string
    "endTimeUnixNano": 1700000000223456789,      # or as a number
    "attributes": [
        {"key": "messaging.system", "value": {"stringValue": "kafka"}},
        {"key": "messaging.kafka.offset", "value": {"intValue": "42"}},
        {"key": "ratio", "value": {"doubleValue": 0.5}},
        {"key": "ok", "value": {"boolValue": True}},
        {"key": "list", "value": {"arrayValue": {"values": [{"intValue": 1},
                                                            {"stringValue": "x"}]}}},
        {"key": "map", "value": {"kvlistValue": {"values": [
            {"key": "k", "value": {"stringValue": "v"}}]}}},
        {"key": "raw", "value": {"bytesValue": base64.b64encode(b"\x01\x02").decode()}},
        {"key": "empty", "value": {}},
    ],
    "links": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
               "attributes": [{"key": "n", "value": {"intValue": 1}}]}],
    "status": {"code": 2, "message": "boom"},
    "someFutureField": {"x": 1},  # unknown fields are ignored
}


def test_json_request_decodes_per_otlp_json() -> None:
    [span] = decode_export_request(_request(SPAN_JSON), "application/json; charset=utf-8")
    assert (span.trace_id, span.span_id, span.parent_id) == (TRACE, SPAN, PARENT)
    assert (span.name, span.kind, span.service, span.scope) == (
        "orders process", SpanKind.CONSUMER, "billing", "my.scope")
    assert span.start == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert span.duration.total_seconds() == pytest.approx(0.1)
    assert (span.status, span.status_message) == (SpanStatus.ERROR, "boom")
    assert span.attributes == {
        "messaging.system": "kafka", "messaging.kafka.offset": 42, "ratio": 0.5, "ok": True,
        "list": [1, "x"], "map": {"k": "v"}, "raw": base64.b64encode(b"\x01\x02").decode(),
        "empty": None}
    assert span.links == (SpanLink("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331",
                                   {"n": 1}),)


def test_json_and_protobuf_decode_to_the_same_spans() -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    document = json.loads(_request(SPAN_JSON))
    for obj in (document["resourceSpans"][0]["scopeSpans"][0]["spans"][0],
                document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["links"][0]):
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in obj:
                obj[key] = base64.b64encode(bytes.fromhex(obj[key])).decode()
    message = json_format.ParseDict(document, trace_service_pb2.ExportTraceServiceRequest(),
                                    ignore_unknown_fields=True)
    assert (decode_traces(message.SerializeToString(), Encoding.PROTOBUF)
            == decode_traces(_request(SPAN_JSON), Encoding.JSON))


def test_a_span_without_a_service_name_belongs_to_unknown_service() -> None:
    [span] = decode_export_request(_request(SPAN_JSON, resource=[]), "application/json")
    assert span.service == "unknown_service"


@pytest.mark.parametrize(("change", "reason"), [
    ({"traceId": "00" * 16}, "invalid trace id"),
    ({"traceId": "abcd"}, "invalid trace id"),
    ({"traceId": "not hex at all, no"}, "invalid trace id"),
    ({"spanId": ""}, "invalid span id"),
    ({"parentSpanId": "abcd"}, "invalid parent span id"),
    ({"startTimeUnixNano": "0"}, "no start time"),
    ({"endTimeUnixNano": "1600000000000000000"}, "an end before the start"),
])
def test_invalid_spans_are_rejected_one_by_one(change: dict[str, Any], reason: str) -> None:
    good = dict(SPAN_JSON, spanId="00000000000000aa")
    bad = dict(SPAN_JSON, **change)
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [good, bad]}]}]}).encode()
    decoded = decode_traces(body, Encoding.JSON)
    assert [s.span_id for s in decoded.spans] == ["00000000000000aa"]
    assert decoded.rejected == 1
    assert reason in decoded.message


@pytest.mark.parametrize(("body", "encoding"), [
    (b"\x0a\x05\x0a\x03", Encoding.PROTOBUF),
    (b"\xff\xff\xff", Encoding.PROTOBUF),
    (b"", Encoding.JSON),
    (b"{", Encoding.JSON),
    (b"\xff\xfe", Encoding.JSON),
    (b'"a string"', Encoding.JSON),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
     Encoding.JSON),
])
def test_undecodable_bodies_raise_decode_error(body: bytes, encoding: Encoding) -> None:
    with pytest.raises(DecodeError):
        decode_traces(body, encoding)


def test_unsupported_content_type_raises() -> None:
    with pytest.raises(DecodeError, match="unsupported content type"):
        decode_export_request(b"", "text/plain")


def _traces_data() -> bytes:
    """What the OpenTelemetry Collector's Kafka exporter writes (otlp_proto): ``TracesData``."""
    span = trace_pb2.Span(
        trace_id=bytes.fromhex(TRACE), span_id=bytes.fromhex(SPAN), name="orders send",
        kind=trace_pb2.Span.SPAN_KIND_PRODUCER, start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_000_001_000_000,
        attributes=[common_pb2.KeyValue(key="messaging.destination.name",
                                        value=common_pb2.AnyValue(string_value="orders"))])
    resource = resource_pb2.Resource(attributes=[common_pb2.KeyValue(
        key="service.name", value=common_pb2.AnyValue(string_value="orders"))])
    data = trace_pb2.TracesData(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=[span])])])
    return bytes(data.SerializeToString())


def test_kafka_record_of_traces_data_decodes() -> None:
    [span] = decode_otlp_record(_traces_data())
    assert (span.trace_id, span.span_id, span.parent_id, span.kind, span.service) == (
        TRACE, SPAN, None, SpanKind.PRODUCER, "orders")
    assert span.attributes == {"messaging.destination.name": "orders"}


def test_kafka_record_in_otlp_json_decodes() -> None:
    [span] = decode_otlp_record(_request(SPAN_JSON), Encoding.JSON)
    assert span.span_id == SPAN


def test_kafka_record_that_is_not_otlp_raises() -> None:
    with pytest.raises(DecodeError):
        decode_otlp_record(b'{"not": "protobuf"}')


def _observation(value: bytes, *headers: tuple[str, bytes]) -> Observation:
    return Observation(Location("kafka", "otlp_spans", 2, 17), datetime.now(UTC), value,
                       key=None, headers=headers)


def test_span_record_hook_gives_spans_or_a_dead_letter() -> None:
    spans = decode_span_record(_observation(_traces_data()))
    assert not isinstance(spans, DeadLetter)
    assert [s.span_id for s in spans] == [SPAN]
    as_json = decode_span_record(_observation(_request(SPAN_JSON),
                                              ("content-type", b"application/json")))
    assert not isinstance(as_json, DeadLetter)
    assert [s.span_id for s in as_json] == [SPAN]
    bad = decode_span_record(_observation(b"\xff\x00 not otlp"))
    assert isinstance(bad, DeadLetter)
    assert (bad.reason, bad.raw, str(bad.location)) == (
        DeadLetterReason.NOT_OTLP, b"\xff\x00 not otlp", "kafka:otlp_spans[2]@17")
    assert "cannot decode OTLP protobuf" in bad.detail
