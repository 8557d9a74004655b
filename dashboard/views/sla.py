"""SLA breaches: durations per flow type and step over time, the error budget, the breaches.

Read from the per-minute flow rollups (``flow_rollups``): p50/p95/p99 of the whole flow (step
``*``) and of each step, the share judged within the SLA or deadline against an objective, and
how fast that spends the error budget. Then the flows that breached, most over first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import streamlit as st

from collector.store import Store
from dashboard._store import flow_definitions, store_or_help
from dashboard.queries import (
    breach_counts,
    chart_data,
    distinct,
    format_duration,
    measured_at,
    plain,
    rollup_span,
    rollup_steps,
    sla_breaches,
    sla_series,
    sla_summary,
)

WINDOWS = {  # label: (length, bucket minutes)
    "last 15 minutes": (timedelta(minutes=15), 1),
    "last hour": (timedelta(hours=1), 1),
    "last 6 hours": (timedelta(hours=6), 5),
    "last 24 hours": (timedelta(hours=24), 15),
    "last 7 days": (timedelta(days=7), 60),
}
ALL = "(all)"


def _percentiles(series: list[dict[str, Any]]) -> None:
    data = chart_data([{"at": r["at"], "percentile": p.removesuffix("_s"),
                             "seconds": r[p]} for r in plain(series)
                            for p in ("p50_s", "p95_s", "p99_s")])
    st.altair_chart(alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("at:T", title=None), y=alt.Y("seconds:Q"), color="percentile:N",
        tooltip=["at:T", "percentile:N", "seconds:Q"]), width="stretch")


def _burn(series: list[dict[str, Any]], objective: float) -> None:
    data = chart_data(series)
    rate = alt.Chart(data).mark_bar(opacity=0.6).encode(
        x=alt.X("at:T", title=None), y=alt.Y("burn_rate:Q", title="burn rate"),
        tooltip=["at:T", "flows:Q", "within_sla:Q", "share_within_sla:Q",
                 "burn_rate:Q"])
    rule = alt.Chart(chart_data([{"y": 1.0}])).mark_rule(strokeDash=[4, 4]).encode(y="y:Q")
    spent = alt.Chart(data).mark_line(color="#E45756").encode(
        x="at:T", y=alt.Y("budget_spent:Q", title="budget spent (cumulative)",
                          axis=alt.Axis(format="%")))
    st.altair_chart(alt.layer(rate + rule, spent).resolve_scale(y="independent"),
                    width="stretch")
    st.caption(f"Burn rate: the share outside the SLA divided by the budget "
               f"({1 - objective:.2%}); above 1 the budget runs out before the window ends.")


def _summary(store: Store, since: datetime, objective: float, flow_type: str | None) -> None:
    summary = sla_summary(store, since=since, objective=objective, flow_type=flow_type)
    st.subheader("Per flow type and step")
    st.dataframe(summary, hide_index=True, key="sla_summary", column_order=(
        "flow_type", "step", "flows", "share_within_sla", "burn_rate", "p50_s", "p95_s",
        "p99_s", "worst_p99_s", "within_sla"), column_config={
        "share_within_sla": st.column_config.NumberColumn(format="percent"),
        "burn_rate": st.column_config.NumberColumn(format="%.2f")})


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
    _percentiles(series)
    st.markdown("**Error budget**")
    _burn(series, objective)


def _breaches(store: Store, flow_type: str | None) -> None:
    st.subheader("Breaches, most over first")
    counts = breach_counts(store, flow_type)
    after = [ALL, *sorted({str(c["step"]) for c in counts if c["step"] is not None})]
    chosen = st.selectbox("Waiting after step", after, key="sla_breach_step")
    step = None if chosen == ALL else chosen
    rows = sla_breaches(store, at=measured_at(store, datetime.now(UTC))[0],
                        definitions=flow_definitions(), flow_type=flow_type, step=step)
    if not rows:
        st.success("No SLA breaches" + ("" if flow_type is None else f" of {flow_type}") + ".")
        return
    st.metric("Breaches", f"{sum(c['breaches'] for c in counts if step in (None, c['step'])):,}")
    st.dataframe([{"open": f"search?id={r['correlation_id']}", **r,
                   "over": format_duration(r["over_s"])} for r in rows],
                 hide_index=True, key="sla_breaches", column_config={
                     "open": st.column_config.LinkColumn("open", display_text="open")})


st.title("SLA breaches")
store = store_or_help()
if store is not None:
    c1, c2, c3 = st.columns(3)
    window = c1.selectbox("Window", list(WINDOWS), index=3, key="sla_window")
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
        since = span[1] - length + timedelta(minutes=1)
        st.caption(f"Rollups from {span[0]:%Y-%m-%d %H:%M} to {span[1]:%Y-%m-%d %H:%M} UTC; "
                   "the window ends at the latest minute.")
        _summary(store, since, objective, flow_type)
        _over_time(store, flow_type or types[0], since, objective, bucket)
    _breaches(store, flow_type)
