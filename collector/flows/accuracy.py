"""How the flow engine's verdicts compare with a ground truth (the simulator's ``--truth``).

Pure: truth rows (``correlation_id``, ``instance`` = the start event's identity, ``outcome``,
``sla_breached``, ``events``) against the flow snapshots and event assignments the tracker
produced. Stuck and SLA breach are scored as detections (precision and recall); the outcome of
every flow must match, and every event must have joined the instance the truth puts it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collector.flows.tracker import instance_id
from collector.model import EventIdentity, FlowSnapshot, FlowStatus

__all__ = ["Accuracy", "Detection", "score"]


@dataclass(slots=True)
class Detection:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    def add(self, expected: bool, found: bool) -> None:
        if expected and found:
            self.true_positive += 1
        elif found:
            self.false_positive += 1
        elif expected:
            self.false_negative += 1

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positive + self.false_negative
        return self.true_positive / expected if expected else 1.0


@dataclass(slots=True)
class Accuracy:
    flows: int = 0
    stuck: Detection = field(default_factory=Detection)
    breach: Detection = field(default_factory=Detection)
    wrong_outcome: list[tuple[str, str, str]] = field(default_factory=list)
    """(instance id, truth, found)."""
    missing: list[str] = field(default_factory=list)
    """Instances in the truth the engine never opened."""
    unexpected: list[str] = field(default_factory=list)
    """Instances the engine opened that the truth does not have."""
    misassigned: list[tuple[EventIdentity, str, str | None]] = field(default_factory=list)
    """(event, truth instance, instance it joined)."""

    @property
    def perfect(self) -> bool:
        return (not self.wrong_outcome and not self.missing and not self.unexpected
                and not self.misassigned and self.stuck.precision == self.stuck.recall == 1.0
                and self.breach.precision == self.breach.recall == 1.0)


def score(truth: Iterable[Mapping[str, Any]], flows: Mapping[str, FlowSnapshot],
          assignments: Mapping[EventIdentity, str] | None = None) -> Accuracy:
    result = Accuracy()
    seen: set[str] = set()
    for row in truth:
        result.flows += 1
        iid = instance_id(*row["instance"])
        seen.add(iid)
        flow = flows.get(iid)
        if flow is None:
            result.missing.append(iid)
            result.stuck.add(row["outcome"] == "stuck", False)
            result.breach.add(bool(row["sla_breached"]), False)
            continue
        result.stuck.add(row["outcome"] == "stuck", flow.status is FlowStatus.STUCK)
        result.breach.add(bool(row["sla_breached"]), flow.sla_breached)
        if flow.status.value != row["outcome"]:
            result.wrong_outcome.append((iid, row["outcome"], flow.status.value))
        if assignments is not None:
            for source, event_id in row["events"]:
                ident = EventIdentity(source, event_id)
                got = assignments.get(ident)
                if got != iid:
                    result.misassigned.append((ident, iid, got))
    result.unexpected = sorted(set(flows) - seen)
    return result
