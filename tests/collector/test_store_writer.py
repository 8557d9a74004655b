"""`StoreWriter`: store jobs on a thread of their own, in order, follow-ups on the caller's
thread once their job finished; a failed job stops every later one (no positions stored past
records that were not)."""

from __future__ import annotations

import threading

import pytest

from collector.exceptions import StoreError
from collector.store.writer import StoreWriter


def test_jobs_run_in_order_on_one_other_thread_and_follow_ups_on_the_callers() -> None:
    writer = StoreWriter(depth=2)
    ran: list[tuple[str, int]] = []
    threads: set[str] = set()
    follow_up_threads: set[str] = set()

    def job(i: int) -> None:
        threads.add(threading.current_thread().name)
        ran.append(("job", i))

    def then(i: int) -> None:
        follow_up_threads.add(threading.current_thread().name)
        ran.append(("then", i))

    for i in range(50):
        writer.submit(lambda i=i: job(i), then=lambda i=i: then(i))
        assert len(writer) <= 3  # ``depth`` unfinished, and finished ones not settled yet
    writer.close()
    assert [i for kind, i in ran if kind == "job"] == list(range(50))
    assert [i for kind, i in ran if kind == "then"] == list(range(50))
    for i in range(50):  # a follow-up never runs before its job
        assert ran.index(("job", i)) < ran.index(("then", i))
    assert len(threads) == 1
    assert threads != {threading.current_thread().name}
    assert follow_up_threads == {threading.current_thread().name}


def test_submit_waits_while_more_than_depth_jobs_are_unfinished() -> None:
    writer = StoreWriter(depth=1)
    gate = threading.Event()
    writer.submit(gate.wait)  # in flight: 1, allowed
    assert len(writer) == 1
    releaser = threading.Timer(0.2, gate.set)
    releaser.start()
    writer.submit(lambda: None)  # 2 in flight: waits until the first finished
    assert gate.is_set()
    assert len(writer) <= 1
    writer.close()
    assert len(writer) == 0


def test_a_failed_job_raises_from_settle_and_no_later_job_runs() -> None:
    writer = StoreWriter(depth=5)
    gate = threading.Event()
    ran: list[int] = []
    followed: list[int] = []

    def fail() -> None:
        gate.wait()
        raise StoreError("disk full")

    writer.submit(lambda: ran.append(1), then=lambda: followed.append(1))
    writer.submit(fail, then=lambda: followed.append(2))
    writer.submit(lambda: ran.append(3), then=lambda: followed.append(3))
    gate.set()
    with pytest.raises(StoreError, match="disk full"):
        writer.settle()
    assert ran == [1]  # the job after the failed one was skipped
    assert followed == [1]
    with pytest.raises(StoreError, match="disk full"):  # until closed, settle says it again
        writer.settle()
    with pytest.raises(StoreError, match="disk full"):
        writer.close()
    assert len(writer) == 0  # closed all the same; a later submit starts afresh
    writer.submit(lambda: ran.append(4))
    writer.close()
    assert ran == [1, 4]


def test_wait_lets_every_job_finish_without_running_follow_ups() -> None:
    writer = StoreWriter(depth=3)
    done = threading.Event()
    followed: list[str] = []
    writer.submit(lambda: threading.Event().wait(0.1))
    writer.submit(done.set, then=lambda: followed.append("after"))
    writer.wait()
    assert done.is_set()
    assert followed == []
    writer.settle()
    assert followed == ["after"]
    writer.close()


def test_depth_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="depth"):
        StoreWriter(depth=-1)
