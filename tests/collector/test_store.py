"""The SQLite store: migrations, idempotent writes, positions in the same commit, read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from collector.exceptions import StoreError
from collector.model import (
    Alert,
    AlertKind,
    DeadLetter,
    DeadLetterReason,
    Event,
    EventIdentity,
    FlowSnapshot,
    FlowStatus,
    Location,
)
from collector.store import Batch, Position, Store, open_store
from collector.store.sqlite import migrations
from tests.collector._old_store import store_before
from tests.store._events import T0, event
from tests.store._events import count as rows_in


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """The test's store, closed after it (and its checkpoint thread with it)."""
    opened = open_store(url)
    yield opened
    opened.close()


def count(url: str, table: str) -> int:
    store = open_store(url, read_only=True)
    try:
        return rows_in(store, table)
    finally:
        store.close()


def test_migrations_applied_once_and_in_order(url: str) -> None:
    latest = max(v for v, _, _ in migrations())
    for _ in range(2):  # opening again must not re-apply anything
        store = open_store(url)
        assert store.schema_version() == latest  # type: ignore[attr-defined]
        store.close()
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == sorted({v for v, _, _ in migrations()})
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA page_size").fetchone()[0] == 8192  # a new store's pages


def test_an_existing_store_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "small-pages.db"
    with sqlite3.connect(path) as db:  # a store made before page_size=8192
        db.execute("CREATE TABLE t (x)")
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert db.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] > 0


def test_an_older_stores_business_keys_are_kept_once_per_correlation(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(store_before(path, 200)) as db, db:  # as it was before migration 200
        db.executemany("INSERT INTO business_keys VALUES (?, ?, 's', ?, ?)",
                       [("order_id", "o1", "e1", "c1"), ("order_id", "o1", "e2", "c1"),
                        ("customer_id", "u1", "e2", "c1"), ("order_id", "o2", "e3", "c2")])
    store = open_store(f"sqlite:///{path}")
    try:
        keys = store.query("SELECT name, value, correlation_id FROM business_keys "
                           "ORDER BY correlation_id, name")
    finally:
        store.close()
    assert [tuple(k.values()) for k in keys] == [
        ("customer_id", "u1", "c1"), ("order_id", "o1", "c1"), ("order_id", "o2", "c2")]


def test_an_older_stores_events_are_counted_per_schema_and_lose_their_index(
        tmp_path: Path) -> None:
    """Migration 220 counts the events stored before it per producer and dataschema (the
    schema page's figures) and drops the index that used to count them."""
    path = tmp_path / "old.db"
    with closing(store_before(path, 220)) as db, db:  # as it was before migration 220
        db.executemany(
            "INSERT INTO events (source, id, type, occurred_at, received_at, correlation_id, "
            "dataschema, loc_source) VALUES (?, ?, 'OrderPlaced', ?, ?, 'c', ?, 'kafka')",
            [("shop", "e1", "2026-01-05T08:00:01.000000Z", "2026-01-05T08:00:01.000000Z",
              "s/OrderPlaced/v1"),
             ("shop", "e2", "2026-01-05T08:00:02.000000Z", "2026-01-05T08:00:02.000000Z",
              "s/OrderPlaced/v2"),
             ("shop", "e3", "2026-01-05T09:30:00.000000Z", "2026-01-05T09:30:00.000000Z",
              "s/OrderPlaced/v2"),
             ("shop", "e4", "2026-01-05T09:30:00.000000Z", "2026-01-05T09:30:00.000000Z",
              None)])
    store = open_store(f"sqlite:///{path}")
    try:
        rows = store.query("SELECT hour, dataschema, count FROM catalog_schema_hour "
                           "WHERE event_type = 'OrderPlaced' AND service = 'shop' ORDER BY 1, 2")
        indexes = store.query("SELECT name FROM sqlite_master WHERE type = 'index'")
    finally:
        store.close()
    assert [tuple(r.values()) for r in rows] == [
        ("2026-01-05T08", "s/OrderPlaced/v1", 1), ("2026-01-05T08", "s/OrderPlaced/v2", 1),
        ("2026-01-05T09", "", 1), ("2026-01-05T09", "s/OrderPlaced/v2", 1)]
    assert "events_type_schema" not in {r["name"] for r in indexes}


def test_an_event_is_stored_once_however_often_written(url: str, store: Store) -> None:
    store.write(Batch(events=[event(1), event(1), event(2)]))
    store.write(Batch(events=[event(1)]))
    assert count(url, "events") == 2
    assert count(url, "business_keys") == 1  # the key once per correlation id
    found = store.events_by_correlation("c1")
    assert [e.id for e in found] == ["e1", "e2"]
    assert found[0].data == {"order_id": "c1", "amount": 1}
    assert found[0].occurred_at == T0 + timedelta(seconds=1)


def test_positions_commit_with_the_batch_and_update(url: str, store: Store) -> None:
    store.write(Batch(events=[event(1)], positions=[Position("kafka:g", "orders", 0, 2)]))
    store.write(Batch(events=[event(2)], positions=[Position("kafka:g", "orders", 0, 3),
                                                    Position("kafka:g", "orders", 1, 7)]))
    assert store.positions("kafka:g") == {("orders", 0): 3, ("orders", 1): 7}
    assert store.positions("kafka:other") == {}


def test_an_event_whose_row_cannot_be_made_is_a_dead_letter_and_the_batch_is_stored(
        url: str, store: Store) -> None:
    naive = Event(id="bad", type="X", source="s", occurred_at=datetime(2026, 1, 1),
                  correlation_id="c", data=None, location=Location("t", "t", 0, 4),
                  received_at=T0)
    store.write(Batch(events=[event(1), naive, event(2)], positions=[Position("r", "t", 0, 5)]))
    assert count(url, "events") == 2
    assert store.positions("r") == {("t", 0): 5}
    [letter] = store.query("SELECT reason, detail, topic, \"offset\" FROM dead_letters")
    assert letter == {"reason": "unstorable", "offset": 4, "topic": "t",
                      "detail": "unstorable: ValueError while preparing the store row"}


def test_dead_letters_keep_reason_raw_and_location_once(url: str, store: Store) -> None:
    letter = DeadLetter(DeadLetterReason.NOT_JSON, "expected JSON at byte 0",
                        Location("kafka", "orders", 2, 41), T0, b"\xffnot json",
                        key=b"k", headers=(("x", b"y"),))
    store.write(Batch(dead_letters=[letter]))
    store.write(Batch(dead_letters=[letter]))
    rows = store.query("SELECT * FROM dead_letters")
    assert len(rows) == 1
    assert rows[0]["reason"] == "not-json"
    assert rows[0]["raw"] == b"\xffnot json"
    assert (rows[0]["topic"], rows[0]["partition"], rows[0]["offset"]) == ("orders", 2, 41)


def test_flows_upsert_and_assignments(url: str, store: Store) -> None:
    store.write(Batch(events=[event(1), event(2, type_="PaymentProcessed")]))
    flow = FlowSnapshot("i1", "c1", "order", 1, FlowStatus.RUNNING, T0, T0, "OrderPlaced", 1,
                        expected_next=("PaymentProcessed", "PaymentFailed"))
    store.write(Batch(flows=[flow], assignments=[(EventIdentity("order-service", "e1"), "i1")]))
    stuck = FlowSnapshot("i1", "c1", "order", 1, FlowStatus.STUCK, T0, T0, "OrderPlaced", 1,
                         stuck_step="OrderPlaced", stuck_since=T0 + timedelta(seconds=10),
                         sla_breached=True, sla_over=timedelta(seconds=3))
    store.write(Batch(flows=[stuck]))
    flows = store.flows_by_correlation("c1")
    assert flows == [stuck]
    assert [f.instance_id for f in store.open_flows()] == ["i1"]
    assert [e.id for e in store.flow_events("i1")] == ["e1"]


def test_alerts_are_written_once_per_id(url: str, store: Store) -> None:
    alert = Alert("a1", AlertKind.FLOW_STUCK, "i1", "c1", "order", "OrderPlaced", T0, {"late_s": 3})
    store.write(Batch(alerts=[alert]))
    store.write(Batch(alerts=[alert]))
    assert count(url, "outbox") == 1


def test_read_only_store_refuses_writes_and_missing_file(url: str, tmp_path: Path) -> None:
    open_store(url).close()
    ro = open_store(url, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        ro.write(Batch(events=[event(1)]))
    with pytest.raises(StoreError, match="start the collector"):
        open_store(f"sqlite:///{tmp_path / 'nope.db'}", read_only=True)


def test_unknown_store_url_is_refused() -> None:
    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store("mysql://x")
