"""The ground truth: what the simulator did to each flow instance, and what the collector should
therefore find. Derived only from the simulator's own record of its events, never by running the
collector's logic.

``--truth`` has one JSON object per flow instance (in start order)::

    {"correlation_id": "…", "instance": ["order-service", "<start event id>"],
     "flow_type": "order", "outcome": "completed", "sla_breached": false,
     "events": [["order-service", "…"], ["payment-service", "…"], …],
     "faults": [{"name": "slow", "event": ["payment-service", "…"], "event_type":
                 "PaymentProcessed"}]}

- ``instance`` is the identity of the flow's start event (the collector's instances are
  identified by their start event).
- ``events`` are the identities of the events with the flow's correlation id that were
  delivered, each once however often it was delivered, in event-time order: the flow's steps and
  also what joins the instance by correlation id — ``CustomerNotified`` and the extra events of
  the ``unknown-type`` and ``orphan`` faults. A ``lost`` event is not listed.
- ``outcome``: the kind of the flow's delivered terminal event (``completed``, ``failed``,
  ``compensated``); ``stuck`` if none was delivered. Judged at settle time (`settle_time`).
- ``sla_breached``: stuck, or some step took longer than its deadline (or a compensation longer
  than its ``within``), or start to end took longer than the SLA.
- ``faults``: each fault that hit the flow, ``name`` and the ``event`` it hit (for ``slow`` the
  late event, with ``step``: the event it was late after; for the extra-record faults the extra
  event, or for ``undecodable`` null with the record's ``topic`` and ``offset``).

``--expectations`` lists, one JSON object per line, the findings other than flows the faults
call for: ``{"kind": "violation", "event", "event_type", "version", "pointer"}``,
``{"kind": "undocumented" | "orphan", "event", "event_type", "producer", "topic"}`` and
``{"kind": "dead-letter", "reason", "topic", "offset"}`` (``reason``: ``not-json``,
``not-utf8`` or ``no-correlation``; ``offset`` is the record's sequence number, its
`Location.offset` when fed to the in-process collector).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from collector.flows.definition import FlowDefinition

__all__ = ["TruthRow", "encode_rows", "judge"]

Identity = tuple[str, str]


@dataclass(frozen=True, slots=True)
class TruthRow:
    correlation_id: str
    instance: Identity
    flow_type: str
    outcome: str
    sla_breached: bool
    events: tuple[Identity, ...]
    faults: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "correlation_id": self.correlation_id,
            "instance": list(self.instance),
            "flow_type": self.flow_type,
            "outcome": self.outcome,
            "sla_breached": self.sla_breached,
            "events": [list(e) for e in self.events],
            "faults": list(self.faults),
        }


def encode_rows(rows: Sequence[TruthRow] | Sequence[dict[str, Any]]) -> bytes:
    """JSON lines, one object per row (a `TruthRow` as `TruthRow.to_json` has it)."""
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def _outcome(definition: FlowDefinition, terminal: str | None) -> str:
    if terminal is None:
        return "stuck"
    if terminal in definition.success:
        return "completed"
    if terminal in definition.failure:
        return "failed"
    return "compensated"


def _late(definition: FlowDefinition, steps: Sequence[tuple[str, int]]) -> bool:
    """Whether any step, compensation or the whole flow took longer than allowed."""
    micros = {t: int(d / timedelta(microseconds=1)) for t, d in
              ((t.source, t.deadline) for t in definition.transitions)}
    for (event_type, at), (_, then) in itertools.pairwise(steps):
        if event_type in micros and then - at > micros[event_type]:
            return True
    seen = dict(steps)
    for c in definition.compensations:
        if c.after in seen and c.on in seen and c.expect in seen and \
                seen[c.expect] - seen[c.on] > c.within / timedelta(microseconds=1):
            return True
    return steps[-1][1] - steps[0][1] > definition.sla / timedelta(microseconds=1)


def judge(definition: FlowDefinition, steps: Sequence[tuple[str, int]],
          terminal: str | None) -> tuple[str, bool]:
    """(outcome, sla_breached) of a flow from its delivered step events (type, time in µs) in
    time order and its delivered terminal event type, if any, at settle time."""
    outcome = _outcome(definition, terminal)
    return outcome, outcome == "stuck" or _late(definition, steps)
