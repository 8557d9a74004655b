"""A small map of part of the event map as Graphviz DOT, for the catalog's service and domain
pages (the Event map page draws the whole map its own way).

Left to right: producers, event types, consumers; topics hang off their event types. Names are
quoted DOT strings (never HTML-like labels), so a name cannot become markup.
"""

from __future__ import annotations

from catalog.eventmap import EventMap
from catalog.traffic import EdgeKind

__all__ = ["map_dot"]

_SHAPES = {"service": "box", "event": "ellipse", "topic": "cds"}
_COLOURS = {"service": "#dbeafe", "event": "#fef3c7", "topic": "#e5e7eb"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _rate(rate: float | None) -> str:
    if rate is None:
        return ""
    return f"{rate:.3g}/min" if rate >= 1 else f"{rate * 60:.3g}/h"


def map_dot(event_map: EventMap, focus: str | None = None) -> str:
    """The map as a ``digraph``; ``focus`` (a node id such as ``service:NAME``) is drawn bold."""
    lines = ["digraph map {", "  rankdir=LR; bgcolor=transparent;",
             '  node [fontname="sans-serif", fontsize=11, style=filled];',
             '  edge [fontname="sans-serif", fontsize=9, color="#6b7280"];']
    for node, d in sorted(event_map.graph.nodes(data=True)):
        kind = str(d["kind"])
        extra = ", penwidth=3" if node == focus else ""
        lines.append(f"  {_quote(node)} [label={_quote(str(d['name']))}, "
                     f"shape={_SHAPES.get(kind, 'ellipse')}, "
                     f'fillcolor="{_COLOURS.get(kind, "#ffffff")}"{extra}];')
    for src, dst, d in sorted(event_map.graph.edges(data=True), key=lambda e: (e[0], e[1])):
        style = "" if d.get("observed") else ', style=dashed, tooltip="declared, never seen"'
        label = "" if d["kind"] == EdgeKind.CARRIED_ON else _rate(d.get("rate_per_min"))
        lines.append(f"  {_quote(src)} -> {_quote(dst)} [label={_quote(label)}{style}];")
    lines.append("}")
    return "\n".join(lines)
