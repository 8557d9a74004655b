"""Replay a recorded history through a tracker on the event-time watermark, then settle it.

Pure: batches of events in, the final state out (each instance's latest snapshot, where every
event went, every alert). What ``flows settle`` and the accuracy checks need without a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collector.flows.clock import Watermark
from collector.flows.rollup import FlowRollup
from collector.flows.tracker import FlowTracker, FlowUpdate
from collector.model import Alert, Event, EventIdentity, FlowSnapshot

__all__ = ["ReplayResult", "replay"]


@dataclass(slots=True)
class ReplayResult:
    flows: dict[str, FlowSnapshot] = field(default_factory=dict)
    assignments: dict[EventIdentity, str] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    rollups: list[FlowRollup] = field(default_factory=list)
    events: int = 0

    def take(self, update: FlowUpdate) -> None:
        self.flows.update((f.instance_id, f) for f in update.flows)
        self.assignments.update(update.assignments)
        self.alerts.extend(update.alerts)
        self.rollups.extend(update.rollups)


def replay(tracker: FlowTracker, batches: Iterable[Sequence[Event]], *,
           lateness: timedelta, settle_at: datetime | None = None) -> ReplayResult:
    """Feed each batch, tick the watermark after it, and finally tick ``settle_at``."""
    result = ReplayResult()
    clock = Watermark(lateness)
    for batch in batches:
        result.events += len(batch)
        result.take(tracker.on_events(batch))
        now = clock.observe(batch)
        if now is not None:
            result.take(tracker.on_tick(now))
    if settle_at is not None:
        result.take(tracker.on_tick(settle_at))
    result.take(tracker.flush_rollups())
    return result
