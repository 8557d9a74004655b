"""The OTLP/HTTP receiver's bound on work in progress: requests at once and body bytes held.

Each request limit (``otlp.max_body_bytes``) bounds one request; this bounds them all, so that
many large requests at once cannot take the collector's memory (25 bodies of 20 MB held 500 MB).
A request enters before its body is read (`Admission.enter`, with its ``Content-Length``) and
reserves more as it grows (chunked bodies, decompression) with `Ticket.reserve`; a request that
would pass ``otlp.max_concurrent_requests`` or ``otlp.max_inflight_bytes`` is refused, and the
receiver answers 503 with ``Retry-After``, as it does when the span queue is full. A request
alone is always let in, so a body up to the request limit can always be sent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Admission", "Ticket"]


@dataclass(frozen=True, slots=True)
class Usage:
    requests: int
    bytes: int


class Admission:
    """Counts requests in progress and the body bytes they hold; thread-safe."""

    def __init__(self, max_bytes: int, max_requests: int) -> None:
        self.max_bytes = max_bytes
        self.max_requests = max_requests
        self._lock = threading.Lock()
        self._requests = 0
        self._bytes = 0

    @property
    def usage(self) -> Usage:
        with self._lock:
            return Usage(self._requests, self._bytes)

    def enter(self, nbytes: int) -> Ticket | None:
        """A ticket holding one request slot and ``nbytes``, or None when over either bound."""
        with self._lock:
            if self._requests and (self._requests >= self.max_requests
                                   or self._bytes + nbytes > self.max_bytes):
                return None
            self._requests += 1
            self._bytes += nbytes
        return Ticket(self, nbytes)

    def _grow(self, nbytes: int) -> bool:
        """Hold more for a request in progress (one alone may always grow)."""
        with self._lock:
            if self._bytes + nbytes > self.max_bytes and self._requests > 1:
                return False
            self._bytes += nbytes
            return True

    def _leave(self, nbytes: int) -> None:
        with self._lock:
            self._requests -= 1
            self._bytes -= nbytes


class Ticket:
    """One admitted request: what it holds, released on `close` (or leaving a ``with``)."""

    def __init__(self, admission: Admission, nbytes: int) -> None:
        self._admission = admission
        self.held = nbytes
        self._closed = False

    def reserve(self, nbytes: int) -> bool:
        """Hold ``nbytes`` more; False (nothing held) when that would pass the byte bound."""
        if not self._admission._grow(nbytes):  # noqa: SLF001  (its own ticket)
            return False
        self.held += nbytes
        return True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._admission._leave(self.held)  # noqa: SLF001  (its own ticket)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
