"""SLA breaches: durations per flow type and step over time, the error budget, the breaches.

Read from the per-minute flow rollups (``flow_rollups``): p50/p95/p99 of the whole flow (step
``*``) and of each step, the share judged within the SLA or deadline against an objective, and
how fast that spends the error budget. Then the flows that breached, most over first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import altair as alt
import streamlit as st

from collector.humanize import format_time
from collector.store import Store
from dashboard._store import flow_definitions, store_or_help
from dashboard.charts import bucket_bars, time_lines
from dashboard.markup import md
from dashboard.queries import (
    breach_counts,
    chart_data,
    distinct,
    measured_at,
    rollup_span,
    rollup_steps,
    sla_breaches,
    sla_series,
    sla_summary,
    step_limit_s,
)
from dashboard.table import show

WINDOWS = {  # label: (length, bucket minutes); None: since the first rollup
    "since the first rollup": (None, 0),
    "last 15 minutes": (timedelta(minutes=15), 1),
    "last hour": (timedelta(hours=1), 1),
    "last 6 hours": (timedelta(hours=6), 5),
    "last 24 hours": (timedelta(hours=24), 15),
    "last 7 days": (timedelta(days=7), 60),
}
ALL = "(all)"


def _percentiles(series: list[dict[str, Any]], limit_s: float | None) -> None:
    rows = [{"at": r["at"], "percentile": p.removesuffix("_s"), "seconds": r[p]}
            for r in series for p in ("p50_s", "p95_s", "p99_s")]
    chart: Any = time_lines(rows, "seconds", y_title="seconds", color="percentile")
    if limit_s is not None:  # the deadline or SLA the step is judged by, labelled
        mark = alt.Chart(chart_data([{"limit": limit_s, "label": "deadline / SLA"}]))
        chart = alt.layer(chart, mark.mark_rule(strokeDash=[4, 4], color="#E45756").encode(
            y="limit:Q"), mark.mark_text(align="left", dx=4, dy=-6, color="#E45756").encode(
            y="limit:Q", text="label:N", x=alt.value(0)))
    st.altair_chart(chart, width="stretch")


def _burn(series: list[dict[str, Any]], objective: float, bucket: int) -> None:
    st.altair_chart(bucket_bars(series, "burn_rate", y_title="burn rate",
                                bucket=timedelta(minutes=bucket)), width="stretch")
    st.caption(f"Burn rate: the share outside the SLA divided by the error budget "
               f"({1 - objective:.2%}); at 1 the budget lasts exactly the window, above 1 it "
               "runs out before.")
    st.altair_chart(time_lines(series, "budget_spent", y_title="error budget spent",
                               y_format="%"), width="stretch")


def _summary(store: Store, since: datetime, objective: float, flow_type: str | None) -> None:
    summary = sla_summary(store, since=since, objective=objective, flow_type=flow_type)
    definitions = flow_definitions()
    for r in summary:
        r["limit_s"] = step_limit_s(definitions, r["flow_type"], r["step"])
        r["step"] = "whole flow" if r["step"] == "*" else r["step"]
        r["within"] = f"{r['share_within_sla']:.1%}"
    st.subheader("Per flow type and step")
    show(summary, key="sla_summary", columns={
        "flow_type": "Flow type", "step": "Step", "limit_s": "Deadline / SLA",
        "flows": "Flows judged", "within": "Within deadline / SLA", "burn_rate": "Burn rate",
        "p50_s": "p50", "p95_s": "p95", "p99_s": "p99", "worst_p99_s": "Worst minute's p99"})


def _over_time(store: Store, flow_type: str, since: datetime, objective: float,
               bucket: int) -> None:
    st.subheader("Over time")
    step = st.selectbox(f"Step of {flow_type} (* is the whole flow)",
                        rollup_steps(store, flow_type), key="sla_step")
    series = sla_series(store, flow_type=flow_type, step=step or "*", since=since,
                        objective=objective, bucket_minutes=bucket)
    if not series:
        st.caption("No rollups of this step in the window.")
        return
    definitions = flow_definitions()
    _percentiles(series, step_limit_s(definitions, flow_type, step or "*"))
    st.markdown("**Error budget**")
    _burn(series, objective, bucket)


def _breaches(store: Store, flow_type: str | None) -> None:
    st.subheader("Breaches, most over first")
    counts = breach_counts(store, flow_type)
    after = [ALL, *sorted({str(c["step"]) for c in counts if c["step"] is not None})]
    chosen = st.selectbox("Waiting after step", after, key="sla_breach_step")
    step = None if chosen == ALL else chosen
    rows = sla_breaches(store, at=measured_at(store, datetime.now(UTC))[0],
                        definitions=flow_definitions(), flow_type=flow_type, step=step)
    if not rows:
        st.success("No SLA breaches" + ("" if flow_type is None else f" of {md(flow_type)}") + ".")
        return
    st.metric("Breaches", f"{sum(c['breaches'] for c in counts if step in (None, c['step'])):,}")
    show([{**r, "open": f"search?id={quote(r['correlation_id'], safe='')}"} for r in rows],
         key="sla_breaches", columns={
             "open": "Flow", "correlation_id": "Correlation id", "flow_type": "Flow type",
             "step": "Waiting after", "over_s": "Over by", "breached_at": "Breached (UTC)",
             "status": "Status now", "started_at": "Started (UTC)", "ended_at": "Ended (UTC)"},
         links={"Flow": "open"})


st.title("SLA breaches")
store = store_or_help()
if store is not None:
    c1, c2, c3 = st.columns(3)
    window = c1.selectbox("Window (ends at the latest minute)", list(WINDOWS), index=0,
                          key="sla_window")
    objective = c2.number_input("Objective (% within SLA)", min_value=50.0, max_value=99.99,
                                value=99.0, step=0.1, key="sla_objective") / 100
    types = distinct(store, "flow_rollups", "flow_type")
    chosen = c3.selectbox("Flow type", [ALL, *types], key="sla_flow_type")
    flow_type = None if chosen == ALL else chosen
    span = rollup_span(store)
    if span is None:
        st.info("No flow rollups yet: they are written as flows end.")
    else:
        length, bucket = WINDOWS[window]
        since = span[0] if length is None else span[1] - length + timedelta(minutes=1)
        if length is None:  # about a hundred bars, whole minutes
            bucket = max(1, int((span[1] - span[0]).total_seconds() // 6000))
        st.caption(f"Rollups from {format_time(span[0])} to {format_time(span[1])}; the "
                   "window ends at the latest minute.")
        _summary(store, since, objective, flow_type)
        _over_time(store, flow_type or types[0], since, objective, bucket)
    _breaches(store, flow_type)
