"""One scale-out collector process: a reader and a tracker, each a `KafkaCollector` on a thread
of its own, each with its own store connection (docs/SCALE-OUT.md).

The reader reads the user's topics as the group ``kafka.group_id``, stores events and dead
letters with their positions, and forwards (`collector.scaleout.forward`). The tracker reads
the internal topic as the group ``GROUP.flows`` and tracks the flows of its partitions
(`collector.scaleout.tracking`), judging them on the group's clock (`collector.scaleout.clock`).
Either failing stops both.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from collector.kafka.runner import KafkaCollector

if TYPE_CHECKING:
    from collector.settings import Settings
    from collector.store.base import Store

__all__ = ["ScaleOutCollector", "build_scale_out"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ScaleOutCollector:
    reader: KafkaCollector
    tracker: KafkaCollector
    stores: tuple[Store, ...]
    """The tracker's own connections (the caller owns the reader's)."""
    producer: Any

    def run(self, stop: threading.Event, idle_for: float | None = None,
            monotonic: Callable[[], float] = time.monotonic) -> None:
        """Run both until ``stop`` is set (or, with ``idle_for``, until neither has read a
        record for that long and both are caught up)."""
        failed: list[BaseException] = []
        done = threading.Event()

        def read() -> None:
            try:
                self.reader.run(done)
            except BaseException as exc:
                failed.append(exc)
                stop.set()

        thread = threading.Thread(target=read, name="scale-out-reader", daemon=True)
        thread.start()
        until = None if idle_for is None else _both_idle(self, idle_for, monotonic)
        try:
            self.tracker.run(stop, until)
        finally:
            done.set()
            thread.join()
        if failed:
            raise failed[0]

    def close(self) -> None:
        self.producer.close()
        for store in self.stores:
            store.close()


def _both_idle(c: ScaleOutCollector, seconds: float,
               monotonic: Callable[[], float]) -> Callable[[KafkaCollector], bool]:
    seen: list[tuple[int, int]] = [(-1, -1)]
    since = [monotonic()]

    def idle(_: KafkaCollector) -> bool:
        now = (c.reader.pipeline.stats.observations, c.tracker.pipeline.stats.observations)
        if now != seen[0]:
            seen[0], since[0] = now, monotonic()
            return False
        return bool(monotonic() - since[0] >= seconds and c.reader.tap.caught_up()
                    and c.tracker.tap.caught_up())

    return idle


def build_scale_out(settings: Settings, store: Store, *,
                    now: Callable[[], datetime] | None = None) -> ScaleOutCollector:
    """The reader and tracker ``choreoscope collect`` runs with ``[scale_out] enabled``."""
    from collector.commands.collect import _options
    from collector.envelope import Decoder, build_rules
    from collector.flows.definition import load_definitions
    from collector.flows.publish import AlertPump, build_publisher
    from collector.kafka._client import client_config
    from collector.kafka.health import Health
    from collector.kafka.repartition import InternalProducer, partition_of
    from collector.kafka.tap import KafkaTap, TapOptions
    from collector.pipeline import Pipeline
    from collector.scaleout.clock import GroupClock
    from collector.scaleout.forward import Forwarder
    from collector.scaleout.forwarded import forwarded_marks, forwarded_positions
    from collector.scaleout.tracking import TrackingPipeline
    from collector.store.base import open_store
    from collector.store.dead_letters import bounds_of
    from collector.validate import load_validator

    clock = now if now is not None else (lambda: datetime.now(UTC))
    k, so = settings.kafka, settings.scale_out
    topic = so.internal_topic(k.group_id)
    producer = InternalProducer(k.bootstrap_servers, topic, partitions=so.partitions,
                                replication=so.replication, client=client_config(k))
    count = producer.partitions  # creates the internal topic before any tracker subscribes
    options = _options(settings)
    user = TapOptions.from_settings(k)
    user = replace(user, session_timeout_ms=so.session_timeout_ms)
    reader_tap = KafkaTap(user, partial(forwarded_positions, store))  # resume: forwarded
    forwarder = Forwarder(producer, store, user.source, highwaters=reader_tap.highwaters,
                          lag=reader_tap.lag, now=clock, subscribed=reader_tap.subscribed)
    reader_tap.on_assign = forwarder.on_assign
    reader = KafkaCollector(
        reader_tap, Pipeline(store, Decoder(build_rules(settings)),
                             validate=load_validator(settings)),
        options=options, health=Health(monotonic=time.monotonic), now=clock, forward=forwarder)

    tracker_store = open_store(settings.store, dead_letters=bounds_of(settings))
    marks_store = open_store(settings.store, read_only=True)
    folder = settings.schemas_dir / "flows"
    definitions = load_definitions([folder]) if folder.is_dir() else ()
    pipeline = TrackingPipeline(tracker_store, definitions, topic,
                                partial(_partition, partition_of, count),
                                clock=lambda: group_clock.given)
    tracker_tap = KafkaTap(replace(user, topics=(topic,), pattern=None,
                                   group_id=f"{k.group_id}.flows", start="earliest"),
                           tracker_store.positions)
    group_clock = GroupClock(clock, partial(forwarded_marks, marks_store, user.source),
                             timedelta(seconds=so.failover_s),
                             read_to_end=tracker_tap.read_to_end, settled=pipeline.settled)
    publisher = build_publisher(settings, tracker_store, now=clock)
    pump = None if publisher is None else AlertPump(  # the store's alert sender sends all
        publisher, monotonic=time.monotonic, every=settings.alerts.publish_every_s, poll=True)
    tracker = KafkaCollector(tracker_tap, pipeline, options=options, now=clock, alerts=pump)
    tracker.clock = group_clock
    if definitions:  # first the writes in flight (the collector's), then give up the flows
        tracker_tap.on_assign = pipeline.on_assign
        tracker_tap.on_revoke = partial(_in_turn, tracker_tap.on_revoke, pipeline.on_revoke)
    logger.info("scale-out: forwarding to %s (%d partitions), tracking as group %s.flows",
                topic, count, k.group_id)
    return ScaleOutCollector(reader, tracker, (tracker_store, marks_store), producer)


def _in_turn(*jobs: Callable[[], object] | None) -> None:
    for job in jobs:
        if job is not None:
            job()


def _partition(of: Callable[[str, int], int], count: int, correlation_id: str) -> int:
    return of(correlation_id, count)
