"""Dead-letter flood benchmark: what a wrong envelope rule costs once every record is a dead letter.

``dead_letter_flood_write_seconds``: seconds per store transaction of 1,000 dead letters of
2 KiB each, written until far past the ``[dead_letters]`` budget (the store trims the oldest in
the same transaction, and cuts raw bytes to ``max_raw_bytes``), over the last half of the run,
when the trim runs. The baseline is the same flood (raw bytes cut alike) into a store with a
budget it never reaches, in the same run: the ratio is what the size bound costs (deleting
the oldest, zeroed by ``secure_delete``). Also reported: both database files' sizes at the end
(the bounded one stays near the budget however long the flood lasts) and what was dropped and
truncated.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collector.model import DeadLetter, DeadLetterReason, Location
from collector.store import Batch, open_store
from collector.store.dead_letters import DeadLetterBounds

BATCHES = 60
PER_BATCH = 1000
RAW = b'{"specversion": "1.0", "id": "torn' + b"x" * 2048
BUDGET = 8 * 1024 * 1024
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _flood(path: Path, bounds: DeadLetterBounds) -> tuple[float, int, Any]:
    store = open_store(f"sqlite:///{path}", dead_letters=bounds)
    times = []
    try:
        for b in range(BATCHES):
            at = T0 + timedelta(seconds=b)
            letters = [DeadLetter(DeadLetterReason.NOT_JSON, "not JSON",
                                  Location("kafka", "orders", b % 6, b * PER_BATCH + i), at,
                                  RAW, b"key-%d" % i, (("kind", b"flood"),))
                       for i in range(PER_BATCH)]
            started = time.perf_counter()
            store.write(Batch(dead_letters=letters))
            times.append(time.perf_counter() - started)
        usage = store.dead_letter_usage()  # type: ignore[attr-defined]
    finally:
        store.close()
    late = times[BATCHES // 2:]
    size = sum(p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name))
    return sum(late) / len(late), size, usage


def bench_dead_letter_flood_write_seconds() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        bounded_s, bounded_size, used = _flood(
            Path(folder) / "bounded.db", DeadLetterBounds(max_bytes=BUDGET, max_raw_bytes=1024))
        open_s, open_size, _ = _flood(
            Path(folder) / "unbounded.db",
            DeadLetterBounds(max_bytes=1 << 40, max_raw_bytes=1024))
    return {
        "bench": "dead_letter_flood_write_seconds", "value": round(bounded_s, 4),
        "unit": "s per 1,000 dead letters", "baseline": round(open_s, 4),
        "ratio": round(bounded_s / open_s, 2) if open_s else None,
        "dead_letters": BATCHES * PER_BATCH, "budget_bytes": BUDGET,
        "stored_bytes": used.bytes, "stored": used.stored, "dropped": used.dropped,
        "truncated": used.truncated, "db_bytes_bounded": bounded_size,
        "db_bytes_unbounded": open_size,
    }


BENCHES = {"dead_letter_flood_write_seconds": bench_dead_letter_flood_write_seconds}
