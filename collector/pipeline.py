"""The collector's pipeline: observation -> envelope -> validation -> flow tracking -> store.

Pure steps are injected as callables and objects; the only I/O here is the store write at the
end of each step, which commits what a batch of observations produced together with the source
positions it was read from.

A fault boundary surrounds every record: an exception raised while decoding, validating or
tracking one record makes that record a dead letter (reason ``unstorable``, the exception's
type and the step in its detail) and the batch goes on; the store does the same for a record
whose rows it cannot prepare. Only a failure of the store itself (disk full, database gone)
stops the collector, before any position moves.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from collector.model import (
    Alert,
    DeadLetter,
    DeadLetterReason,
    Event,
    EventIdentity,
    FlowSnapshot,
    Observation,
    Violation,
)
from collector.store.base import Batch, Position, Store

__all__ = ["FlowUpdateLike", "Pipeline", "PipelineStats", "TrackerLike", "fault_letter",
           "settle_process"]

logger = logging.getLogger(__name__)

Decoder = Callable[[Observation], Event | DeadLetter]
EventValidator = Callable[[Event], Sequence[Violation]]
Fault = Callable[[Observation, BaseException, str], DeadLetter]
"""The dead letter of a record whose step (``"decoding"``, ...) raised."""


def fault_letter(observation: Observation, exc: BaseException, step: str) -> DeadLetter:
    """A fault boundary's dead letter when the decoder offers none: no raw bytes (no
    redaction rule could be applied to them), the exception's type only (its message may
    quote payload values)."""
    return DeadLetter(DeadLetterReason.UNSTORABLE,
                      f"unstorable: {type(exc).__name__} while {step}", observation.location,
                      observation.received_at, None, observation.key, observation.headers)


YOUNG_OBJECTS = 1_000_000
"""Young-generation threshold for the collector: above what the batches in flight keep alive
(the one being written and the one being prepared, up to ``batch_max`` = 20,000 records each:
observations, events, payload dicts, tracked flows), so a batch's objects are freed by
reference counting, which takes them off the young count, before a collection scans them.
On the 200k-record Kafka bench: GC 0.7-1.1 s -> 0.06-0.11 s at 200,000 (gen-0 collections
141 -> 64); batches there hold ~8,700 records, two in flight, more than 200,000 young objects:
at 1,000,000 the offline bench (100k records, fake tap) runs no collection, 4.5-4.8 us of CPU
per record less."""


SWITCH_INTERVAL = 0.0005
"""Seconds a thread runs Python before it must offer the GIL (CPython's default: 0.005). The
store writer thread takes the GIL back after each long SQLite step; with the default it waits
up to 5 ms each time while the loop runs Python. On the 200k-record Kafka bench: the writer's
wall time 7.2 s -> 4.8 s, the whole run 8.7 s -> 7.5 s."""


def settle_process(young: int = YOUNG_OBJECTS, switch_interval: float = SWITCH_INTERVAL) -> int:
    """Call once start-up is done (registry compiled, tracker restored), before the first poll.

    Moves everything alive into the permanent generation the garbage collector never scans
    (`gc.freeze`): modules, schemas, compiled validators and the restored flows, so a
    long-running collector's steady heap is never walked again. And lets the youngest
    generation grow to ``young`` objects before a collection (default 700): each batch
    allocates tens of thousands of short-lived objects, and every collection they trigger also
    ages the survivors towards the costly full collections. And sets the GIL's switch
    interval (`SWITCH_INTERVAL`). An entry point's decision (it changes the whole process), so
    the pipeline never calls it itself. Returns the frozen count.
    """
    sys.setswitchinterval(switch_interval)
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, 1), max(middle, 20), max(old, 20))
    frozen = gc.get_freeze_count()
    logger.info("start-up heap frozen out of the cyclic GC: %d objects", frozen)
    return frozen


class FlowUpdateLike(Protocol):
    """What the flow tracker answers to an event or a tick."""

    @property
    def assignments(self) -> Sequence[tuple[EventIdentity, str]]: ...
    @property
    def flows(self) -> Sequence[FlowSnapshot]: ...
    @property
    def alerts(self) -> Sequence[Alert]: ...


class TrackerLike(Protocol):
    def on_event(self, event: Event) -> FlowUpdateLike: ...
    def on_events(self, events: Iterable[Event]) -> FlowUpdateLike:
        """The events of one batch in order: the same flows, assignments and alerts as one
        `on_event` per event, with one snapshot per changed flow."""
    def on_tick(self, now: datetime) -> FlowUpdateLike: ...
    def next_deadline(self) -> datetime | None: ...
    def flush_rollups(self) -> FlowUpdateLike:
        """The rollups of every minute still held (on a clean stop)."""


@dataclass(slots=True)
class PipelineStats:
    observations: int = 0
    events: int = 0
    dead_letters: int = 0
    violations: int = 0
    alerts: int = 0
    writes: int = 0
    write_seconds: float = 0.0
    last_write_seconds: float = 0.0
    decode_seconds: float = 0.0
    validate_seconds: float = 0.0
    track_seconds: float = 0.0
    """Time in each step since start (with `write_seconds`: where a batch's time goes)."""
    dead_letters_by_reason: dict[str, int] = field(default_factory=dict)


CLOCK_EVERY = timedelta(seconds=5)
"""A tick that changed nothing still stores the detection clock when it moved this much."""


class _Collected:
    """Accumulates one batch; later flow snapshots replace earlier ones (assignments are kept
    in order: the store applies the last one of each event)."""

    def __init__(self, positions: Iterable[Position]) -> None:
        self.batch = Batch(positions=list(positions))
        self.flows: dict[str, FlowSnapshot] = {}

    def add_update(self, update: FlowUpdateLike) -> None:
        for flow in update.flows:
            self.flows[flow.instance_id] = flow
        self.batch.assignments.extend(update.assignments)
        self.batch.alerts.extend(update.alerts)
        self.batch.flow_rollups.extend(getattr(update, "rollups", ()))

    def finish(self) -> Batch:
        self.batch.flows = list(self.flows.values())
        return self.batch


def _to_store(update: FlowUpdateLike) -> Batch | None:
    """A tracker update without records (a tick, a stop) as a batch, or None when it holds
    nothing to store (a tick may only close rollup minutes)."""
    collected = _Collected(())
    collected.add_update(update)
    batch = collected.finish()
    return batch if batch.flows or batch.alerts or batch.flow_rollups else None


class Pipeline:
    """Turns observations into stored events, dead letters, violations, flows and alerts."""

    def __init__(
        self,
        store: Store,
        decode: Decoder,
        *,
        tracker: TrackerLike | None = None,
        validate: EventValidator | None = None,
        clock: Callable[[], float] = time.perf_counter,
        fault: Fault | None = None,
    ) -> None:
        self.store = store
        self._decode = decode
        self._fault: Fault = fault or getattr(decode, "fault", None) or fault_letter
        self.tracker = tracker
        self._validate = validate
        self._clock = clock
        self.stats = PipelineStats()
        self._clock_stored: datetime | None = None

    def process(self, observations: Sequence[Observation],
                positions: Sequence[Position] = ()) -> Batch:
        """Decode, validate and track a batch, then write it with its positions in one commit."""
        return self.write(self.prepare(observations, positions))

    def prepare(self, observations: Sequence[Observation],
                positions: Sequence[Position] = ()) -> Batch:
        """Decode, validate and track a batch: what `write` commits with its positions.

        Split from the write so a caller can write on a thread of its own (`StoreWriter`)
        while it prepares the next batch; batches must then be written in the order prepared.
        """
        clock, s = self._clock, self.stats
        started = clock()
        collected = _Collected(positions)
        batch = collected.batch
        events, dead = batch.events, batch.dead_letters
        origins: list[Observation] = []
        """The observation of each event, for a dead letter if a later step fails on it."""
        decode, fault = self._decode, self._fault
        for obs in observations:
            try:
                result = decode(obs)
            except Exception as exc:  # the fault boundary: one record never stops the rest
                result = fault(obs, exc, "decoding")
            if isinstance(result, DeadLetter):
                dead.append(result)
            else:
                events.append(result)
                origins.append(obs)
        decoded = clock()
        s.decode_seconds += decoded - started
        validate = self._validate
        if validate is not None:
            self._validate_all(batch, origins, validate)
            validated = clock()
            s.validate_seconds += validated - decoded
        else:
            validated = decoded
        if self.tracker is not None and batch.events:
            self._track(collected, origins, self.tracker)
        s.track_seconds += clock() - validated
        self._count(len(observations), batch)
        return collected.finish()

    def _validate_all(self, batch: Batch, origins: list[Observation],
                      validate: EventValidator) -> None:
        violations = batch.violations
        failed: dict[int, BaseException] = {}
        for i, event in enumerate(batch.events):
            try:
                found = validate(event)
            except Exception as exc:
                failed[i] = exc
                continue
            if found:
                violations.extend(found)
        if failed:
            self._drop(batch, origins, failed, "validating")

    def _track(self, collected: _Collected, origins: list[Observation],
               tracker: TrackerLike) -> None:
        """The batch's events through the tracker at once; if that raises, one by one (the
        tracker ignores the events it already has), each failing event becoming a dead letter."""
        batch = collected.batch
        try:
            collected.add_update(tracker.on_events(batch.events))
            return
        except Exception:
            logger.warning("tracking a batch raised: tracking its events one by one",
                           exc_info=True)
        failed: dict[int, BaseException] = {}
        for i, event in enumerate(batch.events):
            try:
                collected.add_update(tracker.on_event(event))
            except Exception as exc:
                failed[i] = exc
        if failed:
            self._drop(batch, origins, failed, "tracking")

    def _drop(self, batch: Batch, origins: list[Observation],
              failed: dict[int, BaseException], step: str) -> None:
        """Turn the events at the ``failed`` indexes into dead letters (and their violations
        out of the batch)."""
        fault = self._fault
        gone = set()
        for i, exc in failed.items():
            batch.dead_letters.append(fault(origins[i], exc, step))
            gone.add(batch.events[i].identity)
        kept = [i for i in range(len(batch.events)) if i not in failed]
        batch.events[:] = [batch.events[i] for i in kept]
        origins[:] = [origins[i] for i in kept]
        batch.violations[:] = [v for v in batch.violations if v.event not in gone]

    def advance(self, now: datetime) -> Batch:
        """Move the detection clock to ``now``: stuck flows and SLA breaches found are stored."""
        batch = self.prepare_tick(now)
        if batch is not None:
            self.write(batch)
            return batch
        return Batch()

    def prepare_tick(self, now: datetime) -> Batch | None:
        """`advance` without the write: the batch to write, or None when the tick changed
        nothing to store and the stored detection clock is recent (`CLOCK_EVERY`)."""
        if self.tracker is None:
            return None
        batch = _to_store(self.tracker.on_tick(now))
        if batch is not None:
            self.stats.alerts += len(batch.alerts)
        elif self._clock_stored is None or now - self._clock_stored >= CLOCK_EVERY:
            batch = Batch()
        if batch is not None:
            batch.detected_at = self._clock_stored = now
        return batch

    def prepare_finish(self) -> Batch | None:
        """On a clean stop: what the tracker still holds for the store (the rollups of the
        minutes not closed yet, which a restart would not count again), or None."""
        return None if self.tracker is None else _to_store(self.tracker.flush_rollups())

    def _count(self, observed: int, batch: Batch) -> None:
        s = self.stats
        s.observations += observed
        s.events += len(batch.events)
        s.dead_letters += len(batch.dead_letters)
        s.violations += len(batch.violations)
        s.alerts += len(batch.alerts)
        for d in batch.dead_letters:
            s.dead_letters_by_reason[d.reason.value] = (
                s.dead_letters_by_reason.get(d.reason.value, 0) + 1)

    def write(self, batch: Batch) -> Batch:
        """Commit a prepared batch (with its positions) in one store transaction."""
        self.write_prepared(self.store.prepare(batch))
        return batch

    def write_prepared(self, prepared: object) -> None:
        """Commit what `Store.prepare` made of a batch (e.g. on a writer thread)."""
        started = self._clock()
        self.store.write_prepared(prepared)
        elapsed = self._clock() - started
        self.stats.writes += 1
        self.stats.write_seconds += elapsed
        self.stats.last_write_seconds = elapsed
