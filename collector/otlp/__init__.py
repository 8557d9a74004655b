"""OTLP trace intake: the codec, the OTLP/HTTP receiver and the span sink.

``decode_export_request`` and ``decode_otlp_record`` are pure (bytes in, `Span` values out);
`collector.otlp.receiver` is the HTTP edge and `collector.otlp.sink` the queue to the store.
"""

from __future__ import annotations

from collector.otlp._decode import (
    DecodedTraces,
    Encoding,
    decode_export_request,
    decode_otlp_record,
    decode_traces,
)
from collector.otlp.exceptions import DecodeError, OtlpError

__all__ = [
    "DecodeError",
    "DecodedTraces",
    "Encoding",
    "OtlpError",
    "decode_export_request",
    "decode_otlp_record",
    "decode_traces",
]
