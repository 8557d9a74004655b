"""A collector row's state (running, stopped, silent) and which earlier run a restart replaced
(`collector.member`): pure, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.member import CollectorBeat, Membership, Status, status_of, successors

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
EVERY = 10.0  # silent after 30 s


def _run(cid: str, started: float, last: float, *, stopped: bool = False, host: str = "h",
         group: str = "g", roles: tuple[str, ...] = ("single",)) -> CollectorBeat:
    """A run that started ``started`` s after T0 and last beat ``last`` s after T0."""
    at = T0 + timedelta(seconds=last)
    return CollectorBeat(cid, group, roles, {}, None, 0.0, T0 + timedelta(seconds=started), at,
                         EVERY, host, 0, at if stopped else None)


@pytest.mark.parametrize(("run", "now_s", "status"), [
    (_run("a", 0, 100), 120, Status.RUNNING),
    (_run("a", 0, 100), 131, Status.SILENT),
    (_run("a", 0, 100, stopped=True), 120, Status.STOPPED),
    (_run("a", 0, 100, stopped=True), 100_000, Status.STOPPED),  # never an alarm
])
def test_status(run: CollectorBeat, now_s: float, status: Status) -> None:
    assert status_of(run, T0 + timedelta(seconds=now_s)) is status


@pytest.mark.parametrize(("runs", "now_s", "replaced"), [
    # killed at 100 s, restarted at 105 s: replaced once the old one is silent
    ([_run("old", 0, 100), _run("new", 105, 200)], 200, {"old": "new"}),
    ([_run("old", 0, 100), _run("new", 105, 110)], 110, {}),  # not silent yet
    # a clean stop is replaced at once by the next start
    ([_run("old", 0, 100, stopped=True), _run("new", 101, 102)], 102, {"old": "new"}),
    # a sibling on the same host that dies after the other started is not its predecessor
    ([_run("a", 0, 300), _run("b", 50, 200)], 300, {}),
    # two died before one restart: the restart replaces one; the other stays flagged
    ([_run("a", 0, 90), _run("b", 0, 100), _run("c", 110, 300)], 300, {"a": "c"}),
    # each restart replaces its own predecessor
    ([_run("a", 0, 100), _run("b", 105, 200), _run("c", 205, 400)], 400,
     {"a": "b", "b": "c"}),
    # another host, group or role is another collector
    ([_run("a", 0, 100), _run("b", 105, 300, host="h2")], 300, {}),
    ([_run("a", 0, 100), _run("b", 105, 300, group="g2")], 300, {}),
    ([_run("a", 0, 100), _run("b", 105, 300, roles=("reader", "tracker"))], 300, {}),
])
def test_successors(runs: list[CollectorBeat], now_s: float, replaced: dict[str, str]) -> None:
    assert successors(runs, T0 + timedelta(seconds=now_s)) == replaced


def test_a_clean_stop_leaves_its_group_and_keeps_what_it_read() -> None:
    member = Membership("h:1:x", "g", T0, EVERY, host="h")
    reader = member.role("reader")
    member.role("tracker")
    reader.beat({("orders", 0): 3}, 10, T0 + timedelta(seconds=10))
    running = reader.beat({("orders", 0): 0}, 30, T0 + timedelta(seconds=20))
    stopped = member.stop(T0 + timedelta(seconds=25))
    assert (running.records, running.records_per_second, running.stopped_at) == (30, 2.0, None)
    assert stopped.stopped_at == stopped.heartbeat_at == T0 + timedelta(seconds=25)
    assert stopped.partitions == {"reader": (), "tracker": ()}
    assert (stopped.records, stopped.lag, stopped.host) == (30, None, "h")
