"""Bench ``event_map_build_seconds``: the event map from a store holding 1,000,000 events.

The store is SQLite with 200 services, 1,000 event types on 100 topics, 1,000,000 events over
one day of event time, 100,000 of them consumed by a traced consumer (so consume edges and
latency histograms are rolled up too) and 1% violating their schema. Rows are inserted with
plain ``executemany`` in 20 chunks, the rollups refreshed after each chunk as the collector
keeps them while it stores (``refresh_seconds_per_chunk``: the incremental cost).

``value``: seconds to build the `EventMap` of the whole day from that store
(`read_traffic` over its rollups + `build_event_map`).
``cold_seconds``: the same from a store whose rollups were never computed (the first
`refresh_rollups` over all 1,000,000 events included), the worst case.
``baseline``: the naive way, in the same run: every event row fetched into Python and counted
there, then the same `build_event_map`.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from catalog.eventmap import EventMap, build_event_map
from catalog.traffic import EdgeKind, EdgeTraffic
from collector.catalog_source import (
    read_traffic,
    refresh_rollups,
    rollup_store,
    traffic_window,
)
from collector.store import open_store
from collector.store._time import to_text

EVENTS = 1_000_000
CONSUMED = 100_000
SERVICES = 200
TYPES = 1_000
TOPICS = 100
T0 = datetime(2026, 1, 5, tzinfo=UTC)


CHUNKS = 20


def _fill(path: Path) -> list[float]:
    """Fill the store chunk by chunk, refreshing the rollups after each; their durations."""
    rng = random.Random(7)
    producer = {t: f"svc-{rng.randrange(SERVICES):03d}" for t in range(TYPES)}
    topic = {t: f"topic-{t % TOPICS:03d}" for t in range(TYPES)}
    step = 86_400 / EVENTS
    events, spans, violations = [], [], []
    for i in range(EVENTS):
        t = rng.randrange(TYPES)
        at = to_text(T0 + timedelta(seconds=i * step))
        trace, span = (f"{i:032x}", f"{i:016x}") if i % 10 == 0 else (None, None)
        events.append((producer[t], f"e{i}", f"Type{t:04d}", at, at, f"c{i}", trace, span,
                       "kafka", topic[t], 0, i, '{"n": 1}'))
        if trace is not None:
            start = to_text(T0 + timedelta(seconds=i * step, milliseconds=rng.randrange(1, 900)))
            spans.append((trace, f"{i + EVENTS:016x}", span, "process", "consumer",
                          f"svc-{(t * 7) % SERVICES:03d}", start, start, 1000, "unset"))
        if i % 100 == 0:
            violations.append((producer[t], f"e{i}", "/n", "type", f"Type{t:04d}", producer[t], 1,
                               "bad", at))
    store = open_store(f"sqlite:///{path}")  # creates the schema (migrations)
    db = sqlite3.connect(path)
    refreshes = []
    for c in range(CHUNKS):
        lo, hi = c * EVENTS // CHUNKS, (c + 1) * EVENTS // CHUNKS
        db.executemany(
            "INSERT INTO events (source, id, type, occurred_at, received_at, correlation_id, "
            'trace_id, span_id, loc_source, topic, partition, "offset", data) '
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", events[lo:hi])
        db.executemany(
            "INSERT INTO spans (trace_id, span_id, parent_id, name, kind, service, start_at, "
            "end_at, duration_us, status) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [s for s in spans if lo <= int(s[0], 16) < hi])
        db.executemany("INSERT INTO violations VALUES (?,?,?,?,?,?,?,?,?)",
                       [v for v in violations if lo <= int(v[1][1:]) < hi])
        db.commit()
        started = time.perf_counter()
        refresh_rollups(rollup_store(store))
        refreshes.append(time.perf_counter() - started)
    store.close()
    db.close()
    return refreshes


def _naive(store: Any) -> int:
    """Every event row into Python, counted per (service, type, topic)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    first: dict[tuple[str, str, str], str] = {}
    last: dict[tuple[str, str, str], str] = {}
    for r in store.query("SELECT source, type, topic, occurred_at FROM events"):
        key = (r["source"], r["type"], r["topic"])
        counts[key] += 1
        first.setdefault(key, r["occurred_at"])
        last[key] = r["occurred_at"]
    traffic = [EdgeTraffic(EdgeKind.PRODUCE, s, t, tp, n, datetime.fromisoformat(first[s, t, tp]),
                           datetime.fromisoformat(last[s, t, tp]))
               for (s, t, tp), n in counts.items()]
    return build_event_map(traffic).graph.number_of_nodes()


def _build(store: Any) -> EventMap:
    window = traffic_window(store)
    assert window is not None
    return build_event_map(read_traffic(store, window), window=window)


def event_map_build_seconds() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        refreshes = _fill(path)
        store = open_store(f"sqlite:///{path}")
        try:
            started = time.perf_counter()
            built = _build(store)
            warm = time.perf_counter() - started

            started = time.perf_counter()
            naive_nodes = _naive(store)
            baseline = time.perf_counter() - started

            for table in ("catalog_traffic_minute", "catalog_latency_minute",
                          "catalog_produce_minute", "catalog_rollup_marks"):
                rollup_store(store).execute(f"DELETE FROM {table}")
            started = time.perf_counter()
            refresh_rollups(rollup_store(store))
            cold_map = _build(store)
            cold = time.perf_counter() - started
        finally:
            store.close()
    graph = built.graph
    assert cold_map.graph.number_of_edges() == graph.number_of_edges()
    assert naive_nodes <= graph.number_of_nodes()
    return {
        "bench": "event_map_build_seconds",
        "value": round(warm, 3),
        "unit": "s",
        "baseline": round(baseline, 3),
        "ratio": round(warm / baseline, 3),
        "cold_seconds": round(cold, 3),
        "refresh_seconds_per_chunk": round(sum(refreshes) / len(refreshes), 3),
        "events_per_chunk": EVENTS // CHUNKS,
        "events": EVENTS,
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "target": "< 5 s",
    }


BENCHES = {"event_map_build_seconds": event_map_build_seconds}
