"""The detection clock of a tap reading a backlog (pure: no broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.kafka.runner import DetectionClock
from collector.model import Event, Location

WALL = datetime(2026, 11, 25, 12, tzinfo=UTC)
T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _at(topic: str, partition: int, minutes: int) -> Event:
    at = T0 + timedelta(minutes=minutes)
    return Event(id=f"{topic}{partition}{minutes}", type="T", source="s", occurred_at=at,
                 correlation_id="c", data=None, location=Location("kafka", topic, partition, 0),
                 received_at=WALL)


def test_caught_up_it_is_the_wall_clock() -> None:
    clock = DetectionClock(lambda: WALL)
    assert clock.now({("a", 0): 0}, caught_up=True) == WALL


def test_lagging_it_is_the_oldest_latest_event_time_of_the_lagging_partitions() -> None:
    clock = DetectionClock(lambda: WALL)
    clock.observe([_at("a", 0, 5), _at("a", 0, 50), _at("b", 0, 20), _at("c", 0, 90)])
    lag = {("a", 0): 10, ("b", 0): 3, ("c", 0): 0}  # c is read to its end: it does not hold back
    assert clock.now(lag, caught_up=False) == T0 + timedelta(minutes=20)


def test_unknown_while_a_lagging_partition_was_not_read_from() -> None:
    clock = DetectionClock(lambda: WALL)
    clock.observe([_at("a", 0, 5)])
    assert clock.now({("a", 0): 10, ("b", 0): None}, caught_up=False) is None
    assert clock.now({("a", 0): 10, ("b", 0): 4}, caught_up=False) is None


def test_it_never_goes_back() -> None:
    clock = DetectionClock(lambda: WALL)
    clock.observe([_at("a", 0, 30), _at("b", 0, 40)])
    assert clock.now({("a", 0): 1, ("b", 0): 1}, caught_up=False) == T0 + timedelta(minutes=30)
    clock.observe([_at("c", 0, 1)])
    later = clock.now({("a", 0): 1, ("b", 0): 1, ("c", 0): 1}, caught_up=False)
    assert later == T0 + timedelta(minutes=30)
    assert clock.now({}, caught_up=True) == WALL
    assert clock.now({("a", 0): 1, ("b", 0): 1}, caught_up=False) == WALL
