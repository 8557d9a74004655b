"""The catalog's pages as values: one per event type, service and domain.

Built from the event map, the schema versions and where each event type sits in the flows; the
dashboard draws them and `catalog.markdown` writes them as files, so both show the same thing.
Nothing here reads a store or a file.

Event types that need attention (undocumented, orphaned) carry `Attention` notes saying what is
wrong and what to do about it (``choreoscope schemas propose TYPE`` for a missing schema).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from catalog.entries import CatalogEntry, build_entries
from catalog.eventmap import EventMap, event_node, service_node
from catalog.fields import Field, FieldHistory, field_history, schema_fields
from catalog.inference import infer_schema
from catalog.metadata import SamplePayload, SchemaInfo
from catalog.reports import has_consumer_evidence
from catalog.traffic import EdgeKind

__all__ = [
    "NO_DOMAIN",
    "Attention",
    "DomainPage",
    "EventPage",
    "FlowPlace",
    "ServiceEdge",
    "ServicePage",
    "attention_of",
    "build_domain_page",
    "build_event_page",
    "build_service_page",
    "domains_of",
    "rate_of",
]


@dataclass(frozen=True, slots=True)
class FlowPlace:
    """Where an event type sits in one flow type: ``starts it``, ``after A, within 5m`` ..."""

    flow_type: str
    place: str


@dataclass(frozen=True, slots=True)
class Attention:
    """Something wrong with an event type, and what to do about it."""

    event_type: str
    problem: str
    action: str
    command: str = ""
    """A command that fixes or starts fixing it (``choreoscope schemas propose TYPE``)."""


def _propose(name: str) -> str:
    """The command, with the name quoted for a POSIX shell: names come from traffic."""
    return f"choreoscope schemas propose {shlex.quote(name)}"


def attention_of(event_map: EventMap, name: str) -> list[Attention]:
    """Undocumented and orphan notes for one event type (empty when all is well)."""
    node = event_node(name)
    if node not in event_map.graph:
        return []
    data = event_map.graph.nodes[node]
    producers = event_map.producers(name, observed=True)
    consumers = event_map.consumers(name, observed=True)
    notes = []
    if (producers or consumers) and not data.get("documented", True):
        notes.append(Attention(name, "undocumented: seen in traffic but has no schema",
                               "infer a schema from its stored payloads, review it, and "
                               "register it", _propose(name)))
    if producers and not consumers and has_consumer_evidence(event_map):
        notes.append(Attention(name, f"orphan: produced by {', '.join(producers)} and never "
                               "consumed", "find out whether a consumer is missing or "
                               "broken, or stop producing it"))
    if consumers and not producers:
        notes.append(Attention(name, f"orphan: consumed by {', '.join(consumers)} and never "
                               "produced", "check the producer, or remove the consumer's "
                               "subscription"))
    return notes


def rate_of(event_map: EventMap, name: str) -> float | None:
    """Events of a type per minute over the map's window, all producers together: 0 when the
    map has a window but did not see the type in it, None when it has no window."""
    node = event_node(name)
    if event_map.window is None:
        return None
    if node not in event_map.graph:
        return 0.0
    return float(sum(d.get("rate_per_min") or 0.0
                     for _, _, d in event_map.graph.in_edges(node, data=True)
                     if d["kind"] == EdgeKind.PRODUCE))


@dataclass(frozen=True, slots=True)
class EventPage:
    entry: CatalogEntry
    rate_per_min: float | None
    """Events per minute, all producers together, over the live window when one was given."""
    fields: Mapping[int, Sequence[FieldHistory]]
    """Per schema version (ascending): its field table."""
    schemas: Mapping[int, Mapping[str, Any]]
    flows: tuple[FlowPlace, ...]
    attention: tuple[Attention, ...]
    inferred: tuple[Field, ...] = ()
    """No schema registered: the fields its stored payloads show (inferred, as
    ``choreoscope schemas propose`` would start from)."""
    inferred_from: int = 0
    """How many payloads ``inferred`` was read from."""

    @property
    def name(self) -> str:
        return self.entry.event_type

    @property
    def samples(self) -> tuple[SamplePayload, ...]:
        return self.entry.samples


def build_event_page(event_map: EventMap, name: str, schemas: Iterable[SchemaInfo],
                     places: Mapping[str, Sequence[FlowPlace]] | None = None,
                     samples: Iterable[SamplePayload] = (), live: EventMap | None = None,
                     *, shown: int = 3) -> EventPage | None:
    """The page of one event type; None when the map does not know it. ``live``: the map of
    a recent window, for the live rate (default: ``event_map``'s whole window). The newest
    ``shown`` samples are shown; without a schema, every sample given is read for the fields
    its payloads carry."""
    node = event_node(name)
    if node not in event_map.graph:
        return None
    mine = [s for s in samples if s.event_type == name]
    entries = build_entries(event_map.neighbourhood(node, 1), mine, samples_per_type=shown)
    entry = next(e for e in entries if e.event_type == name)
    documents = {s.version: s.document for s in schemas if s.event_type == name}
    inferred = () if documents or not mine else tuple(
        schema_fields(infer_schema(s.data for s in mine)))
    return EventPage(entry, rate_of(event_map if live is None else live, name),
                     field_history(documents.items()), documents,
                     tuple((places or {}).get(name, ())), tuple(attention_of(event_map, name)),
                     inferred, len(mine) if inferred else 0)


@dataclass(frozen=True, slots=True)
class ServiceEdge:
    """One event type a service produces or consumes, with its traffic."""

    event_type: str
    observed: bool
    declared: bool
    count: int
    rate_per_min: float | None
    violations: int
    p95_ms: float | None
    topics: tuple[str, ...]
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class ServicePage:
    name: str
    produces: tuple[ServiceEdge, ...]
    consumes: tuple[ServiceEdge, ...]
    topics: tuple[str, ...]
    """Topics it produces to or consumes from."""
    domains: tuple[str, ...]
    flows: tuple[str, ...]
    neighbours: tuple[str, ...]
    """Services one event type away: its consumers' and its producers' services."""
    attention: tuple[Attention, ...]
    neighbourhood: EventMap = field(repr=False)


def _service_edge(event_map: EventMap, src: str, dst: str, d: Mapping[str, Any]) -> ServiceEdge:
    ev = dst if d["kind"] == EdgeKind.PRODUCE else src
    return ServiceEdge(str(event_map.graph.nodes[ev]["name"]), bool(d["observed"]),
                       bool(d["declared"]), int(d.get("count", 0)), d.get("rate_per_min"),
                       int(d.get("violations", 0)), d.get("p95_ms"),
                       tuple(d.get("topics", ())), d.get("last_seen"))


def build_service_page(event_map: EventMap, name: str) -> ServicePage | None:
    node = service_node(name)
    g = event_map.graph
    if node not in g:
        return None
    produces = tuple(sorted((_service_edge(event_map, s, t, d)
                             for s, t, d in g.out_edges(node, data=True)),
                            key=lambda e: e.event_type))
    consumes = tuple(sorted((_service_edge(event_map, s, t, d)
                             for s, t, d in g.in_edges(node, data=True)),
                            key=lambda e: e.event_type))
    topics = sorted({t for e in (*produces, *consumes) for t in e.topics}
                    | {t for e in produces for t in event_map.topics(e.event_type)})
    neighbours = sorted(({c for e in produces for c in event_map.consumers(e.event_type)}
                         | {p for e in consumes for p in event_map.producers(e.event_type)})
                        - {name})
    attention = [a for e in produces for a in attention_of(event_map, e.event_type)]
    data = g.nodes[node]
    return ServicePage(name, produces, consumes, tuple(topics),
                       tuple(data.get("domains", ())), tuple(data.get("flows", ())),
                       tuple(neighbours), tuple(attention), event_map.neighbourhood(node, 2))


@dataclass(frozen=True, slots=True)
class DomainPage:
    name: str
    entries: tuple[CatalogEntry, ...]
    services: tuple[str, ...]
    topics: tuple[str, ...]
    flows: tuple[str, ...]
    attention: tuple[Attention, ...]
    domain_map: EventMap = field(repr=False)


NO_DOMAIN = "(none)"
"""The domain of event types whose schema names none (and of undocumented ones)."""


def domains_of(event_map: EventMap) -> list[str]:
    """Every domain named by an event type of the map, sorted; `NO_DOMAIN` last if any type
    has none."""
    found = {d.get("domain", "") for _, d in event_map.graph.nodes(data=True)
             if d["kind"] == "event"}
    return sorted(found - {""}) + ([NO_DOMAIN] if "" in found else [])


def build_domain_page(event_map: EventMap, name: str) -> DomainPage | None:
    if name not in domains_of(event_map):
        return None
    sub = event_map.filtered(domain="" if name == NO_DOMAIN else name)
    entries = tuple(e for e in build_entries(sub) if (e.domain or NO_DOMAIN) == name)
    attention = [a for e in entries for a in attention_of(event_map, e.event_type)]
    return DomainPage(name, entries, tuple(sub.nodes("service")), tuple(sub.nodes("topic")),
                      tuple(sorted({f for e in entries for f in e.flows})), tuple(attention),
                      sub)
