"""The collector keeps the catalog's traffic rollups current: the event map needs no extra step."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from collector.store.base import open_store


def test_simulate_into_the_store_leaves_the_rollups_counting_every_event(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    done = subprocess.run([sys.executable, "-m", "collector.cli", "simulate", "--flows", "200",
                           "--seed", "5", "--store", url],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    store = open_store(url, read_only=True)
    try:
        stored = Counter({r["type"]: r["n"] for r in store.query(
            "SELECT type, COUNT(*) AS n FROM events GROUP BY type")})
        rolled = Counter({r["event_type"]: r["n"] for r in store.query(
            "SELECT event_type, SUM(count) AS n FROM catalog_traffic_minute "
            "WHERE kind = 'produce' GROUP BY event_type")})
    finally:
        store.close()
    assert stored["OrderPlaced"] > 0
    assert rolled == stored
