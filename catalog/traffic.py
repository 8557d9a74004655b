"""What the catalog is told about live traffic: values, aggregated before they get here.

The collector reads its store (per-minute rollups, summed over a window) and hands the catalog
one `EdgeTraffic` per (kind, service, event type, topic). Consumers are known only from evidence
of consumption: consumer spans joined to the events they consumed, or Kafka consumer groups
(`GroupAssignment`). Producer-to-consumer latency arrives as a histogram over
`LATENCY_BUCKETS_MS`, so that percentiles of any window can be computed from per-minute rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "LATENCY_BUCKETS_MS",
    "EdgeKind",
    "EdgeTraffic",
    "GroupAssignment",
    "Window",
    "percentile_ms",
]

LATENCY_BUCKETS_MS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
    300_000, float("inf"),
)
"""Upper bounds (inclusive) of the latency histogram's buckets, in milliseconds."""


class EdgeKind(StrEnum):
    PRODUCE = "produce"
    """service → event type: the service emitted events of that type."""
    CONSUME = "consume"
    """event type → service: the service consumed events of that type."""
    CARRIED_ON = "carried_on"
    """event type → topic: events of that type travelled on that topic."""


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window ``[start, end)``; both ends timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a window's ends must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("a window must end after it starts")

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class EdgeTraffic:
    """Observed traffic on one edge over a window.

    ``kind`` is `EdgeKind.PRODUCE` (``service`` emitted ``event_type``) or `EdgeKind.CONSUME`
    (``service`` consumed it). ``violations`` counts events with at least one schema violation,
    ``errors`` spans with an error status (the producer's send, or the consumer's processing).
    ``latency`` is the histogram of producer-to-consumer latency (consume edges only).
    """

    kind: EdgeKind
    service: str
    event_type: str
    topic: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    violations: int = 0
    errors: int = 0
    latency: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupAssignment:
    """A Kafka consumer group seen reading a topic (the group id names the consuming service)."""

    group: str
    topic: str
    last_seen: datetime | None = None


def percentile_ms(histogram: Sequence[int], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q`` quantile (0 < q ≤ 1); None when empty.

    The last bucket is open-ended, so a quantile that falls in it is reported as the bound of
    the bucket below it: "more than" that value.
    """
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    running = 0
    for i, n in enumerate(histogram):
        running += n
        if running >= rank:
            bound = LATENCY_BUCKETS_MS[min(i, len(LATENCY_BUCKETS_MS) - 1)]
            return bound if bound != float("inf") else LATENCY_BUCKETS_MS[-2]
    return LATENCY_BUCKETS_MS[-2]
