"""The event map: services, event types and topics as a graph, with live metrics on its edges.

`build_event_map` merges what was observed (`EdgeTraffic`, `GroupAssignment`) with what is
declared (schemas' ``x-topic``, `Declaration`) into a `networkx.DiGraph`:

- nodes ``service:NAME``, ``event:TYPE``, ``topic:NAME`` with ``kind`` and ``name``;
- edges ``service → event`` (produce), ``event → service`` (consume), ``event → topic``
  (carried_on), each with ``observed`` and ``declared`` flags and, when observed, ``count``,
  ``rate_per_min``, ``first_seen``, ``last_seen``, ``p95_ms`` (consume), ``violation_rate`` and
  ``error_rate``.

`EventMap` answers the questions the catalog asks (producers, consumers, topics of a type), and
gives the views that keep a large map usable: filters by domain, service and flow type, and the
neighbourhood ``n`` hops around a node.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import networkx as nx

from catalog.exceptions import CatalogError
from catalog.metadata import Declaration, DeclaredRole, FlowInfo, SchemaInfo
from catalog.traffic import EdgeKind, EdgeTraffic, GroupAssignment, Window, percentile_ms

__all__ = ["EventMap", "UnknownNode", "build_event_map", "event_node", "service_node",
           "topic_node"]


class UnknownNode(CatalogError):
    """A view was asked for around a node the map does not have."""

    def __init__(self, node: str) -> None:
        super().__init__(f"no node {node!r} in the event map (use service:NAME, event:TYPE or "
                         "topic:NAME)")
        self.node = node


def service_node(name: str) -> str:
    return f"service:{name}"


def event_node(name: str) -> str:
    return f"event:{name}"


def topic_node(name: str) -> str:
    return f"topic:{name}"


@dataclass(slots=True)
class _Acc:
    """Traffic summed over topics (for produce/consume edges) or over services (carried_on)."""

    count: int = 0
    violations: int = 0
    errors: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    latency: list[int] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)
    evidence: set[str] = field(default_factory=set)

    def add(self, t: EdgeTraffic) -> None:
        self.count += t.count
        self.violations += t.violations
        self.errors += t.errors
        self.first_seen = t.first_seen if self.first_seen is None else min(self.first_seen,
                                                                           t.first_seen)
        self.last_seen = t.last_seen if self.last_seen is None else max(self.last_seen,
                                                                        t.last_seen)
        if len(self.latency) < len(t.latency):
            self.latency.extend([0] * (len(t.latency) - len(self.latency)))
        for i, n in enumerate(t.latency):
            self.latency[i] += n
        if t.topic:
            self.topics.add(t.topic)

    def attributes(self, window: Window | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "observed": True,
            "count": self.count,
            "violations": self.violations,
            "errors": self.errors,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "topics": sorted(self.topics),
            "evidence": sorted(self.evidence),
        }
        if self.count:
            attrs["violation_rate"] = self.violations / self.count
            attrs["error_rate"] = self.errors / self.count
            if window is not None:
                attrs["rate_per_min"] = self.count / window.minutes
        p95 = percentile_ms(self.latency, 0.95)
        if p95 is not None:
            attrs["p95_ms"] = p95
        return attrs


def _accumulate(traffic: Iterable[EdgeTraffic]) -> dict[tuple[str, str, str], _Acc]:
    """Edges keyed (kind, from-node, to-node), with produce/consume summed over topics."""
    acc: dict[tuple[str, str, str], _Acc] = defaultdict(_Acc)
    for t in traffic:
        ev, svc = event_node(t.event_type), service_node(t.service)
        if t.kind == EdgeKind.PRODUCE:
            edge = acc[EdgeKind.PRODUCE, svc, ev]
            edge.evidence.add("events")
        elif t.kind == EdgeKind.CONSUME:
            edge = acc[EdgeKind.CONSUME, ev, svc]
            edge.evidence.add("spans")
        else:
            raise ValueError(f"traffic rows are produce or consume, not {t.kind!r}")
        edge.add(t)
        if t.topic and t.kind == EdgeKind.PRODUCE:
            carried = acc[EdgeKind.CARRIED_ON, ev, topic_node(t.topic)]
            carried.add(t)
            carried.evidence.add("events")
    return acc


def _add_groups(acc: dict[tuple[str, str, str], _Acc],
                groups: Iterable[GroupAssignment]) -> None:
    """A consumer group reading a topic consumes every event type seen on that topic."""
    by_topic: dict[str, list[str]] = defaultdict(list)
    for kind, src, dst in list(acc):
        if kind == EdgeKind.CARRIED_ON:
            by_topic[dst].append(src)
    for g in groups:
        for ev in by_topic.get(topic_node(g.topic), ()):
            edge = acc[EdgeKind.CONSUME, ev, service_node(g.group)]
            edge.evidence.add("consumer-group")
            edge.topics.add(g.topic)
            if g.last_seen is not None:
                edge.last_seen = g.last_seen if edge.last_seen is None else max(edge.last_seen,
                                                                                g.last_seen)


def _ensure_node(graph: nx.DiGraph, node: str) -> None:
    if node not in graph:
        kind, _, name = node.partition(":")
        graph.add_node(node, kind=kind, name=name)


def _add_edge(graph: nx.DiGraph, kind: str, src: str, dst: str, **attrs: Any) -> None:
    _ensure_node(graph, src)
    _ensure_node(graph, dst)
    if graph.has_edge(src, dst):
        graph.edges[src, dst].update(attrs)
    else:
        graph.add_edge(src, dst, **{"kind": str(kind), "observed": False, "declared": False,
                                    **attrs})


def _declare(graph: nx.DiGraph, d: Declaration) -> None:
    ev, svc = event_node(d.event_type), service_node(d.service)
    if d.role == DeclaredRole.PRODUCER:
        _add_edge(graph, EdgeKind.PRODUCE, svc, ev, declared=True)
    else:
        _add_edge(graph, EdgeKind.CONSUME, ev, svc, declared=True)
    if d.topic:
        _add_edge(graph, EdgeKind.CARRIED_ON, ev, topic_node(d.topic), declared=True)
    origins = graph.edges[(svc, ev) if d.role == DeclaredRole.PRODUCER else (ev, svc)]
    origins["declared_in"] = sorted({*origins.get("declared_in", ()), d.origin} - {""})


def _annotate_events(graph: nx.DiGraph, schemas: Iterable[SchemaInfo],
                     flows: Iterable[FlowInfo]) -> None:
    latest: dict[str, SchemaInfo] = {}
    versions: dict[str, list[int]] = defaultdict(list)
    for s in schemas:
        versions[s.event_type].append(s.version)
        if s.event_type not in latest or s.version > latest[s.event_type].version:
            latest[s.event_type] = s
    for name, s in latest.items():
        _ensure_node(graph, event_node(name))
        if s.topic:
            _add_edge(graph, EdgeKind.CARRIED_ON, event_node(name), topic_node(s.topic),
                      declared=True)
    in_flows: dict[str, list[str]] = defaultdict(list)
    for f in flows:
        for name in f.event_types:
            in_flows[name].append(f.flow_type)
    for _, data in graph.nodes(data=True):
        if data["kind"] != "event":
            continue
        info = latest.get(data["name"])
        data["documented"] = info is not None
        data["versions"] = sorted(versions.get(data["name"], ()))
        data["domain"] = info.domain if info else ""
        data["owner"] = info.owner if info else ""
        data["description"] = info.description if info else ""
        data["flows"] = sorted(in_flows.get(data["name"], ()))


def _annotate_neighbours(graph: nx.DiGraph) -> None:
    """Services and topics take the domains and flows of the event types they touch."""
    for node, data in graph.nodes(data=True):
        if data["kind"] == "event":
            continue
        events = [graph.nodes[n] for n in nx.all_neighbors(graph, node)
                  if graph.nodes[n]["kind"] == "event"]
        data["domains"] = sorted({e["domain"] for e in events if e["domain"]})
        data["flows"] = sorted({f for e in events for f in e["flows"]})


def build_event_map(
    traffic: Iterable[EdgeTraffic],
    *,
    window: Window | None = None,
    groups: Iterable[GroupAssignment] = (),
    declarations: Iterable[Declaration] = (),
    schemas: Iterable[SchemaInfo] = (),
    flows: Iterable[FlowInfo] = (),
) -> EventMap:
    """Merge observed traffic with declared contracts into an `EventMap`."""
    acc = _accumulate(traffic)
    _add_groups(acc, groups)
    graph = nx.DiGraph()
    for (kind, src, dst), edge in sorted(acc.items()):
        _add_edge(graph, kind, src, dst, **edge.attributes(window))
    for d in declarations:
        _declare(graph, d)
    _annotate_events(graph, schemas, flows)
    _annotate_neighbours(graph)
    return EventMap(graph, window)


@dataclass(frozen=True, slots=True)
class EventMap:
    """A built map and the window its metrics cover. Views return new maps."""

    graph: nx.DiGraph
    window: Window | None = None

    def nodes(self, kind: str) -> list[str]:
        """Names of the nodes of one kind (``service``, ``event``, ``topic``), sorted."""
        return sorted(d["name"] for _, d in self.graph.nodes(data=True) if d["kind"] == kind)

    def edges(self, kind: EdgeKind | str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for src, dst, data in self.graph.edges(data=True):
            if data["kind"] == kind:
                yield src, dst, data

    def _names(self, node: str, kind: EdgeKind, *, out: bool, observed: bool | None) -> list[str]:
        if node not in self.graph:
            return []
        pairs = self.graph.out_edges(node, data=True) if out else self.graph.in_edges(node,
                                                                                  data=True)
        return sorted(
            self.graph.nodes[dst if out else src]["name"]
            for src, dst, d in pairs
            if d["kind"] == kind and (observed is None or d["observed"] == observed)
        )

    def producers(self, event_type: str, *, observed: bool | None = None) -> list[str]:
        return self._names(event_node(event_type), EdgeKind.PRODUCE, out=False,
                           observed=observed)

    def consumers(self, event_type: str, *, observed: bool | None = None) -> list[str]:
        return self._names(event_node(event_type), EdgeKind.CONSUME, out=True, observed=observed)

    def topics(self, event_type: str, *, observed: bool | None = None) -> list[str]:
        return self._names(event_node(event_type), EdgeKind.CARRIED_ON, out=True,
                           observed=observed)

    def produced_by(self, service: str) -> list[str]:
        return self._names(service_node(service), EdgeKind.PRODUCE, out=True, observed=None)

    def consumed_by(self, service: str) -> list[str]:
        return self._names(service_node(service), EdgeKind.CONSUME, out=False, observed=None)

    def event_types_on(self, topic: str) -> list[str]:
        return self._names(topic_node(topic), EdgeKind.CARRIED_ON, out=False, observed=None)

    # -- views ----------------------------------------------------------------------------

    def _around_events(self, events: Iterable[str]) -> EventMap:
        """The given event nodes with every service and topic directly attached to them."""
        keep: set[str] = set()
        for ev in events:
            keep.add(ev)
            keep.update(nx.all_neighbors(self.graph, ev))
        return EventMap(self.graph.subgraph(keep).copy(), self.window)

    def filtered(self, *, domain: str | None = None, service: str | None = None,
                 flow_type: str | None = None) -> EventMap:
        """Event types matching every given filter, with their services and topics."""
        events = [n for n, d in self.graph.nodes(data=True) if d["kind"] == "event"]
        if domain is not None:
            events = [n for n in events if self.graph.nodes[n]["domain"] == domain]
        if flow_type is not None:
            events = [n for n in events if flow_type in self.graph.nodes[n]["flows"]]
        if service is not None:
            svc = service_node(service)
            events = [n for n in events if svc in self.graph and (
                self.graph.has_edge(svc, n) or self.graph.has_edge(n, svc))]
        return self._around_events(events)

    def neighbourhood(self, node: str, hops: int) -> EventMap:
        """The nodes at most ``hops`` edges from ``node`` (either direction)."""
        if node not in self.graph:
            raise UnknownNode(node)
        sub = nx.ego_graph(self.graph, node, radius=hops, undirected=True)
        return EventMap(sub.copy(), self.window)
