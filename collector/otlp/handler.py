"""OTLP/HTTP trace export, request to response, apart from any server.

The HTTP edge (`collector.otlp.receiver`) reads headers and body and writes what this module
answers. Per the OTLP specification: the response is in the request's encoding; 415 for a
content type or content encoding other than protobuf/JSON and gzip/deflate; 413 over the limit
(after decompression too); 400 for a body that does not decode; 200 with ``partial_success``
when some spans were rejected; 503 with ``Retry-After`` when the pipeline is saturated or the
store failed (both retryable); 401 without the configured bearer token. Every 4xx/5xx body is a
``google.rpc.Status``.
"""

from __future__ import annotations

import hmac
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from collector.model import Span
from collector.otlp._decode import (
    Encoding,
    decode_traces,
    encode_export_response,
    encode_status,
    encoding_of,
)
from collector.otlp.exceptions import DecodeError
from collector.otlp.sink import Outcome

__all__ = ["ExportHandler", "HandlerSettings", "Response", "bearer_ok"]

# google.rpc.Code values for the Status body (informative only: OTLP clients go by HTTP status)
_INVALID_ARGUMENT, _NOT_FOUND, _RESOURCE_EXHAUSTED = 3, 5, 8
_UNIMPLEMENTED, _UNAVAILABLE, _UNAUTHENTICATED = 12, 14, 16

Submit = Callable[[list[Span]], Outcome]
Reserve = Callable[[int], bool]
"""Hold that many more bytes for this request; False when the receiver's budget is spent."""

_INFLATE_STEP = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False
    """Close the connection after answering (the request body was not read)."""


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    path: str = "/v1/traces"
    max_body_bytes: int = 20 * 1024 * 1024
    """The OTLP specification's recommended limit, applied before and after decompression."""
    token: str | None = None
    """When set, requests must carry ``Authorization: Bearer <token>``."""
    retry_after_s: int = 1


class ExportHandler:
    """Answers OTLP/HTTP trace exports; accepted spans go to ``submit`` (the store's queue)."""

    def __init__(self, submit: Submit, settings: HandlerSettings = HandlerSettings()) -> None:
        self._submit = submit
        self.settings = settings

    def preflight(self, method: str, path: str, headers: Mapping[str, str]) -> Response | None:
        """A response decided from the request line and headers alone, or None to read the body.

        ``headers`` has lowercase names.
        """
        s = self.settings
        encoding = encoding_of(headers.get("content-type")) or Encoding.PROTOBUF
        if path.split("?", 1)[0] != s.path:
            return _failure(404, encoding, _NOT_FOUND, f"no such path {path!r}: use {s.path}")
        if method != "POST":
            return _failure(405, encoding, _UNIMPLEMENTED, f"{method} is not allowed: use POST",
                            (("Allow", "POST"),))
        if s.token is not None and not bearer_ok(headers.get("authorization"), s.token):
            return _failure(401, encoding, _UNAUTHENTICATED, "missing or wrong bearer token",
                            (("WWW-Authenticate", 'Bearer realm="choreoscope"'),))
        if encoding_of(headers.get("content-type")) is None:
            return _failure(415, encoding, _INVALID_ARGUMENT,
                            f"unsupported Content-Type {headers.get('content-type')!r}: "
                            "send application/x-protobuf or application/json")
        if headers.get("content-encoding", "identity").lower() not in _ENCODINGS:
            return _failure(415, encoding, _INVALID_ARGUMENT,
                            f"unsupported Content-Encoding {headers['content-encoding']!r}: "
                            "send gzip, deflate or no encoding")
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > s.max_body_bytes:
            return self.too_large(headers)
        return None

    def too_large(self, headers: Mapping[str, str]) -> Response:
        return self.unreadable(headers, 413, "request body over the limit of "
                               f"{self.settings.max_body_bytes} bytes")

    def unreadable(self, headers: Mapping[str, str], status: int, message: str) -> Response:
        """The answer to a body the edge could not read (400, 411 or 413); closes the
        connection, since what is left of the body cannot be skipped reliably."""
        encoding = encoding_of(headers.get("content-type")) or Encoding.PROTOBUF
        code = _RESOURCE_EXHAUSTED if status == 413 else _INVALID_ARGUMENT
        return _failure(status, encoding, code, message, close=True)

    def busy(self, headers: Mapping[str, str], message: str) -> Response:
        """503 with ``Retry-After``: the receiver already holds as much work as it may."""
        encoding = encoding_of(headers.get("content-type")) or Encoding.PROTOBUF
        return _failure(503, encoding, _UNAVAILABLE, f"{message}: retry later",
                        (("Retry-After", str(self.settings.retry_after_s)),), close=True)

    def export(self, headers: Mapping[str, str], body: bytes,
               reserve: Reserve | None = None) -> Response:
        """Decode, store and answer a request that passed `preflight`; decompressed bytes are
        held with ``reserve`` before they are made."""
        encoding = encoding_of(headers.get("content-type")) or Encoding.PROTOBUF
        wbits = _ENCODINGS[headers.get("content-encoding", "identity").lower()]
        if wbits is not None:
            try:
                body = _inflate(body, wbits, self.settings.max_body_bytes,
                                reserve or (lambda n: True))
            except _Busy:
                return self.busy(headers, "too much request data in progress")
            except _TooLarge:
                return _failure(413, encoding, _RESOURCE_EXHAUSTED, "decompressed body over "
                                f"the limit of {self.settings.max_body_bytes} bytes", close=False)
            except zlib.error as exc:
                return _failure(400, encoding, _INVALID_ARGUMENT,
                                f"bad {headers['content-encoding']} body: {exc}")
        if len(body) > self.settings.max_body_bytes:
            return _failure(413, encoding, _RESOURCE_EXHAUSTED, "request body over the limit "
                            f"of {self.settings.max_body_bytes} bytes", close=False)
        try:
            decoded = decode_traces(body, encoding)
        except DecodeError as exc:
            return _failure(400, encoding, _INVALID_ARGUMENT, str(exc))
        outcome = self._submit(decoded.spans)
        if outcome is Outcome.STORED:
            return Response(200, encode_export_response(encoding, decoded.rejected,
                                                        decoded.message), encoding.value)
        return _failure(503, encoding, _UNAVAILABLE, f"{outcome.reason}: retry later",
                        (("Retry-After", str(self.settings.retry_after_s)),))


_ENCODINGS: dict[str, int | None] = {
    "identity": None,
    "gzip": 16 + zlib.MAX_WBITS,
    "deflate": zlib.MAX_WBITS,  # HTTP's "deflate" is the zlib format (RFC 9110 §8.4.1.2)
}
"""Content-Encoding -> zlib window bits (None: not compressed)."""


class _TooLarge(Exception):
    pass


class _Busy(Exception):
    pass


def _inflate(body: bytes, wbits: int, limit: int, reserve: Reserve) -> bytes:
    """Decompress a body, refusing to produce more than ``limit`` bytes; each step of output
    (and the joined copy) is reserved before it is made (`_Busy` when it cannot be)."""
    inflater = zlib.decompressobj(wbits=wbits)
    parts: list[bytes] = []
    total = 0
    data = body
    while not inflater.eof:
        if not reserve(_INFLATE_STEP):
            raise _Busy
        chunk = inflater.decompress(data, _INFLATE_STEP)
        data = inflater.unconsumed_tail
        total += len(chunk)
        if total > limit:
            raise _TooLarge
        if not chunk and not data:
            raise zlib.error("truncated stream")
        parts.append(chunk)
    if len(parts) > 1 and not reserve(total):
        raise _Busy
    return b"".join(parts)


def bearer_ok(header: str | None, token: str) -> bool:
    """Whether an Authorization header value carries this bearer token (constant-time)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


def _failure(status: int, encoding: Encoding, code: int, message: str,
             headers: tuple[tuple[str, str], ...] = (), *, close: bool | None = None) -> Response:
    """A Status response; by default the connection is closed when the body went unread."""
    if close is None:
        close = status in (401, 404, 405, 413, 415)
    return Response(status, encode_status(encoding, code, message), encoding.value, headers,
                    close=close)
