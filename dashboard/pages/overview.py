"""Overview: events by type, flows by type and status, dead letters."""

from __future__ import annotations

import streamlit as st

from dashboard._store import store_or_help
from dashboard.queries import overview

st.title("Choreoscope")
st.caption("What flows through your choreographed system, right now.")
store = store_or_help()
if store is not None:
    data = overview(store)
    c1, c2, c3 = st.columns(3)
    c1.metric("Events", f"{data.events:,}")
    c2.metric("Flows", f"{data.flows:,}")
    c3.metric("Dead letters", f"{data.dead_letters:,}")
    left, right = st.columns(2)
    left.subheader("Flows by type and status")
    left.dataframe(data.flows_by_status, hide_index=True, use_container_width=True)
    right.subheader("Events by type")
    right.dataframe(data.events_by_type, hide_index=True, use_container_width=True)
