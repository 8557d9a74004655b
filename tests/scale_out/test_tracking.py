"""The scale-out pieces that need no broker: the forwarded record, the tracker over forwarded
events on a real store (partition filter on restore, duplicates ignored, a batch holding
records of a partition taken away, nothing held from a revoke to the next restore), and the
group clock (issue 19's early verdicts: the marks read before the internal ends, no time while
nothing is known or a rebalance is in progress)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.flows.definition import FlowDefinition, load_definitions
from collector.model import Event, FlowStatus, Location, Observation
from collector.scaleout.clock import GroupClock, readers_mark
from collector.scaleout.exceptions import ForwardRecordError
from collector.scaleout.forward import Forwarder
from collector.scaleout.forwarded import ForwardedMark, forwarded_marks
from collector.scaleout.record import decode_forwarded, encode_forwarded
from collector.scaleout.tracking import TrackingPipeline
from collector.store.base import Batch, Position, Store, open_store

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TOPIC = "choreoscope.g.flows"


@pytest.fixture(scope="module")
def definitions() -> tuple[FlowDefinition, ...]:
    return load_definitions([ROOT / "schemas" / "flows"])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(f"sqlite:///{tmp_path / 's.db'}")
    yield s  # type: ignore[misc]
    s.close()


def ev(kind: str, seconds: float, corr: str, cause: str | None = None) -> Event:
    return Event(id=f"{corr}-{kind}", type=kind, source="svc",
                 occurred_at=T0 + timedelta(seconds=seconds), correlation_id=corr,
                 data={"x": 1}, location=Location("kafka", "orders", 0, int(seconds)),
                 received_at=T0, causation_id=cause, sequence=7)


def forwarded(e: Event, partition: int, offset: int) -> Observation:
    return Observation(Location("kafka", TOPIC, partition, offset), T0, encode_forwarded(e))


def partition_of(corr: str) -> int:
    return 0 if corr.startswith("a") else 1


def pipeline(store: Store, definitions: tuple[FlowDefinition, ...],
             partitions: list[int]) -> TrackingPipeline:
    p = TrackingPipeline(store, definitions, TOPIC, partition_of)
    p.on_assign([(TOPIC, n) for n in partitions])  # in Kafka's callback: no store work yet
    assert p.tracker is None or p.owned == frozenset(partitions)
    p.restore()
    return p


def test_a_forwarded_record_carries_what_the_tracker_needs() -> None:
    e = ev("OrderPlaced", 1.5, "a1", cause="c0")
    back = decode_forwarded(forwarded(e, 3, 9))
    assert (back.id, back.type, back.source, back.occurred_at, back.correlation_id,
            back.causation_id, back.sequence) == (e.id, e.type, e.source, e.occurred_at,
                                                  e.correlation_id, "c0", 7)
    assert back.location == Location("kafka", TOPIC, 3, 9)


@pytest.mark.parametrize("value", [b"{", b"{}", b'[2, "i", "t", "s", "x", "c", null, 1]',
                                   b'[1, "i", "t", "s", "not a time", "c", null, 1]'])
def test_a_record_that_is_not_a_forwarded_event_is_refused(value: bytes) -> None:
    with pytest.raises(ForwardRecordError):
        decode_forwarded(Observation(Location("kafka", TOPIC, 0, 1), T0, value))


def test_duplicates_change_nothing_and_restore_takes_only_owned_flows(
        store: Store, definitions: tuple[FlowDefinition, ...]) -> None:
    mine = [ev("OrderPlaced", 0, "a1"), ev("PaymentProcessed", 5, "a1")]
    theirs = [ev("OrderPlaced", 0, "b1")]
    store.write(Batch(events=[*mine, *theirs]))  # the readers stored them first
    first = pipeline(store, definitions, [0, 1])
    records = [forwarded(e, partition_of(e.correlation_id), i)
               for i, e in enumerate([*mine, *theirs])]
    store.write(first.prepare(records, [Position("kafka:g.flows", TOPIC, 0, 2),
                                        Position("kafka:g.flows", TOPIC, 1, 3)]))
    flows = {r["correlation_id"]: r for r in store.query("SELECT * FROM flows")}
    assert flows["a1"]["event_count"] == 2
    again = pipeline(store, definitions, [0])  # a rebalance: partition 0 only
    assert again.tracker is not None
    assert again.tracker.open_flows == 1  # a1, not b1
    batch = again.prepare(records[:2], [Position("kafka:g.flows", TOPIC, 0, 2)])
    assert batch.flows == []
    assert batch.assignments == []
    assert batch.alerts == []
    assert batch.events == []
    rows = store.query("SELECT instance_id FROM events WHERE correlation_id = 'a1'")
    assert len({r["instance_id"] for r in rows}) == 1
    assert rows[0]["instance_id"] is not None


def test_records_of_a_partition_taken_away_are_left_to_its_new_owner(
        store: Store, definitions: tuple[FlowDefinition, ...]) -> None:
    events = [ev("OrderPlaced", 0, "a1"), ev("OrderPlaced", 0, "b1")]
    store.write(Batch(events=events))
    p = pipeline(store, definitions, [0])
    batch = p.prepare([forwarded(events[0], 0, 0), forwarded(events[1], 1, 0)],
                      [Position("kafka:g.flows", TOPIC, 0, 1),
                       Position("kafka:g.flows", TOPIC, 1, 1)])
    assert [f.correlation_id for f in batch.flows] == ["a1"]
    assert batch.positions == [Position("kafka:g.flows", TOPIC, 0, 1)]
    assert batch.flows[0].status is FlowStatus.RUNNING


def mark(lag: int, latest: float | None, age: float = 0.0) -> ForwardedMark:
    return ForwardedMark("orders", 0, 10, None if latest is None else T0 + timedelta(
        seconds=latest), lag, T0 + timedelta(seconds=100 - age))


NOW = T0 + timedelta(seconds=100)
STALE = timedelta(seconds=60)


@pytest.mark.parametrize(("marks", "expected"), [
    ([], (False, None)),  # no reader has written yet: nothing is known
    ([mark(0, 5)], (True, None)),
    ([mark(3, 5), mark(2, 8), mark(0, 1)], (True, T0 + timedelta(seconds=5))),
    ([mark(-1, None)], (False, None)),
    ([mark(0, 7, age=61)], (True, T0 + timedelta(seconds=7))),  # its reader is gone
    ([mark(0, None, age=61)], (False, None)),
])
def test_the_readers_mark_holds_the_clock_while_a_partition_lags(
        marks: list[ForwardedMark], expected: tuple[bool, datetime | None]) -> None:
    assert readers_mark(marks, NOW, STALE) == expected


def test_the_group_clock_is_the_wall_clock_only_when_all_have_caught_up() -> None:
    marks = [mark(4, 30)]
    clock = GroupClock(lambda: NOW, lambda: marks, STALE)
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) == T0 + timedelta(seconds=30)
    marks[:] = [mark(0, 50)]
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) == NOW
    marks[:] = [mark(4, 10)]  # never goes back
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) == NOW
    assert clock.now({(TOPIC, 0): 5}, caught_up=False) is None  # unread forwarded events


def test_without_marks_the_group_clock_gives_no_time_and_latches_none() -> None:
    """Before any reader has written a mark nothing is known of the user's topics: a wall
    time given then would be latched, and the clock could no longer be held back by the
    readers' first marks (issue 19)."""
    marks: list[ForwardedMark] = []
    clock = GroupClock(lambda: NOW, lambda: marks, STALE)
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) is None
    assert clock.given is None
    marks[:] = [mark(4, 30)]  # a reader starts: its partition lags, forwarded up to 30 s
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) == T0 + timedelta(seconds=30)


def test_the_group_clock_asks_for_the_internal_ends_after_reading_the_marks() -> None:
    """A reader forwards its last record and writes its mark after the tracker sampled its lag
    (the last fetch: nothing unread) and before the tracker reads the marks (nothing lags):
    only end offsets asked for after the marks show the record unread (issue 19)."""
    internal = {"end": 5, "read": 5}
    calls: list[str] = []

    def read_marks() -> list[ForwardedMark]:
        calls.append("marks")
        internal["end"] = 6  # forwarded and acknowledged, then its mark written
        return [mark(0, 40)]

    def read_to_end() -> bool:
        calls.append("ends")
        return internal["read"] >= internal["end"]

    clock = GroupClock(lambda: NOW, read_marks, STALE, read_to_end=read_to_end)
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) is None  # offset 5 is unread
    assert calls == ["marks", "ends"]
    assert clock.given is None
    internal["read"] = 6
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) == NOW


def test_the_group_clock_gives_no_time_when_the_broker_cannot_tell_the_ends() -> None:
    clock = GroupClock(lambda: NOW, lambda: [mark(0, 40)], STALE, read_to_end=lambda: None)
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) is None


def test_the_group_clock_does_not_ask_the_broker_while_the_last_fetch_shows_lag() -> None:
    asked: list[int] = []
    clock = GroupClock(lambda: NOW, lambda: [mark(0, 40)], STALE,
                       read_to_end=lambda: bool(asked.append(1)) or True)
    assert clock.now({(TOPIC, 0): 3}, caught_up=False) is None
    assert asked == []


def test_between_revoke_and_assign_a_tracker_holds_no_flow_and_the_clock_no_time(
        store: Store, definitions: tuple[FlowDefinition, ...]) -> None:
    """Kafka's eager rebalance revokes every partition, and the join can take several polls
    before the assignment: meanwhile the loop ticks. A tracker still holding its flows then
    would judge flows that may already be another's, on a clock sampled from partitions it is
    giving up (issue 19)."""
    placed = ev("OrderPlaced", 0, "a1")
    store.write(Batch(events=[placed]))
    p = pipeline(store, definitions, [0])
    store.write(p.prepare([forwarded(placed, 0, 0)], [Position("kafka:g.flows", TOPIC, 0, 1)]))
    later = T0 + timedelta(days=1)  # far past any deadline of the flow
    caught_up = [ForwardedMark("orders", 0, 10, T0, 0, later)]
    clock = GroupClock(lambda: later, lambda: caught_up, STALE, settled=p.settled)

    p.on_revoke()
    assert p.owned == frozenset()
    assert p.tracker is None
    assert not p.settled()
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) is None
    assert p.prepare_tick(later) is None  # nothing held, nothing judged
    assert p.prepare([forwarded(placed, 0, 0)],
                     [Position("kafka:g.flows", TOPIC, 0, 1)]).positions == []
    assert store.query("SELECT status FROM flows")[0]["status"] == "running"

    p.on_assign([(TOPIC, 0)])  # in Kafka's callback: the restore waits for the loop
    assert clock.now({(TOPIC, 0): 0}, caught_up=True) == later  # restored first
    assert p.tracker is not None
    assert p.tracker.open_flows == 1
    tick = p.prepare_tick(later)
    assert tick is not None
    assert {a.kind for a in tick.alerts} == {"FlowStuck", "SlaBreached"}  # judged here now


class _Sent:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes]] = []

    def send(self, records: Sequence[tuple[str, bytes]]) -> None:  # the internal topic acked
        self.records.extend(records)


def test_a_partition_no_reader_has_marked_yet_holds_the_group_clock(store: Store) -> None:
    """When the group first forms, one reader may forward (and mark) its partitions before
    another has written a row for those assigned to it: the partitions without a row, unread
    as they are, must hold the trackers' clock, not be left out of it (issue 19)."""
    every = [("orders", 0), ("orders", 1), ("orders", 2)]
    a = Forwarder(_Sent(), store, "kafka:g", highwaters=lambda: {("orders", 2): 15},
                  lag=lambda: {("orders", 2): 15}, now=lambda: NOW, subscribed=lambda: every)
    a.on_assign([("orders", 2)])
    placed = replace(ev("OrderPlaced", 30, "a1"), location=Location("kafka", "orders", 2, 9))
    a.after(Batch(events=[placed], positions=[Position("kafka:g", "orders", 2, 10)]))()
    assert readers_mark(forwarded_marks(store, "kafka:g"), NOW, STALE) == (False, None)

    b = Forwarder(_Sent(), store, "kafka:g", highwaters=lambda: {("orders", 0): 4,
                                                                 ("orders", 1): 0},
                  lag=dict, now=lambda: NOW, subscribed=lambda: every)
    b.on_assign([("orders", 0), ("orders", 1)])
    assert readers_mark(forwarded_marks(store, "kafka:g"), NOW, STALE) == (False, None)
    b.after(Batch(events=[ev("PaymentProcessed", 35, "a1")],
                  positions=[Position("kafka:g", "orders", 0, 4),
                             Position("kafka:g", "orders", 1, 0)]))()
    assert readers_mark(forwarded_marks(store, "kafka:g"), NOW, STALE) == (
        True, placed.occurred_at)  # orders[2] lags, forwarded up to a1's start
    a.on_assign([("orders", 2)])  # a rebalance: a row already there is left as it is
    assert {(m.partition, m.next_offset) for m in forwarded_marks(store, "kafka:g")} == {
        (0, 4), (1, 0), (2, 10)}
