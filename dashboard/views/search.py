"""Flow search: where is order 4711? By correlation id, prefix or business key (an order id).

A flow shows its status, a Gantt timeline of its events and spans, the expected path against
the actual one, where it is stuck and for how long, and its schema violations. Other pages link
here with ``?id=CORRELATION_ID``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import altair as alt
import streamlit as st

from collector.flows.definition import FlowDefinition, load_definitions
from collector.flows.lookup import business_key_names, find_flow, nearest_ids
from collector.settings import load_settings
from collector.store import Store
from dashboard import flow_queries as fq
from dashboard._store import store_or_help
from dashboard.queries import chart_data, format_duration, measured_at, plain

MODES = ("Correlation id", "Prefix", "Business key")
LINK = st.column_config.LinkColumn("open", display_text="open")


@st.cache_resource
def _definitions(folder: str) -> tuple[FlowDefinition, ...]:
    path = Path(folder)
    return load_definitions([path]) if path.is_dir() else ()


def _link(correlation_id: str) -> str:
    return f"search?id={correlation_id}"


def _follow_query_param() -> None:
    """``?id=X`` fills the search box, once per new X (typing a new id moves the URL along)."""
    wanted = st.query_params.get("id")
    if wanted and wanted != st.session_state.get("_search_seen_id"):
        st.session_state["_search_seen_id"] = wanted
        st.session_state["correlation_id"] = wanted
        st.session_state["search_mode"] = MODES[0]


def _candidates(rows: list[dict[str, Any]]) -> None:
    st.dataframe([{"open": _link(r["correlation_id"]), **r} for r in rows], hide_index=True,
                 column_config={"open": LINK})


def _not_found(store: Store, text: str, names: list[str],
               near: Sequence[str] | None = None) -> None:
    st.error(f"No such flow: {text!r}")
    near = nearest_ids(store, text, names) if near is None else near
    if near:
        st.markdown("Nearest matches: " + ", ".join(f"[{n}]({_link(n)})" for n in near))


def _by_correlation(store: Store, text: str, names: list[str], at: datetime) -> None:
    found = find_flow(store, text, key_names=names)
    if found.correlation_id is not None:
        if found.how != "correlation id":
            st.caption(f"{text!r} is the {found.how} of flow `{found.correlation_id}`")
        _show_flow(store, found.correlation_id, at)
    elif found.candidates:
        st.info(f"{len(found.candidates)} flows match {text!r}")
        _candidates(list(found.candidates))
    else:
        _not_found(store, text, names, found.nearest)


def _by_prefix(store: Store, text: str, names: list[str]) -> None:
    rows = fq.prefix_matches(store, text)
    if not rows:
        _not_found(store, text, names)
        return
    more = " (the first ones)" if len(rows) == fq.MATCH_LIMIT else ""
    st.success(f"{len(rows)} flows whose correlation id starts with {text!r}{more}")
    _candidates(rows)


def _by_business_key(store: Store, name: str, value: str, names: list[str],
                     at: datetime) -> None:
    exact = fq.business_key_matches(store, value, [name])
    ids = {m["correlation_id"] for m in exact}
    if len(ids) == 1:
        _show_flow(store, ids.pop(), at)
        return
    if exact:
        st.info(f"{len(ids)} flows have {name} = {value!r}")
        _candidates(exact)
        return
    starting = fq.business_key_matches(store, value, [name], prefix=True)
    if starting:
        st.info(f"No {name} is {value!r}; these start with it")
        _candidates(starting)
    else:
        _not_found(store, value, names)


def _show_flow(store: Store, correlation_id: str, at: datetime) -> None:
    folder = str(load_settings().schemas_dir / "flows")
    details = fq.flow_details(store, correlation_id, _definitions(folder), now=at)
    st.header(f"Flow `{correlation_id}`")
    if not details:
        st.info("Events with this correlation id joined no flow (no definition starts them).")
    for d in details:
        _flow_summary(d, at)
    _timeline(store, correlation_id,
              [d.flow["stuck_since"] for d in details if d.stuck_for_s is not None])
    for d in details:
        _path_and_violations(d)


def _flow_summary(d: fq.FlowDetail, at: datetime) -> None:
    f = d.flow
    st.subheader(f"{f['flow_type']} · {f['status']}")
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
        st.warning(f"Stuck after **{f['stuck_step']}** since {f['stuck_since']} "
                   f"({format_duration(d.stuck_for_s)}); expected next: "
                   f"{' or '.join(f['expected_next']) or 'nothing'}")
    if f["sla_breached"]:
        st.error(f"SLA breached, over by {format_duration(f['sla_over_s'])}"
                 + ("" if f["ended_at"] else " so far"))
    st.caption(f"instance `{f['instance_id']}` · definition v{f['definition_version']} · "
               f"started {f['started_at']} · last event {f['last_event_type']} at "
               f"{f['last_event_at']} · ended {f['ended_at'] or '-'}")


def _timeline(store: Store, correlation_id: str, stuck_since: list[str]) -> None:
    rows, total = fq.timeline_rows(store, correlation_id)
    st.subheader("Timeline")
    if not rows:
        st.info("No events or spans stored for this flow.")
        return
    if total > len(rows):
        st.caption(f"The first {len(rows)} of {total} events and spans.")
    t0 = rows[0]["start"]
    data = plain([{**r, "from_s": (r["start"] - t0).total_seconds(),
                   "to_s": (r["end"] - t0).total_seconds()} for r in rows])
    lanes = alt.Y("lane:N", sort=[r["lane"] for r in rows], title=None,
                  axis=alt.Axis(labelLimit=260))
    base = alt.Chart(chart_data(data)).encode(
        y=lanes, color=alt.Color("service:N"),
        tooltip=["kind:N", "label:N", "service:N", "duration_ms:Q", "gap_ms:Q", "status:N",
                 "note:N"])
    x = alt.X("from_s:Q", title="seconds since the first entry")
    spans = base.transform_filter("datum.kind == 'span'").mark_bar(size=12).encode(
        x=x, x2=alt.X2(field="to_s"))
    events = base.transform_filter("datum.kind == 'event'").mark_point(
        shape="diamond", filled=True, size=110).encode(x=x)
    layers = [spans, events]
    if stuck_since:
        marks = [{"at_s": (datetime.fromisoformat(s) - t0).total_seconds(),
                  "what": "deadline passed: stuck"} for s in stuck_since]
        layers.append(alt.Chart(chart_data(marks)).mark_rule(
            color="#E45756", strokeDash=[6, 3], strokeWidth=2).encode(
            x="at_s:Q", tooltip=["what:N", "at_s:Q"]))
    st.altair_chart(alt.layer(*layers).properties(height=24 * len(rows) + 40),
                    width="stretch")
    with st.expander("Timeline entries"):
        st.dataframe([{k: v for k, v in r.items() if k not in ("n", "lane", "from_s", "to_s")}
                      for r in data], hide_index=True, key="timeline_entries")


def _path_and_violations(d: fq.FlowDetail) -> None:
    f = d.flow
    st.subheader(f"Expected against actual path · {f['flow_type']}")
    if d.path:
        st.dataframe(d.path, hide_index=True, key=f"path-{f['instance_id']}")
    else:
        st.caption(f"No definition of {f['flow_type']} v{f['definition_version']} is loaded.")
    outside = sorted({e["type"] for e in f["events"] if not e["step"]})
    for x in f["deviations"]:
        st.warning(f"{x['kind']}: {x['event_type']} after {x['after'] or 'the start'}")
    if outside:
        st.caption("Joined the flow without being steps: " + ", ".join(outside))
    st.subheader("Schema violations")
    if d.violations:
        st.dataframe(d.violations, hide_index=True, key=f"violations-{f['instance_id']}")
    else:
        st.caption("No schema violations in this flow's events.")


st.title("Flow search")
store = store_or_help()
if store is not None:
    _follow_query_param()
    names = business_key_names(store)
    at, replayed = measured_at(store, datetime.now(UTC))
    mode = st.radio("Search by", MODES, horizontal=True, key="search_mode")
    if mode == "Business key":
        left, right = st.columns([1, 3])
        name = left.selectbox("Key", names, key="key_name",
                              placeholder="no business keys indexed")
        value = right.text_input("Value", key="key_value", placeholder="e.g. ORD-4711").strip()
        if name and value:
            _by_business_key(store, name, value, names, at)
    else:
        text = st.text_input("Correlation id", key="correlation_id",
                             placeholder="a correlation id, an instance id or an order id"
                             ).strip()
        if text and mode == "Prefix":
            _by_prefix(store, text, names)
        elif text:
            st.query_params["id"] = text
            st.session_state["_search_seen_id"] = text
            _by_correlation(store, text, names, at)
    if replayed:
        st.caption(f"Ages measured at the store's latest activity, {at:%Y-%m-%d %H:%M:%S} UTC "
                   "(a replayed history).")
