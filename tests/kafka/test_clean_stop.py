"""A clean stop of the collector writes what the flow tracker still holds: the per-minute
rollups of the minutes not closed yet (they close a minute after they end, in event time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.flows.definition import load_definitions
from collector.flows.tracker import FlowTracker
from collector.kafka.producer import publish
from collector.store.base import open_store
from tests.kafka._support import Rec, cloudevent, collect_until, make_collector

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
HAPPY = ("OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShippingScheduled",
         "OrderCompleted")


def test_a_clean_stop_stores_the_rollups_of_the_minutes_still_open(
        kafka: Any, topic: str, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    records = []
    for flow in range(3):  # three whole orders ending now: their minute cannot close yet
        for step, kind in enumerate(HAPPY):
            at = now - timedelta(seconds=10 - step)
            records.append(Rec(topic, cloudevent(flow * 10 + step, f"order-{flow}", etype=kind,
                                                 time=at.isoformat().replace("+00:00", "Z"))))
    publish(records, kafka.bootstrap)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        tracker = FlowTracker(load_definitions([ROOT / "schemas" / "flows"]))
        run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}",
                             tracker=tracker)
        collect_until(run, len(records))
        rows = store.query("SELECT minute, flow_type, count, within_sla FROM flow_rollups "
                           "WHERE step = '*'")
        ended = store.query("SELECT COUNT(*) AS n FROM flows WHERE status = 'completed'")
    finally:
        store.close()
    assert ended == [{"n": 3}]
    minute = (now - timedelta(seconds=6)).replace(second=0)
    assert [(r["minute"][:16], r["flow_type"], r["count"]) for r in rows] == [
        (minute.strftime("%Y-%m-%dT%H:%M"), "order", 3)]
