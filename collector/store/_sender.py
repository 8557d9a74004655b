"""The SQLite store's alert-sender lock: an exclusive `flock` on a file beside the store.

Of several processes on one store, one sends the alert outbox (`Store.hold_alert_sender`). On
PostgreSQL that is a session advisory lock; SQLite has none, and its own file locks are POSIX
record locks, which the processes' SQLite connections use and which do not exclude two
connections of one process. A `flock` on ``STORE-alerts.lock`` excludes every other open of
the file, in this process or another, and the kernel frees it when the holder closes it or dies
(``kill -9`` included), so the next sender takes over at once.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from collector.exceptions import StoreError

__all__ = ["SenderLock"]


class SenderLock:
    """``STORE-alerts.lock``, held from the first `hold` that finds it free until `release`."""

    def __init__(self, store_path: Path) -> None:
        self.path = store_path.with_name(f"{store_path.name}-alerts.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def hold(self) -> bool:
        """Take the lock if it is free; whether this holds it now."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open the alert sender lock {self.path}: "
                             f"{exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock {self.path}: {exc.strerror}") from exc
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor frees the flock
            self._fd = None
