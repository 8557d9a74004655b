"""Flow search: where is order 4711? The flows and events of a correlation id, in time order."""

from __future__ import annotations

import streamlit as st

from dashboard._store import store_or_help
from dashboard.queries import find_flows, nearest_correlation_ids

st.title("Flow search")
store = store_or_help()
if store is not None:
    key = st.text_input("Correlation id", key="correlation_id",
                        placeholder="e.g. the order id a customer gave you")
    if key:
        match = find_flows(store, key)
        if match is None:
            st.error(f"No such flow: {key!r}")
            near = nearest_correlation_ids(store, key.strip()[:4])
            if near:
                st.write("Nearest matches:", ", ".join(near[:10]))
        else:
            for flow in match.flows:
                st.subheader(f"{flow.flow_type} · {flow.status.value}")
                started = f"{flow.started_at:%Y-%m-%d %H:%M:%S} UTC"
                st.write(f"instance `{flow.instance_id}`, started {started}, "
                         f"last event {flow.last_event_type}")
            st.dataframe(
                [{"time": e.occurred_at.isoformat(), "type": e.type, "source": e.source,
                  "id": e.id, "caused by": e.causation_id} for e in match.events],
                hide_index=True, use_container_width=True,
            )
