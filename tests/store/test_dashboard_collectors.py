"""The ``collectors`` table on both backends: each process's heartbeat upserted by its id, the
latest kept; the Collector health page lists the group's collectors and flags a silent one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collector.member import Membership
from collector.store import Batch, open_store
from dashboard.collector_queries import collectors

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def _two_collectors(url: str, now: datetime) -> None:
    alive = Membership("h1:1:a", "choreo", now - timedelta(hours=1), 10.0)
    gone = Membership("h2:2:b", "choreo", now - timedelta(hours=1), 10.0)
    reader, tracker = alive.role("reader"), alive.role("tracker")
    store = open_store(url)
    try:
        store.write(Batch(collectors=[
            reader.beat({("orders", 0): 4}, 10, now - timedelta(seconds=15)),
            gone.role("reader").beat({("orders", 1): 9}, 10, now - timedelta(minutes=5))]))
        tracker.beat({("choreo.flows", 2): 1}, 3, now - timedelta(seconds=4))
        store.write(Batch(collectors=[reader.beat({("orders", 0): 2}, 160, now)]))
        # a late write of an older heartbeat (the other role's thread) changes nothing
        store.write(Batch(collectors=[reader.beat({("orders", 0): 7}, 0, now - timedelta(
            seconds=20))]))
    finally:
        store.close()


def test_heartbeats_upsert_by_collector_and_a_silent_one_is_flagged(store_url: str) -> None:
    _two_collectors(store_url, T0)
    store = open_store(store_url, read_only=True)
    try:
        rows = collectors(store, now=T0 + timedelta(seconds=20))
        later = collectors(store, now=T0 + timedelta(days=2))
    finally:
        store.close()
    assert [(r["collector_id"], r["silent"]) for r in rows] == [
        ("h1:1:a", False), ("h2:2:b", True)]
    alive = rows[0]
    assert alive["partitions"] == "reader: orders[0]; tracker: choreo.flows[2]"
    assert (alive["lag"], alive["records_per_second"], alive["heartbeat_at"]) == (3, 10.0, T0)
    assert alive["roles"] == "reader, tracker"
    assert rows[1]["since_heartbeat_s"] == 320.0
    assert later == []  # not heard from for a day: no longer listed


def test_retention_deletes_collectors_not_heard_from_since_the_cutoff(store_url: str) -> None:
    _two_collectors(store_url, T0)
    store = open_store(store_url)
    try:
        store.delete_older_than(T0 - timedelta(minutes=1), 100)
        left = store.query("SELECT collector_id FROM collectors")
    finally:
        store.close()
    assert left == [{"collector_id": "h1:1:a"}]


def test_health_page_lists_the_collectors_and_flags_the_silent_one(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _two_collectors(store_url, datetime.now(UTC))
    monkeypatch.setenv("CHOREOSCOPE_STORE", store_url)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/health.py").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Collectors"], metrics["Silent"]) == ("2", "1")
    (table,) = [d.value.to_dict("records") for d in at.dataframe
                if "Collector" in d.value.columns]
    assert [(r["Collector"], r["Status"]) for r in table] == [
        ("h1:1:a", "ok"), ("h2:2:b", "SILENT")]
    (error,) = [e.value for e in at.error]
    assert "h2:2:b" in error
    assert "is silent: no heartbeat for 5 min" in error
