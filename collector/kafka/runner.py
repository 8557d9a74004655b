"""The collect loop: tap -> pipeline (one store transaction with the positions) -> broker commit.

The loop drives any `collector.tap.Tap` (Kafka, RabbitMQ, NATS); "offsets" below are whatever
the tap commits after the store commit (Kafka offsets, RabbitMQ or JetStream acknowledgements).

The loop reads records and prepares what they produce (decode, validate, track); a
`StoreWriter` thread writes each batch together with the positions after its records, in
order, while the loop prepares the next one; only once a batch is committed are its offsets
committed to Kafka. So a crash at any point loses nothing and doubles nothing: on restart the
tap resumes from the store's positions. Between steps the loop advances the detection clock,
samples health and deletes expired rows in bounded batches; the ticks' writes and store chores
(the catalog's rollups) queue behind the batches on the same writer thread.

Alerts the tracker raised are in the store's outbox once their step or tick is committed; the
loop then notifies the alert pump, whose own thread sends them (backing off while its sinks
fail), so a slow sink never holds up ingestion. On a clean stop what is pending is sent once
more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Protocol

from collector.exceptions import TapError
from collector.kafka.health import Health, with_collector
from collector.model import Event, Observation
from collector.pipeline import Pipeline
from collector.store.base import Batch, Position
from collector.store.writer import StoreWriter
from collector.tap import Tap

if TYPE_CHECKING:
    from collector.flows.publish import AlertPump
    from collector.member import MemberRole

__all__ = ["CollectOptions", "DetectionClock", "Forwarding", "KafkaCollector"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CollectOptions:
    batch_max: int = 20_000
    """Most records in one store transaction."""
    batch_wait: float = 0.2
    """How long to gather records for one transaction (seconds)."""
    tick_every: float = 1.0
    """How often the detection clock advances when no records arrive (seconds)."""
    health_every: float = 10.0
    retention: timedelta | None = None
    retention_batch: int = 5000
    retention_every: float = 60.0
    writes_in_flight: int = 1
    """Batches being written while the next is prepared (0: write each before reading on)."""


class DetectionClock:
    """The flow tracker's clock for a tap that may be reading a backlog.

    Caught up, it is the wall clock. While partitions lag behind, it is the event-time
    watermark: the oldest of the latest event times read from each lagging partition, so a
    flow whose next event waits further down a slower partition is not declared stuck by a
    clock that ran ahead. It never goes back.
    """

    def __init__(self, wall: Callable[[], datetime]) -> None:
        self._wall = wall
        self._latest: dict[tuple[str | None, int | None], datetime] = {}
        self._last: datetime | None = None

    def observe(self, events: Iterable[Event]) -> None:
        latest = self._latest
        for e in events:
            loc = e.location
            key = (loc.topic, loc.partition)
            seen = latest.get(key)
            if seen is None or e.occurred_at > seen:
                latest[key] = e.occurred_at

    def now(self, lag: Mapping[tuple[str, int], int | None],
            caught_up: bool) -> datetime | None:
        """The detection time, or None while it cannot be known: a partition is assigned but
        not fetched from yet (lag None), or lags without an event read from it."""
        if caught_up:
            at = self._wall()
        else:
            lagging = [key for key, n in lag.items() if n is None or n > 0]
            if not lagging or any(key not in self._latest for key in lagging):
                return None
            at = min(self._latest[key] for key in lagging)
        if self._last is not None and at < self._last:
            at = self._last
        self._last = at
        return at


class Forwarding(Protocol):
    """What follows a reader's store commits in scale-out mode (`collector.scaleout.forward`):
    jobs that run on the writer thread after a batch's write (and before its offsets commit),
    and on the loop's ticks."""

    def after(self, batch: Batch) -> Callable[[], object]:
        """The job to run once ``batch`` is committed (called when it is queued)."""

    def on_tick(self) -> Callable[[], object] | None:
        """A job for the writer thread on a tick, if any."""


class KafkaCollector:
    """Runs the tap into the pipeline until ``stop`` is set (or ``until`` says it is done)."""

    def __init__(
        self,
        tap: Tap,
        pipeline: Pipeline,
        *,
        options: CollectOptions = CollectOptions(),
        health: Health | None = None,
        now: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        alerts: AlertPump | None = None,
        housekeeping: Sequence[Callable[[datetime], object]] = (),
        forward: Forwarding | None = None,
    ) -> None:
        self.tap = tap
        self.forward = forward
        self._housekeeping = tuple(housekeeping)
        self.pipeline = pipeline
        self.options = options
        self.health = health
        self.alerts = alerts
        self._now = now
        self._monotonic = monotonic
        self.clock = DetectionClock(now)
        self.role: MemberRole | None = None
        """This loop's role in its process's heartbeat (`collector.member`), if it reports one."""
        self.steps = 0
        self._uncommitted: dict[tuple[str, str, int], Position] = {}
        """By reader, topic (or queue, stream) and partition: a `TapSet` reads several."""
        self._writer = StoreWriter(depth=options.writes_in_flight)
        tap.on_revoke = self._writer.wait  # the partitions' next owner resumes from the store

    def run(self, stop: threading.Event,
            until: Callable[[KafkaCollector], bool] | None = None) -> None:
        alerts = self.alerts
        if alerts is None:
            self._run(stop, until)
            return
        alerts.start()
        try:
            self._run(stop, until)
        finally:
            stopped = alerts.stop()
        if stopped:  # else a sink still hangs: what is pending waits for the next run
            alerts.drain()

    def _run(self, stop: threading.Event,
             until: Callable[[KafkaCollector], bool] | None) -> None:
        opts = self.options
        mono = self._monotonic
        next_tick = next_health = mono()
        next_retention = mono() + min(5.0, opts.retention_every)
        try:
            self.tap.open(stop)
        except TapError:
            if stop.is_set():
                return
            raise
        try:
            while not stop.is_set():
                observations, positions = self._gather(stop)
                if observations or positions:
                    self.step(observations, positions)
                now = mono()
                if now >= next_tick:
                    self._tick()
                    next_tick = now + opts.tick_every
                if (self.health is not None or self.role is not None) and now >= next_health:
                    self._sample_health()
                    next_health = now + opts.health_every
                if opts.retention is not None and now >= next_retention:
                    self._retain(opts.retention, stop)
                    next_retention = mono() + opts.retention_every
                if until is not None and until(self):
                    break
            finished = self.pipeline.prepare_finish()  # a clean stop: the minutes still open
            if finished is not None:
                self._submit(finished, then=partial(self._publish, finished))
        finally:
            try:
                self.flush()  # what was read is written and its offsets committed
            finally:
                self.tap.close()

    def step(self, observations: list[Observation], positions: list[Position]) -> None:
        """One transaction, written on the writer thread: everything the records produced,
        with the positions after them; their offsets go to Kafka once it is committed."""
        batch = self.pipeline.prepare(observations, positions)
        batch.consumers = self.tap.consumers()
        self.clock.observe(batch.events)
        self.steps += 1
        self._submit(batch, then=partial(self._written, batch, positions))

    def _submit(self, batch: Batch, then: Callable[[], object] | None = None) -> None:
        """Queue ``batch`` on the writer thread, its statements made here (Python work that
        would otherwise contend for the GIL with the loop)."""
        pipeline = self.pipeline
        job: Callable[[], object] = partial(pipeline.write_prepared,
                                            pipeline.store.prepare(batch))
        if self.forward is not None and batch.positions:
            job = partial(_in_turn, job, self.forward.after(batch))
        self._writer.submit(job, then=then)

    def _written(self, batch: Batch, positions: list[Position]) -> None:
        if self.health is not None:
            self.health.on_step(self.pipeline.stats, wrote=True)
        self._commit(positions)
        self._publish(batch)

    def flush(self) -> None:
        """Wait for every queued write, run what follows each (offset commits, alerts) and stop
        the writer thread (the next write starts one again)."""
        self._writer.close()

    def _commit(self, positions: Iterable[Position]) -> None:
        """Send to Kafka the stored positions not committed yet, without waiting for the reply
        (the store is the source of truth on restart; Kafka's offsets are for lag tools). A
        commit that could not be sent or that the broker failed (broker away, group rejoining)
        is carried by the next one, or retried on the next tick, so a partition read to its end
        during an outage still gets its offsets committed."""
        pending = self._uncommitted
        for p in self.tap.due_commits():  # failed, or resumed from the store; newer pending wins
            pending.setdefault((p.source, p.topic, p.partition), p)
        for p in positions:
            pending[(p.source, p.topic, p.partition)] = p
        if not pending:
            return
        assigned = self.tap.lag().keys()  # revoked partitions are the new owner's to commit
        for key in [k for k in pending if (k[1], k[2]) not in assigned]:
            del pending[key]
        if pending and self.tap.commit(list(pending.values())):
            pending.clear()

    def _tick(self) -> None:
        if self.tap.link.up:
            self._commit(())
        at = self.clock.now(self.tap.lag(), self.tap.caught_up())
        batch = self.pipeline.prepare_tick(at) if at is not None else None
        writer = self._writer
        if batch is not None:
            self._submit(batch, then=partial(self._publish, batch))
        if self.forward is not None and (job := self.forward.on_tick()) is not None:
            writer.submit(job)
        wall = self._now()
        for chore in self._housekeeping:  # e.g. the catalog's traffic rollups, on wall time
            writer.submit(partial(chore, wall))  # after the writes it rolls up
        writer.settle(keep=len(writer))  # follow-ups of what finished: offsets commit when idle

    def _publish(self, batch: Batch | None) -> None:
        """Tell the alert pump when a committed batch holds alerts."""
        if self.alerts is not None and batch is not None and batch.alerts:
            self.alerts.notify()

    def _gather(self, stop: threading.Event) -> tuple[list[Observation], list[Position]]:
        opts = self.options
        # Waiting at least 0.5 s when idle lets kafka-python finish a metadata refresh (needed
        # to rejoin after a pattern matched a new topic); records end the wait at once.
        observations, positions = self.tap.poll(timeout_ms=int(max(opts.batch_wait, 0.5) * 1000))
        if not observations:
            return observations, positions
        deadline = self._monotonic() + opts.batch_wait
        latest = {(p.source, p.topic, p.partition): p for p in positions}
        while len(observations) < opts.batch_max and not stop.is_set():
            left = deadline - self._monotonic()
            if left <= 0:
                break
            more, more_positions = self.tap.poll(timeout_ms=max(1, int(left * 1000)))
            if not more:
                break
            observations.extend(more)
            for p in more_positions:
                latest[(p.source, p.topic, p.partition)] = p
        return observations, list(latest.values())

    def _sample_health(self) -> None:
        lag, at = self.tap.lag(), self._now()
        beats = ([] if self.role is None
                 else [self.role.beat(lag, self.pipeline.stats.observations, at)])
        if self.health is None:  # a role without health samples (scale-out's tracker)
            self._writer.submit(partial(self.pipeline.store.write, Batch(collectors=beats)))
            return
        samples = self.health.sample(self.pipeline.stats, lag, self.tap.link.up,
                                     at, self.pipeline.store.dead_letter_usage(),
                                     figures=self.tap.figures())
        if self.role is not None:
            samples = with_collector(samples, self.role.membership.collector_id)
        # straight to the store: a health sample is not a pipeline write (nor its latency)
        self._writer.submit(partial(self.pipeline.store.write,
                                    Batch(metrics=samples, consumers=self.tap.consumers(),
                                          collectors=beats)))

    def _retain(self, max_age: timedelta, stop: threading.Event) -> None:
        """Delete expired rows a batch at a time, reading Kafka in between."""
        cutoff = self._now() - max_age
        total = 0
        while not stop.is_set():
            gone = self.pipeline.store.delete_older_than(cutoff, self.options.retention_batch)
            total += gone
            if gone == 0:
                break
            observations, positions = self.tap.poll(timeout_ms=0)
            if observations or positions:
                self.step(observations, positions)
        if total:
            logger.info("retention: deleted %d rows older than %s", total, cutoff.isoformat())


def _in_turn(*jobs: Callable[[], object]) -> None:
    for job in jobs:
        job()
