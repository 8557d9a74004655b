"""Traces joined to events: messaging spans, the producer/consumer join, the flow timeline.

`messaging`, `join` and `timeline` are pure; `query` reads spans from the store.
"""

from __future__ import annotations

from collector.traces.join import Consumption, Handoff, Join, Via, join_spans
from collector.traces.messaging import Messaging, Role, messaging_of
from collector.traces.timeline import EntryKind, Timeline, TimelineEntry, build_timeline

__all__ = [
    "Consumption",
    "EntryKind",
    "Handoff",
    "Join",
    "Messaging",
    "Role",
    "Timeline",
    "TimelineEntry",
    "Via",
    "build_timeline",
    "join_spans",
    "messaging_of",
]
