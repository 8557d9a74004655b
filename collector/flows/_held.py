"""Events waiting for their flow's start event: bounded, oldest correlation ids dropped first."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from collector.flows._state import ID, SRC, Entry, T

__all__ = ["HeldEvents"]


class HeldEvents:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.dropped = 0
        """Events dropped because the buffer was full (they stay stored, without a flow)."""
        self._by_corr: dict[str, list[Entry]] = {}
        self._order: deque[str] = deque()

    def hold(self, corr: str, entry: Entry) -> None:
        waiting = self._by_corr.get(corr)
        if waiting is None:
            waiting = self._by_corr[corr] = []
            self._order.append(corr)
        elif any(x[ID] == entry[ID] and x[SRC] == entry[SRC] for x in waiting):
            return  # redelivered
        waiting.append(entry)
        self.count += 1
        while self.count > self.limit and self._order:
            gone = self._by_corr.pop(self._order.popleft(), [])
            self.count -= len(gone)
            self.dropped += len(gone)

    def waiting(self, corr: str) -> bool:
        return corr in self._by_corr

    def take(self, corr: str, since: datetime, until: datetime | None) -> list[Entry]:
        """The waiting events of ``corr`` with ``since <= time < until``, removed."""
        waiting = self._by_corr.get(corr)
        if not waiting:
            return []
        inside = [x for x in waiting if x[T] >= since and (until is None or x[T] < until)]
        if inside:
            rest = [x for x in waiting if x not in inside]
            self.count -= len(inside)
            if rest:
                self._by_corr[corr] = rest
            else:
                del self._by_corr[corr]  # its place in the order queue is skipped when reached
        return inside
