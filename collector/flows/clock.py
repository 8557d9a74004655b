"""Detection clocks for replays: the event-time watermark.

Live, the runner's detection clock is wall time. Replaying a topic from its beginning or an
imported log, wall time means nothing: the clock is the latest event time seen less an allowed
lateness (events may arrive that much out of order without being taken for missing), and it
never goes back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from collector.model import Event

__all__ = ["Watermark"]


class Watermark:
    def __init__(self, lateness: timedelta) -> None:
        if lateness < timedelta(0):
            raise ValueError("allowed lateness must not be negative")
        self.lateness = lateness
        self._latest: datetime | None = None

    def observe(self, events: Iterable[Event]) -> datetime | None:
        """Take the batch's event times into account; returns the watermark."""
        latest = self._latest
        for e in events:
            if latest is None or e.occurred_at > latest:
                latest = e.occurred_at
        self._latest = latest
        return self.now()

    def now(self) -> datetime | None:
        """The latest event time less the lateness; None before any event."""
        return None if self._latest is None else self._latest - self.lateness
