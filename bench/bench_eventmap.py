"""Bench ``event_map_build_seconds``: the event map from a store holding 1,000,000 events.

The store is SQLite with 200 services, 1,000 event types on 100 topics, 1,000,000 events over
one day of event time, 100,000 of them consumed by a traced consumer (so consume edges and
latency histograms are rolled up too) and 1% violating their schema. Rows are inserted with
plain ``executemany`` (setup, not measured).

``value``: seconds from that store with no rollups at all to a built `EventMap` over the whole
day: `refresh_rollups` (one GROUP BY pass) + `read_traffic` + `build_event_map`. The line also
gives ``warm_seconds``, the same build when the rollups are already up to date (what the
dashboard and CLI pay when the collector keeps them current).
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

from catalog.eventmap import build_event_map
from catalog.traffic import EdgeKind, EdgeTraffic
from collector.catalog_source import read_traffic, refresh_rollups, traffic_window
from collector.store import open_store
from collector.store._time import to_text

EVENTS = 1_000_000
CONSUMED = 100_000
SERVICES = 200
TYPES = 1_000
TOPICS = 100
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _fill(path: Path) -> None:
    store = open_store(f"sqlite:///{path}")  # creates the schema (migrations)
    store.close()
    rng = random.Random(7)
    producer = {t: f"svc-{rng.randrange(SERVICES):03d}" for t in range(TYPES)}
    topic = {t: f"topic-{t % TOPICS:03d}" for t in range(TYPES)}
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
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
    db.executemany(
        "INSERT INTO events (source, id, type, occurred_at, received_at, correlation_id, "
        'trace_id, span_id, loc_source, topic, partition, "offset", data) '
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", events)
    db.executemany(
        "INSERT INTO spans (trace_id, span_id, parent_id, name, kind, service, start_at, end_at, "
        "duration_us, status) VALUES (?,?,?,?,?,?,?,?,?,?)", spans)
    db.executemany("INSERT INTO violations VALUES (?,?,?,?,?,?,?,?,?)", violations)
    db.commit()
    db.close()


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


def event_map_build_seconds() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        _fill(path)
        store = open_store(f"sqlite:///{path}")
        try:
            started = time.perf_counter()
            refresh_rollups(store)
            window = traffic_window(store)
            assert window is not None
            built = build_event_map(read_traffic(store, window), window=window)
            cold = time.perf_counter() - started

            started = time.perf_counter()
            warm_map = build_event_map(read_traffic(store, window), window=window)
            warm = time.perf_counter() - started

            started = time.perf_counter()
            naive_nodes = _naive(store)
            baseline = time.perf_counter() - started
        finally:
            store.close()
    graph = built.graph
    assert warm_map.graph.number_of_edges() == graph.number_of_edges()
    assert naive_nodes <= graph.number_of_nodes()
    return {
        "bench": "event_map_build_seconds",
        "value": round(cold, 3),
        "unit": "s",
        "baseline": round(baseline, 3),
        "ratio": round(cold / baseline, 3),
        "warm_seconds": round(warm, 3),
        "events": EVENTS,
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "target": "< 5 s",
    }


BENCHES = {"event_map_build_seconds": event_map_build_seconds}
