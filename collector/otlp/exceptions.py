"""Errors of the OTLP intake: one root, each carrying what explains it."""

from __future__ import annotations

from collector.exceptions import CollectorError

__all__ = ["DecodeError", "OtlpError"]


class OtlpError(CollectorError):
    """Root of the errors the OTLP intake raises on purpose."""


class DecodeError(OtlpError):
    """A body that is not an OTLP trace export in the encoding it claims."""

    def __init__(self, encoding: str, reason: str) -> None:
        super().__init__(f"cannot decode OTLP {encoding} trace export: {reason}")
        self.encoding = encoding
        self.reason = reason
