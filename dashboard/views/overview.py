"""Overview: events by type, flows by type and status, stuck flows, dead letters."""

from __future__ import annotations

import streamlit as st

from dashboard._store import store_or_help
from dashboard.queries import overview
from dashboard.table import show

st.title("Choreoscope")
st.caption("What flows through your choreographed system, right now.")
store = store_or_help()
if store is not None:
    data = overview(store)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Events", f"{data.events:,}")
    c2.metric("Flows", f"{data.flows:,}")
    c3.metric("Stuck flows", f"{data.stuck:,}")
    c4.metric("Dead letters", f"{data.dead_letters:,}")
    links = st.columns(5)
    links[0].page_link("views/search.py", label="Find a flow", icon=":material/search:")
    links[4].page_link("views/messages.py", label="Browse messages", icon=":material/list:")
    links[1].page_link("views/stuck.py", label="Stuck workflows", icon=":material/pending:")
    links[2].page_link("views/sla.py", label="SLA breaches", icon=":material/timer:")
    links[3].page_link("views/health.py", label="Collector health",
                       icon=":material/monitor_heart:")
    left, right = st.columns(2)
    left.subheader("Flows by type and status")
    with left:
        show(data.flows_by_status, key="flows_by_status",
             columns={"flow_type": "Flow type", "status": "Status", "flows": "Flows"})
    right.subheader("Events by type")
    with right:
        show(data.events_by_type, key="events_by_type",
             columns={"event_type": "Event type", "events": "Events"})
