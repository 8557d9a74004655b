"""Stuck workflows: flows waiting past a step's deadline, oldest first, with a way into each.

Filters by flow type and by the step a flow waits after; counts per type and step, and the
stuck flows by when they got stuck. Each row links to the flow search (``search?id=...``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import streamlit as st

from collector.store import Store
from dashboard._store import store_or_help
from dashboard.queries import (
    STUCK_LIMIT,
    chart_data,
    distinct,
    format_duration,
    measured_at,
    stuck_counts,
    stuck_flows,
    stuck_over_time,
)

ALL = "(all)"
REFRESH = timedelta(seconds=10)


def _filters(store: Store) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    """The chosen flow type and step, and the stuck counts per type and step under them."""
    left, right = st.columns(2)
    chosen = left.selectbox("Flow type", [ALL, *distinct(store, "flows", "flow_type")],
                            key="stuck_flow_type")
    flow_type = None if chosen == ALL else chosen
    counts = stuck_counts(store, flow_type)
    steps = [ALL, *sorted({str(c["step"]) for c in counts if c["step"] is not None})]
    chosen_step = right.selectbox("Waiting after step", steps, key="stuck_step")
    step = None if chosen_step == ALL else chosen_step
    return flow_type, step, [c for c in counts if step in (None, c["step"])]


def _headline(counts: list[dict[str, Any]], at: datetime, replayed: bool) -> int:
    total = sum(int(c["flows"]) for c in counts)
    oldest = min((c["oldest"] for c in counts), default=None)
    c1, c2 = st.columns(2)
    c1.metric("Stuck flows", f"{total:,}")
    c2.metric("Oldest stuck for", format_duration(
        None if oldest is None else (at - datetime.fromisoformat(oldest)).total_seconds()))
    if replayed:
        st.caption(f"Ages measured at the store's latest activity, {at:%Y-%m-%d %H:%M:%S} UTC "
                   "(a replayed history).")
    return total


def _table(rows: list[dict[str, Any]], total: int) -> None:
    shown = f"the oldest {len(rows)} of {total:,}" if total > len(rows) else f"{len(rows)}"
    st.subheader(f"Stuck flows, oldest first ({shown})")
    st.dataframe([{
        "open": f"search?id={r['correlation_id']}", "correlation_id": r["correlation_id"],
        "flow_type": r["flow_type"], "waiting after": r["stuck_step"],
        "expected next": r["expected_next"], "stuck for": format_duration(r["stuck_for_s"]),
        "stuck_for_s": round(r["stuck_for_s"] or 0.0, 3), "stuck since": r["stuck_since"],
        "started": r["started_at"], "last event": r["last_event_type"],
    } for r in rows], hide_index=True, key="stuck_table", column_config={
        "open": st.column_config.LinkColumn("open", display_text="open in search")})
    if len(rows) == STUCK_LIMIT:
        st.caption(f"Only the oldest {STUCK_LIMIT} are listed; filter to see others.")


def _over_time(series: list[dict[str, Any]]) -> None:
    st.subheader("Over time")
    st.caption("Flows stuck now, by when they got stuck; the line is how many of them were "
               "stuck at each time.")
    data = chart_data(series)
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("at:T", title=None), y=alt.Y("got_stuck:Q", title="got stuck"),
        color="flow_type:N", tooltip=["at:T", "flow_type:N", "got_stuck:Q", "open:Q"])
    line = alt.Chart(data).mark_line(point=True).encode(
        x="at:T", y=alt.Y("open:Q", title="stuck"), color="flow_type:N")
    st.altair_chart(alt.layer(bars, line).resolve_scale(y="independent"), width="stretch")


def _stuck(store: Store) -> None:
    at, replayed = measured_at(store, datetime.now(UTC))
    flow_type, step, counts = _filters(store)
    total = _headline(counts, at, replayed)
    rows = stuck_flows(store, at=at, flow_type=flow_type, step=step)
    if rows:
        _table(rows, total)
    else:
        st.success("No stuck flows" + ("" if flow_type is None and step is None
                                       else " for this filter") + ".")
    st.subheader("Stuck flows per type and step")
    st.dataframe(counts, hide_index=True, key="stuck_counts")
    series = stuck_over_time(store, flow_type=flow_type, step=step)
    if series:
        _over_time(series)


st.title("Stuck workflows")
store = store_or_help()
if store is not None:
    live = st.toggle(f"Refresh every {REFRESH.seconds} s", key="stuck_live")
    st.fragment(run_every=REFRESH if live else None)(_stuck)(store)
