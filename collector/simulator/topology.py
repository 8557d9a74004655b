"""The simulated system's known topology: which service produces and consumes which event type,
on which topic.

Built from the services' own declarations (`collector.simulator.services`) and the domain table,
so it cannot drift from what the simulator does. The catalog tests its discovery (producers,
consumers, orphans, undocumented types) against `TOPOLOGY`.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.simulator.domain import EVENT_TYPES, ORPHAN_TYPES, UNKNOWN_TYPES
from collector.simulator.services import SERVICES

__all__ = ["TOPOLOGY", "Route", "Topology", "build_topology"]


@dataclass(frozen=True, slots=True)
class Route:
    """One event type: its producer, its topic, its consumers and its schema versions."""

    event_type: str
    producer: str
    topic: str
    consumers: tuple[str, ...]
    versions: tuple[int, ...]
    """Schema versions in ``schemas/events``; empty for an undocumented type."""
    fault: str | None = None
    """``orphan`` or ``unknown-type`` for the types only those faults emit."""

    @property
    def documented(self) -> bool:
        return bool(self.versions)

    @property
    def orphan(self) -> bool:
        return not self.consumers


@dataclass(frozen=True, slots=True)
class Topology:
    routes: tuple[Route, ...]

    def route(self, event_type: str) -> Route:
        for r in self.routes:
            if r.event_type == event_type:
                return r
        raise KeyError(event_type)

    @property
    def services(self) -> tuple[str, ...]:
        names = {r.producer for r in self.routes}
        names.update(c for r in self.routes for c in r.consumers)
        return tuple(sorted(names))

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted({r.topic for r in self.routes}))

    def produced_by(self, service: str) -> tuple[str, ...]:
        return tuple(r.event_type for r in self.routes if r.producer == service)

    def consumed_by(self, service: str) -> tuple[str, ...]:
        return tuple(r.event_type for r in self.routes if service in r.consumers)

    def edges(self) -> tuple[tuple[str, str, str], ...]:
        """(producer, event type, consumer) for every subscription."""
        return tuple((r.producer, r.event_type, c) for r in self.routes for c in r.consumers)


def build_topology() -> Topology:
    faults = dict.fromkeys(ORPHAN_TYPES.values(), "orphan")
    faults.update(dict.fromkeys(UNKNOWN_TYPES.values(), "unknown-type"))
    routes = []
    for t in EVENT_TYPES.values():
        consumers = tuple(sorted(s.name for s in SERVICES if t.name in s.consumes))
        routes.append(Route(t.name, t.producer, t.topic, consumers, t.versions,
                            faults.get(t.name)))
    return Topology(tuple(routes))


TOPOLOGY = build_topology()
