"""Store jobs on a thread of their own, in order, with their follow-ups on the caller's thread.

The collect loop prepares batch N+1 (decode, validate, track: Python holding the GIL) while
batch N is written (SQLite's B-tree work, which runs without the GIL), so on two cores the
write costs the loop little more than binding its parameters. What must wait for a commit
(the Kafka offset commit, the alert pump's notice, the health sample) is the job's follow-up,
run by the caller's thread in `settle`, in submission order, once the job has finished.

A job that fails stops every later one from running: a batch written after a failed one would
store positions past records that were never stored. The failure is raised from `settle`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from collector.exceptions import StoreError

__all__ = ["StoreWriter"]


class StoreWriter:
    """Runs store jobs one at a time in submission order, at most ``depth`` of them unfinished
    once `submit` returns. Not thread-safe: one caller thread submits and settles."""

    def __init__(self, *, depth: int = 1) -> None:
        if depth < 0:
            raise ValueError(f"depth must be 0 or more, not {depth}")
        self._depth = depth
        self._executor: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future[object], Callable[[], object] | None]] = deque()
        self._failed: BaseException | None = None

    def __len__(self) -> int:
        """Jobs submitted whose follow-up has not run yet."""
        return len(self._pending)

    def submit(self, job: Callable[[], object],
               then: Callable[[], object] | None = None) -> None:
        """Queue ``job``; ``then`` runs on this thread after it, from a later `settle`. Settles
        what finished, waiting for the oldest jobs while more than ``depth`` are in flight."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._pending.append((self._executor.submit(self._run, job), then))
        self.settle(keep=self._depth)

    def _run(self, job: Callable[[], object]) -> object:
        if self._failed is not None:
            raise StoreError(f"store job skipped: an earlier one failed ({self._failed})")
        try:
            return job()
        except BaseException as exc:
            self._failed = exc
            raise

    def settle(self, keep: int = 0) -> None:
        """Run the follow-ups of finished jobs in order, first waiting until at most ``keep``
        jobs are unfinished. Raises the exception of a failed job."""
        pending = self._pending
        while pending:
            future, then = pending[0]
            if len(pending) <= keep and not future.done():
                return
            future.result()
            pending.popleft()
            if then is not None:
                then()

    def wait(self) -> None:
        """Wait until every job submitted has finished, running no follow-up (e.g. from inside
        a Kafka rebalance callback, where the store must be current but the consumer busy)."""
        for future, _ in list(self._pending):
            future.exception()

    def close(self) -> None:
        """Settle everything and stop the thread (a later `submit` starts a new one)."""
        try:
            self.settle()
        finally:
            executor, self._executor = self._executor, None
            if executor is not None:
                executor.shutdown(wait=True)
            self._pending.clear()
            self._failed = None
