"""A collector's heartbeat row (`collector.member`): its partitions, lag and rate by role, and
when it counts as silent, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from collector.member import Membership, collector_id, is_silent, silent_after

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def test_silent_after_three_missed_heartbeats_not_before() -> None:
    assert silent_after(10.0) == timedelta(seconds=30)
    assert not is_silent(T0, 10.0, T0 + timedelta(seconds=30))
    assert is_silent(T0, 10.0, T0 + timedelta(seconds=30.001))
    assert not is_silent(T0, 2.0, T0 + timedelta(seconds=5))
    assert is_silent(T0, 2.0, T0 + timedelta(seconds=7))


def test_the_id_is_host_pid_and_start_in_utc() -> None:
    started = datetime(2026, 12, 6, 5, 0, 7, 900, tzinfo=timezone(timedelta(hours=2)))
    assert collector_id("h1", 42, started) == "h1:42:2026-12-06T03:00:07Z"


def test_a_scale_out_process_reports_both_roles_in_one_row() -> None:
    m = Membership("h1:42:x", "choreo", T0, 10.0)
    reader, tracker = m.role("reader"), m.role("tracker")
    first = reader.beat({("orders", 1): 5, ("orders", 0): None}, 100, T0)
    assert first.roles == ("reader", "tracker")
    assert first.partitions == {"reader": ("orders[0]", "orders[1]"), "tracker": ()}
    assert (first.lag, first.records_per_second) == (5, 0.0)  # no rate before two beats
    tracker.beat({("choreo.flows", 3): 2}, 7, T0 + timedelta(seconds=1))
    row = reader.beat({("orders", 0): 0, ("orders", 1): 1}, 400, T0 + timedelta(seconds=10))
    assert row.partitions == {"reader": ("orders[0]", "orders[1]"),
                              "tracker": ("choreo.flows[3]",)}
    assert row.lag == 3  # 1 + 2 over both roles
    assert row.records_per_second == 30.0  # the reader's: 300 records in 10 s
    assert (row.heartbeat_at, row.started_at, row.beat_every_s) == (
        T0 + timedelta(seconds=10), T0, 10.0)


def test_lag_is_unknown_until_a_partition_was_fetched() -> None:
    row = Membership("i", "g", T0, 10.0).role("single").beat({("orders", 0): None}, 0, T0)
    assert row.lag is None
    assert Membership("i", "g", T0, 10.0).role("single").beat({}, 0, T0).partitions == {
        "single": ()}
