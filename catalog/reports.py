"""Reports on the event map: where traffic and contracts disagree, or a contract is missing.

Each report is a generator of `Finding` values read off the map; callers decide what to do with
them (print, fail a pipeline, show on the dashboard).

- ``undocumented``: event types seen in traffic with no schema;
- ``orphan-produced`` / ``orphan-consumed``: produced and never consumed, consumed and never
  produced (only judged when the map holds any evidence of consumption at all, see
  `has_consumer_evidence`: without consumer spans or consumer groups every type would look
  orphaned);
- ``violations``: services emitting events that violate their schema;
- ``shared-topic``: topics carrying several event types;
- ``declared-unseen``: declared producers or consumers never seen in traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from catalog.eventmap import EventMap
from catalog.traffic import EdgeKind

__all__ = [
    "REPORTS",
    "Finding",
    "declared_unseen",
    "has_consumer_evidence",
    "orphan_events",
    "run_reports",
    "shared_topics",
    "undocumented_events",
    "violating_services",
]


@dataclass(frozen=True, slots=True)
class Finding:
    report: str
    message: str
    event_type: str | None = None
    service: str | None = None
    topic: str | None = None
    count: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("report", "event_type", "service", "topic",
                                               "count", "message")}


def _observed(event_map: EventMap, kind: EdgeKind) -> Iterator[tuple[str, str, dict[str, Any]]]:
    return ((s, d, a) for s, d, a in event_map.edges(kind) if a["observed"])


def _name(event_map: EventMap, node: str) -> str:
    return str(event_map.graph.nodes[node]["name"])


def undocumented_events(event_map: EventMap) -> Iterator[Finding]:
    for name in event_map.nodes("event"):
        node = event_map.graph.nodes[f"event:{name}"]
        producers = event_map.producers(name, observed=True)
        seen = producers or event_map.consumers(name, observed=True)
        if seen and not node["documented"]:
            yield Finding("undocumented", f"{name} is seen in traffic but has no schema "
                          f"(produced by {', '.join(producers) or 'no observed producer'})",
                          event_type=name)


def has_consumer_evidence(event_map: EventMap) -> bool:
    """Whether any consumption was observed (consumer spans or consumer groups)."""
    return any(True for _ in _observed(event_map, EdgeKind.CONSUME))


def orphan_events(event_map: EventMap) -> Iterator[Finding]:
    judge_produced = has_consumer_evidence(event_map)
    for name in event_map.nodes("event"):
        producers = event_map.producers(name, observed=True)
        consumers = event_map.consumers(name, observed=True)
        if producers and not consumers and judge_produced:
            yield Finding("orphan-produced", f"{name} is produced (by {', '.join(producers)}) "
                          "and never consumed", event_type=name)
        if consumers and not producers:
            yield Finding("orphan-consumed", f"{name} is consumed (by {', '.join(consumers)}) "
                          "and never produced", event_type=name)


def violating_services(event_map: EventMap) -> Iterator[Finding]:
    for src, dst, a in _observed(event_map, EdgeKind.PRODUCE):
        if a.get("violations", 0) > 0:
            service, event_type = _name(event_map, src), _name(event_map, dst)
            yield Finding("violations", f"{service} emitted {a['violations']} of {a['count']} "
                          f"{event_type} events violating the schema", event_type=event_type,
                          service=service, count=a["violations"])


def shared_topics(event_map: EventMap) -> Iterator[Finding]:
    for topic in event_map.nodes("topic"):
        types = sorted(_name(event_map, src) for src, _, a in
                       event_map.graph.in_edges(f"topic:{topic}", data=True)
                       if a["kind"] == EdgeKind.CARRIED_ON and a["observed"])
        if len(types) > 1:
            yield Finding("shared-topic", f"topic {topic} carries {len(types)} event types: "
                          f"{', '.join(types)}", topic=topic, count=len(types))


def declared_unseen(event_map: EventMap) -> Iterator[Finding]:
    for kind, role in ((EdgeKind.PRODUCE, "producer"), (EdgeKind.CONSUME, "consumer")):
        for src, dst, a in event_map.edges(kind):
            if not a["declared"] or a["observed"]:
                continue
            service, event_type = ((_name(event_map, src), _name(event_map, dst))
                                   if kind == EdgeKind.PRODUCE
                                   else (_name(event_map, dst), _name(event_map, src)))
            where = f" (declared in {', '.join(a['declared_in'])})" if a.get("declared_in") else ""
            yield Finding("declared-unseen", f"{service} is a declared {role} of {event_type}"
                          f" but was never seen{where}", event_type=event_type, service=service)


REPORTS: dict[str, Callable[[EventMap], Iterator[Finding]]] = {
    "undocumented": undocumented_events,
    "orphans": orphan_events,
    "violations": violating_services,
    "shared-topics": shared_topics,
    "declared-unseen": declared_unseen,
}


def run_reports(event_map: EventMap, names: tuple[str, ...] = tuple(REPORTS)) -> list[Finding]:
    return [f for name in names for f in REPORTS[name](event_map)]
