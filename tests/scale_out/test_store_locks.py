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
from collector.store.base import Batch, open_store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def ev(n: int) -> Event:
    return Event(id=f"e{n}", type="PaymentProcessed", source="svc",
                 occurred_at=T0 + timedelta(seconds=n), correlation_id=f"c{n}", data={"n": n},
                 location=Location("kafka", "payments", 0, n), received_at=T0)


def test_a_reader_storing_events_again_does_not_deadlock_with_a_tracker(
        postgres_url: str) -> None:
    events = [ev(1), ev(2)]
    reader = open_store(postgres_url)
    reader.write(Batch(events=events))  # stored and forwarded once
    tracker = psycopg.connect(postgres_url)
    failed: list[BaseException] = []

    def again() -> None:  # the reader's next owner reads both records again
        try:
            reader.write(Batch(events=events))
        except BaseException as exc:
            failed.append(exc)

    try:
        tracker.execute("SET deadlock_timeout = '100ms'")
        tracker.execute("SET lock_timeout = '10s'")
        update = "UPDATE events SET instance_id = %s WHERE source = 'svc' AND id = %s"
        tracker.execute(update, ("i2", "e2"))  # the tracker's transaction holds e2 ...
        thread = threading.Thread(target=again)
        thread.start()
        time.sleep(0.5)  # ... the reader's insert passes e1 and waits for e2
        try:
            tracker.execute(update, ("i1", "e1"))  # ... and the tracker comes to e1
            tracker.commit()
        except psycopg.errors.DeadlockDetected as exc:
            failed.append(exc)
            tracker.rollback()
        thread.join(30)
        assert not thread.is_alive()
        assert failed == []
        rows = reader.query("SELECT id, instance_id FROM events ORDER BY id")
        assert [(r["id"], r["instance_id"]) for r in rows] == [("e1", "i1"), ("e2", "i2")]
    finally:
        tracker.close()
        reader.close()



INSERT = ("INSERT INTO events (source, id, type, occurred_at, received_at, correlation_id, "
          "loc_source) VALUES ('svc', %s, 'PaymentProcessed', '2026-01-01T12:00:00Z', "
          "'2026-01-01T12:00:00Z', %s, 'kafka') ON CONFLICT (source, id) DO NOTHING")


def test_two_readers_storing_the_same_new_events_do_not_deadlock(postgres_url: str) -> None:
    """Two readers store the same two new events at once (records read again by the next
    owner of a partition, or one event published to two partitions), the batches in
    opposite orders: each reader inserts in key order, so the second waits for the first
    rather than both for each other."""
    other = psycopg.connect(postgres_url)  # a reader whose batch holds e1, then e2
    reader = open_store(postgres_url)  # a reader whose batch came as e2, then e1
    failed: list[BaseException] = []

    def store() -> None:
        try:
            reader.write(Batch(events=[ev(2), ev(1)]))
        except BaseException as exc:
            failed.append(exc)

    try:
        other.execute("SET deadlock_timeout = '100ms'")
        other.execute("SET lock_timeout = '10s'")
        other.execute(INSERT, ("e1", "c1"))  # the other reader's transaction holds e1 ...
        thread = threading.Thread(target=store)
        thread.start()
        time.sleep(0.5)  # ... the reader comes to e1 first (key order) and waits there ...
        try:
            other.execute(INSERT, ("e2", "c2"))  # ... so e2 is free for the other one
            other.commit()
        except psycopg.errors.DeadlockDetected as exc:
            failed.append(exc)
            other.rollback()
        thread.join(30)
        assert not thread.is_alive()
        assert failed == []
        rows = reader.query("SELECT id FROM events ORDER BY id")
        assert [r["id"] for r in rows] == ["e1", "e2"]  # each stored once
    finally:
        other.close()
        reader.close()
