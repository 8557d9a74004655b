"""The tracker's half of scale-out: the internal topic's records in, flows, assignments and
alerts out, written with the internal topic's positions in one store transaction.

A tracker owns the flows of the internal partitions it is assigned: on each assignment it
restores the open flows (and the recent unclaimed events) of exactly those partitions from the
store, before it reads on. Kafka's rebalance revokes every partition before it assigns again,
and the collector waits for its writes in flight when partitions are revoked, so the previous
owner has committed what it tracked; one that died is replaced by what it committed, and what
it read after that is read again (the tracker ignores an event it already has). From the revoke
until the next assignment is restored a tracker holds no flow, so a join that spans several
polls cannot have it judge flows that may already be another's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from collector.flows.definition import FlowDefinition
from collector.flows.query import detection_clock, restore_tracker
from collector.model import Observation
from collector.pipeline import Pipeline
from collector.scaleout.record import decode_forwarded
from collector.store.base import Batch, Position, Store

__all__ = ["TrackingPipeline"]

logger = logging.getLogger(__name__)


class TrackingPipeline(Pipeline):
    """A `Pipeline` over forwarded events: it tracks them and stores what the tracker decided
    (the reader stored the events). ``partition_of(correlation_id)`` names a flow's internal
    partition."""

    def __init__(self, store: Store, definitions: Sequence[FlowDefinition], topic: str,
                 partition_of: Callable[[str], int],
                 clock: Callable[[], datetime | None] = lambda: None) -> None:
        super().__init__(store, decode_forwarded)
        self._clock_now = clock
        self._definitions = tuple(definitions)
        self._topic = topic
        self._partition_of = partition_of
        self.owned: frozenset[int] = frozenset()
        self._restore_due = False
        self._assigned = False

    def on_revoke(self) -> None:
        """Give up every flow (Kafka's eager rebalance revokes the whole assignment; the
        collector has waited for its writes in flight, so the store holds what was tracked).
        Until the next assignment is restored nothing is tracked or judged here: a join can
        take several polls, and meanwhile the partitions may already be another's."""
        self.owned = frozenset()
        self.tracker = None
        self._restore_due = False
        self._assigned = False

    def on_assign(self, partitions: list[tuple[str, int]]) -> None:
        """Own the flows of ``partitions`` (the whole new assignment), restored from the store
        before the next batch or tick is tracked. Not here: Kafka's rebalance callback holds
        the consumer's lock, so a restore longer than the session timeout would stop the
        heartbeats and have the group give the partitions to another member meanwhile."""
        self.owned = frozenset(p for t, p in partitions if t == self._topic)
        self._restore_due = True
        self._assigned = True

    def settled(self) -> bool:
        """Whether an assignment is in force and restored (restoring it now if due): the
        group clock gives no time otherwise."""
        self.restore()
        return self._assigned

    def restore(self) -> None:
        """The flows of the owned partitions from the store, if an assignment changed them.
        Per-minute rollups are kept per internal partition (rows of part = the partition), so
        the trackers' rows add up; the minutes a partition's previous owner had not written
        yet are counted again from the restored flows."""
        if not self._restore_due:
            return
        self._restore_due = False
        owned = self.owned
        of = self._partition_of
        began = time.monotonic()
        own, stored = self._clock_now(), detection_clock(self.store)
        at = own if stored is None or (own is not None and own < stored) else stored
        self.tracker = restore_tracker(self.store, self._definitions,
                                       owns=lambda corr: of(corr) in owned, clock=at,
                                       part_of=of, parts=owned)
        logger.info("tracking internal partitions %s: %d open flows restored in %.1f s",
                    sorted(owned) or "none", self.tracker.open_flows,
                    time.monotonic() - began)

    def prepare(self, observations: Sequence[Observation],
                positions: Sequence[Position] = ()) -> Batch:
        """Track the records of the partitions owned now: a batch gathered over several polls
        may hold records of partitions a rebalance took away in between (their new owner
        reads them; their positions are its to store)."""
        self.restore()
        owned, topic = self.owned, self._topic
        if any(p.topic != topic or p.partition not in owned for p in positions):
            observations = [o for o in observations if o.location.topic == topic
                            and o.location.partition in owned]
            positions = [p for p in positions if p.topic == topic and p.partition in owned]
        batch = super().prepare(observations, positions)
        batch.events = []  # stored by the reader: only their flow assignments are written
        return batch

    def prepare_tick(self, now: datetime) -> Batch | None:
        self.restore()
        return super().prepare_tick(now)

    def prepare_finish(self) -> Batch | None:
        """Nothing on a clean stop: the minutes still open here are not written partial (a
        partition's next owner, or this collector restarted, counts them whole)."""
        return None
