"""Spans from a Kafka topic: the OpenTelemetry Collector's Kafka exporter writes each batch of
spans as one record (``otlp_spans`` by default), OTLP protobuf unless told ``otlp_json``.

The hook for the Kafka tap: `decode_span_record` turns an `Observation` of such a record into
its spans, or into a `DeadLetter` with the reason and the raw bytes, so one bad record never
stops the collector. Pure.
"""

from __future__ import annotations

from collector.model import DeadLetter, DeadLetterReason, Observation, Span
from collector.otlp._decode import Encoding, decode_traces, encoding_of
from collector.otlp.exceptions import DecodeError

__all__ = ["DEFAULT_SPANS_TOPIC", "decode_span_record"]

DEFAULT_SPANS_TOPIC = "otlp_spans"
"""The OpenTelemetry Collector Kafka exporter's default traces topic."""


def decode_span_record(obs: Observation) -> list[Span] | DeadLetter:
    """The spans of one record; its ``content-type`` header, if any, picks the encoding."""
    content_type = next((v.decode("latin-1") for k, v in obs.headers
                         if k.lower() == "content-type"), None)
    encoding = encoding_of(content_type) or Encoding.PROTOBUF
    try:
        return decode_traces(obs.value, encoding).spans
    except DecodeError as exc:
        return DeadLetter(DeadLetterReason.NOT_OTLP, str(exc), obs.location, obs.received_at,
                          obs.value, obs.key, obs.headers)
