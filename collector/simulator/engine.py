"""The discrete-event simulation: flows start, services react, the broker delivers, faults strike.

One heap ordered by time (then by insertion) holds three kinds of work: a flow's start, the
publication of an event (its record is delivered and every subscribed service reacts, each
reaction scheduled after its own delay) and a late delivery (a duplicate, a reordered event).
Records come out in delivery order.

Randomness is split so that runs compare: a workload source draws start times, flow types and
one seed per flow; each flow draws its business decisions and ids from its own source; faults
draw from a third. So flows do not depend on each other, nor on which faults are on.

Two clocks: unpaced (default), event times run from `EPOCH` with the flows spread over a
simulated business day, as fast as the machine goes, identical for a seed; paced (`Pacing`),
flows start so that about ``rate`` events a second flow, and each record is released when the
injected wall clock reaches its time, so event time is wall time.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from collector.flows.definition import FlowDefinition
from collector.model import Span
from collector.simulator._envelope import CONTENT_TYPE, encode_event
from collector.simulator._inject import Injector
from collector.simulator._spans import delivery_spans
from collector.simulator._state import (
    PUBLISH,
    START,
    Compiled,
    Delivery,
    FlowRun,
    SimEvent,
)
from collector.simulator.domain import EVENT_TYPES
from collector.simulator.exceptions import SimulatorError
from collector.simulator.faults import Fault, draw_plan
from collector.simulator.record import SimRecord
from collector.simulator.services import (
    CustomerService,
    Emission,
    OrderService,
    Service,
    build_services,
)
from collector.simulator.truth import TruthRow, judge

__all__ = ["BUSINESS_DAY", "EPOCH", "Pacing", "SimStats", "Simulation"]

EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
"""Unpaced event times start here (a Monday, 08:00 UTC)."""
BUSINESS_DAY = timedelta(hours=10)
"""Unpaced flows start spread over this much simulated time."""
EVENTS_PER_FLOW = 6.5
"""About how many records a flow makes (steps and notifications): spaces paced starts."""
ORDER_SHARE = 0.7
"""The share of flows that are orders; the rest are onboardings."""

_US = timedelta(microseconds=1)
_NO_FLOW: Any = None


@dataclass(frozen=True, slots=True)
class Pacing:
    """Paced mode: ``rate`` events per second, released by the injected clock and sleep."""

    rate: float
    now: Callable[[], datetime]
    sleep: Callable[[float], None]


@dataclass(slots=True)
class SimStats:
    flows: int = 0
    events: int = 0
    """Distinct events delivered (extra events of faults included)."""
    records: int = 0
    """Records delivered: events, their duplicates and the undecodable ones."""
    faults: Counter[str] = field(default_factory=Counter)


class Simulation:
    """One run: iterate `records` once, then read `truth`, `expectations` and `settle_time`.

    With ``spans=True`` it also makes the spans the services would export (a producer span per
    delivered event, a consumer span per subscriber), collected with `take_spans`.
    """

    def __init__(self, definitions: Iterable[FlowDefinition], *, flows: int | None,
                 seed: int = 0, fault_rates: Mapping[Fault, float] | None = None,
                 pacing: Pacing | None = None, epoch: datetime = EPOCH,
                 spans: bool = False) -> None:
        if flows is None and pacing is None:
            raise SimulatorError("an unpaced simulation needs a number of flows")
        self._flows_wanted = flows
        self._rates = dict(fault_rates or {})
        self._pacing = pacing
        self._epoch = epoch
        self._workload = Random(seed)
        self._fault_rng = Random(f"choreoscope:{seed}:faults")
        self._services = build_services()
        self._subscribers: dict[str, tuple[Service, ...]] = {}
        for svc in self._services:
            for t in sorted(svc.consumes):
                self._subscribers[t] = (*self._subscribers.get(t, ()), svc)
        self._versions = self._compile(definitions)
        self._longest_wait = max(d.definition.longest_wait
                                 for vs in self._versions.values() for _, d in vs)
        order = next(s for s in self._services if isinstance(s, OrderService))
        customer = next(s for s in self._services if isinstance(s, CustomerService))
        self._starters: dict[str, Callable[[Random], Emission]] = {
            "order": order.place, "onboarding": customer.register}
        if flows is not None:
            self._spacing = BUSINESS_DAY / _US / max(flows, 1)
        else:
            self._spacing = 0.0
        if pacing is not None:
            self._spacing = EVENTS_PER_FLOW / pacing.rate * 1e6
        self._heap: list[tuple[int, int, int, Any, FlowRun]] = []
        self._pushed = 0
        self._seq = 0
        self._last_at = 0
        self._base = epoch
        self._all_flows: list[FlowRun] = []
        self._state = "new"
        self._spans: list[Span] | None = [] if spans else None
        self.stats = SimStats()
        self._inject = Injector(self._push, self._at, self.stats.faults)

    # -- set-up ----------------------------------------------------------------------------

    @staticmethod
    def _compile(definitions: Iterable[FlowDefinition]
                 ) -> dict[str, list[tuple[datetime | None, Compiled]]]:
        versions: dict[str, list[tuple[datetime | None, Compiled]]] = {}
        for d in sorted(definitions, key=lambda d: (d.flow_type, d.version)):
            unknown = sorted(d.event_types - EVENT_TYPES.keys())
            if unknown:
                raise SimulatorError(
                    f"flow {d.flow_type!r} v{d.version} names event types the simulator does "
                    f"not play: {', '.join(unknown)}")
            versions.setdefault(d.flow_type, []).append((d.effective_from, Compiled(d)))
        for needed, start in (("order", "OrderPlaced"), ("onboarding", "CustomerRegistered")):
            if needed not in versions:
                raise SimulatorError(f"no definition of the {needed!r} flow")
            if any(start not in c.definition.start for _, c in versions[needed]):
                raise SimulatorError(f"the {needed!r} flow must start with {start}")
        return versions

    def _compiled_at(self, flow_type: str, at: datetime) -> Compiled:
        """The definition version in force for a flow started at ``at``."""
        chosen = None
        for since, compiled in self._versions[flow_type]:
            if since is None or since <= at:
                chosen = compiled
        return chosen if chosen is not None else self._versions[flow_type][0][1]

    # -- the run ---------------------------------------------------------------------------

    def records(self) -> Iterator[SimRecord]:
        """The records in delivery order (a simulation runs once)."""
        if self._state != "new":
            raise SimulatorError("a simulation runs once: create a new Simulation")
        self._state = "running"
        pacing = self._pacing
        self._base = pacing.now() if pacing is not None else self._epoch
        heap = self._heap
        if self._flows_wanted != 0:
            self._schedule_start()
        stats = self.stats
        while heap:
            t, _, kind, item, owner = heapq.heappop(heap)
            if pacing is not None:
                self._wait(pacing, t)
            if kind == START:
                ev = self._start_flow(t)
                owner = ev.flow
                owner.pending += 1
                out = self._publish(ev)
            elif kind == PUBLISH:
                out = self._publish(item)
            else:
                out = [item]
            owner.pending -= 1
            if not owner.pending:  # nothing more will happen to this flow
                owner.rng = owner.plan = None
            for record, flow, event, fill in out:
                if event is not None and flow is not None:
                    flow.events.append((event.time, event.n, event.source, event.id))
                    stats.events += 1
                for d in fill:
                    d["offset"] = self._seq
                self._seq += 1
                self._last_at = t
                stats.records += 1
                yield record
        self._state = "done"

    def _wait(self, pacing: Pacing, t: int) -> None:
        due = self._base + timedelta(microseconds=t)
        now = pacing.now()
        if due > now:
            pacing.sleep((due - now).total_seconds())

    def _push(self, t: int, kind: int, item: Any, flow: FlowRun) -> None:
        self._pushed += 1
        flow.pending += 1
        heapq.heappush(self._heap, (t, self._pushed, kind, item, flow))

    def _schedule_start(self) -> None:
        i = self.stats.flows
        t = int(i * self._spacing + self._workload.random() * self._spacing)
        self._pushed += 1
        heapq.heappush(self._heap, (t, self._pushed, START, None, _NO_FLOW))

    def _start_flow(self, t: int) -> SimEvent:
        w = self._workload
        flow_type = "order" if w.random() < ORDER_SHARE else "onboarding"
        rng = Random(w.getrandbits(64))
        plan = draw_plan(self._fault_rng, self._rates) if self._rates else None
        compiled = self._compiled_at(flow_type, self._base + timedelta(microseconds=t))
        flow = FlowRun(flow_type, compiled, rng, plan)
        self._all_flows.append(flow)
        self.stats.flows += 1
        if self._flows_wanted is None or self.stats.flows < self._flows_wanted:
            self._schedule_start()
        em = self._starters[flow_type](rng)
        start = SimEvent(flow, EVENT_TYPES[em.type].producer, em, t, None, rng)
        flow.start = (start.source, start.id)
        return start

    def _publish(self, ev: SimEvent) -> list[Delivery]:
        """Deliver one event's record and let its subscribers react (unless it is lost)."""
        flow = ev.flow
        compiled, plan = flow.compiled, flow.plan
        step = ev.type in compiled.steps
        last = ev.type in compiled.terminal
        if plan is not None and step and ev.n != 1 and plan.lands(Fault.LOST, last):
            self._inject.note(flow, Fault.LOST, ev)
            return []  # never delivered: nobody reacts
        rng = flow.rng
        assert rng is not None  # released only once nothing is pending
        subscribers = self._subscribers.get(ev.type, ())
        children = [SimEvent(flow, svc.name, em, ev.time + em.delay_us, ev.id, rng, ev.span)
                    for svc in subscribers for em in svc.react(ev.type, ev.data, rng)]
        successor = None
        if step:
            for child in children:
                if child.type in compiled.steps:
                    successor = child
                    break
            flow.steps.append((ev.type, ev.time))
            if last:
                flow.terminal = ev.type
        data, at = ev.data, ev.time
        if plan is not None and step:
            data, at = self._inject.at_event(flow, plan, ev, successor, last)
        for child in children:
            self._push(child.time, PUBLISH, child, flow)
        when = self._base + timedelta(microseconds=ev.time)
        value = self._value(ev, data, when)
        info = EVENT_TYPES[ev.type]
        headers = (("traceparent", f"00-{flow.trace}-{ev.span}-01".encode()),
                   ("content-type", CONTENT_TYPE))
        parts = (info.topic, flow.key, value, headers)
        if self._spans is not None:
            self._spans.extend(delivery_spans(
                trace=flow.trace, span=ev.span, cause_span=ev.cause_span, source=ev.source,
                event_id=ev.id, topic=info.topic, when=when,
                consumers=tuple(svc.name for svc in subscribers)))
        if plan is not None and step:
            self._inject.late_deliveries(flow, plan, ev, parts, at, last)
        if plan is not None and ev.n == 1 and plan.extras:
            self._inject.extras(flow, plan, ev, value)
        if at != ev.time:
            return []
        return [(SimRecord(*parts, when), flow, ev, ())]

    def _value(self, ev: SimEvent, data: Any, when: datetime) -> bytes:
        flow = ev.flow
        return encode_event(
            event_id=ev.id, event_type=ev.type, source=ev.source,
            time=when.isoformat(timespec="microseconds")[:-6] + "Z",
            subject=ev.data[EVENT_TYPES[ev.type].subject_key], version=ev.version,
            correlation=flow.correlation, causation=ev.causation, data=data)

    def _at(self, t: int) -> datetime:
        return self._base + timedelta(microseconds=t)

    # -- results ---------------------------------------------------------------------------

    @property
    def paced(self) -> bool:
        return self._pacing is not None

    @property
    def flows_wanted(self) -> int | None:
        """How many flows the run plays (None: paced, until stopped)."""
        return self._flows_wanted

    @property
    def finished(self) -> bool:
        return self._state == "done"

    def _require_done(self) -> None:
        if not self.finished:
            raise SimulatorError("the simulation has not run to its end yet")

    @property
    def settle_time(self) -> datetime:
        """The last delivery plus the longest step deadline or SLA of any definition."""
        self._require_done()
        return self._at(self._last_at) + self._longest_wait

    def truth(self) -> list[TruthRow]:
        """One row per flow instance, in start order."""
        self._require_done()
        rows = []
        for flow in self._all_flows:
            outcome, breached = judge(flow.compiled.definition, flow.steps, flow.terminal)
            rows.append(TruthRow(
                correlation_id=flow.correlation, instance=flow.start,
                flow_type=flow.flow_type, outcome=outcome, sla_breached=breached,
                events=tuple((s, i) for _, _, s, i in sorted(flow.events)),
                faults=tuple(flow.faults)))
        return rows

    def take_spans(self) -> list[Span]:
        """The spans made since the last call (with ``spans=True``; else always empty)."""
        if not self._spans:
            return []
        taken, self._spans = self._spans, []
        return taken

    def expectations(self) -> list[dict[str, Any]]:
        """Findings other than flows the faults call for (violations, dead letters…)."""
        self._require_done()
        return list(self._inject.expectations)
