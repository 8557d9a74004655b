"""The trackers' detection clock: the wall clock only once the whole group has caught up.

A tracker reads the internal topic, which the readers fill; being caught up on it says nothing
of the user's topics behind the readers. So, beside the internal partitions' own watermark
(`DetectionClock`), the clock is held at the oldest latest event time the readers forwarded
from a partition that still has unread records (table ``forwarded``): a flow whose next event
waits unread behind a slow or dead reader is not declared stuck meanwhile. Pure: the marks, the
internal topic's end offsets and whether the tracker's assignment is settled come from
injected callables.

The order matters. A reader writes its mark after the internal topic acknowledged what it
forwarded, so the marks are read first and the internal topic's end offsets asked for after:
ends measured before the marks could miss a record forwarded in between, which its mark (read
later) already counts as forwarded (the cached end offsets of the last fetch are such a
measure, so they are not enough).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from collector.kafka.runner import DetectionClock
from collector.scaleout.forwarded import ForwardedMark

__all__ = ["GroupClock", "readers_mark"]


def readers_mark(marks: Iterable[ForwardedMark], now: datetime,
                 stale_after: timedelta) -> tuple[bool, datetime | None]:
    """(known, mark): the oldest latest event time of the lagging partitions; (True, None) when
    none lags; (False, None) when one lags without an event forwarded from it yet, or when
    there are no marks at all (no reader has written yet: nothing is known of the user's
    topics). A row its reader has not rewritten within ``stale_after`` lags: that reader is
    gone, and what was published since is unread until another takes its partitions."""
    marks = list(marks)
    if not marks:
        return False, None
    old = now - stale_after
    lagging = [m for m in marks
               if m.lag != 0 or m.updated_at is None or m.updated_at < old]
    if not lagging:
        return True, None
    if any(m.latest_at is None for m in lagging):
        return False, None
    return True, min(m.latest_at for m in lagging if m.latest_at is not None)


def _always() -> bool:
    return True


class GroupClock(DetectionClock):
    """The wall clock once the internal partitions are read to their end, held back by the
    readers' marks; no time while they lag, while nothing is known of them, or while the
    tracker's assignment is not settled.

    ``read_to_end()``: whether the tracker has read every assigned internal partition to the
    end offset the broker gives now (asked after the marks are read); False, or None when the
    broker cannot tell. ``settled()``: whether the tracker holds a restored assignment (not
    between a rebalance's revoke and the restore after its assign)."""

    def __init__(self, wall: Callable[[], datetime],
                 marks: Callable[[], Iterable[ForwardedMark]], stale_after: timedelta, *,
                 read_to_end: Callable[[], bool | None] = _always,
                 settled: Callable[[], bool] = _always) -> None:
        super().__init__(wall)
        self._wall_now = wall
        self._marks = marks
        self._stale = stale_after
        self._read_to_end = read_to_end
        self._settled = settled
        self._given: datetime | None = None

    @property
    def given(self) -> datetime | None:
        """The last time it answered (None before the first)."""
        return self._given

    def now(self, lag: Mapping[tuple[str, int], int | None],
            caught_up: bool) -> datetime | None:
        if not self._settled() or not caught_up:
            # the internal partitions interleave what several readers forwarded, so the latest
            # time read from one says nothing of what waits in it: judge once read to the end
            return None
        known, mark = readers_mark(self._marks(), self._wall_now(), self._stale)
        if not known or not self._read_to_end():  # the ends, after the marks
            return None
        own = super().now(lag, caught_up)
        if own is None:
            return None
        at = own if mark is None else min(own, mark)
        if self._given is not None and at < self._given:
            at = self._given
        self._given = at
        return at
