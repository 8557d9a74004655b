"""Spans from Kafka: the topics the OpenTelemetry Collector's Kafka exporter writes (``otlp_spans``
by default, one OTLP record per span batch), read into the store.

Users who already run a Collector tee their spans to Kafka and Choreoscope reads them, without
pointing any SDK at it. The Kafka tap (`collector.kafka.tap`) reads; each record becomes its
spans or a dead letter (`decode_span_record`); spans, dead letters and the positions after them
are written in one store transaction, and only then are the offsets committed to Kafka, so a
crash loses nothing and a replay changes nothing (spans are keyed by trace and span id).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from collector.model import DeadLetter, Observation
from collector.otlp.record import decode_span_record
from collector.store.base import Batch, Position, Store

__all__ = ["SpanTopicReader", "SpanTopicStats", "TapLike"]

logger = logging.getLogger(__name__)


class TapLike(Protocol):
    """What the reader needs of the Kafka tap."""

    def open(self, stop: threading.Event | None = None) -> None: ...
    def poll(self, timeout_ms: int = 200) -> tuple[list[Observation], list[Position]]: ...
    def commit(self, positions: Sequence[Position]) -> bool: ...
    def close(self) -> None: ...


@dataclass(slots=True)
class SpanTopicStats:
    records: int = 0
    spans: int = 0
    dead_letters: int = 0
    writes: int = 0


class SpanTopicReader:
    """Reads OTLP span records from a tap into the store until stopped."""

    def __init__(self, tap: TapLike, store: Store, *, poll_ms: int = 500) -> None:
        self.tap = tap
        self.store = store
        self.poll_ms = poll_ms
        self.stats = SpanTopicStats()

    def step(self) -> int:
        """Read what is there, store it with its positions, commit: the records handled."""
        observations, positions = self.tap.poll(timeout_ms=self.poll_ms)
        if not observations and not positions:
            return 0
        batch = Batch(positions=positions)
        for obs in observations:
            found = decode_span_record(obs)
            if isinstance(found, DeadLetter):
                batch.dead_letters.append(found)
            else:
                batch.spans.extend(found)
        self.store.write(batch)
        self.tap.commit(positions)
        s = self.stats
        s.records += len(observations)
        s.spans += len(batch.spans)
        s.dead_letters += len(batch.dead_letters)
        s.writes += 1
        return len(observations)

    def run(self, stop: threading.Event) -> None:
        self.tap.open(stop)
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.tap.close()
            logger.info("spans topics read: %s", self.stats)
