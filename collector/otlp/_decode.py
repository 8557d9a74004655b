"""The OTLP trace codec: the one module that touches the OTLP protobuf types.

Bytes in, `Span` values out (and the response messages back to bytes); no I/O. Both OTLP
encodings are read with protobuf's own parsers: binary protobuf, and OTLP/JSON, which is the
proto3 JSON mapping except that trace and span ids are hex, not base64 (so they are turned
into base64 before protobuf's JSON parser sees them) and unknown fields are ignored.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from google.protobuf import any_pb2, duration_pb2, json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from collector.model import AttributeValue, Span, SpanKind, SpanLink, SpanStatus
from collector.otlp.exceptions import DecodeError

__all__ = [
    "DecodedTraces",
    "Encoding",
    "decode_export_request",
    "decode_otlp_record",
    "decode_traces",
    "encode_export_response",
    "encode_retry_status",
    "encode_status",
    "encoding_of",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KINDS = {
    trace_pb2.Span.SPAN_KIND_UNSPECIFIED: SpanKind.UNSPECIFIED,
    trace_pb2.Span.SPAN_KIND_INTERNAL: SpanKind.INTERNAL,
    trace_pb2.Span.SPAN_KIND_SERVER: SpanKind.SERVER,
    trace_pb2.Span.SPAN_KIND_CLIENT: SpanKind.CLIENT,
    trace_pb2.Span.SPAN_KIND_PRODUCER: SpanKind.PRODUCER,
    trace_pb2.Span.SPAN_KIND_CONSUMER: SpanKind.CONSUMER,
}
_STATUSES = {
    trace_pb2.Status.STATUS_CODE_UNSET: SpanStatus.UNSET,
    trace_pb2.Status.STATUS_CODE_OK: SpanStatus.OK,
    trace_pb2.Status.STATUS_CODE_ERROR: SpanStatus.ERROR,
}
_DEFAULT_SERVICE = "unknown_service"
"""What the resource semantic conventions say a span without ``service.name`` belongs to."""


class Encoding(StrEnum):
    """The two OTLP/HTTP payload encodings, by their content type."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


def encoding_of(content_type: str | None) -> Encoding | None:
    """The encoding a Content-Type header names (parameters ignored), or None if neither."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        return Encoding(media)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class DecodedTraces:
    """The spans of one export request, and how many were rejected and why."""

    spans: list[Span]
    rejected: int = 0
    message: str = ""


def decode_traces(body: bytes, encoding: Encoding) -> DecodedTraces:
    """Decode an ``ExportTraceServiceRequest`` (or ``TracesData``, the same on the wire).

    Raises `DecodeError` for a body that is not one; spans with invalid ids or times are
    rejected one by one (counted, with the reasons in ``message``), the rest are kept.
    """
    request = _parse(body, encoding)
    spans: list[Span] = []
    problems: Counter[str] = Counter()
    for resource_spans in request.resource_spans:
        service = _service_name(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                problem = _problem(span)
                if problem is None:
                    spans.append(_span(span, service, scope))
                else:
                    problems[problem] += 1
    rejected = sum(problems.values())
    message = "; ".join(f"{n} span(s) with {p}" for p, n in sorted(problems.items()))
    return DecodedTraces(spans, rejected, f"rejected {message}" if message else "")


def decode_export_request(body: bytes, content_type: str | None) -> list[Span]:
    """The valid spans of an OTLP/HTTP trace export body with the given Content-Type."""
    encoding = encoding_of(content_type)
    if encoding is None:
        raise DecodeError(str(content_type), "unsupported content type")
    return decode_traces(body, encoding).spans


def decode_otlp_record(value: bytes, encoding: Encoding = Encoding.PROTOBUF) -> list[Span]:
    """The spans of one Kafka record written by the OpenTelemetry Collector's Kafka exporter
    (``otlp_proto``, its default, or ``otlp_json``); raises `DecodeError` if it is not one."""
    return decode_traces(value, encoding).spans


# -- responses ------------------------------------------------------------------------------


def encode_export_response(encoding: Encoding, rejected: int = 0, message: str = "") -> bytes:
    """An ``ExportTraceServiceResponse``; ``partial_success`` is set only when there is news."""
    response = trace_service_pb2.ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return _serialize(response, encoding)


def encode_status(encoding: Encoding, code: int, message: str) -> bytes:
    """A ``google.rpc.Status``: the body of every OTLP/HTTP 4xx and 5xx response."""
    return _serialize(status_pb2.Status(code=code, message=message), encoding)


def encode_retry_status(code: int, message: str, retry_after_s: int) -> bytes:
    """A binary ``google.rpc.Status`` carrying a ``RetryInfo``: what OTLP/gRPC servers send
    (as ``grpc-status-details-bin``) to tell a throttled client when to retry."""
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(
        seconds=retry_after_s)))
    status = status_pb2.Status(code=code, message=message, details=[detail])
    data: bytes = status.SerializeToString()
    return data


def _serialize(message: Any, encoding: Encoding) -> bytes:
    if encoding is Encoding.JSON:
        text: str = json_format.MessageToJson(message, indent=None)
        return text.encode()
    data: bytes = message.SerializeToString()
    return data


# -- parsing --------------------------------------------------------------------------------


def _parse(body: bytes, encoding: Encoding) -> Any:
    request = trace_service_pb2.ExportTraceServiceRequest()
    if encoding is Encoding.PROTOBUF:
        try:
            request.ParseFromString(body)
        except ProtobufDecodeError as exc:
            raise DecodeError("protobuf", str(exc) or "malformed message") from exc
        return request
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("JSON", f"not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise DecodeError("JSON", "the body is not a JSON object")
    try:
        _hex_ids_to_base64(document)
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, AttributeError) as exc:
        raise DecodeError("JSON", str(exc)) from exc
    return request


_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON ids are hex; protobuf's JSON parser wants base64. Rewritten in place; an id
    that is not hex becomes empty, so that its span is rejected alone."""
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _rewrite_ids(span)
                for link in _items(span, "links"):
                    _rewrite_ids(link)


def _items(obj: Any, *keys: str) -> Iterable[dict[str, Any]]:
    if not isinstance(obj, dict):
        return ()
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
    return ()


def _rewrite_ids(obj: dict[str, Any]) -> None:
    for key in _ID_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            try:
                obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                obj[key] = ""


# -- protobuf -> Span -----------------------------------------------------------------------


def _problem(span: Any) -> str | None:
    """Why a span cannot be kept, or None."""
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return "an invalid trace id (16 bytes, not all zero)"
    if len(span.span_id) != 8 or not any(span.span_id):
        return "an invalid span id (8 bytes, not all zero)"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "an invalid parent span id (8 bytes)"
    if span.start_time_unix_nano == 0:
        return "no start time"
    if span.end_time_unix_nano < span.start_time_unix_nano:
        return "an end before the start"
    return None


def _span(span: Any, service: str, scope: str) -> Span:
    parent = span.parent_span_id
    return Span(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=parent.hex() if parent and any(parent) else None,
        name=span.name,
        kind=_KINDS.get(span.kind, SpanKind.UNSPECIFIED),
        service=service,
        start=_time(span.start_time_unix_nano),
        end=_time(span.end_time_unix_nano),
        status=_STATUSES.get(span.status.code, SpanStatus.UNSET),
        status_message=span.status.message,
        links=tuple(_links(span.links)),
        attributes=_attributes(span.attributes) if span.attributes else {},
        scope=scope,
    )


def _links(links: Iterable[Any]) -> Iterable[SpanLink]:
    for link in links:
        if len(link.trace_id) == 16 and len(link.span_id) == 8 and any(link.span_id):
            yield SpanLink(link.trace_id.hex(), link.span_id.hex(),
                           _attributes(link.attributes) if link.attributes else {})


def _time(unix_nano: int) -> datetime:
    return _EPOCH + timedelta(microseconds=unix_nano // 1000)


def _service_name(attributes: Iterable[Any]) -> str:
    for kv in attributes:
        if kv.key == "service.name" and kv.value.string_value:
            return str(kv.value.string_value)
    return _DEFAULT_SERVICE


def _attributes(kvs: Iterable[Any]) -> dict[str, AttributeValue]:
    return {kv.key: _value(kv.value) for kv in kvs}


def _value(value: common_pb2.AnyValue) -> AttributeValue:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, which)

