"""Records to publish and a way to run the collector in-process until it has seen enough."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from collector.envelope import Decoder, EnvelopeRules
from collector.kafka.health import Health
from collector.kafka.runner import CollectOptions, KafkaCollector
from collector.kafka.tap import KafkaTap, TapOptions
from collector.pipeline import EventValidator, Pipeline, TrackerLike
from collector.store.base import Store

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01".encode()


@dataclass(frozen=True)
class Rec:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: datetime | None = None


def cloudevent(i: int, correlation: str | None = None, *, source: str = "order-service",
               etype: str = "OrderPlaced", data: Any = None, **extra: Any) -> bytes:
    doc: dict[str, Any] = {
        "specversion": "1.0", "id": f"e-{i}", "type": etype, "source": source,
        "time": "2026-01-01T10:00:00Z", "data": {"i": i} if data is None else data, **extra}
    if correlation is not None:
        doc["correlationid"] = correlation
    return orjson.dumps(doc)


def ce_records(topic: str, ids: Iterable[int], *, per_flow: int = 4) -> list[Rec]:
    out = []
    for i in ids:
        corr = f"c-{i // per_flow}"
        out.append(Rec(topic, cloudevent(i, corr), corr.encode(), (("traceparent", TRACEPARENT),)))
    return out


@dataclass
class Run:
    collector: KafkaCollector
    pipeline: Pipeline
    tap: KafkaTap


def make_collector(bootstrap: str, store: Store, *, topics: Sequence[str] = (),
                   pattern: str | None = None, group: str, rules: EnvelopeRules | None = None,
                   start: Any = "earliest", health: Health | None = None,
                   options: CollectOptions | None = None,
                   validate: EventValidator | None = None,
                   tracker: TrackerLike | None = None) -> Run:
    pipeline = Pipeline(store, Decoder(rules or EnvelopeRules()), validate=validate,
                        tracker=tracker)
    tap = KafkaTap(TapOptions(topics=tuple(topics), pattern=pattern, group_id=group, start=start,
                              metadata_max_age_ms=1000,
                              client={"bootstrap_servers": [bootstrap]}), store.positions)
    collector = KafkaCollector(tap, pipeline, health=health, now=lambda: datetime.now(UTC),
                               options=options or CollectOptions(batch_wait=0.05))
    return Run(collector, pipeline, tap)


def collect_until(run: Run, count: int, *, timeout: float = 60.0,
                  stop: threading.Event | None = None) -> None:
    """Run the collector until it has processed ``count`` records (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    stop = stop or threading.Event()

    def done(c: KafkaCollector) -> bool:
        if time.monotonic() > deadline:
            raise AssertionError(f"collected {c.pipeline.stats.observations} of {count} records "
                                 f"in {timeout:.0f} s")
        return c.pipeline.stats.observations >= count

    run.collector.run(stop, until=done)


def committed(bootstrap: str, group: str, topic: str, partitions: int = 3) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        out = {}
        for p in range(partitions):
            offset = consumer.committed(TopicPartition(topic, p))
            if offset is not None:
                out[p] = offset
        return out
    finally:
        consumer.close(autocommit=False)


def end_offsets(bootstrap: str, topic: str, partitions: int = 3) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: n for tp, n in consumer.end_offsets(tps).items()}
    finally:
        consumer.close(autocommit=False)


def wait_for(condition: Callable[[], object], what: str, *, stop: threading.Event,
             timeout: float = 30.0) -> None:
    """Wait until ``condition()`` holds, checking every 0.1 s; fails naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        stop.wait(0.1)


def stored_ids(store: Store) -> list[str]:
    return [r["id"] for r in store.query("SELECT id FROM events ORDER BY id")]
