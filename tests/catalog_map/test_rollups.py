"""Per-minute rollups in the real SQLite store: what is counted, incrementally, for any window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from catalog.metadata import Declaration, DeclaredRole
from catalog.traffic import LATENCY_BUCKETS_MS, EdgeKind, EdgeTraffic, GroupAssignment, Window
from collector.catalog_source import (
    RollupRefresher,
    load_event_map,
    read_declarations,
    read_edge_series,
    read_groups,
    read_samples,
    read_traffic,
    refresh_rollups,
    rollup_store,
    save_declarations,
    traffic_window,
)
from collector.model import Event, Location, Span, SpanKind, SpanLink, SpanStatus, Violation
from collector.store import Batch, Store, open_store
from collector.store.base import ConsumerSeen
from tests.catalog_map.conftest import HOUR, ROOT, T0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def event(i: int, at: datetime, *, type_: str = "OrderPlaced", source: str = "order-service",
          topic: str | None = "orders", traced: bool = True) -> Event:
    return Event(id=f"e{i}", type=type_, source=source, occurred_at=at, correlation_id=f"c{i}",
                 data={"i": i}, location=Location("kafka", topic, 0, i), received_at=at,
                 trace_id=f"{i:032x}" if traced else None, span_id=f"{i:016x}" if traced else None)


def producer_span(e: Event, *, error: bool = False) -> Span:
    assert e.trace_id
    assert e.span_id
    return Span(e.trace_id, e.span_id, None, "orders send", SpanKind.PRODUCER, e.source,
                e.occurred_at, e.occurred_at + timedelta(milliseconds=1),
                status=SpanStatus.ERROR if error else SpanStatus.UNSET)


def child_consumer(e: Event, service: str, after_ms: float, n: int, *, error: bool = False
                   ) -> Span:
    """A consumer span whose parent is the producer span (kafka-python's instrumentation)."""
    assert e.trace_id
    assert e.span_id
    start = e.occurred_at + timedelta(milliseconds=after_ms)
    return Span(e.trace_id, f"{n:016x}", e.span_id, "orders process", SpanKind.CONSUMER,
                service, start, start + timedelta(milliseconds=3),
                status=SpanStatus.ERROR if error else SpanStatus.UNSET)


def batch_consumer(events: list[Event], service: str, at: datetime, n: int) -> Span:
    """One span per batch, linked to each message's producer span (a poll() consumer)."""
    links = tuple(SpanLink(e.trace_id, e.span_id) for e in events if e.trace_id and e.span_id)
    return Span(f"{n:032x}", f"{n:016x}", None, "orders process", SpanKind.CONSUMER, service,
                at, at + timedelta(milliseconds=5), links=links)


def traffic(store: Store, window: Window | None = None) -> dict[tuple[str, str, str], EdgeTraffic]:
    window = window or traffic_window(store)
    assert window is not None
    return {(t.kind, t.service, t.event_type): t for t in read_traffic(store, window)}


def bucket_of(ms: float) -> int:
    return next(i for i, bound in enumerate(LATENCY_BUCKETS_MS) if ms <= bound)


def test_produce_and_consume_counted_with_their_metrics(store: Store) -> None:
    events = [event(i, T0 + timedelta(seconds=5 * i)) for i in range(10)]
    spans = [producer_span(e, error=e.id == "e4") for e in events]
    spans += [child_consumer(e, "payment-service", 50, 100 + i, error=i == 2)
              for i, e in enumerate(events)]
    spans.append(batch_consumer(events[:6], "analytics", T0 + timedelta(seconds=40), 900))
    violation = Violation(events[3].identity, "OrderPlaced", "order-service", 1, "/amount",
                          "type", "not a number", events[3].occurred_at)
    store.write(Batch(events=events, spans=spans, violations=[violation]))
    refresh_rollups(rollup_store(store))
    got = traffic(store)
    produced = got[EdgeKind.PRODUCE, "order-service", "OrderPlaced"]
    assert (produced.count, produced.violations, produced.errors, produced.topic) == (
        10, 1, 1, "orders")
    assert (produced.first_seen, produced.last_seen) == (T0, T0 + timedelta(seconds=45))
    paid = got[EdgeKind.CONSUME, "payment-service", "OrderPlaced"]
    assert (paid.count, paid.errors, paid.topic) == (10, 1, "orders")
    assert paid.latency[bucket_of(50)] == 10  # exactly on a bucket's bound: in that bucket
    assert sum(paid.latency) == 10
    analytics = got[EdgeKind.CONSUME, "analytics", "OrderPlaced"]
    assert analytics.count == 6  # one batch span, six messages linked
    assert sum(analytics.latency) == 6


def test_the_live_refresher_refreshes_at_most_every_interval(store: Store) -> None:
    refresher = RollupRefresher(rollup_store(store), every=timedelta(seconds=5))
    store.write(Batch(events=[event(1, T0)]))
    assert refresher.on_tick(T0) is not None
    store.write(Batch(events=[event(2, T0)]))
    assert refresher.on_tick(T0 + timedelta(seconds=4)) is None
    assert traffic(store)[EdgeKind.PRODUCE, "order-service", "OrderPlaced"].count == 1
    stats = refresher.on_tick(T0 + timedelta(seconds=5))
    assert stats is not None
    assert stats.minutes == 1
    assert traffic(store)[EdgeKind.PRODUCE, "order-service", "OrderPlaced"].count == 2


def test_latency_on_a_bucket_bound_falls_in_that_bucket(store: Store) -> None:
    e = event(1, T0 + timedelta(microseconds=667_265))  # decimal fractions that floats miss
    store.write(Batch(events=[e], spans=[child_consumer(e, "inventory-service", 5, 70)]))
    refresh_rollups(rollup_store(store))
    latency = traffic(store)[EdgeKind.CONSUME, "inventory-service", "OrderPlaced"].latency
    assert latency[LATENCY_BUCKETS_MS.index(5)] == 1


def test_a_consumer_span_both_child_and_linked_counts_once(store: Store) -> None:
    first, second = event(1, T0), event(2, T0)
    assert first.trace_id
    assert first.span_id
    span = Span(first.trace_id, f"{77:016x}", first.span_id, "orders process",
                SpanKind.CONSUMER, "billing", T0 + timedelta(milliseconds=9),
                T0 + timedelta(milliseconds=12),
                links=(SpanLink(first.trace_id, first.span_id),
                       SpanLink(str(second.trace_id), str(second.span_id))))
    store.write(Batch(events=[first, second], spans=[span]))
    refresh_rollups(rollup_store(store))
    assert traffic(store)[EdgeKind.CONSUME, "billing", "OrderPlaced"].count == 2


def test_a_violation_with_several_findings_counts_its_event_once(store: Store) -> None:
    e = event(1, T0)
    findings = [Violation(e.identity, e.type, e.source, 1, p, "type", "bad", e.occurred_at)
                for p in ("/a", "/b", "/c")]
    store.write(Batch(events=[e], violations=findings))
    refresh_rollups(rollup_store(store))
    assert traffic(store)[EdgeKind.PRODUCE, "order-service", "OrderPlaced"].violations == 1


def test_refresh_is_incremental_and_idempotent(store: Store) -> None:
    rs = rollup_store(store)
    store.write(Batch(events=[event(i, T0 + timedelta(seconds=i)) for i in range(5)]))
    refresh_rollups(rs)
    store.write(Batch(events=[event(i, T0 + timedelta(seconds=i)) for i in range(5, 8)]))
    stats = refresh_rollups(rs)
    assert stats.minutes == 1  # only the minute that received events
    rows = store.query("SELECT * FROM catalog_traffic_minute ORDER BY 1, 2, 3, 4, 5")
    again = refresh_rollups(rs)
    assert again.minutes == 0
    assert store.query("SELECT * FROM catalog_traffic_minute ORDER BY 1, 2, 3, 4, 5") == rows
    assert traffic(store)[EdgeKind.PRODUCE, "order-service", "OrderPlaced"].count == 8
    # a redelivered event is stored once, so it is counted once
    store.write(Batch(events=[event(3, T0 + timedelta(seconds=3))]))
    refresh_rollups(rs)
    assert traffic(store)[EdgeKind.PRODUCE, "order-service", "OrderPlaced"].count == 8


def test_a_late_event_recounts_its_old_minute(store: Store) -> None:
    rs = rollup_store(store)
    store.write(Batch(events=[event(1, T0 + 3 * HOUR)]))
    refresh_rollups(rs)
    store.write(Batch(events=[event(2, T0)]))  # arrives later, happened hours before
    refresh_rollups(rs)
    first_hour = traffic(store, Window(T0, T0 + HOUR))
    assert first_hour[EdgeKind.PRODUCE, "order-service", "OrderPlaced"].count == 1


def test_consumer_span_stored_before_its_event_is_counted_when_the_event_arrives(
        store: Store) -> None:
    rs = rollup_store(store)
    e = event(1, T0)
    store.write(Batch(spans=[child_consumer(e, "payment-service", 250, 50)]))
    refresh_rollups(rs)
    assert store.query("SELECT COUNT(*) AS n FROM catalog_traffic_minute")[0]["n"] == 0
    store.write(Batch(events=[e]))
    refresh_rollups(rs)
    paid = traffic(store)[EdgeKind.CONSUME, "payment-service", "OrderPlaced"]
    assert paid.count == 1
    assert paid.latency[bucket_of(250)] == 1


def test_any_past_window_from_the_rollups(store: Store) -> None:
    events = [event(i, T0 + timedelta(minutes=10 * i)) for i in range(12)]  # two hours
    store.write(Batch(events=events))
    refresh_rollups(rollup_store(store))
    assert traffic_window(store) == Window(T0, T0 + timedelta(minutes=111))
    second_hour = traffic(store, Window(T0 + HOUR, T0 + 2 * HOUR))
    produced = second_hour[EdgeKind.PRODUCE, "order-service", "OrderPlaced"]
    assert produced.count == 6
    assert produced.first_seen == T0 + HOUR
    half = traffic(store, Window(T0 + timedelta(minutes=15), T0 + timedelta(minutes=35)))
    assert half[EdgeKind.PRODUCE, "order-service", "OrderPlaced"].count == 2  # :20 and :30
    assert traffic(store, Window(T0 - HOUR, T0)) == {}


def test_long_windows_read_whole_hours_and_ragged_ends(store: Store) -> None:
    rs = rollup_store(store)
    store.write(Batch(events=[event(i, T0 + timedelta(minutes=10 * i)) for i in range(9)]))
    refresh_rollups(rs)
    store.write(Batch(events=[event(i, T0 + timedelta(minutes=10 * i)) for i in range(9, 18)]))
    refresh_rollups(rs)  # the second refresh touches hours 1 and 2 only
    hours = store.query("SELECT hour, count FROM catalog_traffic_hour ORDER BY hour")
    assert [(h["hour"][-2:], h["count"]) for h in hours] == [("08", 6), ("09", 6), ("10", 6)]
    window = Window(T0 + timedelta(minutes=25), T0 + timedelta(hours=2, minutes=35))
    got = traffic(store, window)[EdgeKind.PRODUCE, "order-service", "OrderPlaced"]
    assert got.count == 3 + 6 + 4  # :30 :40 :50, the whole 09 hour, 10:00 to 10:30
    assert (got.first_seen, got.last_seen) == (T0 + timedelta(minutes=30),
                                               T0 + timedelta(hours=2, minutes=30))
    store.write(Batch(events=[event(99, T0 + timedelta(hours=1, minutes=1))]))  # late
    refresh_rollups(rs)
    assert traffic(store, window)[EdgeKind.PRODUCE, "order-service", "OrderPlaced"].count == 14


def test_an_edge_minute_by_minute(store: Store) -> None:
    events = [event(i, T0 + timedelta(minutes=i // 2, seconds=i)) for i in range(6)]
    violation = Violation(events[1].identity, "OrderPlaced", "order-service", 1, "/a", "type",
                          "bad", events[1].occurred_at)
    store.write(Batch(events=events, violations=[violation]))
    refresh_rollups(rollup_store(store))
    series = read_edge_series(store, EdgeKind.PRODUCE, "order-service", "OrderPlaced",
                              Window(T0, T0 + HOUR))
    assert series == [(T0, 2, 1, 0), (T0 + timedelta(minutes=1), 2, 0, 0),
                      (T0 + timedelta(minutes=2), 2, 0, 0)]
    later = read_edge_series(store, EdgeKind.PRODUCE, "order-service", "OrderPlaced",
                             Window(T0 + timedelta(seconds=30), T0 + HOUR))
    assert [m for m, *_ in later] == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]


def test_the_map_from_the_store_knows_schemas_flows_and_declarations(store: Store) -> None:
    rs = rollup_store(store)
    store.write(Batch(events=[event(1, T0), event(2, T0, type_="Mystery", source="x")]))
    refresh_rollups(rs)
    decls = [Declaration("billing", DeclaredRole.CONSUMER, "OrderPlaced", "orders", "f.json")]
    save_declarations(rs, "f.json", decls, T0)
    view = load_event_map(store, ROOT / "schemas")
    m = view.event_map
    assert m.graph.nodes["event:OrderPlaced"]["documented"] is True
    assert m.graph.nodes["event:OrderPlaced"]["flows"] == ["order"]
    assert m.graph.nodes["event:Mystery"]["documented"] is False
    assert m.consumers("OrderPlaced") == ["billing"]
    assert m.producers("OrderPlaced", observed=True) == ["order-service"]


def test_declarations_of_an_origin_are_replaced_on_reimport(store: Store) -> None:
    rs = rollup_store(store)
    a = Declaration("svc", DeclaredRole.PRODUCER, "A", "t", "f.json", {"type": "object"})
    b = Declaration("svc", DeclaredRole.CONSUMER, "B", None, "f.json")
    other = Declaration("z", DeclaredRole.PRODUCER, "C", None, "g.json")
    save_declarations(rs, "f.json", [a, b], T0)
    save_declarations(rs, "g.json", [other], T0)
    save_declarations(rs, "f.json", [b], T0 + HOUR)
    assert read_declarations(store) == [b, other]


def test_consumers_seen_are_stored_and_give_the_map_consumer_edges(store: Store) -> None:
    assert read_groups(store) == []
    store.write(Batch(consumers=[ConsumerSeen("billing", "orders", T0 + HOUR),
                                 ConsumerSeen("audit", "orders", T0)]))
    # seen again earlier (a late batch): the latest sighting is kept
    store.write(Batch(consumers=[ConsumerSeen("billing", "orders", T0)]))
    assert sorted(read_groups(store), key=lambda g: g.group) == [
        GroupAssignment("audit", "orders", T0), GroupAssignment("billing", "orders", T0 + HOUR)]
    store.write(Batch(events=[event(1, T0)]))
    refresh_rollups(rollup_store(store))
    assert load_event_map(store, ROOT / "schemas").event_map.consumers("OrderPlaced") == [
        "audit", "billing"]


def test_samples_are_the_latest_stored_payloads(store: Store) -> None:
    store.write(Batch(events=[event(i, T0 + timedelta(seconds=i)) for i in range(6)]))
    samples = read_samples(store, ["OrderPlaced", "Nothing"], per_type=2)
    assert [(s.event_id, s.data) for s in samples] == [("e5", {"i": 5}), ("e4", {"i": 4})]


def _per_schema(store: Store, event_type: str) -> dict[tuple[str, str], int]:
    rows = store.query("SELECT service, dataschema, SUM(count) AS n FROM catalog_schema_hour "
                       "WHERE event_type = ? GROUP BY 1, 2", (event_type,))
    return {(r["service"], r["dataschema"]): int(r["n"]) for r in rows}


def test_events_are_counted_per_producer_and_dataschema_incrementally(store: Store) -> None:
    """Migration 220: the schema page's counts come from the rollups (per minute, summed per
    hour), and the map's produce rows are their sums over dataschema."""
    import dataclasses

    def named(i: int, at: datetime, schema: str | None, source: str = "order-service") -> Event:
        return dataclasses.replace(event(i, at, source=source), dataschema=schema)

    v1, v2 = "schemas/events/OrderPlaced/v1", "schemas/events/OrderPlaced/v2"
    first = [named(1, T0, v1), named(2, T0 + timedelta(seconds=5), v2),
             named(3, T0 + HOUR, v2), named(4, T0 + HOUR, None),
             named(5, T0, v2, source="shop-legacy")]
    store.write(Batch(events=first))
    refresh_rollups(rollup_store(store))
    assert _per_schema(store, "OrderPlaced") == {
        ("order-service", v1): 1, ("order-service", v2): 2, ("order-service", ""): 1,
        ("shop-legacy", v2): 1}
    store.write(Batch(events=[named(6, T0 + timedelta(seconds=30), v1), first[0]]))  # e1 again
    refresh_rollups(rollup_store(store))
    refresh_rollups(rollup_store(store))  # nothing new: nothing counted twice
    assert _per_schema(store, "OrderPlaced")[("order-service", v1)] == 2
    produce = store.query("SELECT minute, service, SUM(count) AS n FROM catalog_traffic_minute "
                          "WHERE kind = 'produce' GROUP BY 1, 2 ORDER BY 1, 2")
    minute = T0.strftime("%Y-%m-%dT%H:%M")
    assert [(r["minute"], r["service"], r["n"]) for r in produce] == [
        (minute, "order-service", 3), (minute, "shop-legacy", 1),
        ((T0 + HOUR).strftime("%Y-%m-%dT%H:%M"), "order-service", 2)]
    assert not store.query("SELECT 1 FROM catalog_schema_hour WHERE event_type = 'Nothing'")


def test_spans_stored_after_a_refresh_that_found_none_are_rolled_up(store: Store) -> None:
    """While no span is stored the refresh skips the statements joining spans (a SQLite store
    then keeps no trace index on its events); spans arriving later for events already rolled
    up still count: their consumers, latencies and producer errors."""
    rs = rollup_store(store)
    events = [event(1, T0), event(2, T0 + timedelta(seconds=1))]
    store.write(Batch(events=events))
    refresh_rollups(rs)
    assert set(traffic(store)) == {(EdgeKind.PRODUCE, "order-service", "OrderPlaced")}
    store.write(Batch(spans=[producer_span(events[0], error=True),
                             child_consumer(events[0], "payment-service", 20, 50),
                             child_consumer(events[1], "payment-service", 700, 51)]))
    refresh_rollups(rs)
    got = traffic(store)
    paid = got[EdgeKind.CONSUME, "payment-service", "OrderPlaced"]
    assert (paid.count, paid.latency[bucket_of(20)], paid.latency[bucket_of(700)]) == (2, 1, 1)
    produced = got[EdgeKind.PRODUCE, "order-service", "OrderPlaced"]
    assert (produced.count, produced.errors) == (2, 1)
