"""Event map: producers → event types → consumers and topics, laid out by Graphviz ``dot``.

Click a node (or choose it) for its side panel; its neighbourhood is highlighted and the rest
dimmed. The map refreshes itself every few seconds (a fragment); the selection lives in the
session and the zoom in the browser, so a refresh keeps both. Domains are drawn as boxes; a
click on a box collapses the domain to one node, its side panel expands it again.
"""

from __future__ import annotations

import shlex
from datetime import timedelta
from typing import Any

import streamlit as st

from catalog._graphviz import MapLayoutError
from catalog.eventmap import EventMap
from catalog.mapdrawing import DOMAIN, collapse_domains
from collector.humanize import format_time
from collector.settings import load_settings
from collector.store import Store
from dashboard._mapcomponent import map_component
from dashboard._store import store_or_help
from dashboard.catalog_queries import (
    KINDS,
    MAP_WINDOWS,
    NO_TRAFFIC,
    entry_of,
    load_view,
    map_window,
    rollup_lag,
    sample_payloads,
    stalls_by_event_type,
    view_of,
)
from dashboard.map_queries import draw_map, node_edges, node_links, node_rate, picture_data
from dashboard.markup import md, md_code

REFRESH = timedelta(seconds=5)
KIND_LABELS = {"service": "services", "event": "event types", "topic": "topics"}
HOPS = {"whole map": 0, "1 hop": 1, "2 hops": 2, "3 hops": 3}
SELECTED = "map_node"
COLLAPSED = "map_collapsed"
MAP = "map_svg"
PANEL = "map_panel"
# the side panel stays in view beside a map taller than the window
_STICKY = ('<style>[data-testid="stColumn"]:has(.st-key-' + PANEL + ') { position: sticky; '
           "top: 4rem; align-self: flex-start; max-height: calc(100vh - 5rem); "
           "overflow-y: auto; }</style>")

def _component_value(name: str) -> object:
    """What the map component's last event ``name`` carried (in the session, by its key)."""
    value: Any = st.session_state.get(MAP)
    return value.get(name) if value is not None and hasattr(value, "get") else None


def _on_click() -> None:
    """A click on a node selects it (before the chooser is drawn, so the chooser follows)."""
    clicked = _component_value("clicked")
    if isinstance(clicked, str) and clicked:
        st.session_state[SELECTED] = clicked


def _on_collapse() -> None:
    domain = _component_value("collapse")
    if isinstance(domain, str) and domain:
        st.session_state[COLLAPSED] = sorted({*st.session_state.get(COLLAPSED, []), domain})


def _expand(domain: str) -> None:
    st.session_state[COLLAPSED] = [d for d in st.session_state.get(COLLAPSED, []) if d != domain]
    st.session_state[SELECTED] = ""


def _rate(per_min: float | None) -> str:
    if per_min is None:
        return "no traffic in the window"
    return f"{per_min:.3g} events/min" if per_min >= 1 else f"{per_min * 60:.3g} events/h"


def _show_event(store: Store, event_map: EventMap, name: str) -> None:
    entry = entry_of(event_map, name, sample_payloads(store, name))
    if entry is None:
        return
    if not entry.documented:
        st.warning("Undocumented: no schema. Run "
                   f"{md_code('choreoscope schemas propose ' + shlex.quote(name))} to "
                   "draft one from its traffic.", icon=":material/help:")
    elif not entry.consumers:
        st.warning("Orphan: no service consumes it.", icon=":material/link_off:")
    if entry.description:
        st.caption(md(entry.description))
    st.markdown(f"Owner: {md(entry.owner or '-')} · domain: {md(entry.domain or '-')}"
                f" · versions: {', '.join(f'v{v}' for v in entry.versions) or '-'}  \n"
                f"Producers: {md(', '.join(entry.producers) or '-')}  \n"
                f"Consumers: {md(', '.join(entry.consumers) or '-')}  \n"
                f"Topics: {md(', '.join(entry.topics) or '-')}  \n"
                f"Flows: {md(', '.join(entry.flows) or '-')}  \n"
                f"Last seen: {format_time(entry.last_seen, empty='-')}")


def _show_other(event_map: EventMap, node: str) -> None:
    kind, _, name = node.partition(":")
    g = event_map.graph
    if kind == "service":
        st.markdown(f"Produces: {md(', '.join(event_map.produced_by(name)) or '-')}  \n"
                    f"Consumes: {md(', '.join(event_map.consumed_by(name)) or '-')}")
    elif kind == "topic":
        st.markdown(f"Carries: {md(', '.join(event_map.event_types_on(name)) or '-')}")
    elif kind == DOMAIN:
        members = sorted(g.nodes[node].get("members", []))
        st.markdown(f"Collapsed: {md(', '.join(m.replace(':', ' ', 1) for m in members))}")
        if st.button("Expand this domain", key="map_expand", on_click=_expand, args=(name,)):
            st.rerun(scope="app")  # the collapsed-domains filter is outside this fragment


def _side_panel(store: Store, full: EventMap, shown: EventMap, node: str) -> None:
    kind, _, name = node.partition(":")
    source = shown if node in shown.graph else full
    if node not in source.graph:
        st.info(f"{md(name)} is not on the map in this window.")
        return
    st.subheader(md(name), anchor=False)
    st.caption(f"{kind} · {_rate(node_rate(source, node))}")
    if kind == "event":
        _show_event(store, full, name)
    else:
        _show_other(source, node)
    links = node_links(full, node)
    if links:
        st.markdown(" · ".join(f"[{md(link.label)}]({link.url})" for link in links))
    rows = node_edges(source, node)
    if rows:
        st.markdown("\n".join(
            f"- {'←' if r['direction'] == 'in' else '→'} {md(r['with'])}: "
            f"{md(r['metrics'] or r['seen'])}" for r in rows))
        with st.expander(f"{len(rows)} edges, every metric"):
            st.dataframe(rows, hide_index=True, width="stretch", column_order=(
                "direction", "with", "edge", "per minute", "p95 ms", "invalid", "events",
                "last seen", "seen"))


def _node_picker(nodes: list[str]) -> str | None:
    options = ["", *nodes]
    current = st.session_state.get(SELECTED)
    if current and current not in options:
        options.append(current)  # selected before a filter hid it: keep it
    return st.selectbox("Selected node (or click one on the map)", options, key=SELECTED,
                        format_func=lambda n: n.replace(":", ": ", 1) if n else "—")


def _metrics(view: EventMap, window_text: str, lag: int) -> None:
    cols = st.columns(4)
    for col, kind in zip(cols, KINDS, strict=False):
        col.metric(KIND_LABELS[kind].capitalize(), len(view.nodes(kind)))
    cols[3].metric("Edges", view.graph.number_of_edges())
    st.caption(f"{window_text}, refreshed every {REFRESH.seconds} s"
               + (f" · {lag:,} newer event{'s' * (lag != 1)} not on the map yet" if lag else ""))


@st.fragment(run_every=REFRESH)
def live_map(store: Store, filters: dict[str, Any]) -> None:
    settings = load_settings()
    window = map_window(store, MAP_WINDOWS[filters["window"]])
    if window is None:
        st.info(NO_TRAFFIC)
    full = load_view(store, settings.schemas_dir, window).event_map
    hops = HOPS[filters["hops"]]
    selected = st.session_state.get(SELECTED) or None
    view = view_of(full, domain=filters["domain"], flow_type=filters["flow"],
                   kinds=filters["kinds"], around=selected if hops else None, hops=hops)
    collapsed = list(st.session_state.get(COLLAPSED, filters["collapsed"]))  # a click's too
    shown = collapse_domains(view, collapsed)
    span = "no traffic" if window is None else (f"{window.start:%Y-%m-%d %H:%M} – "
                                                f"{window.end:%H:%M} UTC")
    head = st.container()  # the counts above the map, sent after it (the map comes first)
    try:
        picture = draw_map(shown, stalls=stalls_by_event_type(store),
                           group_by_domain=filters["group"],
                           edge_labels=None if filters["labels"] else False)
    except MapLayoutError as exc:
        st.error(str(exc))
        return
    left, right = st.columns([4, 1.4])
    with left:
        view_key = "|".join([filters["domain"], filters["flow"], *filters["kinds"],
                             filters["hops"], *collapsed])
        drawn = map_component(picture_data(picture, shown, selected, view_key), key=MAP,
                              on_clicked=_on_click, on_collapse=_on_collapse)
        if getattr(drawn, "collapse", None):
            st.rerun(scope="app")  # redraw the collapsed-domains filter (outside the fragment)
        hint = "Ctrl + wheel: zoom · drag: pan · double-click: fit · click a node: select"
        if not picture.drawing.edge_labels and picture.drawing.edges:
            hint += " · many edges: their rates are in the tooltips and the side panel"
        st.caption(hint)
    with head:
        _metrics(view, span, rollup_lag(store))
    with right, st.container(key=PANEL):
        node = _node_picker(sorted(shown.graph.nodes))
        if node:
            _side_panel(store, full, shown, node)


def _chosen() -> dict[str, Any]:
    """The filters' values as the widgets of `_filters` hold them (their defaults before the
    first run), read before the widgets are drawn so that the map is sent first."""
    state = st.session_state
    return {
        "window": state.get("map_window", list(MAP_WINDOWS)[-1]),
        "domain": state.get("map_domain", ""),
        "flow": state.get("map_flow", ""),
        "hops": state.get("map_hops", next(iter(HOPS))),
        "kinds": list(state.get("map_kinds", KINDS)),
        "collapsed": list(state.get(COLLAPSED, [])),
        "group": state.get("map_group", True),
        "labels": state.get("map_labels", True),
    }


def _filters_label(chosen: dict[str, Any]) -> str:
    """The filters' button: what is chosen other than the defaults, so it shows while closed."""
    parts = []
    if chosen["window"] != list(MAP_WINDOWS)[-1]:
        parts.append(chosen["window"])
    parts += [f"{what} {chosen[key]}" for what, key in (("domain", "domain"), ("flow", "flow"))
              if chosen[key]]
    if HOPS.get(chosen["hops"]):
        parts.append(f"{chosen['hops']} around the selected node")
    if set(chosen["kinds"]) != set(KINDS):
        parts.append(" and ".join(KIND_LABELS[k] for k in KINDS if k in chosen["kinds"])
                     or "nothing shown")
    if chosen["collapsed"]:
        parts.append(f"{len(chosen['collapsed'])} collapsed")
    if not chosen["group"]:
        parts.append("no domain boxes")
    if not chosen["labels"]:
        parts.append("no rates on edges")
    return md(" · ".join(["Filters", *parts]))


def _filters(store: Store) -> dict[str, Any]:
    settings = load_settings()
    graph = load_view(store, settings.schemas_dir, map_window(store, None)).event_map.graph
    events = [d for _, d in graph.nodes(data=True) if d["kind"] == "event"]
    domains = sorted({d["domain"] for d in events if d["domain"]})
    flows = sorted({f for d in events for f in d["flows"]})
    c1, c2, c3, c4 = st.columns(4)
    chosen = {
        "window": c1.selectbox("Window", list(MAP_WINDOWS), index=len(MAP_WINDOWS) - 1,
                               key="map_window"),
        "domain": c2.selectbox("Domain", ["", *domains], key="map_domain",
                               format_func=lambda d: d or "all"),
        "flow": c3.selectbox("Flow type", ["", *flows], key="map_flow",
                             format_func=lambda f: f or "all"),
        "hops": c4.selectbox("Around the selected node", list(HOPS), key="map_hops",
                             help="Only the nodes this many edges from the selected one"),
    }
    c5, c6, c7 = st.columns([2, 2, 1])
    if COLLAPSED in st.session_state:  # a domain collapsed before it left the options
        domains = sorted({*domains, *st.session_state[COLLAPSED]})
    chosen |= {
        "kinds": c5.multiselect("Show", list(KINDS), default=list(KINDS), key="map_kinds",
                                format_func=KIND_LABELS.__getitem__),
        "collapsed": c6.multiselect("Collapsed domains", domains, key=COLLAPSED,
                                    help="Each one drawn as a single node; a click on a "
                                         "domain's box collapses it too"),
    }
    with c7:
        chosen["group"] = st.toggle("Domain boxes", value=True, key="map_group")
        chosen["labels"] = st.toggle("Rates on edges", value=True, key="map_labels",
                                     help="Past 90 edges the rates stay in the tooltips")
    return chosen


st.title("Event map")
st.caption("Who produces and consumes what, on which topics: edges carry the rate and p95 "
           "producer-to-consumer latency; red marks schema violations, dashed edges are "
           "declared but never seen.")
store = store_or_help()
st.html(_STICKY)
if store is not None:
    # The map is what people wait for: it is drawn first, below the filters' (empty) place, and
    # the filter widgets after it, in a popover (the browser builds its eight widgets only when
    # it opens: measured, 0.25-0.4 s less before the map is drawn on a loaded machine). Should a
    # widget not keep the value read before it (its options changed), the page runs again with
    # what the widgets hold.
    filter_area = st.container()
    before = _chosen()
    live_map(store, before)
    with filter_area.popover(_filters_label(before), icon=":material/filter_list:"):
        if _filters(store) != before:
            st.rerun()
