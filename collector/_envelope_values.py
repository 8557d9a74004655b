"""Small value readers the envelope decoder and its fast path share: an identifier's text and a
W3C ``traceparent``'s ids. Pure."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_traceparent", "text_of"]


_CANONICAL_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
"""What nearly every producer sends (version 00 as the spec writes it): read by slicing."""
_CANONICAL_TRACEPARENT_BYTES = re.compile(_CANONICAL_TRACEPARENT.pattern.encode())
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def parse_traceparent(value: str | bytes | None) -> tuple[str, str] | None:
    """The (trace id, span id) of a W3C ``traceparent``, or None if it is not one."""
    if value is None:
        return None
    if isinstance(value, bytes):
        if _CANONICAL_TRACEPARENT_BYTES.fullmatch(value):  # the hot path: once per record
            return _trace_ids(value[3:35].decode("ascii"), value[36:52].decode("ascii"))
        text = value.decode("ascii", "replace")
    elif _CANONICAL_TRACEPARENT.fullmatch(value):
        return _trace_ids(value[3:35], value[36:52])
    else:
        text = value
    return _parse_traceparent_text(text)


def _trace_ids(trace: str, span: str) -> tuple[str, str] | None:
    return None if trace == _ZERO_TRACE or span == _ZERO_SPAN else (trace, span)


def _parse_traceparent_text(text: str) -> tuple[str, str] | None:
    """`parse_traceparent` for any other shape (surrounding spaces, upper case, more fields)."""
    parts = text.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    trace, span = parts[1].lower(), parts[2].lower()
    if trace == "0" * 32 or span == "0" * 16:
        return None
    try:
        int(trace, 16)
        int(span, 16)
    except ValueError:
        return None
    return trace, span


def text_of(value: Any) -> str | None:
    """A scalar as an identifier string (None for missing, empty, objects and arrays)."""
    if type(value) is str:
        return value or None
    if type(value) is bytes:
        try:
            return value.decode("utf-8") or None
        except UnicodeDecodeError:
            return None  # not text: no identifier (lossy decoding would join unrelated records)
    if type(value) in (int, float):
        return str(value)
    return None
