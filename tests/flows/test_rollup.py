"""Per-minute rollups: percentiles per step and flow type, share within SLA, in the store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from collector.flows.rollup import FlowRollup, RollupAggregator
from collector.flows.tracker import FlowTracker
from collector.store.base import Batch, open_store

from .conftest import T0, at, ev

HAPPY = ["OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShippingScheduled",
         "OrderCompleted"]


def order(corr: str, start: float, gaps: list[float]):
    t, out = start, [ev(HAPPY[0], start, corr)]
    for kind, gap in zip(HAPPY[1:], gaps, strict=True):
        t += gap
        out.append(ev(kind, t, corr))
    return out


def test_rows_per_minute_step_and_flow_type(definitions):
    tracker = FlowTracker(definitions)
    events = [*order("a", 0, [1, 1, 1, 1]), *order("b", 2, [2, 2, 2, 2]),
              *order("c", 4, [3, 12, 3, 3]),  # PaymentProcessed->InventoryReserved late
              ev("OrderPlaced", 30, "stuck")]
    rows: list[FlowRollup] = []
    rows += tracker.on_events(events).rollups
    assert rows == []  # the minute is still open
    rows += tracker.on_tick(at(59)).rollups
    assert rows == []
    rows += tracker.on_tick(T0 + timedelta(minutes=2)).rollups
    by_step = {r.step: r for r in rows}
    whole = by_step["*"]
    assert (whole.minute, whole.flow_type) == (T0, "order")
    assert (whole.count, whole.within_sla) == (4, 2)  # c was late; "stuck" passed its SLA open
    assert whole.p50_s == pytest.approx(8.0)  # durations 4, 8 and 21 s; the open one has none
    late_step = by_step["PaymentProcessed->InventoryReserved"]
    assert (late_step.count, late_step.within_sla) == (3, 2)
    assert (late_step.p50_s, late_step.p99_s) == (2.0, pytest.approx(11.8))
    assert tracker.on_tick(T0 + timedelta(minutes=10)).rollups == []  # emitted once


def test_a_flow_is_counted_once_even_when_touched_again(definitions):
    tracker = FlowTracker(definitions)
    tracker.on_events(order("a", 0, [1, 1, 1, 1]))
    tracker.on_events([ev("CustomerNotified", 5, "a")])  # after the end: joins, counts once
    rows = tracker.flush_rollups().rollups
    assert {r.step: r.count for r in rows}["*"] == 1


def test_minutes_closed_are_not_reopened():
    agg = RollupAggregator(grace=timedelta(0))
    agg.add("order", at(10), [("*", 1.0, True)])
    assert len(agg.close(at(60))) == 1
    agg.add("order", at(20), [("*", 1.0, True)])
    assert agg.close(at(200)) == []
    assert agg.too_late == 1


def test_rollups_are_stored_by_their_key(tmp_path, definitions):
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    row = FlowRollup(T0, "order", "*", 3, 2, 1.0, 2.0, 3.0)
    store.write(Batch(flow_rollups=[row]))
    store.write(Batch(flow_rollups=[row]))
    got = store.query("SELECT minute, flow_type, step, count, within_sla, p99_s "
                      "FROM flow_rollups")
    from collector.flows.query import rollups
    read = rollups(store, flow_type="order", since=T0)
    assert [(r["step"], r["share_within_sla"]) for r in read] == [("*", 2 / 3)]
    assert rollups(store, flow_type="onboarding") == []
    store.close()
    assert got == [{"minute": "2026-01-01T12:00:00.000000Z", "flow_type": "order", "step": "*",
                    "count": 3, "within_sla": 2, "p99_s": 3.0}]


def test_a_tick_that_only_closes_minutes_stores_their_rollups(tmp_path, definitions):
    """Live (the demo), minutes close on ticks that change no flow: their rows must be stored."""
    from collector.pipeline import Pipeline

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    tracker = FlowTracker(definitions)
    pipeline = Pipeline(store, lambda obs: obs, tracker=tracker)  # type: ignore[arg-type,return-value]
    try:
        tracker.on_events(order("a", 0, [1, 1, 1, 1]))  # ended, counted in minute T0
        pipeline.advance(at(30))  # nothing closes yet
        assert store.query("SELECT COUNT(*) AS n FROM flow_rollups")[0]["n"] == 0
        batch = pipeline.advance(T0 + timedelta(minutes=3))  # no flow changes; T0 closes
        assert batch.flows == []
        assert batch.alerts == []
        rows = store.query("SELECT flow_type, step, count FROM flow_rollups WHERE step = '*'")
    finally:
        store.close()
    assert rows == [{"flow_type": "order", "step": "*", "count": 1}]


def test_a_clean_stop_writes_the_open_minute_and_a_restart_never_replaces_it(
        tmp_path, definitions):
    """Before: the minutes a stop left open were lost, and the restarted tracker's row for the
    latest one replaced what was stored with what came after the restart."""
    from collector.envelope import Decoder, EnvelopeRules
    from collector.flows.query import restore_tracker
    from collector.pipeline import Pipeline

    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    tracker = FlowTracker(definitions)
    pipeline = Pipeline(store, Decoder(EnvelopeRules()), tracker=tracker)
    events = [*order("a", 0, [1, 1, 1, 1]), *order("b", 2, [2, 2, 2, 2])]
    update = tracker.on_events(events)
    assert update.rollups == []  # minute 12:00 is still open
    pipeline.write(Batch(events=events, flows=list(update.flows),
                         assignments=list(update.assignments)))
    finished = pipeline.prepare_finish()
    assert finished is not None
    pipeline.write(finished)
    whole = "SELECT minute, count FROM flow_rollups WHERE step = '*'"
    assert store.query(whole) == [{"minute": "2026-01-01T12:00:00.000000Z", "count": 2}]
    assert pipeline.prepare_finish() is None  # nothing held any more

    restarted = restore_tracker(store, definitions)
    late = restarted.on_events(order("c", 20, [1, 1, 1, 1]))  # ends in the stored minute
    rows = late.rollups + restarted.on_tick(at(600)).rollups + restarted.flush_rollups().rollups
    assert [r for r in rows if r.minute == T0] == []
    assert restarted.rollups is not None
    assert restarted.rollups.too_late == 1
    assert store.query(whole) == [{"minute": "2026-01-01T12:00:00.000000Z", "count": 2}]
    store.close()


def test_a_kill_loses_no_sample_of_the_minutes_still_open(tmp_path, definitions):
    """Killed while the clock is behind the flows (a backlog read unevenly): the minutes it had
    not closed count, after the restart, the flows judged in them before the kill as well as
    after, also those of flows that had already left memory (m). Before: the samples held at
    the kill were lost (the 12:05 row counted flow c only, 12:02 had none), and the minutes
    before the latest restored event's took no more samples at all."""
    from collector.flows.query import restore_tracker

    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    first = FlowTracker(definitions)
    events = [*order("a", 0, [1, 1, 1, 1]), *order("m", 126, [1, 1, 1, 1]),
              *order("b", 300, [1, 1, 1, 1])]
    update = first.on_events(events)
    tick = first.on_tick(at(200))  # closes minute 12:00 (flow a); 12:02 and 12:05 stay open
    assert first.in_memory == 1  # m ended more than the retention (45 s) ago: it left memory
    store.write(Batch(events=events, flows=[*update.flows, *tick.flows],
                      assignments=list(update.assignments), flow_rollups=list(tick.rollups),
                      detected_at=at(200)))
    whole = "SELECT minute, count FROM flow_rollups WHERE step = '*'"
    assert store.query(whole) == [{"minute": "2026-01-01T12:00:00.000000Z", "count": 1}]

    restarted = restore_tracker(store, definitions)  # the first one was killed
    later = restarted.on_events(order("c", 310, [1, 1, 1, 1]))
    rows = later.rollups + restarted.on_tick(at(1000)).rollups
    assert [(r.minute, r.count) for r in rows if r.step == "*"] == [(at(120), 1), (at(300), 2)]
    steps = [(r.minute, r.count) for r in rows if r.step == "OrderPlaced->PaymentProcessed"]
    assert steps == [(at(120), 1), (at(300), 2)]
    assert restarted.rollups is not None
    assert restarted.rollups.too_late == 0
    store.close()
