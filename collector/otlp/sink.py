"""The bounded queue between the OTLP receivers and the store, drained by one writer thread.

A receiver thread hands over a request's spans and waits until they are committed, so a 200
means stored. The queue is bounded by spans, not requests: when accepting a request would pass
the bound the sink answers `Outcome.SATURATED` at once (the receiver says 503 and Retry-After)
instead of growing without limit. The writer commits whatever is queued in one transaction, so
many small requests share a commit (group commit).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from collector.exceptions import StoreError
from collector.model import Span
from collector.store.base import Batch, Store

__all__ = ["Outcome", "SinkStats", "SpanSink"]

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    STORED = "stored"
    SATURATED = "saturated"
    """Refused at once: the queue is full."""
    FAILED = "failed"
    """The store refused the write; nothing of the request was committed."""
    TIMED_OUT = "timed-out"
    """Not committed within the wait; it may still be (a re-send is harmless)."""

    @property
    def reason(self) -> str:
        """Why spans were not stored, for a client: empty for STORED."""
        return _REASONS.get(self, "")


_REASONS = {
    Outcome.SATURATED: "the span pipeline is saturated",
    Outcome.FAILED: "the store could not write the spans",
    Outcome.TIMED_OUT: "the spans were not stored in time",
}


@dataclass(slots=True)
class SinkStats:
    requests: int = 0
    spans_stored: int = 0
    writes: int = 0
    saturated: int = 0
    failed_writes: int = 0


@dataclass(slots=True)
class _Ticket:
    spans: list[Span]
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome = Outcome.TIMED_OUT


class SpanSink:
    """Accepts span lists from many threads; one thread writes them to the store."""

    def __init__(self, store: Store, *, max_pending_spans: int = 200_000,
                 max_batch_spans: int = 20_000, commit_timeout: float = 30.0) -> None:
        self.store = store
        self.max_pending_spans = max_pending_spans
        self.max_batch_spans = max_batch_spans
        self.commit_timeout = commit_timeout
        self.stats = SinkStats()
        self._queue: deque[_Ticket] = deque()
        self._pending = 0
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="otlp-span-writer", daemon=True)

    def start(self) -> SpanSink:
        self._thread.start()
        return self

    def submit(self, spans: list[Span]) -> Outcome:
        """Queue the spans and wait for their commit; SATURATED at once if the queue is full."""
        if not spans:
            return Outcome.STORED
        ticket = _Ticket(spans)
        with self._cond:
            self.stats.requests += 1
            if self._closing or self._pending + len(spans) > self.max_pending_spans:
                self.stats.saturated += 1
                return Outcome.SATURATED
            self._queue.append(ticket)
            self._pending += len(spans)
            self._cond.notify()
        ticket.done.wait(self.commit_timeout)
        return ticket.outcome

    @property
    def pending(self) -> int:
        """Spans accepted and not yet committed."""
        return self._pending

    def close(self, timeout: float = 30.0) -> None:
        """Refuse new spans, write what is queued, stop the writer."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            tickets = self._take()
            if not tickets:
                return
            outcome = self._write(tickets)
            with self._cond:
                self._pending -= sum(len(t.spans) for t in tickets)
            for ticket in tickets:
                ticket.outcome = outcome
                ticket.done.set()

    def _take(self) -> list[_Ticket]:
        """Wait for work; take queued tickets up to the batch bound (at least one)."""
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            tickets: list[_Ticket] = []
            count = 0
            while self._queue and (not tickets or
                                   count + len(self._queue[0].spans) <= self.max_batch_spans):
                ticket = self._queue.popleft()
                tickets.append(ticket)
                count += len(ticket.spans)
            return tickets

    def _write(self, tickets: list[_Ticket]) -> Outcome:
        spans = [s for t in tickets for s in t.spans]
        try:
            self.store.write(Batch(spans=spans))
        except StoreError as exc:
            self.stats.failed_writes += 1
            logger.warning("could not store %d spans: %s", len(spans), exc)
            return Outcome.FAILED
        except Exception:  # a bug must not kill the only writer: every later request would hang
            self.stats.failed_writes += 1
            logger.exception("could not store %d spans", len(spans))
            return Outcome.FAILED
        self.stats.writes += 1
        self.stats.spans_stored += len(spans)
        return Outcome.STORED
