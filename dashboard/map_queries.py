"""What the Event map page asks: the drawing of a view, and one node's side panel (its rate, its
edges with their metrics, its links to the catalog, flows and messages)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from catalog._graphviz import render_svg
from catalog.eventmap import EventMap
from catalog.mapdrawing import DOMAIN, Drawing, build_drawing, edge_label, neighbourhood
from collector.humanize import format_time
from dashboard.markup import page_url

__all__ = ["MapPicture", "NodeLink", "draw_map", "node_edges", "node_links", "node_rate",
           "picture_data"]


@dataclass(frozen=True, slots=True)
class MapPicture:
    drawing: Drawing
    svg: str
    digest: str
    """Changes when the SVG does: the browser redraws only then."""


@lru_cache(maxsize=32)
def _svg(dot: str) -> str:
    """Laid out once per DOT text: a refresh whose numbers did not change costs nothing."""
    return render_svg(dot)


def draw_map(event_map: EventMap, *, stalls: dict[str, int] | None = None,
             group_by_domain: bool = True, edge_labels: bool | None = None) -> MapPicture:
    drawing = build_drawing(event_map, stalls=stalls, group_by_domain=group_by_domain,
                            edge_labels=edge_labels)
    svg = _svg(drawing.dot)
    return MapPicture(drawing, svg, hashlib.sha1(svg.encode(), usedforsecurity=False).hexdigest())


def picture_data(picture: MapPicture, event_map: EventMap, selected: str | None,
                 view_key: str) -> dict[str, Any]:
    """What the map component is given: the SVG, what its ids mean, and the highlight."""
    d = picture.drawing
    _, near_edges = neighbourhood(event_map, selected) if selected else (set(), set())
    chosen = d.svg_ids(selected) if selected else []
    near = {i for e in near_edges if e in d.ends for i in d.ends[e]} | set(chosen)
    return {
        "svg": picture.svg,
        "digest": picture.digest,
        "view_key": view_key,
        "nodes": {i: n for n in d.nodes for i in d.svg_ids(n)},
        "clusters": d.clusters,
        "selected": chosen,
        "near_nodes": sorted(near),
        "near_edges": sorted(d.edge_ids[e] for e in near_edges if e in d.edge_ids),
        "max_height": 3200,
    }


def node_rate(event_map: EventMap, node: str) -> float | None:
    """Events a minute: what a service or a domain produces, what an event type sees produced,
    what a topic carries."""
    g = event_map.graph
    if node not in g:
        return None
    kind = g.nodes[node]["kind"]
    if kind in ("service", DOMAIN):
        edges: Iterable[tuple[str, str, dict[str, Any]]] = g.out_edges(node, data=True)
    else:
        edges = g.in_edges(node, data=True)
    rates = [d["rate_per_min"] for _, _, d in edges if d.get("rate_per_min") is not None
             and (kind == "topic" or d.get("kind") in ("produce", "carried_on"))]
    return sum(rates) if rates else None


def node_edges(event_map: EventMap, node: str) -> list[dict[str, Any]]:
    """The node's edges, in then out, with their metrics (rows of a table)."""
    g = event_map.graph
    if node not in g:
        return []
    rows = []
    for src, dst, d in (*g.in_edges(node, data=True), *g.out_edges(node, data=True)):
        inbound = dst == node
        other = g.nodes[src if inbound else dst]
        rows.append({
            "direction": "in" if inbound else "out",
            "with": f"{other['kind']} {other['name']}",
            "edge": str(d.get("kind", "")),
            "per minute": d.get("rate_per_min"),
            "p95 ms": d.get("p95_ms"),
            "invalid": d.get("violation_rate"),
            "events": d.get("count"),
            "last seen": format_time(d.get("last_seen"), empty="-"),
            "seen": "observed" if d.get("observed") else "declared only",
            "metrics": edge_label(d),
        })
    return rows


@dataclass(frozen=True, slots=True)
class NodeLink:
    label: str
    url: str
    """Relative to the app's root, query parameters URL-encoded."""


def node_links(event_map: EventMap, node: str) -> list[NodeLink]:
    """The node's catalog page, its flows and its messages."""
    kind, _, name = node.partition(":")
    if kind == "event":
        links = [NodeLink("Catalog page", page_url("event", type=name)),
                 NodeLink("Flows", page_url("search", event_type=name))]
        links += [NodeLink(f"Messages on {t}", page_url("messages", topic=t, type=name))
                  for t in event_map.topics(name)]
        return links
    if kind == "service":
        return [NodeLink("Catalog page", page_url("service", name=name)),
                NodeLink("Flows", page_url("search", service=name))]
    if kind == "topic":
        return [NodeLink("Messages", page_url("messages", topic=name))]
    if kind == DOMAIN:
        return [NodeLink("Catalog page", page_url("domain", name=name))]
    return []
