"""Properties of the codec: whatever valid span is encoded, in either encoding, decodes back to
the same values; and the two encodings of one request always decode alike."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from collector.model import Span, SpanKind, SpanLink, SpanStatus
from collector.otlp import Encoding, decode_traces

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KINDS = list(SpanKind)
STATUSES = list(SpanStatus)

ids16 = st.binary(min_size=16, max_size=16).filter(any).map(bytes.hex)
ids8 = st.binary(min_size=8, max_size=8).filter(any).map(bytes.hex)
scalars = st.one_of(st.text(max_size=20), st.booleans(),
                    st.integers(min_value=-(2**63), max_value=2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)
attributes = st.dictionaries(st.text(min_size=1, max_size=30), values, max_size=5)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    start_us = draw(st.integers(min_value=1, max_value=4_000_000_000_000_000))
    length_us = draw(st.integers(min_value=0, max_value=10**9))
    return Span(
        trace_id=draw(ids16), span_id=draw(ids8), parent_id=draw(st.none() | ids8),
        name=draw(st.text(max_size=40)), kind=draw(st.sampled_from(KINDS)),
        service=draw(st.text(min_size=1, max_size=20)),
        start=EPOCH + timedelta(microseconds=start_us),
        end=EPOCH + timedelta(microseconds=start_us + length_us),
        status=draw(st.sampled_from(STATUSES)), status_message=draw(st.text(max_size=20)),
        links=tuple(draw(st.lists(st.builds(SpanLink, ids16, ids8, attributes), max_size=3))),
        attributes=draw(attributes), scope=draw(st.text(max_size=20)))


def _any_value(value: Any) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, list):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(
            values=[_any_value(v) for v in value]))
    return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=_kvs(value)))


def _kvs(attrs: dict[str, Any]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=k, value=_any_value(v)) for k, v in attrs.items()]


def _nanos(at: datetime) -> int:
    return (at - EPOCH) // timedelta(microseconds=1) * 1000 + 999  # sub-microsecond: dropped


def _encode(span: Span) -> trace_service_pb2.ExportTraceServiceRequest:
    proto = trace_pb2.Span(
        trace_id=bytes.fromhex(span.trace_id), span_id=bytes.fromhex(span.span_id),
        parent_span_id=bytes.fromhex(span.parent_id or ""), name=span.name,
        kind=KINDS.index(span.kind), start_time_unix_nano=_nanos(span.start),
        end_time_unix_nano=_nanos(span.end), attributes=_kvs(dict(span.attributes)),
        status=trace_pb2.Status(code=STATUSES.index(span.status),
                                message=span.status_message),
        links=[trace_pb2.Span.Link(trace_id=bytes.fromhex(ln.trace_id),
                                   span_id=bytes.fromhex(ln.span_id),
                                   attributes=_kvs(dict(ln.attributes))) for ln in span.links])
    resource = {"attributes": _kvs({"service.name": span.service})}
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource, scope_spans=[trace_pb2.ScopeSpans(
            scope=common_pb2.InstrumentationScope(name=span.scope), spans=[proto])])])


def _otlp_json(request: trace_service_pb2.ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON: the proto3 JSON mapping with hex ids and integer enums."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for rs in document.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for obj in (sp, *sp.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in obj:
                            obj[key] = base64.b64decode(obj[key]).hex().upper()
    return json.dumps(document).encode()


@settings(max_examples=150, deadline=None)
@given(spans())
def test_any_valid_span_decodes_back_from_protobuf(span: Span) -> None:
    decoded = decode_traces(_encode(span).SerializeToString(), Encoding.PROTOBUF)
    assert (decoded.spans, decoded.rejected) == ([span], 0)


@settings(max_examples=150, deadline=None)
@given(spans())
def test_any_valid_span_decodes_back_from_otlp_json(span: Span) -> None:
    decoded = decode_traces(_otlp_json(_encode(span)), Encoding.JSON)
    assert (decoded.spans, decoded.rejected) == ([span], 0)
