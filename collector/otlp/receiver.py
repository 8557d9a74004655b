"""The OTLP/HTTP receiver: the HTTP edge that moves bytes to `ExportHandler` and back.

The server is the standard library's ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive, a thread
per connection): OTLP exporters send few, large requests (the SDK batches up to 512 spans), so
the work is decoding and storing, not connection handling, and no framework is needed for one
POST route. The edge does what the handler cannot decide from values: reading a body by
``Content-Length`` or chunked transfer coding, within the size limit, and admitting it within
the bounds on requests and body bytes in progress (`collector.otlp._admission`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from collector.exceptions import CollectorError
from collector.otlp._admission import Admission
from collector.otlp.exceptions import OtlpError
from collector.otlp.handler import ExportHandler, HandlerSettings, Response
from collector.otlp.sink import SinkStats, SpanSink
from collector.settings import KafkaSettings, OtlpSettings, Settings
from collector.store.base import Store, open_store
from collector.store.dead_letters import bounds_of

if TYPE_CHECKING:
    from collector.otlp.grpc_receiver import OtlpGrpcReceiver
    from collector.otlp.kafka_spans import SpanTopicReader

__all__ = ["OtlpHttpReceiver", "OtlpService", "grpc_workers", "serve_otlp"]

logger = logging.getLogger(__name__)


_MAX_DISCARD = 64 * 1024 * 1024


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Busy(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: ExportHandler,
                 read_timeout: float, admission: Admission) -> None:
        self.export_handler = handler
        self.admission = admission
        handler_class = type("_TimedRequestHandler", (_RequestHandler,),
                             {"timeout": read_timeout})
        super().__init__(address, handler_class)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "choreoscope-otlp"

    def do_POST(self) -> None:
        self._handle("POST")

    def __getattr__(self, name: str) -> Any:
        """``do_<METHOD>`` for every other method, so that the handler answers it (405 with
        ``Allow``) instead of the standard library's 501 HTML page."""
        if name.startswith("do_"):
            return lambda: self._handle(name[3:])
        raise AttributeError(name)

    def _handle(self, method: str) -> None:
        handler = self.server.export_handler
        headers = {k.lower(): v for k, v in self.headers.items()}
        early = handler.preflight(method, self.path, headers)
        if early is not None:
            self._discard_body(headers)
            self._send(early)
            return
        length = headers.get("content-length", "")
        ticket = self.server.admission.enter(int(length) if length.isdigit() else 0)
        if ticket is None:
            self._discard_body(headers)
            self._send(handler.busy(headers, "too many requests in progress"))
            return
        with ticket:
            try:
                body = self._read_body(headers, handler.settings.max_body_bytes, ticket.reserve)
            except _BodyError as exc:
                self._send(handler.unreadable(headers, exc.status, str(exc)))
                return
            except _Busy:
                self._send(handler.busy(headers, "too much request data in progress"))
                return
            except OSError as exc:  # the client went away or stalled past the read timeout
                logger.info("OTLP/HTTP request from %s dropped: %s", self.address_string(), exc)
                self.close_connection = True
                return
            self._send(handler.export(headers, body, ticket.reserve))

    def _discard_body(self, headers: dict[str, str]) -> None:
        """Read and drop a refused request's body (up to a bound) before answering, so that a
        client still sending it reads the answer instead of a reset connection."""
        length = headers.get("content-length", "")
        remaining = int(length) if length.isdigit() else 0
        if remaining > _MAX_DISCARD:
            return  # not worth reading: the connection closes after the answer
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65_536))
            if not chunk:
                return
            remaining -= len(chunk)

    def _read_body(self, headers: dict[str, str], limit: int,
                   reserve: Callable[[int], bool]) -> bytes:
        """The body; a ``Content-Length`` body was reserved on admission, a chunked one is
        reserved chunk by chunk (`_Busy` when that passes the receiver's byte bound)."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return _read_chunked(self.rfile, limit, reserve)
        length = headers.get("content-length")
        if length is None:
            raise _BodyError(411, "Content-Length or chunked transfer coding required")
        if not length.strip().isdigit():
            raise _BodyError(400, f"bad Content-Length {length!r}")
        body: bytes = self.rfile.read(int(length))
        if len(body) != int(length):
            raise _BodyError(400, "body shorter than its Content-Length")
        return body

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has headers only (RFC 9110 §9.3.2)
                self.wfile.write(response.body)
        except OSError as exc:  # the client is gone: nothing to tell it
            logger.info("OTLP/HTTP answer to %s lost: %s", self.address_string(), exc)
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The standard library's own refusals (a malformed request line, a URI or header too
        long, an HTTP version it does not speak) as a ``google.rpc.Status``, not an HTML page;
        the connection closes, since what follows cannot be read reliably."""
        reason = message or self.responses.get(code, ("request refused",))[0]
        self._send(self.server.export_handler.unreadable({}, code, reason))

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def _read_chunked(rfile: Any, limit: int, reserve: Callable[[int], bool]) -> bytes:
    """A body in HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), at most ``limit`` bytes,
    each chunk (and the joined copy) reserved before it is read."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(1026)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BodyError(400, "malformed chunk size") from None
        if size == 0:
            break
        total += size
        if total > limit:
            raise _BodyError(413, "body over the limit")
        if not reserve(size):
            raise _Busy
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.read(2) != b"\r\n":
            raise _BodyError(400, "truncated chunk")
        parts.append(chunk)
    while rfile.readline(1026) not in (b"\r\n", b"\n", b""):
        pass  # trailer fields, ignored
    if len(parts) > 1 and not reserve(total):
        raise _Busy
    return b"".join(parts)


class OtlpHttpReceiver:
    """Serves ``ExportHandler`` over HTTP/1.1 on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, handler: ExportHandler, host: str = "127.0.0.1", port: int = 4318,
                 *, read_timeout: float = 30.0, admission: Admission | None = None) -> None:
        self.admission = admission or Admission(64 * 1024 * 1024, 16)
        try:
            self._server = _Server((host, port), handler, read_timeout, self.admission)
        except OSError as exc:
            raise OtlpError(f"cannot listen for OTLP/HTTP on {host}:{port}: "
                            f"{exc.strerror or exc}") from exc
        self._thread: threading.Thread | None = None
        self._serving = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}{self._server.export_handler.settings.path}"

    def start(self) -> OtlpHttpReceiver:
        """Serve in a background thread."""
        self._serving = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="otlp-http", daemon=True)
        self._thread.start()
        logger.info("OTLP/HTTP receiver listening on %s", self.endpoint)
        return self

    def serve_forever(self) -> None:
        logger.info("OTLP/HTTP receiver listening on %s", self.endpoint)
        self._serving = True
        self._server.serve_forever()

    def close(self) -> None:
        if self._serving:  # shutdown() waits for a serve loop that must have been started
            self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


class OtlpService:
    """The OTLP intake running: the span sink's writer, the HTTP and gRPC receivers, and the
    reader of spans topics on Kafka when ``otlp.kafka_topics`` names any.

    ``store`` is shared with whatever else writes (the Kafka tap); the store serialises writes.
    """

    def __init__(self, settings: OtlpSettings, store: Store, *,
                 kafka: KafkaSettings | None = None) -> None:
        self.sink = SpanSink(store, max_pending_spans=settings.max_pending_spans)
        self.kafka_reader: SpanTopicReader | None = None
        if settings.kafka_topics:
            if kafka is None:
                raise OtlpError("otlp.kafka_topics is set but no kafka section was given")
            self.kafka_reader = _span_topic_reader(settings.kafka_topics, kafka, store)
        self._stop = threading.Event()
        self._reader_thread: threading.Thread | None = None
        token = settings.token.get_secret_value() if settings.token is not None else None
        handler = ExportHandler(self.sink.submit, HandlerSettings(
            max_body_bytes=settings.max_body_bytes, token=token,
            retry_after_s=settings.retry_after_s))
        self.http = OtlpHttpReceiver(handler, settings.host, settings.port, admission=Admission(
            settings.max_inflight_bytes, settings.max_concurrent_requests))
        self.grpc: OtlpGrpcReceiver | None = None
        if settings.grpc:
            from collector.otlp.grpc_receiver import OtlpGrpcReceiver

            try:
                self.grpc = OtlpGrpcReceiver(
                    self.sink.submit, settings.host, settings.grpc_port,
                    max_body_bytes=settings.max_body_bytes, token=token,
                    retry_after_s=settings.retry_after_s, workers=grpc_workers(settings))
            except OtlpError:
                self.http.close()
                raise

    def start(self) -> OtlpService:
        self.sink.start()
        self.http.start()
        if self.grpc is not None:
            self.grpc.start()
        if self.kafka_reader is not None:
            self._reader_thread = threading.Thread(target=self._read_kafka,
                                                   name="otlp-kafka-spans", daemon=True)
            self._reader_thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, then write what was accepted."""
        self._stop.set()
        self.http.close()
        if self.grpc is not None:
            self.grpc.close()
        if self._reader_thread is not None:
            self._reader_thread.join(30)
        self.sink.close()

    def _read_kafka(self) -> None:
        assert self.kafka_reader is not None
        try:
            self.kafka_reader.run(self._stop)
        except CollectorError as exc:
            logger.error("reading spans from Kafka stopped: %s", exc)

    def __enter__(self) -> OtlpService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def grpc_workers(settings: OtlpSettings) -> int:
    """OTLP/gRPC messages read at once: as many as ``max_inflight_bytes`` holds at the request
    limit, each message counted twice (gRPC's buffer and the bytes handed to the decoder); at
    least two, so that one slow client does not hold back every other, and at most
    ``max_concurrent_requests``. Other calls wait in HTTP/2 flow control, gRPC's own
    back-pressure, with nothing refused."""
    fit = settings.max_inflight_bytes // (2 * settings.max_body_bytes)
    return max(2, min(settings.max_concurrent_requests, fit))


def _span_topic_reader(topics: tuple[str, ...], kafka: KafkaSettings,
                       store: Store) -> SpanTopicReader:
    """The Kafka tap on the spans topics, in a consumer group of its own."""
    from collector.kafka.tap import KafkaTap, TapOptions
    from collector.otlp.kafka_spans import SpanTopicReader

    options = replace(TapOptions.from_settings(kafka), topics=topics, pattern=None,
                      group_id=f"{kafka.group_id}-spans")
    return SpanTopicReader(KafkaTap(options, store.positions), store)


def serve_otlp(settings: Settings, store_url: str | None = None, *,
               stop: threading.Event | None = None, store: Store | None = None) -> SinkStats:
    """Run the OTLP intake until ``stop`` is set (or Ctrl-C); the store is opened from
    ``store_url`` (default: the settings') unless an open ``store`` is given."""
    opened = open_store(store_url or settings.store, dead_letters=bounds_of(settings)) if (
        store is None) else store
    try:
        service = OtlpService(settings.otlp, opened, kafka=settings.kafka).start()
        try:
            (stop or threading.Event()).wait()
        finally:
            service.close()
            logger.info("OTLP intake stopped: %s", service.sink.stats)
    finally:
        if store is None:
            opened.close()
    return service.sink.stats
