"""The OTLP/gRPC receiver: ``TraceService/Export`` on grpcio, moving bytes to the codec.

The method is registered with a generic handler and no deserializer, so the request arrives as
the raw ``ExportTraceServiceRequest`` bytes and goes through the same pure codec and span sink
as OTLP/HTTP; grpcio handles HTTP/2, gzip and the message size limit (RESOURCE_EXHAUSTED).
Per the OTLP specification: INVALID_ARGUMENT for undecodable data (not retried), UNAVAILABLE
with a ``RetryInfo`` when saturated (retried), UNAUTHENTICATED without the bearer token, and
``partial_success`` in the response when spans were rejected.
"""

from __future__ import annotations

import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from collector.otlp._decode import (
    Encoding,
    decode_traces,
    encode_export_response,
    encode_retry_status,
)
from collector.otlp.exceptions import DecodeError, OtlpError
from collector.otlp.handler import Submit, bearer_ok
from collector.otlp.sink import Outcome

__all__ = ["OtlpGrpcReceiver"]

logger = logging.getLogger(__name__)

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


class OtlpGrpcReceiver:
    """Serves OTLP/gRPC trace export on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, submit: Submit, host: str = "127.0.0.1", port: int = 4317, *,
                 max_body_bytes: int = 20 * 1024 * 1024, token: str | None = None,
                 retry_after_s: int = 1, workers: int = 2) -> None:
        """``workers`` bounds the messages read at once (each up to ``max_body_bytes``)."""
        self._submit = submit
        self._token = token
        self._retry_after_s = retry_after_s
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp-grpc"),
            options=[("grpc.max_receive_message_length", max_body_bytes),
                     ("grpc.so_reuseport", 0),
                     # HTTP/2 flow control holds back what the workers are not reading yet:
                     # without BDP probing the window stays at 64 KiB a stream, so 25 exports
                     # of 20 MB at once are not all taken into memory (530 MB before)
                     ("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 65_536)],
        )
        export = grpc.unary_unary_rpc_method_handler(self._export)  # bytes in, bytes out
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"Export": export}),))
        self.host = host
        try:
            _ensure_free(host, port)
            self.port: int = self._server.add_insecure_port(f"{host}:{port}")
        except OSError as exc:
            raise OtlpError(f"cannot listen for OTLP/gRPC on {host}:{port}: "
                            f"{exc.strerror or exc}") from exc
        except RuntimeError as exc:
            raise OtlpError(f"cannot listen for OTLP/gRPC on {host}:{port}: {exc}") from exc

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> OtlpGrpcReceiver:
        self._server.start()
        logger.info("OTLP/gRPC receiver listening on %s", self.endpoint)
        return self

    def close(self, grace: float = 5.0) -> None:
        self._server.stop(grace).wait()

    def _export(self, body: bytes, context: Any) -> bytes:
        if self._token is not None and not self._authorized(context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            decoded = decode_traces(body, Encoding.PROTOBUF)
        except DecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        outcome = self._submit(decoded.spans)
        if outcome is Outcome.STORED:
            return encode_export_response(Encoding.PROTOBUF, decoded.rejected, decoded.message)
        message = f"{outcome.reason}: retry later"
        context.set_trailing_metadata((("grpc-status-details-bin", encode_retry_status(
            grpc.StatusCode.UNAVAILABLE.value[0], message, self._retry_after_s)),))
        context.abort(grpc.StatusCode.UNAVAILABLE, message)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    def _authorized(self, context: Any) -> bool:
        metadata = {k.lower(): v for k, v in context.invocation_metadata()}
        return bearer_ok(metadata.get("authorization"), self._token or "")


def _ensure_free(host: str, port: int) -> None:
    """Raise `OSError` (``Address already in use``) if something listens on ``host:port``.

    grpcio reports a failed bind as a bare ``RuntimeError`` after logging its own lines to
    stderr; binding a probe socket first (with ``SO_REUSEADDR``, as gRPC does, so connections
    in TIME_WAIT do not count) gives the one-line reason the HTTP side gives.
    """
    if port == 0:
        return
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
