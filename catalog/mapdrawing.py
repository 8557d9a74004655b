"""The event map as a Graphviz ``dot`` drawing: producers → event types → consumers and topics.

Why Graphviz ``dot``: it is a layered (Sugiyama) layout engine that places edge labels as
nodes of their own, so node names and edge labels never overlap each other (measured in the
browser by the bench ``event_map_label_overlaps``); it emits SVG whose node and edge groups
carry the ids we give them, so the dashboard draws it in the DOM and sends clicks back to
Python (`dashboard.views.eventmap`). React Flow/ELK or Cytoscape.js would need their own
JavaScript bundle and draw labels without such a guarantee.

Everything here is pure: `build_drawing` turns an `EventMap` into DOT source (every string
from data escaped, never markup), `collapse_domains` folds a domain into one node. The one I/O
edge, running ``dot``, is `catalog._graphviz.render_svg`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import graphviz
import networkx as nx

from catalog.eventmap import EventMap

__all__ = ["DOMAIN", "LABELLED_EDGES", "Drawing", "build_drawing", "collapse_domains",
           "domain_node", "edge_label", "neighbourhood"]

DOMAIN = "domain"
"""The kind of a collapsed domain's node (``domain:NAME``)."""
LABELLED_EDGES = 90
"""Past this many edges the rate labels move to the edges' tooltips and the side panel."""

_SHAPES = {"service": ("box", "rounded,filled"), "event": ("ellipse", "filled"),
           "topic": ("cylinder", "filled"), DOMAIN: ("folder", "filled")}
_FILLS = {"service": "#DCE6F2", "event": "#DDEFD9", "topic": "#EFE4DA", DOMAIN: "#E8E8E8"}
_STATE_FILLS = {"violations": "#F6C9C8", "stalled": "#FBE3A6", "undocumented": "#E9D8E6"}
_EDGE_COLOURS = {"ok": "#8C8C8C", "violations": "#D62728", "declared": "#7F7F7F"}


def domain_node(name: str) -> str:
    return f"{DOMAIN}:{name}"


def edge_label(data: Mapping[str, Any]) -> str:
    """An edge's metrics in one short line: rate, p95 latency, share invalid."""
    parts = []
    rate = data.get("rate_per_min")
    if rate is not None:
        parts.append(f"{rate:.3g}/min" if rate >= 1 else f"{rate * 60:.3g}/h")
    if data.get("p95_ms") is not None:
        parts.append(f"p95 {data['p95_ms']:g} ms")
    if data.get("violation_rate"):
        parts.append(f"{data['violation_rate']:.1%} invalid")
    return " · ".join(parts)


def _edge_state(data: Mapping[str, Any]) -> str:
    if not data.get("observed"):
        return "declared"
    if data.get("violations", 0) or data.get("errors", 0):
        return "violations"
    return "ok"


# -- collapsing a domain --------------------------------------------------------------------

def _domain_of(data: Mapping[str, Any], collapsed: frozenset[str]) -> str | None:
    """The collapsed domain a node folds into: an event type of it, or a service or topic that
    touches that domain only."""
    if data["kind"] == "event":
        return data["domain"] if data.get("domain") in collapsed else None
    domains = data.get("domains") or []
    return domains[0] if len(domains) == 1 and domains[0] in collapsed else None


def _merge_edge(into: dict[str, Any], data: Mapping[str, Any]) -> None:
    for key in ("count", "violations", "errors", "rate_per_min"):
        if key in data:
            into[key] = into.get(key, 0) + data[key]
    if data.get("p95_ms") is not None:
        into["p95_ms"] = max(into.get("p95_ms") or 0, data["p95_ms"])
    into["observed"] = into.get("observed", False) or bool(data.get("observed"))
    into["declared"] = into.get("declared", False) or bool(data.get("declared"))
    into.setdefault("kind", data.get("kind", ""))
    if into.get("count"):
        into["violation_rate"] = into.get("violations", 0) / into["count"]


def collapse_domains(event_map: EventMap, collapsed: Iterable[str]) -> EventMap:
    """A new map where each collapsed domain is one node ``domain:NAME`` (its event types and
    the services and topics only it touches), edges merged (counts and rates summed, p95 the
    largest); edges inside a domain disappear."""
    folded = frozenset(collapsed)
    if not folded:
        return event_map
    g = event_map.graph
    target = {n: (domain_node(d) if (d := _domain_of(data, folded)) else n)
              for n, data in g.nodes(data=True)}
    out = nx.DiGraph()
    for n, data in g.nodes(data=True):
        t = target[n]
        if t == n:
            out.add_node(n, **data)
        elif t not in out:
            out.add_node(t, kind=DOMAIN, name=t.partition(":")[2], members=[])
        if t != n:
            out.nodes[t]["members"].append(n)
    merged: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for src, dst, data in g.edges(data=True):
        a, b = target[src], target[dst]
        if a != b:
            _merge_edge(merged[a, b], data)
    for (a, b), data in merged.items():
        out.add_edge(a, b, **data)
    return EventMap(out, event_map.window)


def neighbourhood(event_map: EventMap, node: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The node, its direct neighbours, and the edges between the node and them."""
    g = event_map.graph
    if node not in g:
        return set(), set()
    edges = {(a, b) for a, b in (*g.in_edges(node), *g.out_edges(node))}
    return {node, *nx.all_neighbors(g, node)}, edges


# -- DOT ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Drawing:
    """DOT source and what its SVG ids mean: node ``n{i}`` is ``nodes[i]``, edge ``e{i}`` is
    ``edges[i]``."""

    dot: str
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    edge_labels: bool
    """Whether the rates are drawn on the edges (else in their tooltips only)."""
    node_ids: dict[str, str] = field(default_factory=dict)
    edge_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    clusters: dict[str, str] = field(default_factory=dict)
    """SVG id of a domain's box (``c{i}``) → the domain."""
    copies: dict[str, str] = field(default_factory=dict)
    """Node → SVG id of its second drawing (a service's consuming side, on the right)."""
    ends: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    """Edge → the SVG ids of the two drawings it joins."""

    def svg_ids(self, node: str) -> list[str]:
        """Every SVG id that draws ``node``."""
        return [i for i in (self.node_ids.get(node), self.copies.get(node)) if i]


def _text(value: object) -> str:
    """A data string for a DOT label or tooltip: backslash escapes, entities and HTML-like
    labels are turned off, so it is drawn exactly as stored. (`graphviz.escape` returns a
    ``str`` marked "not HTML": it must reach the DOT writer as is, never through ``str()``.)"""
    escaped: str = graphviz.escape(str(value).replace("&", "&amp;"))
    return escaped


def _node_attrs(data: Mapping[str, Any], state: str) -> dict[str, str]:
    kind = str(data["kind"])
    shape, style = _SHAPES.get(kind, ("box", "filled"))
    tip = f"{kind} {data['name']}"
    if kind == DOMAIN:
        tip += f" (collapsed: {len(data.get('members', []))} nodes)"
    if kind == "event" and not data.get("documented", True):
        tip += " · undocumented"
    return {"shape": shape, "style": style, "tooltip": _text(tip),
            "fillcolor": _STATE_FILLS.get(state, _FILLS.get(kind, "#FFFFFF")),
            "class": f"node-{kind} state-{state}"}


def _node_state(data: Mapping[str, Any], invalid: int, stuck: int) -> str:
    if invalid:
        return "violations"
    if stuck:
        return "stalled"
    if data["kind"] == "event" and not data.get("documented", True):
        return "undocumented"
    return "ok"


def _invalid_by_node(g: nx.DiGraph) -> dict[str, int]:
    invalid: dict[str, int] = defaultdict(int)
    for src, dst, d in g.edges(data=True):
        if d.get("kind") == "produce":
            invalid[src] += int(d.get("violations", 0))
            invalid[dst] += int(d.get("violations", 0))
    return invalid


def _cluster_key(data: Mapping[str, Any]) -> str | None:
    """The domain box an event type or topic is drawn in (services span domains: none)."""
    if data["kind"] == "event":
        return data.get("domain") or None
    if data["kind"] == "topic":
        domains = data.get("domains") or []
        return domains[0] if len(domains) == 1 else None
    return None


def _edge_attrs(src_name: str, dst_name: str, data: Mapping[str, Any], labels: bool
                ) -> dict[str, str]:
    text, state = edge_label(data), _edge_state(data)
    attrs = {"tooltip": _text(f"{src_name} → {dst_name}: {text or 'declared, not seen'}"),
             "color": _EDGE_COLOURS[state], "class": f"edge-{data.get('kind', '')} {state}"}
    if state == "declared":
        attrs["style"] = "dashed"
    if labels and text:
        attrs["label"] = _text(text)
    return attrs


def _consumer_copies(g: nx.DiGraph, ids: Mapping[str, str]) -> dict[str, str]:
    """Services that both produce and consume are drawn twice, producing on the left and
    consuming on the right, so every edge runs left to right: the SVG id of the right one."""
    return {n: f"{ids[n]}c" for n, d in g.nodes(data=True)
            if d["kind"] in ("service", DOMAIN) and g.in_degree(n) and g.out_degree(n)}


def build_drawing(event_map: EventMap, *, stalls: Mapping[str, int] | None = None,
                  group_by_domain: bool = True, edge_labels: bool | None = None) -> Drawing:
    """DOT source of the map, left to right: producers, event types, then topics and
    consumers. ``edge_labels=None``: rates on the edges up to `LABELLED_EDGES` edges, in the
    tooltips beyond."""
    g, stalls = event_map.graph, stalls or {}
    order = sorted(g.nodes)
    ids = {n: f"n{i}" for i, n in enumerate(order)}
    copies = _consumer_copies(g, ids)
    edges = sorted(g.edges)
    labels = len(edges) <= LABELLED_EDGES if edge_labels is None else edge_labels
    dot = graphviz.Digraph("eventmap", engine="dot")
    dot.attr(rankdir="LR", ranksep="0.6" if labels else "1.4", nodesep="0.18",
             fontname="Helvetica", bgcolor="transparent", newrank="true", id="eventmap")
    dot.attr("node", fontname="Helvetica", fontsize="11", margin="0.12,0.04", height="0.3")
    dot.attr("edge", fontname="Helvetica", fontsize="9", arrowsize="0.6", fontcolor="#444444")
    invalid = _invalid_by_node(g)
    clusters: dict[str | None, list[str]] = defaultdict(list)
    boxes: dict[str, str] = {}
    for n in order:
        clusters[_cluster_key(g.nodes[n]) if group_by_domain else None].append(n)
    for c, (domain, members) in enumerate(sorted(clusters.items(), key=lambda kv: kv[0] or "")):
        target = dot if domain is None else graphviz.Digraph(name=f"cluster_{c}")
        if domain is not None:
            boxes[f"c{c}"] = domain
            target.attr(label=_text(domain), id=f"c{c}", style="rounded,dashed",
                        color="#BBBBBB", fontsize="10", fontcolor="#777777",
                        tooltip=_text(f"domain {domain}"))
        for n in members:
            data = g.nodes[n]
            stuck = stalls.get(data["name"], 0) if data["kind"] == "event" else 0
            attrs = _node_attrs(data, _node_state(data, invalid[n], stuck))
            target.node(ids[n], _text(data["name"]), id=ids[n], **attrs)
            if n in copies:
                target.node(copies[n], _text(data["name"]), id=copies[n], **attrs)
        if domain is not None:
            dot.subgraph(target)
    events = [ids[n] for n in order if g.nodes[n]["kind"] == "event"]
    if events:
        dot.body.append("\t{rank=same; " + "; ".join(events) + "}\n")
    edge_ids, ends = {}, {}
    for i, (a, b) in enumerate(edges):
        edge_ids[a, b] = f"e{i}"
        ends[a, b] = (ids[a], copies.get(b, ids[b]))
        dot.edge(*ends[a, b], id=f"e{i}",
                 **_edge_attrs(g.nodes[a]["name"], g.nodes[b]["name"], g.edges[a, b], labels))
    return Drawing(dot.source, tuple(order), tuple(edges), labels, ids, edge_ids, boxes,
                   dict(copies), ends)
