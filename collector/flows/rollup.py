"""Per-minute rollups of flow and step durations and of the share of flows within their SLA.

Pure: the tracker hands each judged flow (ended, or past its SLA while still open) to a
`RollupAggregator`, which keeps the minute's samples until the detection clock has passed the
minute by ``grace`` and then emits one `FlowRollup` row per (minute, flow type, step): the
count, how many were within their SLA (or step deadline), and p50/p95/p99 of the durations.
Step ``*`` is the whole flow. The store upserts rows by (minute, flow type, step, part).

A part is what one tracker owns whole: -1 (every flow) with one collector; with several
(scale-out) the internal partition of the flow's correlation id, so the trackers' rows never
overlap, a partition's new owner writes its rows again from what it restored, and readers
sum a minute's parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.flows.discovery import percentiles

__all__ = ["WHOLE_FLOW", "FlowRollup", "RollupAggregator", "Sample"]

WHOLE_FLOW = "*"
_MINUTE = timedelta(minutes=1)

Sample = tuple[str, float | None, bool]
"""(step, seconds or None when it never finished, within its SLA or deadline)."""


@dataclass(frozen=True, slots=True)
class FlowRollup:
    minute: datetime
    """The minute's start (UTC) in event time: flows are counted in the minute they ended or,
    still open, the minute their SLA passed."""
    flow_type: str
    step: str
    """``*`` for whole flows, ``From->To`` for a step."""
    count: int
    within_sla: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    part: int = -1
    """The internal partition whose flows it counts (scale-out), or -1: every flow."""

    @property
    def share_within_sla(self) -> float:
        return self.within_sla / self.count if self.count else 1.0


def minute_of(at: datetime) -> datetime:
    return at - timedelta(seconds=at.second, microseconds=at.microsecond)


class _Bucket:
    __slots__ = ("count", "durations", "within")

    def __init__(self) -> None:
        self.count = self.within = 0
        self.durations: list[float] = []


class RollupAggregator:
    """Streams samples into per-minute buckets; each flow is counted once by the caller (when
    it ends, or when its SLA passes while it is still open)."""

    def __init__(self, grace: timedelta = timedelta(minutes=1)) -> None:
        self._grace = grace
        self._minutes: dict[datetime, dict[tuple[str, int], dict[str, _Bucket]]] = {}
        self._closed_until: datetime | None = None
        self.too_late = 0
        """Samples for minutes whose rows were already emitted (not counted)."""

    def add(self, flow_type: str, at: datetime, samples: Iterable[Sample],
            part: int = -1) -> None:
        """Count one flow's samples in the minute of ``at`` (in ``part``'s rows)."""
        minute = at - timedelta(seconds=at.second, microseconds=at.microsecond)
        if self._closed_until is not None and minute < self._closed_until:
            self.too_late += 1
            return
        types = self._minutes.get(minute)
        if types is None:
            types = self._minutes[minute] = {}
        buckets = types.get((flow_type, part))
        if buckets is None:
            buckets = types[flow_type, part] = {}
        for step, seconds, within in samples:
            b = buckets.get(step)
            if b is None:
                b = buckets[step] = _Bucket()
            b.count += 1
            if within:
                b.within += 1
            if seconds is not None:
                b.durations.append(seconds)

    @property
    def closed_until(self) -> datetime | None:
        """Minutes before this one take no more samples (their rows are out); None: none."""
        return self._closed_until

    def horizon(self, now: datetime) -> datetime:
        """The first minute `close` at ``now`` leaves open."""
        return minute_of(now - self._grace - _MINUTE) + _MINUTE

    def close(self, now: datetime) -> list[FlowRollup]:
        """Rows of every minute that ended at least ``grace`` before ``now``."""
        horizon = self.horizon(now)
        if self._closed_until is None or horizon > self._closed_until:
            self._closed_until = horizon
        return self._emit([m for m in self._minutes if m < horizon])

    def close_before(self, at: datetime) -> None:
        """Take no more samples for minutes before the minute of ``at`` (after a restart)."""
        horizon = minute_of(at)
        if self._closed_until is None or horizon > self._closed_until:
            self._closed_until = horizon

    def close_all(self) -> list[FlowRollup]:
        """Rows of every minute held (on a clean stop): no later sample reopens them."""
        if self._minutes:
            self.close_before(max(self._minutes) + _MINUTE)
        return self._emit(list(self._minutes))

    def _emit(self, minutes: Iterable[datetime]) -> list[FlowRollup]:
        rows: list[FlowRollup] = []
        for minute in sorted(minutes):
            types = self._minutes.pop(minute)
            for flow_type, part in sorted(types):
                for step, b in sorted(types[flow_type, part].items()):
                    p50, p95, p99 = (percentiles(sorted(b.durations)) if b.durations
                                     else (None, None, None))
                    rows.append(FlowRollup(minute, flow_type, step, b.count, b.within, p50,
                                           p95, p99, part))
        return rows
