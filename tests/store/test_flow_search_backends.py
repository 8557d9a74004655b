"""The flow search's queries on both backends (SQLite and PostgreSQL): finding a flow by id,
business key and prefix, listing flows with filters, the persisted detection clock and the
amount over an SLA measured to it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.flows.definition import load_definitions
from collector.flows.listing import FlowFilter, list_flows
from collector.flows.lookup import find_flow
from collector.flows.query import breaches, detection_clock, measured_at
from collector.flows.tracker import FlowTracker
from collector.model import Event, Location
from collector.store import Batch, open_store

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _ev(kind: str, seconds: float, corr: str, **more: object) -> Event:
    e = Event(id=f"{corr}-{kind}", type=kind, source="order-service",
              occurred_at=T0 + timedelta(seconds=seconds), correlation_id=corr, data=None,
              location=Location("test"), received_at=T0)
    return replace(e, **more)  # type: ignore[arg-type]


def test_the_flow_search_reads_both_backends(store_url: str) -> None:
    definitions = load_definitions([ROOT / "schemas" / "flows"])
    events = [
        _ev("OrderPlaced", 0, "abcdef12-done", business_keys=(("order_id", "ORD-1"),)),
        _ev("PaymentProcessed", 1, "abcdef12-done"), _ev("InventoryReserved", 2, "abcdef12-done"),
        _ev("ShippingScheduled", 3, "abcdef12-done"), _ev("OrderCompleted", 4, "abcdef12-done"),
        _ev("OrderPlaced", 10, "zz-stuck", business_keys=(("order_id", "ORD-2"),)),
    ]
    tracker = FlowTracker(definitions)
    update = tracker.on_events(events)
    tick = tracker.on_tick(T0 + timedelta(seconds=60))
    store = open_store(store_url)
    try:
        store.write(Batch(events=events, flows=[*update.flows, *tick.flows],
                          assignments=update.assignments, alerts=[*update.alerts, *tick.alerts],
                          detected_at=T0 + timedelta(seconds=60)))
        clock = detection_clock(store)
        at, replayed = measured_at(store, datetime.now(UTC))
        by_key = find_flow(store, "ORD-2")
        by_prefix = find_flow(store, "abcdef12")
        near = find_flow(store, "abcdef13-done")
        newest = list_flows(store, FlowFilter(), at=at, definitions=definitions)
        stuck = list_flows(store, FlowFilter(statuses=("stuck",), breached=True,
                                             min_duration_s=30, event_type="OrderPlaced",
                                             service="order-service"),
                           at=at, definitions=definitions)
        longest = list_flows(store, FlowFilter(sort="duration", violations=False),
                             at=at, definitions=definitions)
        over = breaches(store, at=at, definitions=definitions)
    finally:
        store.close()
    assert clock == T0 + timedelta(seconds=60)
    assert (at, replayed) == (clock, True)
    assert (by_key.correlation_id, by_key.how) == ("zz-stuck", "business key order_id")
    assert (by_prefix.correlation_id, by_prefix.how) == ("abcdef12-done", "correlation id prefix")
    assert near.nearest[0] == "abcdef12-done"
    assert [r["correlation_id"] for r in newest] == ["zz-stuck", "abcdef12-done"]
    assert [r["correlation_id"] for r in stuck] == ["zz-stuck"]
    assert stuck[0]["duration_s"] == 50.0
    assert [r["correlation_id"] for r in longest] == ["zz-stuck", "abcdef12-done"]
    assert [(r["correlation_id"], r["over_s"]) for r in over] == [("zz-stuck", 40.0)]
