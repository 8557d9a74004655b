"""The tap against the real broker: round trip, positions, start policies, topic patterns."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.kafka.producer import publish
from collector.kafka.runner import CollectOptions
from collector.model import Location
from collector.store.base import Batch, Position, Store, open_store
from tests.kafka._support import (
    TRACE,
    Rec,
    ce_records,
    cloudevent,
    collect_until,
    committed,
    end_offsets,
    make_collector,
    stored_ids,
    wait_for,
)

pytestmark = pytest.mark.kafka


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def test_every_record_is_stored_once_with_where_it_came_from(kafka: Any, topic: str,
                                                             store: Store) -> None:
    publish(ce_records(topic, range(300)), kafka.bootstrap)
    run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}")
    collect_until(run, 300)

    assert stored_ids(store) == sorted(f"e-{i}" for i in range(300))
    rows = store.query('SELECT topic, partition, "offset", trace_id, correlation_id FROM events')
    assert {r["topic"] for r in rows} == {topic}
    assert {r["trace_id"] for r in rows} == {TRACE}
    by_partition: dict[int, list[int]] = {}
    for r in rows:
        by_partition.setdefault(r["partition"], []).append(r["offset"])
    ends = end_offsets(kafka.bootstrap, topic)
    for p, offsets in by_partition.items():
        assert sorted(offsets) == list(range(ends[p]))  # every offset, each once
    stored = {p: n for (t, p), n in store.positions(f"kafka:g-{topic}").items() if t == topic}
    assert stored == {p: n for p, n in ends.items() if n}
    assert committed(kafka.bootstrap, f"g-{topic}", topic) == stored  # after the store commit


def test_a_restarted_tap_resumes_from_the_stored_positions(kafka: Any, topic: str,
                                                           store: Store) -> None:
    publish(ce_records(topic, range(100)), kafka.bootstrap)
    collect_until(make_collector(kafka.bootstrap, store, topics=[topic], group="g1"), 100)
    publish(ce_records(topic, range(100, 160)), kafka.bootstrap)
    second = make_collector(kafka.bootstrap, store, topics=[topic], group="g1")
    collect_until(second, 60)
    assert second.pipeline.stats.observations == 60  # only what was new
    assert len(stored_ids(store)) == 160


def test_the_store_positions_win_over_kafka_commits(kafka: Any, topic: str,
                                                    store: Store) -> None:
    publish(ce_records(topic, range(90)), kafka.bootstrap)
    collect_until(make_collector(kafka.bootstrap, store, topics=[topic], group="g2"), 90)
    # Rewind the store (as if its last transactions were lost with a restored backup): the
    # tap must re-read from there although Kafka has later offsets committed for the group.
    rewound = [Position("kafka:g2", topic, p, 0) for p in range(3)]
    store.write(Batch(positions=rewound))
    again = make_collector(kafka.bootstrap, store, topics=[topic], group="g2")
    collect_until(again, 90)
    assert again.pipeline.stats.observations == 90
    assert len(stored_ids(store)) == 90  # re-read, still stored once


def test_start_latest_skips_what_was_there(kafka: Any, topic: str, store: Store) -> None:
    publish(ce_records(topic, range(50)), kafka.bootstrap)
    run = make_collector(kafka.bootstrap, store, topics=[topic], group="g3", start="latest")
    run.tap.open()
    try:  # join the group and position at the end before anything new is published
        for _ in range(50):
            run.tap.poll(timeout_ms=100)
            if run.tap.lag():  # partitions assigned
                break
    finally:
        run.tap.close()
    assert store.positions("kafka:g3") == {}
    publish(ce_records(topic, range(50, 70)), kafka.bootstrap)
    # positions were not stored (nothing read), so "latest" applies again on this start
    run = make_collector(kafka.bootstrap, store, topics=[topic], group="g3", start="latest")
    stop = threading.Event()
    t = threading.Thread(target=collect_until, args=(run, 20), kwargs={"stop": stop})
    t.start()
    try:
        # the collector's thread owns the consumer: no call to it
        wait_for(run.tap.lag, "partitions assigned", stop=stop)
        stop.wait(0.5)
        publish(ce_records(topic, range(70, 90)), kafka.bootstrap)
        t.join(60)
    finally:
        stop.set()
        t.join()
    assert stored_ids(store) == sorted(f"e-{i}" for i in range(70, 90))


def test_a_restart_with_start_latest_reads_what_came_while_it_was_down(
        kafka: Any, topic: str, store: Store) -> None:
    """"latest" is where the group first starts: a collector that read nothing before it
    stopped (a quiet topic) has stored where each partition starts, so a restart (or the
    partitions' next owner in scale-out) reads what was published meanwhile instead of
    starting at the end again."""
    publish(ce_records(topic, range(30)), kafka.bootstrap)  # before the first start: skipped
    partitions = len(end_offsets(kafka.bootstrap, topic))
    run = make_collector(kafka.bootstrap, store, topics=[topic], group="g8", start="latest")
    stop = threading.Event()
    t = threading.Thread(target=collect_until, args=(run, 1), kwargs={"stop": stop})
    t.start()
    try:
        wait_for(lambda: len(store.positions("kafka:g8")) == partitions,
                 "a start position stored for every partition", stop=stop)
    finally:
        stop.set()
        t.join()
    assert sum(store.positions("kafka:g8").values()) == 30  # each at its end, nothing read
    assert stored_ids(store) == []
    publish(ce_records(topic, range(30, 50)), kafka.bootstrap)  # while it is down
    collect_until(make_collector(kafka.bootstrap, store, topics=[topic], group="g8",
                                 start="latest"), 20)
    assert stored_ids(store) == sorted(f"e-{i}" for i in range(30, 50))


def test_start_at_a_timestamp(kafka: Any, topic: str, store: Store) -> None:
    old = datetime(2026, 1, 1, tzinfo=UTC)
    new = datetime(2026, 1, 2, tzinfo=UTC)
    records = [Rec(topic, cloudevent(i, "c"), None, (), old if i < 10 else new)
               for i in range(20)]
    publish(records, kafka.bootstrap)
    run = make_collector(kafka.bootstrap, store, topics=[topic], group="g4",
                         start=datetime(2026, 1, 1, 12, tzinfo=UTC))
    collect_until(run, 10)
    assert stored_ids(store) == sorted(f"e-{i}" for i in range(10, 20))


def test_a_pattern_picks_up_topics_created_later(kafka: Any, topic: str, store: Store) -> None:
    publish(ce_records(f"{topic}-a", range(10)), kafka.bootstrap)
    run = make_collector(kafka.bootstrap, store, pattern=f"^{topic}-.*", group="g5")
    stop = threading.Event()
    t = threading.Thread(target=collect_until, args=(run, 20), kwargs={"stop": stop})
    t.start()
    try:
        wait_for(lambda: run.pipeline.stats.observations >= 10, "the first topic read",
                 stop=stop)
        publish(ce_records(f"{topic}-b", range(10, 20)), kafka.bootstrap)
        t.join(60)
        assert not t.is_alive()
    finally:
        stop.set()
        t.join()
    rows = store.query("SELECT DISTINCT topic FROM events ORDER BY topic")
    assert [r["topic"] for r in rows] == [f"{topic}-a", f"{topic}-b"]


def test_records_keep_key_timestamp_and_headers(kafka: Any, topic: str, store: Store) -> None:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    value = cloudevent(1, None)  # no correlation id: a dead letter keeps everything it came with
    publish([Rec(topic, value, b"the-key", (("h1", b"v1"), ("h2", b"")), at)], kafka.bootstrap)
    run = make_collector(kafka.bootstrap, store, topics=[topic], group="g6")
    seen: list[Any] = []
    original = run.pipeline.prepare

    def spy(observations: Any, positions: Any = ()) -> Any:
        seen.extend(observations)
        return original(observations, positions)

    run.pipeline.prepare = spy  # type: ignore[method-assign]
    collect_until(run, 1)
    (obs,) = seen
    assert obs.location == Location("kafka", topic, obs.location.partition, 0)
    assert (obs.key, obs.headers, obs.timestamp, obs.value) == (
        b"the-key", (("h1", b"v1"), ("h2", b"")), at, value)
    (row,) = store.query("SELECT key, headers, raw, reason FROM dead_letters")
    assert (row["key"], row["raw"], row["reason"]) == (b"the-key", value, "no-correlation")


def test_a_commit_the_broker_fails_comes_back_to_be_sent_again(kafka: Any, topic: str,
                                                               store: Store) -> None:
    """Offsets go to Kafka without waiting for the reply; one the broker rejects (here: a
    partition the topic does not have) comes back from `due_commits` once, unless a later
    commit of the same partition was sent meanwhile. Good partitions are committed."""
    publish(ce_records(topic, range(30)), kafka.bootstrap)
    run = make_collector(kafka.bootstrap, store, topics=[topic], group="g7")
    tap = run.tap
    tap.open()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while not tap._consumer or not tap._consumer.assignment():
            assert datetime.now(UTC) < deadline, "no partitions assigned"
            tap.poll(timeout_ms=100)
        bad = Position(tap.source, topic, 99, 5)
        assert tap.commit([bad])
        assert tap.commit([Position(tap.source, topic, 98, 7)])
        assert tap.commit([Position(tap.source, topic, 98, 8)])  # supersedes 7 before a reply
        failed: list[Position] = []
        while not failed:
            assert datetime.now(UTC) < deadline, "the broker's reply never came"
            tap.poll(timeout_ms=100)
            failed = tap.due_commits()
        for _ in range(10):  # every reply in
            tap.poll(timeout_ms=100)
            failed += tap.due_commits()
        assert sorted(failed, key=lambda p: p.partition) == [
            Position(tap.source, topic, 98, 8), bad]
        assert tap.due_commits() == []
        ends = end_offsets(kafka.bootstrap, topic)
        assert tap.commit([Position(tap.source, topic, p, n) for p, n in ends.items()])
    finally:
        tap.close()  # waits for the last offsets sent
    assert committed(kafka.bootstrap, "g7", topic) == ends


def test_conversion_keeps_headers_and_makes_nulls_empty() -> None:
    """librdkafka's messages become observations: headers kept in order (a null header
    value, which the protocol allows, as b""), a null value as b"", a missing timestamp as
    None, and per partition the offset after its last record (partitions interleaved)."""
    from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_NOT_AVAILABLE, Message

    from collector.kafka.tap import KafkaTap, TapOptions

    received = datetime(2026, 3, 1, 12, tzinfo=UTC)
    tap = KafkaTap(TapOptions(topics=("t",)), lambda _: {}, now=lambda: received)

    def rec(offset: int, headers: Any, value: bytes | None, ms: int | None,
            partition: int = 1) -> Any:
        stamp = (TIMESTAMP_NOT_AVAILABLE, -1) if ms is None else (TIMESTAMP_CREATE_TIME, ms)
        return Message(topic="t", partition=partition, offset=offset, key=b"k", value=value,
                       headers=headers, timestamp=stamp)

    at = datetime(2026, 3, 1, 11, tzinfo=UTC)
    ms = int(at.timestamp() * 1000)
    polled = [
        rec(7, [("a", b"1"), ("b", b"2")], b"v", ms),
        rec(8, [("a", None), ("b", b"2")], None, None),
        rec(9, None, b"w", ms),
        rec(3, None, b"z", ms, partition=2),
        rec(10, None, b"x", ms),  # a producer batch's records share their millisecond
        rec(11, None, b"y", ms + 1),
    ]
    observations, positions = tap._convert(polled)
    assert [(o.location, o.headers, o.value, o.timestamp) for o in observations] == [
        (Location("kafka", "t", 1, 7), (("a", b"1"), ("b", b"2")), b"v", at),
        (Location("kafka", "t", 1, 8), (("a", b""), ("b", b"2")), b"", None),
        (Location("kafka", "t", 1, 9), (), b"w", at),
        (Location("kafka", "t", 2, 3), (), b"z", at),
        (Location("kafka", "t", 1, 10), (), b"x", at),
        (Location("kafka", "t", 1, 11), (), b"y", at + timedelta(milliseconds=1)),
    ]
    assert {o.received_at for o in observations} == {received}
    assert {o.key for o in observations} == {b"k"}
    assert positions == [Position("kafka:choreoscope", "t", 1, 12),
                         Position("kafka:choreoscope", "t", 2, 4)]


def test_partitions_resumed_from_the_store_get_their_stored_offsets_committed(
        kafka: Any, topic: str, store: Store) -> None:
    """A crash between the store's commit and Kafka's leaves Kafka's offsets behind the store.
    A partition already read to its end then yields no record, so no batch would ever commit
    it: resuming from the store queues the stored positions for Kafka (lag tools see 0)."""
    publish(ce_records(topic, range(30)), kafka.bootstrap)
    ends = end_offsets(kafka.bootstrap, topic)
    run = make_collector(kafka.bootstrap, store, topics=[topic], group="g8")
    store.write(Batch(positions=[Position(run.tap.source, topic, p, n) for p, n in ends.items()]))
    assert committed(kafka.bootstrap, "g8", topic) == {}
    stop = threading.Event()
    ticks = 0

    def two_ticks_after_caught_up(c: Any) -> bool:
        nonlocal ticks
        ticks += c.tap.caught_up()
        return ticks >= 2

    run.collector.run(stop, until=two_ticks_after_caught_up)
    assert run.pipeline.stats.observations == 0  # nothing read again
    assert committed(kafka.bootstrap, "g8", topic) == ends


def test_lag_answers_from_another_thread_at_once(kafka: Any, topic: str, store: Store) -> None:
    """Scale-out's idle check asks the reader's tap from the tracker's thread while the
    reader's loop waits in a poll: `lag`, `highwaters` and `caught_up` answer without the
    consumer (whose calls would wait for the poll on the other thread)."""
    import time

    publish(ce_records(topic, range(30)), kafka.bootstrap)
    ends = {(topic, p): n for p, n in end_offsets(kafka.bootstrap, topic).items()}
    run = make_collector(kafka.bootstrap, store, topics=[topic], group="g9",
                         options=CollectOptions(batch_wait=0.5))
    stop = threading.Event()
    t = threading.Thread(target=collect_until, args=(run, 10**9),
                         kwargs={"stop": stop, "timeout": 120})
    t.start()
    try:
        wait_for(run.tap.caught_up, "caught up", stop=stop)
        slowest = 0.0
        for _ in range(20):
            started = time.monotonic()
            lag, high, caught_up = run.tap.lag(), run.tap.highwaters(), run.tap.caught_up()
            slowest = max(slowest, time.monotonic() - started)
            assert (lag, high, caught_up) == (dict.fromkeys(ends, 0), ends, True)
            stop.wait(0.05)
        assert slowest < 0.05
    finally:
        stop.set()
        t.join()
