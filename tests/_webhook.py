"""A local webhook receiver for the alert tests: records deliveries, can hold or fail them."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

__all__ = ["Receiver"]


class Receiver:
    """A webhook that records every delivery; it can hold the Nth one unanswered."""

    def __init__(self, hold_at: int | None = None, fail: bool = False) -> None:
        self.received: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.times: list[float] = []
        """When each delivery arrived (`time.monotonic`), in the order of ``received``."""
        self.hold_at, self.fail = hold_at, fail
        self.holding = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.times.append(time.monotonic())
                    receiver.received.append(body["id"])
                    receiver.bodies.append(body)
                if receiver.hold_at is not None and len(receiver.received) == receiver.hold_at:
                    receiver.holding.set()
                    receiver.release.wait(60)
                self.send_response(500 if receiver.fail else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
