"""Stuck workflows: flows waiting past a step's deadline, oldest first, with a way into each.

Filters by flow type and by the step a flow waits after; counts per type and step, and the
stuck flows by when they got stuck. Each row links to the flow search (``search?id=...``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import streamlit as st

from collector.humanize import format_time
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.charts import bucket_bars, time_lines
from dashboard.queries import (
    STUCK_LIMIT,
    distinct,
    format_duration,
    measured_at,
    stuck_counts,
    stuck_flows,
    stuck_over_time,
)
from dashboard.table import show

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
        st.caption(f"Ages measured at the store's latest activity, {format_time(at)} "
                   "(a replayed history).")
    return total


def _table(rows: list[dict[str, Any]], total: int) -> None:
    shown = f"the oldest {len(rows)} of {total:,}" if total > len(rows) else f"{len(rows)}"
    st.subheader(f"Stuck flows, oldest first ({shown})")
    show([{**r, "open": f"search?id={quote(r['correlation_id'], safe='')}"} for r in rows],
         key="stuck_table", columns={
             "open": "Flow", "correlation_id": "Correlation id", "flow_type": "Flow type",
             "stuck_step": "Waiting after", "expected_next": "Expected next",
             "stuck_for_s": "Stuck for", "stuck_since": "Stuck since (UTC)",
             "started_at": "Started (UTC)", "last_event_type": "Last event"},
         links={"Flow": "open in search"})
    if len(rows) == STUCK_LIMIT:
        st.caption(f"Only the oldest {STUCK_LIMIT} are listed; filter to see others.")


def _over_time(series: list[dict[str, Any]]) -> None:
    st.subheader("Over time")
    st.caption("Flows stuck now, by when they got stuck; the line is how many of them were "
               "stuck at each time.")
    per_hour = len(series[0]["bucket"]) == 13
    unit = "hour" if per_hour else "minute"
    bucket = timedelta(hours=1) if per_hour else timedelta(minutes=1)
    st.altair_chart(bucket_bars(series, "got_stuck", y_title=f"got stuck per {unit}",
                                color="flow_type", bucket=bucket), width="stretch")
    st.altair_chart(time_lines(series, "open", y_title="stuck (running total)",
                               color="flow_type"), width="stretch")


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
    show(counts, key="stuck_counts", columns={
        "flow_type": "Flow type", "step": "Waiting after", "flows": "Stuck flows",
        "oldest": "Oldest stuck since (UTC)"})
    series = stuck_over_time(store, flow_type=flow_type, step=step)
    if series:
        _over_time(series)


st.title("Stuck workflows")
store = store_or_help()
if store is not None:
    live = st.toggle(f"Refresh every {REFRESH.seconds} s", key="stuck_live")
    st.fragment(run_every=REFRESH if live else None)(_stuck)(store)
