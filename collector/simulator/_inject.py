"""The faults, applied where the broker would: at each event of a flow whose plan has some.

`Injector` decides (with the flow's `FaultPlan`) whether a fault hits this event, applies it
(a later reaction, a corrupted payload, a late or second delivery, extra records), and notes it
twice: in the flow's truth (``faults``) and, for findings other than flows, in
``expectations``. It schedules through the engine's ``push`` and never draws from a flow's own
random source, so faults change nothing else about the flows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from random import Random
from typing import Any

from collector.simulator._envelope import (
    CONTENT_TYPE,
    corrupt,
    encode_event,
    extra_data,
    new_id,
    new_span,
    new_trace,
)
from collector.simulator._state import (
    DELIVER,
    PUBLISH,
    Delivery,
    FlowRun,
    Push,
    SimEvent,
    delay,
)
from collector.simulator.domain import (
    EVENT_TYPES,
    NO_CORRELATION_TYPE,
    ORPHAN_TYPES,
    UNKNOWN_TYPES,
)
from collector.simulator.faults import Fault, FaultPlan
from collector.simulator.record import SimRecord
from collector.simulator.services import Emission, NotificationService

__all__ = ["Injector"]


class Injector:
    def __init__(self, push: Push, at: Callable[[int], datetime], counts: Counter[str]) -> None:
        self._push = push
        self._at = at
        self._counts = counts
        self._notifier = NotificationService.notice
        self.expectations: list[dict[str, Any]] = []

    def note(self, flow: FlowRun, fault: Fault, ev: SimEvent | None,
               **more: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": fault.value,
            "event": None if ev is None else [ev.source, ev.id],
            "event_type": None if ev is None else ev.type, **more}
        flow.faults.append(entry)
        self._counts[fault.value] += 1
        return entry

    def at_event(self, flow: FlowRun, plan: FaultPlan, ev: SimEvent, successor: SimEvent | None,
                      last: bool) -> tuple[Any, int]:
        """Slow, bad-schema and reorder at one step event: (data to publish, delivery time)."""
        compiled = flow.compiled
        prng = plan.rng
        assert prng is not None
        final = successor is not None and successor.type in compiled.terminal
        if successor is not None and plan.lands(Fault.SLOW, final):
            successor.time = ev.time + compiled.deadlines[ev.type] + delay(prng, 500, 5000)
            self.note(flow, Fault.SLOW, successor, step=ev.type)
        data = ev.data
        field = EVENT_TYPES[ev.type].bad_field
        if field and plan.lands(Fault.BAD_SCHEMA, last):
            data = corrupt(ev.data, field)
            self.note(flow, Fault.BAD_SCHEMA, ev, pointer=f"/{field}")
            self.expectations.append({
                "kind": "violation", "event": [ev.source, ev.id], "event_type": ev.type,
                "version": ev.version, "pointer": f"/{field}"})
        at = ev.time
        if successor is not None and plan.lands(Fault.REORDER, final):
            at = successor.time + delay(prng, 1, 200)
            self.note(flow, Fault.REORDER, ev, delivered_after=[successor.source, successor.id])
        return data, at

    def late_deliveries(self, flow: FlowRun, plan: FaultPlan, ev: SimEvent,
                         parts: tuple[str, bytes, bytes, tuple[tuple[str, bytes], ...]],
                         at: int, last: bool) -> None:
        """A reordered event's one delivery, and a duplicate's second one."""
        if at != ev.time:
            self._push(at, DELIVER, (SimRecord(*parts, self._at(at)), flow, ev, ()), flow)
        if ev.type in flow.compiled.steps and plan.lands(Fault.DUPLICATE, last):
            assert plan.rng is not None
            again = at + delay(plan.rng, 1, 3000)
            self.note(flow, Fault.DUPLICATE, ev)
            self._push(again, DELIVER, (SimRecord(*parts, self._at(again)), flow, None, ()),
                       flow)

    def extras(self, flow: FlowRun, plan: FaultPlan, start: SimEvent, value: bytes) -> None:
        """The extra records of the flow's extra-record faults, shortly after its start."""
        prng = plan.rng
        assert prng is not None
        for fault in plan.extras:
            t = start.time + delay(prng, 5, 500)
            if fault in (Fault.UNKNOWN_TYPE, Fault.ORPHAN):
                names = UNKNOWN_TYPES if fault is Fault.UNKNOWN_TYPE else ORPHAN_TYPES
                name = names[flow.flow_type]
                info = EVENT_TYPES[name]
                extra = SimEvent(flow, info.producer,
                               Emission(0, name, extra_data(name, start.data, prng)),
                               t, None, prng)  # emitted beside the flow, not in reaction
                self._push(t, PUBLISH, extra, flow)
                self.note(flow, fault, extra)
                self.expectations.append({
                    "kind": "orphan" if fault is Fault.ORPHAN else "undocumented",
                    "event": [extra.source, extra.id], "event_type": name,
                    "producer": info.producer, "topic": info.topic})
            elif fault is Fault.NO_CORRELATION:
                self._push(t, DELIVER, self._uncorrelated(flow, prng, start, t), flow)
            else:
                self._push(t, DELIVER, self._undecodable(flow, prng, start, value, t), flow)

    def _uncorrelated(self, flow: FlowRun, prng: Random, start: SimEvent, t: int) -> Delivery:
        info = EVENT_TYPES[NO_CORRELATION_TYPE]
        data = self._notifier(start.type, start.data, prng)
        event_id = new_id(prng)
        value = encode_event(
            event_id=event_id, event_type=info.name, source=info.producer,
            time=(self._at(t)).isoformat(timespec="microseconds")[:-6] + "Z",
            subject=data[info.subject_key], version=1, correlation=None, causation=None,
            data=data)
        headers = (("traceparent", f"00-{new_trace(prng)}-{new_span(prng)}-01".encode()),
                   ("content-type", CONTENT_TYPE))
        entry = self.note(flow, Fault.NO_CORRELATION, None, topic=info.topic)
        entry["event"], entry["event_type"] = [info.producer, event_id], info.name
        expect = {"kind": "dead-letter", "reason": "no-correlation", "topic": info.topic}
        self.expectations.append(expect)
        record = SimRecord(info.topic, data["customer_id"].encode(), value, headers, self._at(t))
        return (record, None, None, (entry, expect))

    def _undecodable(self, flow: FlowRun, prng: Random, start: SimEvent, value: bytes,
                     t: int) -> Delivery:
        topic = EVENT_TYPES[start.type].topic
        if prng.random() < 0.5:
            raw, reason = b"\xff\xfe" + prng.randbytes(30), "not-utf8"
        else:
            raw, reason = value[: len(value) // 2], "not-json"  # a torn write
        entry = self.note(flow, Fault.UNDECODABLE, None, topic=topic, reason=reason)
        expect = {"kind": "dead-letter", "reason": reason, "topic": topic}
        self.expectations.append(expect)
        return (SimRecord(topic, flow.key, raw, (), self._at(t)), None, None, (entry, expect))
