"""The reader's half of scale-out: after each store commit, forward a compact record of every
event stored to the internal topic, then record how far each partition was forwarded.

Order per batch, on the store writer's thread: (1) the batch and its positions commit, (2) its
events are sent to the internal topic and acknowledged, (3) the ``forwarded`` rows move (the
reader resumes from them), (4) the loop commits the offsets to Kafka. A crash after (1) and
before (3) reads the batch again: the store keeps each event once (natural key) and the
tracker ignores an event it already has (its identity), so forwarding is effectively once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from collector.kafka.exceptions import PublishError
from collector.scaleout.forwarded import (
    HEARTBEAT,
    ForwardedMark,
    forwarded_positions,
    write_forwarded,
    write_unknown,
)
from collector.scaleout.record import encode_forwarded
from collector.store.base import Batch, Store

__all__ = ["Forwarder", "RecordSender"]

logger = logging.getLogger(__name__)

_RETRIES = (1.0, 2.0, 4.0, 8.0)
"""Waits (seconds) between attempts to forward a batch before the reader gives up (and a
restart forwards it again)."""


class RecordSender(Protocol):
    def send(self, records: Sequence[tuple[str, bytes]]) -> None: ...


class Forwarder:
    """`collector.kafka.runner.Forwarding` for one reader (``reader``: its positions' source,
    ``kafka:GROUP``). ``highwaters``: the tap's end offsets per assigned partition;
    ``subscribed``: every partition of the user's topics, the group's readers' together."""

    def __init__(self, sender: RecordSender, store: Store, reader: str, *,
                 highwaters: Callable[[], Mapping[tuple[str, int], int | None]],
                 lag: Callable[[], Mapping[tuple[str, int], int | None]],
                 now: Callable[[], datetime],
                 subscribed: Callable[[], Iterable[tuple[str, int]]] = tuple,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._sender, self._store, self.reader = sender, store, reader
        self._highwaters, self._tap_lag = highwaters, lag
        self._subscribed = subscribed
        self._now, self._sleep = now, sleep
        self._written: dict[tuple[str, int], datetime] = {}
        """When each assigned partition's row was last written."""
        self._next: dict[tuple[str, int], int] = {}
        """The next offset forwarded per partition (written by the writer thread)."""
        self._latest: dict[tuple[str, int], datetime] = {}
        self._lag: dict[tuple[str, int], int] = {}
        """The lag last written per partition."""
        self.forwarded = 0

    def on_assign(self, partitions: list[tuple[str, int]]) -> None:
        """Mark every newly assigned partition as not known to be caught up (lag -1) until
        this reader has measured it, so the trackers' clock holds meanwhile (a partition never
        forwarded from gets a row with offset -1, which no reader resumes from); and every
        other partition of the user's topics that has no row yet as not known either: when
        the group first forms, another reader's rows for the partitions assigned to it may
        come later than this one's first forwards, and the trackers' clock is held back only
        by the rows there are (issue 19)."""
        stored = forwarded_positions(self._store, self.reader)
        marks = []
        self._written = {}
        for key in partitions:
            self._lag.pop(key, None)
            self._latest.pop(key, None)
            self._next.pop(key, None)
            if key in stored:
                self._next[key] = stored[key]
            marks.append(ForwardedMark(key[0], key[1], stored.get(key, -1), None, -1))
        now = self._now()
        write_forwarded(self._store, self.reader, marks, now)
        self._written = dict.fromkeys(partitions, now)
        others = set(self._subscribed()) - set(partitions) - set(stored)
        write_unknown(self._store, self.reader, sorted(others), now)

    def after(self, batch: Batch) -> Callable[[], object]:
        high = self._highwaters()
        latest: dict[tuple[str, int], datetime] = {}
        for e in batch.events:
            loc = e.location
            key = (loc.topic or "", loc.partition or 0)
            seen = latest.get(key)
            if seen is None or e.occurred_at > seen:
                latest[key] = e.occurred_at
        marks = []
        for p in batch.positions:
            key = (p.topic, p.partition)
            h = high.get(key)
            marks.append((key, p.next_offset, latest.get(key),
                          -1 if h is None else max(0, h - p.next_offset)))
        events = batch.events

        def forward() -> None:
            self._send([(e.correlation_id, encode_forwarded(e)) for e in events])
            self.forwarded += len(events)
            self._mark(marks)

        return forward

    def on_tick(self) -> Callable[[], object] | None:
        """Re-measure the lag of the assigned partitions: rewrite a row whose lag changed, and
        every row at least every `HEARTBEAT` (the trackers take a row left older than the
        fail-over bound for a reader that is gone)."""
        high, tap_lag = self._highwaters(), self._tap_lag()
        beat = self._now() - HEARTBEAT
        marks: list[tuple[tuple[str, int], int, datetime | None, int]] = []
        for key, h in high.items():
            nxt = self._next.get(key)
            if nxt is not None:
                lag = -1 if h is None else max(0, h - nxt)
            else:  # nothing forwarded since assigned: nothing read, or a batch in flight
                known = tap_lag.get(key)
                lag = -1 if known is None else known
                nxt = -1
            written = self._written.get(key)
            if self._lag.get(key) != lag or written is None or written < beat:
                marks.append((key, nxt, None, lag))
        return None if not marks else (lambda: self._mark(marks))

    def _mark(self, marks: list[tuple[tuple[str, int], int, datetime | None, int]]) -> None:
        rows = []
        now = self._now()
        for key, nxt, at, lag in marks:
            seen = self._latest.get(key)
            if at is not None and (seen is None or at > seen):
                self._latest[key] = seen = at
            if nxt >= 0 and nxt >= self._next.get(key, -1):
                self._next[key] = nxt
            self._lag[key] = lag
            self._written[key] = now
            rows.append(ForwardedMark(key[0], key[1], nxt, seen, lag))
        write_forwarded(self._store, self.reader, rows, now)

    def _send(self, records: list[tuple[str, bytes]]) -> None:
        for wait in (*_RETRIES, None):
            try:
                self._sender.send(records)
                return
            except PublishError as exc:
                if wait is None:
                    raise
                logger.warning("forwarding %d events failed (%s); again in %.0f s",
                               len(records), exc, wait)
                self._sleep(wait)
