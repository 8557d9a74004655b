"""Flow search, as Jaeger searches traces: find one flow, or browse them with filters.

One box takes what a user has: a correlation id, a business key (an order id), or a unique
prefix of a correlation or instance id (6 characters or more), resolved in that order
(`collector.flows.lookup`). Without an id, a form filters the flows by type, status, SLA
breach, schema violations, duration, time window, event type and service: a duration scatter
over time, then the result list, each row opening its flow. A flow shows its status, the
waterfall of its events and spans (`dashboard.waterfall`), the expected path against the actual
one and its schema violations. Other pages link here with ``?id=``, ``?event_type=`` and
``?service=``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import streamlit as st

from collector.flows.listing import SORTS, STATUSES, FlowFilter, list_flows
from collector.flows.lookup import business_key_names, find_flow
from collector.humanize import format_duration, format_time
from collector.store import Store
from dashboard import flow_queries as fq
from dashboard._store import flow_definitions, store_or_help
from dashboard.markup import md, md_join, md_link, page_url
from dashboard.queries import chart_data, measured_at
from dashboard.waterfall import show_waterfall

LINK = st.column_config.LinkColumn("open", display_text="open")
ALL = "All"
WINDOWS = {"Any time": None, "Last 15 minutes": timedelta(minutes=15),
           "Last hour": timedelta(hours=1), "Last 6 hours": timedelta(hours=6),
           "Last 24 hours": timedelta(days=1)}
PAGE_SIZES = (20, 50, 100, 200)
_FILTER_PARAMS = {"event_type": "search_event_type", "service": "search_service",
                  "flow_type": "search_flow_type"}


def _link(correlation_id: str) -> str:
    return page_url("search", id=correlation_id)


def code(value: object) -> str:
    """Data in a code span (shown as written), or escaped where a backtick would end it."""
    text = str(value)
    return f"`{text}`" if "`" not in text and "\n" not in text else md(text)


def _follow_query_params() -> None:
    """``?id=X`` fills the search box and ``?event_type=``, ``?service=``, ``?flow_type=``
    the filters, once per new value (typing moves the URL along)."""
    wanted = st.query_params.get("id")
    if wanted and wanted != st.session_state.get("_search_seen_id"):
        st.session_state["_search_seen_id"] = wanted
        st.session_state["correlation_id"] = wanted
    for param, key in _FILTER_PARAMS.items():
        value = st.query_params.get(param)
        if value and value != st.session_state.get(f"_seen_{param}"):
            st.session_state[f"_seen_{param}"] = value
            st.session_state[key] = value


# -- one flow ----------------------------------------------------------------------------------


def _candidates(rows: Sequence[dict[str, Any]]) -> None:
    st.dataframe([{"open": _link(r["correlation_id"]), "correlation id": r["correlation_id"],
                   "flow type": r.get("flow_type") or "", "status": r.get("status") or "",
                   "started (UTC)": format_time(r.get("started_at"), with_zone=False),
                   "matched by": r.get("matched", "")} for r in rows],
                 hide_index=True, column_config={"open": LINK}, key="search_candidates")


def _by_id(store: Store, text: str, at: datetime) -> None:
    names = business_key_names(store)
    found = find_flow(store, text, key_names=names)
    if found.correlation_id is not None:
        if found.how != "correlation id":
            st.caption(f"{code(text)} is the {md(found.how)} of flow "
                       f"{code(found.correlation_id)}")
        _show_flow(store, found.correlation_id, at)
    elif found.candidates:
        st.info(f"{len(found.candidates)} flows match {code(text)}: choose one")
        _candidates(found.candidates)
    else:
        st.error(f"No such flow: {code(text)}")
        if found.nearest:
            st.markdown("Nearest matches: "
                        + ", ".join(md_link(n, "search", id=n) for n in found.nearest))


def _show_flow(store: Store, correlation_id: str, at: datetime) -> None:
    definitions = flow_definitions()
    details = fq.flow_details(store, correlation_id, definitions, now=at)
    st.header(f"Flow {code(correlation_id)}", anchor=False)
    if not details:
        st.info("Events with this correlation id joined no flow (no definition starts them).")
    for d in details:
        _flow_summary(d, at)
    st.subheader("Waterfall")
    w = fq.waterfall(store, correlation_id, details, definitions)
    violations = [v for d in details for v in d.violations]
    show_waterfall(w, violations, key="flow")
    with st.expander("Waterfall entries"):
        st.dataframe([{"#": r["n"] + 1, "kind": r["kind"], "what": r["label"],
                       "service": r["service"],
                       "start (UTC)": format_time(r["start"], with_zone=False),
                       "took": r["took"], "idle before": r["gap"], "status": r["status"],
                       "note": r["note"]} for r in w.rows],
                     hide_index=True, key="timeline_entries")
    for d in details:
        _path_and_violations(d)


def _flow_summary(d: fq.FlowDetail, at: datetime) -> None:
    f = d.flow
    st.subheader(f"{md(f['flow_type'])} · {f['status']}", anchor=False)
    started = datetime.fromisoformat(f["started_at"])
    ended = None if f["ended_at"] is None else datetime.fromisoformat(f["ended_at"])
    c1, c2, c3 = st.columns(3)
    c1.metric("Status", f["status"])
    c2.metric("Events", f["event_count"])
    if d.stuck_for_s is not None:
        c3.metric("Stuck for", format_duration(d.stuck_for_s))
    elif ended is not None:
        c3.metric("Took", format_duration((ended - started).total_seconds()))
    else:
        c3.metric("Running for", format_duration((at - started).total_seconds()))
    if d.stuck_for_s is not None:
        st.warning(f"Stuck after **{md(f['stuck_step'])}** since "
                   f"{format_time(f['stuck_since'])} ({format_duration(d.stuck_for_s)}); "
                   f"expected next: {' or '.join(map(md, f['expected_next'])) or 'nothing'}")
    if f["sla_breached"]:
        st.error(f"SLA breached, over by {format_duration(f['sla_over_s'])}"
                 + ("" if f["ended_at"] else " so far"))
    st.caption(f"instance {code(f['instance_id'])} · definition v{f['definition_version']} · "
               f"started {format_time(f['started_at'])} · last event {md(f['last_event_type'])} "
               f"at {format_time(f['last_event_at'])}"
               + (f" · ended {format_time(f['ended_at'])}" if f["ended_at"] else ""))


def _path_and_violations(d: fq.FlowDetail) -> None:
    f = d.flow
    st.subheader(f"Expected against actual path · {md(f['flow_type'])}", anchor=False)
    if d.path:
        st.dataframe([{"expected": p["expected"], "actual": p["actual"] or "",
                       "verdict": p["verdict"], "at (UTC)": format_time(p["at"], with_zone=False),
                       "took": format_duration(p["took_s"]),
                       "deadline": format_duration(p["deadline_s"])} for p in d.path],
                     hide_index=True, key=f"path-{f['instance_id']}")
    else:
        st.caption(f"No definition of {md(f['flow_type'])} v{f['definition_version']} is "
                   "loaded.")
    outside = sorted({e["type"] for e in f["events"] if not e["step"]})
    for x in f["deviations"]:
        st.warning(f"{x['kind']}: {md(x['event_type'])} after "
                   f"{md(x['after']) if x['after'] else 'the start'}")
    if outside:
        st.caption("Joined the flow without being steps: " + md_join(outside))
    st.subheader("Schema violations")
    if d.violations:
        st.dataframe(d.violations, hide_index=True, key=f"violations-{f['instance_id']}")
    else:
        st.caption("No schema violations in this flow's events.")


# -- browse ------------------------------------------------------------------------------------


def _form(store: Store, at: datetime) -> FlowFilter:
    types = [ALL, *(d.flow_type for d in flow_definitions())]
    types = list(dict.fromkeys(types))
    if st.session_state.get("search_flow_type") not in (None, *types):
        types.append(st.session_state["search_flow_type"])
    c1, c2, c3, c4 = st.columns([1, 2, 1, 1])
    flow_type = c1.selectbox("Flow type", types, key="search_flow_type")
    statuses = c2.multiselect("Status", STATUSES, key="search_status",
                              placeholder="any status")
    window = c3.selectbox("Started", list(WINDOWS), key="search_window")
    sort = c4.radio("Sort by", SORTS, key="search_sort", horizontal=True,
                    format_func=lambda s: "newest" if s == "started" else "longest")
    c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1, 1])
    least = c1.number_input("Min duration (s)", min_value=0.0, value=None, step=1.0,
                            key="search_min_s")
    most = c2.number_input("Max duration (s)", min_value=0.0, value=None, step=1.0,
                           key="search_max_s")
    event_type = c3.text_input("Event type", key="search_event_type").strip()
    service = c4.text_input("Service", key="search_service").strip()
    limit = c5.selectbox("Page size", PAGE_SIZES, index=1, key="search_limit")
    c1, c2, _ = st.columns([1, 1, 3])
    breached = c1.checkbox("Has an SLA breach", key="search_breached")
    violated = c2.checkbox("Has schema violations", key="search_violations")
    span = WINDOWS[window]
    return FlowFilter(
        flow_type=None if flow_type == ALL else flow_type, statuses=tuple(statuses),
        breached=True if breached else None, violations=True if violated else None,
        min_duration_s=least, max_duration_s=most,
        since=None if span is None else at - span,
        event_type=event_type or None, service=service or None,
        sort="duration" if sort == "duration" else "started", limit=limit)


def _browse(store: Store, at: datetime) -> None:
    wanted = _form(store, at)
    rows = list_flows(store, wanted, at=at, definitions=flow_definitions())
    if not rows:
        st.info("No flows match these filters.")
        return
    order = "newest first" if wanted.sort == "started" else "longest first"
    more = f", the first {len(rows)}" if len(rows) == wanted.limit else ""
    st.markdown(f"**{len(rows)} flows**, {order}{more}")
    _scatter(rows)
    st.dataframe([{"open": _link(r["correlation_id"]), "correlation id": r["correlation_id"],
                   "flow type": r["flow_type"], "status": r["status"],
                   "started (UTC)": format_time(r["started_at"], with_zone=False),
                   "duration": format_duration(r["duration_s"]), "events": r["events"],
                   "SLA": ("over by " + format_duration(r["over_s"])) if r["sla_breached"]
                   else ""} for r in rows],
                 hide_index=True, column_config={"open": LINK}, key="search_results")


def _scatter(rows: list[dict[str, Any]]) -> None:
    """Duration over start time, a point per flow (as Jaeger draws its traces)."""
    data = [{"started": r["started_at"], "duration_s": r["duration_s"],
             "status": r["status"], "flow": r["correlation_id"], "type": r["flow_type"],
             "took": format_duration(r["duration_s"]), "url": _link(r["correlation_id"])}
            for r in rows]
    chart = alt.Chart(chart_data(data)).mark_circle(size=70, opacity=0.8).encode(
        x=alt.X("started:T", title="started (UTC)", axis=alt.Axis(format="%H:%M:%S")),
        y=alt.Y("duration_s:Q", title="duration (s)"),
        color=alt.Color("status:N", scale=alt.Scale(
            domain=list(STATUSES),
            range=["#4C78A8", "#54A24B", "#E45756", "#B279A2", "#F58518"])),
        href="url:N",
        tooltip=["flow:N", "type:N", "status:N", "took:N",
                 alt.Tooltip("started:T", format="%Y-%m-%d %H:%M:%S")])
    st.altair_chart(chart.properties(height=220), width="stretch")


st.title("Flow search")
store = store_or_help()
if store is not None:
    _follow_query_params()
    at, replayed = measured_at(store, datetime.now(UTC))
    text = st.text_input(
        "Find a flow", key="correlation_id",
        placeholder="a correlation id, an order or customer id, or the first 6+ characters "
                    "of an id").strip()
    if text:
        st.query_params["id"] = text
        st.session_state["_search_seen_id"] = text
        _by_id(store, text, at)
    else:
        if "id" in st.query_params:
            del st.query_params["id"]
        _browse(store, at)
    if replayed:
        st.caption(f"Ages measured at the detection clock this stored history reached, "
                   f"{format_time(at)}.")
