"""Catalog entries: one page per event type, read off the event map.

An entry says what the type is (description, owner, domain, schema versions), who produces and
consumes it and on which topics (observed, and declared but never seen), when it was first and
last seen in the map's window, the flows it takes part in, and a few sample payloads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.eventmap import EventMap, event_node
from catalog.metadata import SamplePayload
from catalog.traffic import EdgeKind

__all__ = ["CatalogEntry", "build_entries", "entry_to_json"]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    event_type: str
    documented: bool
    description: str
    owner: str
    domain: str
    versions: tuple[int, ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    topics: tuple[str, ...]
    declared_producers: tuple[str, ...]
    declared_consumers: tuple[str, ...]
    count: int
    """Events of this type produced in the window."""
    first_seen: datetime | None
    last_seen: datetime | None
    flows: tuple[str, ...]
    samples: tuple[SamplePayload, ...] = ()


def _seen(event_map: EventMap, event_type: str) -> tuple[int, datetime | None, datetime | None]:
    node = event_node(event_type)
    count, first, last = 0, None, None
    for _, _, d in event_map.graph.in_edges(node, data=True):
        if d["kind"] != EdgeKind.PRODUCE or not d["observed"] or d.get("first_seen") is None:
            continue
        count += d.get("count", 0)
        first = d["first_seen"] if first is None else min(first, d["first_seen"])
        last = d["last_seen"] if last is None else max(last, d["last_seen"])
    return count, first, last


def _declared(event_map: EventMap, event_type: str, kind: EdgeKind) -> tuple[str, ...]:
    node = event_node(event_type)
    edges = (event_map.graph.in_edges(node, data=True) if kind == EdgeKind.PRODUCE
             else event_map.graph.out_edges(node, data=True))
    return tuple(sorted(
        event_map.graph.nodes[dst if kind == EdgeKind.CONSUME else src]["name"]
        for src, dst, d in edges if d["kind"] == kind and d["declared"]))


def build_entries(event_map: EventMap, samples: Iterable[SamplePayload] = (), *,
                  samples_per_type: int = 3) -> list[CatalogEntry]:
    """One entry per event type in the map, sorted by type."""
    by_type: dict[str, list[SamplePayload]] = defaultdict(list)
    for s in samples:
        if len(by_type[s.event_type]) < samples_per_type:
            by_type[s.event_type].append(s)
    entries = []
    for name in event_map.nodes("event"):
        data = event_map.graph.nodes[event_node(name)]
        count, first, last = _seen(event_map, name)
        entries.append(CatalogEntry(
            event_type=name,
            documented=data["documented"],
            description=data["description"],
            owner=data["owner"],
            domain=data["domain"],
            versions=tuple(data["versions"]),
            producers=tuple(event_map.producers(name, observed=True)),
            consumers=tuple(event_map.consumers(name, observed=True)),
            topics=tuple(event_map.topics(name)),
            declared_producers=_declared(event_map, name, EdgeKind.PRODUCE),
            declared_consumers=_declared(event_map, name, EdgeKind.CONSUME),
            count=count,
            first_seen=first,
            last_seen=last,
            flows=tuple(data["flows"]),
            samples=tuple(by_type.get(name, ())),
        ))
    return entries


def entry_to_json(entry: CatalogEntry) -> dict[str, Any]:
    def when(t: datetime | None) -> str | None:
        return None if t is None else t.isoformat()

    return {
        "event_type": entry.event_type,
        "documented": entry.documented,
        "description": entry.description,
        "owner": entry.owner,
        "domain": entry.domain,
        "versions": list(entry.versions),
        "producers": list(entry.producers),
        "consumers": list(entry.consumers),
        "topics": list(entry.topics),
        "declared_producers": list(entry.declared_producers),
        "declared_consumers": list(entry.declared_consumers),
        "count": entry.count,
        "first_seen": when(entry.first_seen),
        "last_seen": when(entry.last_seen),
        "flows": list(entry.flows),
        "samples": [{"source": s.source, "id": s.event_id, "occurred_at": when(s.occurred_at),
                     "data": s.data} for s in entry.samples],
    }
