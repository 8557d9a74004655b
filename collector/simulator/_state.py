"""What the scheduler keeps about flows and events while a simulation runs.

Plain slotted classes (this is the hot path): a compiled definition, a running flow, an event
on its way, and the delivery tuple the scheduler yields from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from random import Random
from typing import Any

from collector.flows.definition import FlowDefinition
from collector.simulator._envelope import new_id, new_span, new_trace
from collector.simulator.faults import FaultPlan
from collector.simulator.record import SimRecord
from collector.simulator.services import Emission

__all__ = ["DELIVER", "PUBLISH", "START", "Compiled", "Delivery", "FlowRun", "Push",
           "SimEvent", "delay"]

START, PUBLISH, DELIVER = 0, 1, 2
"""Kinds of scheduled work: a flow's start, an event's publication, a late delivery."""
_US = timedelta(microseconds=1)


class Compiled:
    """A definition with the lookups the hot path needs."""

    __slots__ = ("deadlines", "definition", "steps", "terminal")

    def __init__(self, d: FlowDefinition) -> None:
        self.definition = d
        self.steps = d.event_types
        self.terminal = d.terminal
        self.deadlines = {t.source: int(t.deadline / _US) for t in d.transitions}


class FlowRun:
    """One flow instance: its ids, random sources, what was delivered and what hit it."""

    __slots__ = ("compiled", "correlation", "events", "faults", "flow_type", "key", "n",
                 "pending", "plan", "rng", "start", "steps", "terminal", "trace")

    def __init__(self, flow_type: str, compiled: Compiled, rng: Random,
                 plan: FaultPlan | None) -> None:
        self.flow_type, self.compiled, self.plan = flow_type, compiled, plan
        self.rng: Random | None = rng
        """Released (None) once nothing more is scheduled for the flow."""
        self.correlation = new_id(rng)
        self.key = self.correlation.encode()
        self.trace = new_trace(rng)
        self.n = 0
        self.pending = 0
        self.events: list[tuple[int, int, str, str]] = []
        """(time, n, source, id) of each event delivered, once."""
        self.steps: list[tuple[str, int]] = []
        """(type, time) of each step event delivered, in time order."""
        self.terminal: str | None = None
        self.faults: list[dict[str, Any]] = []
        self.start: tuple[str, str] = ("", "")


class SimEvent:
    """An event a service publishes (times in microseconds from the run's base time)."""

    __slots__ = ("causation", "cause_span", "data", "flow", "id", "n", "source", "span", "time",
                 "type", "version")

    def __init__(self, flow: FlowRun, source: str, em: Emission, time: int,
                 causation: str | None, rng: Random, cause_span: str | None = None) -> None:
        self.flow, self.source, self.time, self.causation = flow, source, time, causation
        self.cause_span = cause_span
        self.type, self.data, self.version = em.type, em.data, em.version
        self.id = new_id(rng)
        self.span = new_span(rng)
        flow.n += 1
        self.n = flow.n


Delivery = tuple[SimRecord, FlowRun | None, SimEvent | None, tuple[dict[str, Any], ...]]
"""A record to deliver; the flow and event it registers (none for a duplicate); dicts that get
the record's offset once it is known."""

Push = Callable[[int, int, Any, FlowRun], None]
"""Schedules work: (time, kind, item, flow)."""


def delay(rng: Random, low_ms: int, high_ms: int) -> int:
    """Microseconds, uniform in [low_ms, high_ms)."""
    return low_ms * 1000 + int(rng.random() * (high_ms - low_ms) * 1000)
