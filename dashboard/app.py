"""Choreoscope dashboard: ``streamlit run dashboard/app.py`` (or ``choreoscope dashboard``).

The store is read-only here; its URL comes from the settings (``CHOREOSCOPE_STORE``, the config
file, or the default ``sqlite:///choreoscope.db``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="Choreoscope", layout="wide")
navigation = st.navigation([
    st.Page(PAGES / "overview.py", title="Overview", default=True),
    st.Page(PAGES / "eventmap.py", title="Event map", url_path="map"),
    st.Page(PAGES / "search.py", title="Flow search", url_path="search"),
    st.Page(PAGES / "messages.py", title="Message browser", url_path="messages"),
    st.Page(PAGES / "stuck.py", title="Stuck workflows", url_path="stuck"),
    st.Page(PAGES / "sla.py", title="SLA breaches", url_path="sla"),
    st.Page(PAGES / "schemas.py", title="Schema compatibility", url_path="schemas"),
    st.Page(PAGES / "catalog.py", title="Catalog", url_path="catalog"),
    st.Page(PAGES / "health.py", title="Collector health", url_path="health"),
    # the catalog's own pages, reached by their links (event?type=, service?name=, domain?name=)
    st.Page(PAGES / "event.py", title="Event type", url_path="event", visibility="hidden"),
    st.Page(PAGES / "service.py", title="Service", url_path="service", visibility="hidden"),
    st.Page(PAGES / "domain.py", title="Domain", url_path="domain", visibility="hidden"),
])
navigation.run()
