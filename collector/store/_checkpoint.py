"""Background WAL checkpoints for the SQLite store's writer.

In WAL mode a commit only appends pages to the ``-wal`` file; copying them back into the
database file (a checkpoint, with two fsyncs under ``synchronous=NORMAL``) is what SQLite's
automatic checkpoint otherwise does inside the commit that crosses the threshold, stalling the
collector's write path. Here a thread with its own connection runs a PASSIVE checkpoint (it
never blocks the writer or readers) whenever the writer says enough was written since the last
one. SQLite releases the GIL while it works, so the copy and the fsyncs overlap the collector's
decoding of the next batch. The writer keeps a large automatic checkpoint as a backstop in case
this thread falls behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["Checkpointer"]

logger = logging.getLogger(__name__)


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own thread once ``rows`` rows were
    written, or ``every`` seconds after the first row written since the last one."""

    def __init__(self, path: Path, *, rows: int = 2000, every: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._rows, self._every, self._monotonic = rows, every, monotonic
        self._pending = 0
        self._since = monotonic()
        self._wake = threading.Event()
        self._stopping = False
        self._failed = False
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self, rows: int) -> None:
        """The writer committed ``rows`` rows: wake the thread when enough has accumulated."""
        if not self._pending:
            self._since = self._monotonic()
        self._pending += rows
        if self._pending >= self._rows or self._monotonic() - self._since >= self._every:
            self._pending = 0
            self._wake.set()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if self._failed:
                    logger.info("background WAL checkpoints work again")
                    self._failed = False
            except sqlite3.Error as exc:  # the writer's automatic checkpoint still runs
                if not self._failed:
                    logger.warning("background WAL checkpoint failed: %s", exc)
                    self._failed = True
