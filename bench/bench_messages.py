"""Bench ``message_browser_query_seconds_max``: the message browser's filtered queries on the
1,000,000-event store of the dashboard bench (``bench_dashboard.build_store``, the same cached
simulated store).

Each query is `collector.messages.find_messages` as the page and ``choreoscope messages`` run
it, on the busiest topic, newest first, 50 rows: by key, by header value (an exact
``traceparent`` of a record older than the last hour the search looks at by default: the whole
hour is read, nothing stops the scan early), by correlation id, by event type, by payload text
within the topic's last hour (a text no payload holds: the worst case again), and by an offset
range of a partition; plus what the store holds
of each partition of the topic. The other values are taken from a record in the middle of the
topic, so those queries find something.
Each is timed on a fresh read-only connection (the page's first visit), the median of 3.

``value``: the slowest query's seconds (target: under 1 s). ``baseline``: the same on the
1,000-flow store of the same simulator, measured in the same run; ``ratio`` = value / baseline.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_dashboard import FLOWS, SMALL_FLOWS, build_store, count

from collector.messages import MessageFilter, find_messages, partition_spans
from collector.store import Store, open_store

REPEAT = 3


def _sample(store: Store) -> dict[str, Any]:
    """The busiest topic and, from a record in its middle, the values to filter by."""
    topic = max((r for r in store.query(
        "SELECT topic, COUNT(*) AS n FROM events GROUP BY topic")), key=lambda r: r["n"])
    middle = store.query(
        'SELECT key, headers, correlation_id, type, partition, "offset", data FROM events '
        "WHERE topic = ? ORDER BY occurred_at LIMIT 1 OFFSET ?",
        (topic["topic"], topic["n"] // 2))[0]
    return {"topic": topic["topic"], **middle}


def queries(sample: dict[str, Any]) -> dict[str, Callable[[Store], object]]:
    import orjson

    topic = sample["topic"]
    name, value = orjson.loads(sample["headers"])[0]
    off = int(sample["offset"])

    def find(**kw: Any) -> Callable[[Store], object]:
        return lambda store: find_messages(store, MessageFilter(topic=topic, **kw))

    return {
        "newest": find(),
        "key": find(key=sample["key"]),
        "header value": find(header=(name, value)),
        "correlation id": find(correlation_id=sample["correlation_id"]),
        "event type": find(event_type=sample["type"]),
        "text in the last hour": find(text="no payload holds this text"),
        "offset range": find(partition=sample["partition"], offset_from=max(0, off - 500),
                             offset_to=off + 500),
        "partitions held": lambda store: partition_spans(store, topic),
    }


def _time(url: str, run: Callable[[Store], object]) -> float:
    seconds = []
    for _ in range(REPEAT):
        store = open_store(url, read_only=True)
        try:
            started = time.perf_counter()
            run(store)
            seconds.append(time.perf_counter() - started)
        finally:
            store.close()
    return statistics.median(seconds)


def measure(path: Path) -> dict[str, float]:
    url = f"sqlite:///{path}"
    store = open_store(url, read_only=True)
    try:
        sample = _sample(store)
    finally:
        store.close()
    out = {name: round(_time(url, run), 4) for name, run in queries(sample).items()}
    for name, s in sorted(out.items(), key=lambda kv: -kv[1]):
        print(f"message browser bench [{path.name}] {s:8.4f} s  {name}", file=sys.stderr)
    return out


def bench_message_browser_query_seconds_max() -> dict[str, Any]:
    small, big = build_store(SMALL_FLOWS), build_store(FLOWS)
    base = measure(small)
    results = measure(big)
    slowest = max(results, key=lambda k: results[k])
    baseline = max(base.values())
    return {
        "bench": "message_browser_query_seconds_max", "value": results[slowest], "unit": "s",
        "baseline": baseline, "ratio": round(results[slowest] / baseline, 2),
        "slowest_query": slowest, "events": count(big, "events"), "queries": results,
    }


BENCHES = {"message_browser_query_seconds_max": bench_message_browser_query_seconds_max}
