"""A scale-out reader and a tracker write the same event rows at once on PostgreSQL: the
reader stores records again (read again after a kill or a rebalance) while a tracker sets the
instance of events already forwarded. Neither may lock rows in an order that deadlocks with
the other: in the 20,000-flow acceptance run a reader lost such a deadlock and its collector
stopped (issue 19)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg

from collector.model import Event, Location
from collector.store.base import Batch, Store, open_store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def ev(n: int) -> Event:
    return Event(id=f"e{n}", type="PaymentProcessed", source="svc",
                 occurred_at=T0 + timedelta(seconds=n), correlation_id=f"c{n}", data={"n": n},
                 location=Location("kafka", "payments", 0, n), received_at=T0)


Statement = tuple[str, tuple[str, ...]]


def race(store: Store, batch: Batch, other: psycopg.Connection[object], first: Statement,
         then: Statement) -> list[BaseException]:
    """``other``'s transaction runs ``first``; meanwhile ``store`` writes ``batch`` on a
    thread; half a second later ``other`` runs ``then`` and commits. Answers what either side
    raised (a deadlock, which PostgreSQL finds within 100 ms here)."""
    failed: list[BaseException] = []

    def write() -> None:
        try:
            store.write(batch)
        except BaseException as exc:
            failed.append(exc)

    other.execute("SET deadlock_timeout = '100ms'")
    other.execute("SET lock_timeout = '10s'")
    other.execute(*first)
    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.5)  # the store's transaction now waits for a row ``first`` holds
    try:
        other.execute(*then)
        other.commit()
    except psycopg.errors.DeadlockDetected as exc:
        failed.append(exc)
        other.rollback()
    thread.join(30)
    assert not thread.is_alive()
    return failed


UPDATE = "UPDATE events SET instance_id = %s WHERE source = 'svc' AND id = %s"
INSERT = ("INSERT INTO events (source, id, type, occurred_at, received_at, correlation_id, "
          "loc_source) VALUES ('svc', %s, 'PaymentProcessed', '2026-01-01T12:00:00Z', "
          "'2026-01-01T12:00:00Z', %s, 'kafka') ON CONFLICT (source, id) DO NOTHING")


def test_a_reader_storing_events_again_does_not_deadlock_with_a_tracker(
        postgres_url: str) -> None:
    events = [ev(1), ev(2)]
    reader = open_store(postgres_url)
    reader.write(Batch(events=events))  # stored and forwarded once
    tracker = psycopg.connect(postgres_url)
    try:  # the tracker's transaction holds e2; the reader's next owner stores both again,
        # passes e1 and waits for e2; then the tracker comes to e1
        assert race(reader, Batch(events=events), tracker,
                    (UPDATE, ("i2", "e2")), (UPDATE, ("i1", "e1"))) == []
        rows = reader.query("SELECT id, instance_id FROM events ORDER BY id")
        assert [(r["id"], r["instance_id"]) for r in rows] == [("e1", "i1"), ("e2", "i2")]
    finally:
        tracker.close()
        reader.close()


def test_two_readers_storing_the_same_new_events_do_not_deadlock(postgres_url: str) -> None:
    """Two readers store the same two new events at once (records read again by the next
    owner of a partition, or one event published to two partitions), the batches in
    opposite orders: each reader inserts in key order, so the second waits for the first
    rather than both for each other."""
    other = psycopg.connect(postgres_url)  # a reader whose batch holds e1, then e2
    reader = open_store(postgres_url)  # a reader whose batch came as e2, then e1
    try:  # the other holds e1; the reader comes to e1 first (key order) and waits there, so
        # e2 is free for the other one
        assert race(reader, Batch(events=[ev(2), ev(1)]), other,
                    (INSERT, ("e1", "c1")), (INSERT, ("e2", "c2"))) == []
        rows = reader.query("SELECT id FROM events ORDER BY id")
        assert [r["id"] for r in rows] == ["e1", "e2"]  # each stored once
    finally:
        other.close()
        reader.close()
