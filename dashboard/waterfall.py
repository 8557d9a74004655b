"""A flow's waterfall, as Jaeger draws a trace: a row per event and span, every one visible.

Spans are bars at least `flow_queries.MIN_WIDTH_SHARE` of the axis wide, events are points
(instants), coloured by service; the gap between consecutive steps is a grey line labelled with
its length; the step deadline and the SLA are labelled vertical rules. Clicking a row (anywhere
on it) opens its detail panel: a span's attributes and links, an event's headers, redacted
payload, schema and violations. The panel also follows the "Entry" chooser under the chart.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

from dashboard import flow_queries as fq
from dashboard.markup import md, md_join, md_link
from dashboard.queries import chart_data, plain

__all__ = ["show_waterfall"]

ROW_PX = 26
_PICKED = "_waterfall_picked"


def show_waterfall(w: fq.Waterfall, violations: list[dict[str, Any]], key: str) -> None:
    """The chart, the entry chooser and the detail panel of the chosen entry."""
    if not w.rows:
        st.info("No events or spans stored for this flow.")
        return
    if w.total > len(w.rows):
        st.caption(f"The first {len(w.rows)} of {w.total} events and spans.")
    event = st.altair_chart(_chart(w), width="stretch", on_select="rerun",
                            selection_mode="row", key=f"{key}-chart")
    labels = [r["lane"] for r in w.rows]
    clicked = _clicked(event)
    chooser = f"{key}-entry"
    if st.session_state.get(chooser) not in (None, *labels):  # an entry of another flow
        del st.session_state[chooser]
    if clicked is not None and clicked < len(labels) \
            and clicked != st.session_state.get(f"{_PICKED}{key}"):
        st.session_state[f"{_PICKED}{key}"] = clicked
        st.session_state[chooser] = labels[clicked]
    chosen = st.selectbox("Entry", labels, index=None, key=chooser,
                          placeholder="click a row of the waterfall, or choose it here")
    if chosen is not None:
        _detail(w.rows[labels.index(chosen)], violations)


def _clicked(event: Any) -> int | None:
    try:
        picked = event["selection"]["row"]
    except (KeyError, TypeError):
        return None
    if isinstance(picked, list) and picked and "n" in picked[0]:
        return int(picked[0]["n"])
    return None


def _chart(w: fq.Waterfall) -> alt.LayerChart:
    data = plain([{k: v for k, v in r.items() if k != "detail"} for r in w.rows])
    lanes = alt.Y("lane:N", sort=[r["lane"] for r in w.rows], title=None,
                  axis=alt.Axis(labelLimit=260))
    x = alt.X("from_s:Q", title="seconds since the first entry",
              scale=alt.Scale(domain=[0, w.axis_s * 1.02]))
    base = alt.Chart(chart_data(data)).encode(y=lanes)
    color = alt.Color("service:N", title="service")
    spans = base.transform_filter("datum.kind == 'span'").mark_bar(size=14).encode(
        x=x, x2=alt.X2(field="to_s"), color=color)
    events = base.transform_filter("datum.kind == 'event'").mark_point(
        shape="diamond", filled=True, size=140, opacity=1).encode(x=x, color=color)
    layers: list[Any] = [spans, events]
    if w.gaps:
        gaps = alt.Chart(chart_data(w.gaps)).encode(y=lanes)
        layers += [
            gaps.mark_rule(color="#9e9e9e", strokeDash=[2, 2]).encode(
                x="from_s:Q", x2=alt.X2(field="to_s")),
            gaps.mark_text(dy=-9, fontSize=10, color="#616161").encode(
                x="mid_s:Q", text="text:N"),
        ]
    for kind, colour in (("deadline", "#E45756"), ("SLA", "#F58518")):
        marks = [m for m in w.marks if m["kind"] == kind]
        if marks:
            rule = alt.Chart(chart_data(marks))
            layers += [
                rule.mark_rule(strokeDash=[6, 3], strokeWidth=2, color=colour).encode(
                    x="at_s:Q", tooltip=["text:N"]),
                rule.mark_text(align="left", dx=4, baseline="top", y=2, fontSize=11,
                               fontWeight="bold", color=colour).encode(x="at_s:Q", text="text:N"),
            ]
    layers.append(_row_bands(base, w.axis_s))
    height = ROW_PX * len(w.rows) + 50
    return alt.LayerChart(layer=layers, height=height)


def _row_bands(base: alt.Chart, axis: float) -> alt.Chart:
    """A nearly transparent band over each whole row, on top: a click anywhere on a row picks
    it (bars and points beneath would leave most of the row unclickable), and it carries the
    row's tooltip."""
    pick = alt.selection_point(name="row", fields=["n"], on="click", empty=False)
    band: alt.Chart = base.mark_bar(height=ROW_PX - 2, color="#000000", opacity=0.001,
                         cursor="pointer").encode(
        x=alt.datum(0), x2=alt.datum(axis * 1.02),
        tooltip=[alt.Tooltip("kind:N"), alt.Tooltip("label:N"), alt.Tooltip("service:N"),
                 alt.Tooltip("took:N"), alt.Tooltip("gap:N", title="idle before"),
                 alt.Tooltip("status:N"), alt.Tooltip("note:N")],
    ).add_params(pick)
    return band


def _detail(row: dict[str, Any], violations: list[dict[str, Any]]) -> None:
    d = row["detail"]
    with st.container(border=True, key="waterfall_detail"):
        st.markdown(f"#### {md(row['label'])} · {md(row['service'])}")
        facts = {k: v for k, v in d.items() if isinstance(v, str) and v and k != "what"}
        facts = {"kind": d["what"], "took": row["took"], **facts}
        st.table([{"field": k, "value": v} for k, v in facts.items()])
        if d["what"] == "event":
            _event_parts(d, [v for v in violations if v.get("event_id") == d["id"]])
        else:
            _span_parts(d)


def _event_parts(d: dict[str, Any], violations: list[dict[str, Any]]) -> None:
    st.markdown(f"Catalog: {md_link(d['type'], 'event', type=d['type'])} · "
                f"{md_link(d['source'], 'service', name=d['source'])}")
    st.markdown("**Headers**")
    if d["headers"]:
        st.table([{"header": k, "value": v} for k, v in d["headers"].items()])
    else:
        st.caption("No headers stored for this event.")
    if d["business keys"]:
        st.caption("Business keys: " + ", ".join(f"{md(k)} = {md(v)}"
                                                 for k, v in d["business keys"].items()))
    st.markdown("**Payload** (redacted as stored)")
    if d["payload"] is None:
        st.caption("No payload kept: the capture policy stores none for this event.")
    else:
        st.json(d["payload"], expanded=True)
    st.markdown("**Schema violations**")
    if violations:
        st.table([{"field": v["field"], "rule": v["keyword"], "message": v["message"]}
                  for v in violations])
    else:
        st.caption(f"None against {md(d['schema']) if d['schema'] else 'its schema'}.")


def _span_parts(d: dict[str, Any]) -> None:
    st.markdown("**Attributes**")
    if d.get("attributes"):
        st.table([{"attribute": k, "value": str(v)} for k, v in d["attributes"].items()])
    else:
        st.caption("No attributes.")
    st.markdown("**Links**")
    if d.get("links"):
        st.table([{k: str(v) for k, v in link.items()} for link in d["links"]])
    else:
        st.caption("No links.")
    if d.get("consumes"):
        st.caption("Consumed events: " + md_join(d["consumes"]))
