"""Domain page (``/domain?name=orders``): its event types and services, its flows, and its own
small map."""

from __future__ import annotations

import streamlit as st

from catalog.pages import domains_of
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.catalog_queries import catalog_rows
from dashboard.catalog_widgets import (
    EVENT,
    SERVICE,
    entity_page,
    small_map,
)
from dashboard.markup import md, md_links
from dashboard.page_queries import domain_page


def _page(store: Store) -> None:
    page = entity_page(store, "Domain", "name", "domain_choose",
                       names=lambda state: domains_of(state.view.event_map),
                       none_yet="No domains yet: schemas name theirs with x-domain.",
                       lookup=domain_page)
    if page is None:
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Event types", len(page.entries))
    c2.metric("Services", len(page.services))
    c3.metric("Flows", len(page.flows))
    st.markdown(f"**Event types** {md_links([e.event_type for e in page.entries], EVENT, 'type')}"
                f"  \n**Services** {md_links(page.services, SERVICE, 'name')}  \n"
                f"**Topics** {md(', '.join(page.topics) or '-')}  \n"
                f"**Flows** {md(', '.join(page.flows) or '-')}")
    st.dataframe(catalog_rows(page.entries), hide_index=True, width="stretch",
                 key="domain_entries")
    st.subheader("Map", anchor=False)
    small_map(page.domain_map)


st.title("Domain")
store = store_or_help()
if store is not None:
    _page(store)
