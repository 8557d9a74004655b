"""Restart: the tracker is rebuilt from the store, with waiting events and recently ended flows.

A collector killed mid-backlog (issue 19) leaves a store whose latest events may be hours ahead
of its detection clock (the slowest partition's event time): what the tracker held is measured
on that clock, so the restarted tracker decides as the killed one would have."""

from __future__ import annotations

from collector.flows.query import restore_tracker
from collector.flows.tracker import FlowTracker, FlowUpdate, instance_id
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
        store.write(Batch(flows=tick.flows, alerts=tick.alerts, detected_at=now))


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


HOURS = 3600 * 10
"""Far ahead of the detection clock: another partition, read further, is hours ahead."""


def test_flows_ended_ahead_of_the_clock_take_their_events_from_a_slower_partition(
        tmp_path, definitions):
    """The orders partition was read through the day, the payments one not yet: the watermark
    (the clock) is still at the first order, so the tracker held its ended flow; the restarted
    one must too, though the latest stored event is hours later."""
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    first = FlowTracker(definitions)
    write(store, first, [ev("OrderPlaced", 0, "a"), ev("InventoryReserved", 3, "a"),
                         ev("ShippingScheduled", 4, "a"), ev("OrderCompleted", 5, "a"),
                         ev("OrderPlaced", HOURS, "z")], now=at(2))
    restarted = restore_tracker(store, definitions)  # killed here
    payment = ev("PaymentProcessed", 1, "a")
    update = restarted.on_events([payment])
    assert update.assignments == [(payment.identity, instance_id("svc", "a-OrderPlaced-0"))]
    assert [(f.status, f.event_count) for f in update.flows] == [(FlowStatus.COMPLETED, 5)]
    store.close()


def test_without_a_stored_clock_no_ended_flow_had_left(tmp_path, definitions):
    """Killed before the first tick (a partition assigned but not read yet: no watermark)."""
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    write(store, FlowTracker(definitions), [
        ev("OrderPlaced", 0, "a"), ev("PaymentFailed", 1, "a"), ev("OrderPlaced", HOURS, "z")])
    restarted = restore_tracker(store, definitions)
    note = ev("CustomerNotified", 2, "a")
    update = restarted.on_events([note])
    assert [i for i, _ in update.assignments] == [note.identity]
    assert [f.event_count for f in update.flows] == [3]
    store.close()


def test_events_waiting_for_their_start_survive_a_restart_however_old(tmp_path, definitions):
    """The payments partition was read ahead of the orders one: its events wait for their
    start however far behind the latest stored event they are."""
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    early = ev("PaymentProcessed", 1, "a")
    write(store, FlowTracker(definitions), [early, ev("PaymentProcessed", HOURS, "z")],
          now=at(0))
    restarted = restore_tracker(store, definitions)
    assert restarted.held == 2
    update = restarted.on_events([ev("OrderPlaced", 0, "a")])
    assert {i.id for i, _ in update.assignments} == {early.id, "a-OrderPlaced-0"}
    store.close()


def test_a_flow_that_left_memory_is_not_reopened_by_its_redelivered_start(
        tmp_path, definitions):
    """Before: the restarted tracker had forgotten the flows the killed one let go, so a late
    duplicate of a start event opened its flow again and overwrote the stored verdict with a
    running flow of one event."""
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    first = FlowTracker(definitions)
    start = ev("OrderPlaced", 0, "a")
    write(store, first, [start, ev("PaymentFailed", 1, "a")], now=at(600))
    write(store, first, [ev("OrderPlaced", 1200, "b")], now=at(1200))
    assert first.in_memory == 1  # "a" left memory
    restarted = restore_tracker(store, definitions)
    assert restarted.on_events([start]) == FlowUpdate()
    for tracker in (first, restarted):  # the same answer as the tracker that never stopped
        assert tracker.on_events([start]) == FlowUpdate()
    store.close()


def test_a_restore_can_take_a_share_of_the_correlation_ids(tmp_path, definitions):
    """``owns``: a tracker taking over some partitions restores only their correlation ids."""
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    write(store, FlowTracker(definitions), [
        ev("OrderPlaced", 0, "a"), ev("OrderPlaced", 0, "b"), ev("PaymentProcessed", 1, "c"),
        ev("PaymentProcessed", 1, "d"), ev("OrderPlaced", 2, "e"), ev("PaymentFailed", 3, "e")],
        now=at(2))
    mine = {"a", "c", "e"}
    restarted = restore_tracker(store, definitions, owns=mine.__contains__)
    assert (restarted.open_flows, restarted.in_memory, restarted.held) == (1, 2, 1)
    store.close()
