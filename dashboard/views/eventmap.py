"""Event map: services, event types and topics as a live graph; click a node for its entry.

The map refreshes itself every few seconds (a fragment) from the traffic rollups; the selected
node lives in the session, so a refresh or a filter change keeps it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

import altair as alt
import streamlit as st

from catalog.eventmap import EventMap
from collector.settings import load_settings
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.catalog_queries import (
    KINDS,
    MAP_WINDOWS,
    NO_TRAFFIC,
    MapEdge,
    MapNode,
    entry_of,
    graph_shape,
    layout,
    load_view,
    map_elements,
    map_window,
    rollup_lag,
    sample_payloads,
    stalls_by_event_type,
    view_of,
)

REFRESH = timedelta(seconds=5)
LABELLED_EDGES = 150  # past this many edges, labels stay in the tooltips
NAMED_NODES = 400
LABEL_AT = (0.5, 0.3, 0.7)  # where along its edge a label sits, in turn: fewer overlaps
KIND_LABELS = {"service": "services", "event": "event types", "topic": "topics"}
COLOURS = {"service": "#4C78A8", "event type": "#54A24B", "topic": "#9D755D",
           "violations": "#E45756", "stalled": "#F2A900", "undocumented": "#B279A2"}
EDGE_COLOURS = {"ok": "#B8B8B8", "violations": "#E45756", "declared": "#7F7F7F"}
HOPS = {"whole map": 0, "1 hop": 1, "2 hops": 2, "3 hops": 3}
SELECTED = "map_node"
LAST_CLICK = "map_last_click"
CHART = "map_chart"


def _colour(node: MapNode) -> str:
    if node.state != "ok":
        return node.state
    return "event type" if node.kind == "event" else node.kind


def _node_data(nodes: list[MapNode], selected: str | None) -> dict[str, Any]:
    return {"values": [{**asdict(n), "colour": _colour(n), "selected": n.id == selected}
                            for n in nodes]}


def _edge_data(edges: list[MapEdge]) -> dict[str, Any]:
    return {"values": [asdict(e) for e in edges]}


def _label_data(edges: list[MapEdge]) -> dict[str, Any]:
    """Edge labels at the middle of their edges (a dataset of their own)."""
    placed = [(e, LABEL_AT[i % len(LABEL_AT)]) for i, e in enumerate(edges) if e.label]
    return {"values": [{"x": e.x + (e.x2 - e.x) * at, "y": e.y + (e.y2 - e.y) * at,
                        "text": e.label} for e, at in placed]}


def _chart(nodes: list[MapNode], edges: list[MapEdge], labels: bool,
           selected: str | None) -> alt.LayerChart:
    node_frame, edge_frame = _node_data(nodes, selected), _edge_data(edges)
    x = alt.X("x:Q", axis=None, scale=alt.Scale(domain=[-0.3, 2.6]))
    low = min((n.y for n in nodes), default=0.0)
    y = alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[low - 0.8, 0.8], nice=False))
    pick = alt.selection_point(name="node", fields=["id"], on="click", empty=False)
    zoom = alt.selection_interval(name="zoom", bind="scales")
    wires = alt.Chart(edge_frame).mark_rule(opacity=0.7).encode(
        x=x, y=y, x2="x2:Q", y2="y2:Q",
        color=alt.Color("state:N", title="edge", scale=alt.Scale(
            domain=list(EDGE_COLOURS), range=list(EDGE_COLOURS.values()))),
        strokeDash=alt.condition("datum.state == 'declared'", alt.value([4, 3]),
                                 alt.value([1, 0])),
        tooltip=["kind:N", "source:N", "target:N", "label:N"],
    ).add_params(zoom)
    layers: list[alt.Chart] = [wires]
    if labels and len(edges) <= LABELLED_EDGES:
        layers.append(alt.Chart(_label_data(edges)).mark_text(fontSize=9, color="#555").encode(
            x=x, y=y, text="text:N"))
    points = alt.Chart(node_frame).mark_point(filled=True, opacity=1).encode(
        x=x, y=y,
        shape=alt.Shape("kind:N", scale=alt.Scale(domain=list(KINDS),
                                                  range=["square", "circle", "diamond"])),
        color=alt.Color("colour:N", title="node", scale=alt.Scale(
            domain=list(COLOURS), range=list(COLOURS.values()))),
        size=alt.condition("datum.selected", alt.value(500), alt.value(160)),
        stroke=alt.condition("datum.selected", alt.value("black"), alt.value(None)),
        tooltip=["kind:N", "name:N", "events:Q", "violations:Q", "stuck:Q"],
    ).add_params(pick)
    layers.append(points)
    if len(nodes) <= NAMED_NODES:
        layers.append(alt.Chart(node_frame).mark_text(align="left", dx=9, fontSize=11).encode(
            x=x, y=y, text="name:N"))
    tallest = max((sum(1 for n in nodes if n.kind == k) for k in KINDS), default=1)
    chart = alt.LayerChart(layer=layers, height=min(900, max(360, 26 * tallest)))
    resolved: alt.LayerChart = chart.resolve_scale(color="independent")
    return resolved


def _clicked(state: Any) -> str | None:
    """The node id a chart click selected, if any (from the chart's state in the session)."""
    selection = state.get("selection") if isinstance(state, dict) else None
    picked = (selection or {}).get("node") or []
    return str(picked[0]["id"]) if picked and "id" in picked[0] else None


def _apply_click(clicked: str | None) -> None:
    """A new click wins over the selectbox; the same click seen again (a refresh) does not."""
    if clicked != st.session_state.get(LAST_CLICK):
        st.session_state[LAST_CLICK] = clicked
        if clicked is not None:
            st.session_state[SELECTED] = clicked


def _show_event(store: Store, event_map: EventMap, name: str) -> None:
    entry = entry_of(event_map, name, sample_payloads(store, name))
    if entry is None:
        st.info(f"{name} is not on the map in this window.")
        return
    st.markdown(f"**{name}**{'' if entry.documented else '  · undocumented (no schema)'}")
    if entry.description:
        st.caption(entry.description)
    st.write(f"Owner: {entry.owner or '-'} · domain: {entry.domain or '-'} · "
             f"versions: {', '.join(f'v{v}' for v in entry.versions) or '-'}")
    st.write(f"Producers: {', '.join(entry.producers) or '-'}  \n"
             f"Consumers: {', '.join(entry.consumers) or '-'}  \n"
             f"Topics: {', '.join(entry.topics) or '-'}  \nFlows: {', '.join(entry.flows) or '-'}")
    st.write(f"{entry.count:,} events in the window, last seen {entry.last_seen or '-'}")
    if entry.versions:
        st.page_link("views/schemas.py", label="Schema versions and compatibility",
                     query_params={"subject": name})
    for sample in entry.samples[:1]:
        st.json(sample.data, expanded=False)


def _show_node(store: Store, event_map: EventMap, node: str) -> None:
    kind, _, name = node.partition(":")
    if kind == "event":
        _show_event(store, event_map, name)
    elif kind == "service":
        st.markdown(f"**service {name}**")
        st.write(f"Produces: {', '.join(event_map.produced_by(name)) or '-'}  \n"
                 f"Consumes: {', '.join(event_map.consumed_by(name)) or '-'}")
    else:
        st.markdown(f"**topic {name}**")
        st.write(f"Carries: {', '.join(event_map.event_types_on(name)) or '-'}")


def _node_picker(nodes: list[MapNode]) -> str | None:
    options = [""] + [n.id for n in nodes]
    current = st.session_state.get(SELECTED)
    if current and current not in options:
        options.append(current)  # selected before a filter hid it: keep it
    return st.selectbox("Or choose a node", options, key=SELECTED,
                        format_func=lambda n: n.replace(":", ": ", 1) if n else "—")


@st.fragment(run_every=REFRESH)
def live_map(store: Store, filters: dict[str, Any]) -> None:
    settings = load_settings()
    window = map_window(store, MAP_WINDOWS[filters["window"]])
    if window is None:
        st.info(NO_TRAFFIC)
    full = load_view(store, settings.schemas_dir, window).event_map
    hops = HOPS[filters["hops"]]
    view = view_of(full, domain=filters["domain"], flow_type=filters["flow"],
                   kinds=filters["kinds"], around=st.session_state.get(SELECTED) if hops else None,
                   hops=hops)
    nodes, edges = map_elements(view, layout(graph_shape(view)), stalls_by_event_type(store))
    cols = st.columns(4)
    for col, kind in zip(cols, KINDS, strict=False):
        col.metric(KIND_LABELS[kind].capitalize(), sum(1 for n in nodes if n.kind == kind))
    cols[3].metric("Edges", len(edges))
    lag = rollup_lag(store)
    span = "no traffic" if window is None else (f"{window.start:%Y-%m-%d %H:%M} – "
                                                f"{window.end:%H:%M} UTC")
    st.caption(f"{span}, refreshed every {REFRESH.seconds} s"
               + (f" · {lag:,} newer event{'s' * (lag != 1)} not on the map yet" if lag else ""))
    _apply_click(_clicked(st.session_state.get(CHART)))
    left, right = st.columns([3, 1])
    with left:
        st.altair_chart(_chart(nodes, edges, filters["labels"], st.session_state.get(SELECTED)),
                        width="stretch", key=CHART, on_select="rerun",
                        selection_mode="node")
    with right:
        node = _node_picker(nodes)
        if node:
            _show_node(store, full, node)


def _filters(store: Store) -> dict[str, Any]:
    settings = load_settings()
    graph = load_view(store, settings.schemas_dir, map_window(store, None)).event_map.graph
    events = [d for _, d in graph.nodes(data=True) if d["kind"] == "event"]
    domains = sorted({d["domain"] for d in events if d["domain"]})
    flows = sorted({f for d in events for f in d["flows"]})
    c1, c2, c3, c4, c5, c6 = st.columns([2, 2, 2, 3, 2, 1])
    return {
        "window": c1.selectbox("Window", list(MAP_WINDOWS), index=len(MAP_WINDOWS) - 1,
                               key="map_window"),
        "domain": c2.selectbox("Domain", ["", *domains], key="map_domain",
                               format_func=lambda d: d or "all"),
        "flow": c3.selectbox("Flow type", ["", *flows], key="map_flow",
                             format_func=lambda f: f or "all"),
        "kinds": c4.multiselect("Show", list(KINDS), default=list(KINDS), key="map_kinds",
                                format_func=KIND_LABELS.__getitem__),
        "hops": c5.selectbox("Around the selected node", list(HOPS), key="map_hops",
                             help="Only the nodes this many edges from the selected one"),
        "labels": c6.toggle("Labels", value=True, key="map_labels"),
    }


st.title("Event map")
st.caption("Who produces and consumes what, on which topics: edges carry the rate and p95 "
           "producer-to-consumer latency; red marks schema violations, amber stuck flows.")
store = store_or_help()
if store is not None:
    live_map(store, _filters(store))
