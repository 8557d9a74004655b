"""The event map for other tools: GraphML (yEd, Gephi, Cytoscape) and JSON (node-link).

GraphML attributes are scalars, so lists become comma-separated text, times ISO 8601 text, and
absent values are left out. The JSON form keeps lists and uses ISO 8601 for times.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import networkx as nx

from catalog.eventmap import EventMap

__all__ = ["map_to_graphml", "map_to_json"]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _graphml_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(v) for v in value)
    return value


def _converted(graph: nx.DiGraph, convert: Any) -> nx.DiGraph:
    out = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        out.add_node(node, **{k: convert(v) for k, v in data.items() if v is not None})
    for src, dst, data in graph.edges(data=True):
        out.add_edge(src, dst, **{k: convert(v) for k, v in data.items() if v is not None})
    return out


def map_to_graphml(event_map: EventMap) -> str:
    """The map as a GraphML document."""
    buffer = io.BytesIO()
    nx.write_graphml(_converted(event_map.graph, _graphml_value), buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


def map_to_json(event_map: EventMap) -> dict[str, Any]:
    """The map as node-link JSON, with the window it covers."""
    data: dict[str, Any] = nx.node_link_data(_converted(event_map.graph, _json_value),
                                             edges="edges")
    window = event_map.window
    data["graph"] = {"window": None if window is None else {
        "start": window.start.isoformat(), "end": window.end.isoformat()}}
    return data
