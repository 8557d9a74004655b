"""Restart: the tracker is rebuilt from the store, with waiting events and recently ended flows."""

from __future__ import annotations

from collector.flows.query import restore_tracker
from collector.flows.tracker import FlowTracker
from collector.model import FlowStatus
from collector.store.base import Batch, open_store

from .conftest import at, ev


def write(store, tracker, events, now=None):
    update = tracker.on_events(events)
    batch = Batch(events=list(events), flows=update.flows, assignments=update.assignments,
                  alerts=update.alerts)
    store.write(batch)
    if now is not None:
        tick = tracker.on_tick(now)
        store.write(Batch(flows=tick.flows, alerts=tick.alerts))


def test_events_waiting_for_their_start_survive_a_restart(tmp_path, definitions):
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    early = ev("PaymentProcessed", 3, "late-start")
    write(store, FlowTracker(definitions), [early])
    tracker = restore_tracker(store, definitions)  # the first collector is gone
    assert tracker.held == 1
    update = tracker.on_events([ev("OrderPlaced", 0, "late-start")])
    assert {i.id for i, _ in update.assignments} == {early.id, "late-start-OrderPlaced-0"}
    assert update.flows[0].last_event_type == "PaymentProcessed"
    store.close()


def test_recently_ended_flows_still_take_late_notifications(tmp_path, definitions):
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    write(store, FlowTracker(definitions), [ev("OrderPlaced", 0), ev("PaymentFailed", 1)])
    tracker = restore_tracker(store, definitions)
    note = ev("CustomerNotified", 2)
    update = tracker.on_events([note])
    assert [i for i, _ in update.assignments] == [note.identity]
    assert update.flows[0].status is FlowStatus.FAILED
    assert update.flows[0].event_count == 3
    assert tracker.on_tick(at(2)).alerts == []  # its verdict was given before the restart
    store.close()


def test_stuck_flows_are_not_flagged_again(tmp_path, definitions):
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    write(store, FlowTracker(definitions), [ev("OrderPlaced", 0)], now=at(100))
    tracker = restore_tracker(store, definitions)
    assert tracker.on_tick(at(200)).alerts == []
    update = tracker.on_events([ev("PaymentProcessed", 150)])
    assert [a.kind.value for a in update.alerts] == ["FlowRecovered"]
    assert update.flows[0].recovered
    assert update.flows[0].stuck_step == "OrderPlaced"
    store.close()
