"""The store interface on both backends (SQLite, PostgreSQL): natural keys, one transaction per
batch with its source positions, upserts, reads, retention and dead letters' bounds."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from collector.exceptions import StoreError
from collector.model import (
    Alert,
    AlertKind,
    DeadLetter,
    DeadLetterReason,
    EventIdentity,
    FlowSnapshot,
    FlowStatus,
    Location,
)
from collector.store import Batch, Position, Store, open_store
from collector.store.base import ConsumerSeen
from collector.store.dead_letters import DeadLetterBounds
from collector.store.sqlite import migrations
from tests.store._events import T0, count, event, stored


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A new store on each backend, closed after the test (its checkpoint thread stopped)."""
    opened = open_store(store_url)
    yield opened
    opened.close()


def test_migrations_apply_once_to_the_latest_version(store_url: str) -> None:
    latest = max(v for v, _, _ in migrations())
    for _ in range(2):
        store = open_store(store_url)
        assert store.schema_version() == latest  # type: ignore[attr-defined]
        store.close()


def test_an_event_is_stored_once_however_often_written(store: Store) -> None:
    store.write(Batch(events=[event(1), event(1), event(2)]))
    store.write(Batch(events=[event(1)]))
    assert count(store, "events") == 2
    assert count(store, "business_keys") == 1  # the key once per correlation id
    found = store.events_by_correlation("c1")
    assert [e.id for e in found] == ["e1", "e2"]
    assert found[0] == stored(event(1))
    assert found[0].data == {"order_id": "c1", "amount": 1}


def test_payloads_keep_big_integers_bytes_and_nanosecond_text(store: Store) -> None:
    big = event(1, data={"n": 2**63 + 5, "f": 0.1})
    raw = event(2, data=b"\x00\xff binary")
    store.write(Batch(events=[big, raw]))
    got = {e.id: e for e in store.events_by_correlation("c1")}
    assert got["e1"].data == {"n": 2**63 + 5, "f": 0.1}
    assert got["e2"].data == b"\x00\xff binary"


def test_rows_and_positions_commit_together_or_not_at_all(store: Store) -> None:
    store.write(Batch(events=[event(1)], positions=[Position("kafka:g", "orders", 0, 2)]))
    prepared = store.prepare(Batch(events=[event(2), event(3)],
                                   positions=[Position("kafka:g", "orders", 0, 4)]))

    def crash(db: Any) -> None:
        raise RuntimeError("the process dies mid-batch")

    prepared.calls.append(crash)
    with pytest.raises(RuntimeError, match="mid-batch"):
        store.write_prepared(prepared)
    assert [e.id for e in store.events_by_correlation("c1")] == ["e1"]
    assert store.positions("kafka:g") == {("orders", 0): 2}
    store.write(Batch(events=[event(2), event(3)], positions=[Position("kafka:g", "orders", 0, 4),
                                                              Position("kafka:g", "orders", 1, 7)]))
    assert store.positions("kafka:g") == {("orders", 0): 4, ("orders", 1): 7}
    assert store.positions("kafka:other") == {}


def test_flows_upsert_with_the_last_snapshot_and_assignments(store: Store) -> None:
    store.write(Batch(events=[event(1), event(2, type_="PaymentProcessed")]))
    running = FlowSnapshot("i1", "c1", "order", 1, FlowStatus.RUNNING, T0, T0, "OrderPlaced", 1,
                           expected_next=("PaymentProcessed", "PaymentFailed"))
    stuck = FlowSnapshot("i1", "c1", "order", 1, FlowStatus.STUCK, T0, T0, "OrderPlaced", 1,
                         stuck_step="OrderPlaced", stuck_since=T0 + timedelta(seconds=10),
                         sla_breached=True, sla_over=timedelta(seconds=3))
    store.write(Batch(flows=[running], assignments=[(EventIdentity("order-service", "e1"), "i1")]))
    store.write(Batch(flows=[running, stuck]))  # one batch may carry two snapshots of a flow
    assert store.flows_by_correlation("c1") == [stuck]
    assert [f.instance_id for f in store.open_flows()] == ["i1"]
    assert [e.id for e in store.flow_events("i1")] == ["e1"]


def test_alerts_are_written_once_per_id_and_marked_sent(store: Store) -> None:
    alert = Alert("a1", AlertKind.FLOW_STUCK, "i1", "c1", "order", "OrderPlaced", T0,
                  {"late_s": 3})
    store.write(Batch(alerts=[alert]))
    store.write(Batch(alerts=[alert, alert]))
    assert count(store, "outbox") == 1
    assert store.execute("UPDATE outbox SET sent_at = ? WHERE alert_id = ?",
                         ("2026-01-05T08:00:01.000000Z", "a1")) == 1
    assert store.query("SELECT sent_at FROM outbox") == [{"sent_at": "2026-01-05T08:00:01.000000Z"}]


def test_the_detection_clock_only_moves_forward(store: Store) -> None:
    store.write(Batch(detected_at=T0 + timedelta(minutes=5)))
    store.write(Batch(detected_at=T0))
    assert store.query("SELECT at FROM detection_clock") == [{"at": "2026-01-05T08:05:00.000000Z"}]


def test_consumers_seen_keep_their_latest_sighting(store: Store) -> None:
    store.write(Batch(consumers=[ConsumerSeen("billing", "rabbitmq:orders/OrderPlaced",
                                              T0 + timedelta(minutes=5))]))
    store.write(Batch(consumers=[ConsumerSeen("billing", "rabbitmq:orders/OrderPlaced", T0),
                                 ConsumerSeen("audit", "rabbitmq:orders/OrderPlaced", T0)]))
    assert store.query("SELECT group_id, last_seen FROM consumer_groups ORDER BY group_id") == [
        {"group_id": "audit", "last_seen": "2026-01-05T08:00:00.000000Z"},
        {"group_id": "billing", "last_seen": "2026-01-05T08:05:00.000000Z"}]


def test_dead_letters_once_by_location_and_within_their_budget(store_url: str) -> None:
    bounds = DeadLetterBounds(max_bytes=2000, max_raw_bytes=100)
    store = open_store(store_url, dead_letters=bounds)
    first = DeadLetter(DeadLetterReason.NOT_JSON, "expected JSON at byte 0",
                       Location("kafka", "orders", 2, 41), T0, b"\xffnot json",
                       key=b"k", headers=(("x", b"\xfe"),))
    store.write(Batch(dead_letters=[first]))
    store.write(Batch(dead_letters=[first]))
    [row] = store.query("SELECT * FROM dead_letters")
    assert (row["raw"], row["topic"], row["partition"], row["offset"]) == (
        b"\xffnot json", "orders", 2, 41)
    flood = [DeadLetter(DeadLetterReason.NOT_JSON, "x", Location("kafka", "orders", 0, i),
                        T0 + timedelta(seconds=i), b"y" * 500) for i in range(20)]
    store.write(Batch(dead_letters=flood))
    usage = store.dead_letter_usage()
    assert usage.bytes <= 2000
    assert usage.dropped_budget > 0
    assert usage.truncated == 20
    assert usage.stored == count(store, "dead_letters")
    store.close()


def test_retention_deletes_old_rows_in_bounded_steps(store: Store) -> None:
    store.write(Batch(events=[event(i) for i in range(10)],
                      metrics=[("lag", {"p": "0"}, 1.0, T0)]))
    cutoff = T0 + timedelta(seconds=5)
    gone = [store.delete_older_than(cutoff, 2) for _ in range(5)]
    assert gone[-1] == 0
    assert sum(gone) == 5 + 1  # the events and the metric (c1 keeps its key: e5.. are left)
    assert [e.id for e in store.events_by_correlation("c1")] == [f"e{i}" for i in range(5, 10)]


def test_retention_deletes_a_flows_business_keys_with_its_last_event(store: Store) -> None:
    store.write(Batch(events=[event(1, corr="gone"), event(2, corr="gone"),
                              event(3, corr="kept"), event(9, corr="kept")]))
    cutoff = T0 + timedelta(seconds=5)
    while store.delete_older_than(cutoff, 1):  # one event a round: "gone" loses e1, then e2
        pass
    keys = store.query("SELECT name, value, correlation_id FROM business_keys")
    assert keys == [{"name": "order_id", "value": "kept", "correlation_id": "kept"}]
    assert [e.id for e in store.events_by_correlation("kept")] == ["e9"]


def test_read_only_store_refuses_writes(store_url: str) -> None:
    open_store(store_url).close()
    ro = open_store(store_url, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        ro.write(Batch(events=[event(1)]))
    ro.close()


def test_a_large_batch_is_written_in_multi_row_statements(store: Store) -> None:
    events = [event(i, corr=f"c{i % 50}") for i in range(3000)]
    store.write(Batch(events=events, positions=[Position("r", "orders", 0, 3000)]))
    assert count(store, "events") == 3000
    assert count(store, "business_keys") == 50  # one per correlation id
    assert store.events_by_correlation("c7") == [stored(e) for e in events
                                                    if e.correlation_id == "c7"]


def test_postgres_refuses_a_missing_store_read_only_and_a_dead_server(
        postgres_url: str) -> None:
    with pytest.raises(StoreError, match="start the collector"):
        open_store(postgres_url, read_only=True)
    with pytest.raises(StoreError, match=r"cannot open store postgresql://u@127\.0\.0\.1:1/x"):
        open_store("postgresql://u:secret@127.0.0.1:1/x")


def test_postgres_collectors_opening_one_database_at_once_migrate_it_once(
        postgres_url: str) -> None:
    errors: list[BaseException] = []
    stores: list[Any] = []

    def open_one() -> None:
        try:
            stores.append(open_store(postgres_url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = stores[0].query("SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in versions] == sorted({v for v, _, _ in migrations()})
    for s in stores:
        s.close()


def _instances(store: Any) -> dict[str, str | None]:
    return {r["id"]: r["instance_id"] for r in store.query("SELECT id, instance_id FROM events")}


def test_instances_are_set_at_insert_and_for_events_stored_earlier(store: Store) -> None:
    ident = lambda i: EventIdentity("order-service", f"e{i}")  # noqa: E731
    store.write(Batch(events=[event(1), event(2)], assignments=[(ident(1), "i1")]))
    assert _instances(store) == {"e1": "i1", "e2": None}
    store.write(Batch(events=[event(3), event(1)],  # e1 redelivered without a decision
                      assignments=[(ident(2), "i2"), (ident(3), "i3")]))
    assert _instances(store) == {"e1": "i1", "e2": "i2", "e3": "i3"}
    store.write(Batch(events=[event(4)], assignments=[  # the last assignment in a batch holds
        (ident(2), "first"), (ident(4), "first"), (ident(2), "last"), (ident(4), "last")]))
    assert _instances(store) == {"e1": "i1", "e2": "last", "e3": "i3", "e4": "last"}


def test_times_are_stored_as_utc_text_whatever_their_zone(store: Store) -> None:
    plus_two = datetime(2026, 1, 5, 12, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    store.write(Batch(events=[dataclasses.replace(event(1), occurred_at=plus_two)]))
    assert store.query("SELECT occurred_at FROM events") == [
        {"occurred_at": "2026-01-05T10:00:01.000000Z"}]


def test_sqlite_functions_answer_the_same_on_both(store: Store) -> None:
    (row,) = store.query(
        "SELECT julianday('2026-01-05T08:00:01.234567Z') AS jd, "
        "strftime('%s', '2026-01-05T08:00:01.234567Z') AS epoch, "
        "json_extract('{\"a.b\": {\"c\": [1, \"x\"]}}', '$.\"a.b\".c[1]') AS j, "
        "instr('choreoscope', 'scope') AS i, MAX(1, 3, 2) AS m, ROUND(2.0 / 3, 2) AS r, "
        "SUM(1 = 1) AS s")
    assert row == {"jd": 2461045.8333476274, "epoch": "1767600001", "j": "x", "i": 7, "m": 3,
                   "r": 0.67, "s": 1}
