"""The store's write path: an event's flow instance set as it is inserted (no later UPDATE),
assignments of events stored earlier, redeliveries, and the background WAL checkpoint."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from collector.model import (
    Event,
    EventIdentity,
    FlowSnapshot,
    FlowStatus,
    Location,
    Span,
    SpanKind,
)
from collector.store import Batch, Position, open_store

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def event(i: int, *, at: datetime | None = None) -> Event:
    return Event(
        id=f"e{i}", type="OrderPlaced", source="order-service",
        occurred_at=at or T0 + timedelta(seconds=i), correlation_id=f"c{i}",
        data={"order_id": f"o{i}"}, location=Location("kafka", "orders", 0, i), received_at=T0,
    )


def ident(event_id: str) -> EventIdentity:
    return EventIdentity("order-service", event_id)


def instances(url: str) -> dict[str, str | None]:
    store = open_store(url, read_only=True)
    try:
        rows = store.query("SELECT id, instance_id FROM events")
        return {r["id"]: r["instance_id"] for r in rows}
    finally:
        store.close()


def test_instances_set_at_insert_for_new_and_earlier_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    store.write(Batch(events=[event(1), event(2)],
                      assignments=[(EventIdentity("order-service", "e1"), "i1")]))
    assert instances(url) == {"e1": "i1", "e2": None}
    # e2 stored earlier joins now; e3 is new and joins; e1 is redelivered without a decision
    store.write(Batch(events=[event(3), event(1)],
                      assignments=[(ident("e2"), "i2"), (ident("e3"), "i3")]))
    assert instances(url) == {"e1": "i1", "e2": "i2", "e3": "i3"}
    # a redelivered event the tracker moves to another instance (reused correlation id)
    store.write(Batch(events=[event(1)], assignments=[(ident("e1"), "i9")]))
    assert instances(url) == {"e1": "i9", "e2": "i2", "e3": "i3"}
    store.close()


def test_a_redelivered_event_keeps_what_was_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    store.write(Batch(events=[event(1)]))
    store.write(Batch(events=[event(1, at=T0 + timedelta(days=1))],
                      assignments=[(EventIdentity("order-service", "e1"), "i1")]))
    row = store.query("SELECT occurred_at, instance_id FROM events")[0]
    assert row == {"occurred_at": "2026-01-05T08:00:01.000000Z", "instance_id": "i1"}
    store.close()


def test_non_utc_times_are_stored_in_utc(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    plus_two = datetime(2026, 1, 5, 12, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    store.write(Batch(events=[event(1, at=plus_two)]))
    assert store.query("SELECT occurred_at FROM events")[0]["occurred_at"] == (
        "2026-01-05T10:00:01.000000Z")
    store.close()


def test_the_wal_is_copied_into_the_database_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    base = path.stat().st_size
    for n in range(5):
        store.write(Batch(events=[event(n * 1000 + i) for i in range(1000)],
                          positions=[Position("kafka:g", "orders", 0, n * 1000 + 1000)]))
    # far below SQLite's own checkpoint threshold: only the background thread copies it
    deadline = time.monotonic() + 20
    while path.stat().st_size < base + 500_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    grown = path.stat().st_size - base
    store.close()
    assert grown > 500_000
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 5000
    db.close()


def test_a_flow_is_inserted_then_its_progress_updated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    running = FlowSnapshot("i1", "c1", "order", 2, FlowStatus.RUNNING, T0, T0, "OrderPlaced", 1,
                           next_deadline=T0 + timedelta(minutes=5),
                           expected_next=("PaymentProcessed",))
    store.write(Batch(flows=[running]))
    done = replace(running, status=FlowStatus.COMPLETED, last_event_at=T0 + timedelta(hours=1),
                   last_event_type="OrderShipped", event_count=4,
                   ended_at=T0 + timedelta(hours=1), next_deadline=None, expected_next=(),
                   sla_breached=True, sla_over=timedelta(seconds=90), recovered=True)
    store.write(Batch(flows=[done]))
    assert store.flows_by_correlation("c1") == [done]
    assert [f.instance_id for f in store.open_flows()] == []
    store.close()


def _event_indexes(store: Any) -> set[str]:
    return {r["name"] for r in store.query(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")}


def _span(n: int) -> Span:
    return Span(f"{n:032x}", f"{n:016x}", None, "orders process", SpanKind.CONSUMER, "billing",
                T0, T0 + timedelta(milliseconds=3))


def test_the_trace_index_is_kept_exactly_while_spans_are_stored(tmp_path: Path) -> None:
    """Events are looked up by trace only for spans: a SQLite store without spans keeps no
    trace index (the costliest of the events' indexes), builds it in the transaction of its
    first spans, and keeps it across restarts; one whose spans are all gone drops it."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    try:
        store.write(Batch(events=[replace(event(1), trace_id=f"{1:032x}", span_id=f"{9:016x}")]))
        assert "catalog_events_trace_span" not in _event_indexes(store)
        store.write(Batch(spans=[_span(1)]))
        assert _event_indexes(store) >= {"catalog_events_trace_span"}
        assert "events_trace" not in _event_indexes(store)
        plan = " ".join(r["detail"] for r in store.query(
            "EXPLAIN QUERY PLAN SELECT * FROM events WHERE trace_id IN (?, ?)", ("a", "b")))
        assert "catalog_events_trace_span" in plan
        store.write(Batch(spans=[_span(2)]))  # built once: later span batches leave it be
    finally:
        store.close()
    store = open_store(url)
    try:
        assert "catalog_events_trace_span" in _event_indexes(store)
        store.execute("DELETE FROM spans")
    finally:
        store.close()
    store = open_store(url)
    try:
        assert "catalog_events_trace_span" not in _event_indexes(store)
        store.write(Batch(spans=[_span(3)]))
        assert "catalog_events_trace_span" in _event_indexes(store)
        store.execute("DELETE FROM spans")
        # another process on the same file (an OTLP receiver, a collector) restarts while no
        # span is stored: it drops the index under this store, whose next spans rebuild it
        open_store(url).close()
        assert "catalog_events_trace_span" not in _event_indexes(store)
        store.write(Batch(spans=[_span(4)]))
        assert "catalog_events_trace_span" in _event_indexes(store)
    finally:
        store.close()


def test_the_last_assignment_of_an_event_in_a_batch_holds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    store.write(Batch(events=[event(1)]))
    store.write(Batch(events=[event(2)], assignments=[
        (ident("e2"), "first"), (ident("e1"), "first"), (ident("e2"), "last"),
        (ident("e1"), "last")]))
    assert instances(url) == {"e1": "last", "e2": "last"}
    store.close()


def _table(url: str, sql: str) -> list[tuple[object, ...]]:
    store = open_store(url, read_only=True)
    try:
        return [tuple(r.values()) for r in store.query(sql)]
    finally:
        store.close()


def test_a_large_batch_in_multi_row_statements_stores_what_row_by_row_writes_store(
        tmp_path: Path) -> None:
    """1,736 events take every statement shape (1200 + 400 + 100 + 25 + 5 + 6 x 1 rows, the
    widest under SQLite's 32,766 parameters with the key and headers columns); one event
    comes twice (its second copy assigned), some carry business keys, keys and headers, flows
    are inserted and then updated in the same way; the tables end as one batch per event left
    them."""
    n = 1736
    events = [replace(event(i), business_keys=(("order_id", f"o{i}"),) if i % 3 == 0 else (),
                      key=f"k{i}" if i % 2 else None,
                      headers=(("trace", f"t{i}"), ("x", "y")) if i % 5 == 0 else ())
              for i in range(n)]
    events.append(event(7))  # a redelivery inside the batch
    flows = [FlowSnapshot(f"i{i}", f"c{i}", "order", 2, FlowStatus.RUNNING, T0, T0,
                          "OrderPlaced", 1) for i in range(0, n, 2)]
    assignments = [(ident(f"e{i}"), f"i{i - i % 2}") for i in range(n)]
    big, single = f"sqlite:///{tmp_path / 'big.db'}", f"sqlite:///{tmp_path / 'single.db'}"
    store = open_store(big)
    store.write(Batch(events=events, flows=flows, assignments=assignments,
                      positions=[Position("kafka:g", "orders", 0, n)]))
    store.write(Batch(flows=[replace(f, event_count=2) for f in flows]))
    store.close()
    store = open_store(single)
    for e in events:
        store.write(Batch(events=[e], assignments=[a for a in assignments if a[0].id == e.id]))
    for f in flows:
        store.write(Batch(flows=[f]))
        store.write(Batch(flows=[replace(f, event_count=2)]))
    store.close()
    for sql in ("SELECT source, id, type, occurred_at, correlation_id, partition, \"offset\","
                " data, instance_id, key, headers FROM events ORDER BY id",
                "SELECT * FROM business_keys ORDER BY correlation_id, name, value",
                "SELECT * FROM flows ORDER BY instance_id"):
        rows = _table(big, sql)
        assert rows == _table(single, sql)
    assert len(_table(big, "SELECT id FROM events")) == n
    assert len(_table(big, "SELECT * FROM business_keys")) == len(range(0, n, 3))
    assert {r[-1] for r in _table(big, "SELECT * FROM flows")} == {0}  # recovered column
    assert _table(big, "SELECT event_count FROM flows GROUP BY event_count") == [(2,)]
    assert _table(big, "SELECT instance_id FROM events WHERE id = 'e7'") == [("i6",)]


def test_the_hot_paths_time_text_is_the_stores_format() -> None:
    from collector.store import sqlite as sqlite_store
    from collector.store._time import to_text

    start = datetime(2026, 1, 5, 23, 59, 58, 999_999, tzinfo=UTC)
    times = [start + timedelta(microseconds=n * 250_001) for n in range(40)]
    times += [datetime(1900, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
              datetime(2026, 1, 5, 8, tzinfo=timezone(timedelta(hours=2))), start]
    sqlite_store._SECONDS.clear()
    for at in times * 2:  # the second time through, from the cache
        assert sqlite_store._utc_text(at) == to_text(at), at


def test_a_store_copied_with_spans_gets_its_trace_index(tmp_path: Path) -> None:
    from collector.store.copy import copy_store

    source = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    target = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        source.write(Batch(events=[event(1)], spans=[_span(1)]))
        assert "catalog_events_trace_span" not in _event_indexes(target)
        copy_store(source, target)
        assert "catalog_events_trace_span" in _event_indexes(target)
        assert target.query("SELECT COUNT(*) AS n FROM spans") == [{"n": 1}]
    finally:
        source.close()
        target.close()
