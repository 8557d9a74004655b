"""Service page (``/service?name=payment-service``): what it produces and consumes, its topics,
its violations and dead letters, and its neighbourhood on the map."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from catalog.pages import ServiceEdge, ServicePage
from collector.humanize import format_count, format_time
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.catalog_widgets import (
    DOMAIN,
    EVENT,
    SERVICE,
    entity_page,
    small_map,
)
from dashboard.markup import md, md_link, md_links
from dashboard.page_queries import service_dead_letters, service_page, service_violations


def _rows(edges: Sequence[ServiceEdge]) -> list[dict[str, object]]:
    return [{"event type": e.event_type,
             "seen": "observed" if e.observed else "declared, never seen",
             "events": e.count,
             "per min (average)": None if e.rate_per_min is None else round(e.rate_per_min, 3),
             "violations": e.violations,
             "p95 ms": "" if e.p95_ms is None else f"{e.p95_ms:g}", "topics": ", ".join(e.topics),
             "last seen": format_time(e.last_seen, with_zone=False)} for e in edges]


def _edges(title: str, edges: Sequence[ServiceEdge], key: str) -> None:
    st.subheader(f"{title} ({len(edges)})", anchor=False)
    if not edges:
        st.caption("Nothing.")
        return
    st.markdown(md_links([e.event_type for e in edges], EVENT, "type"))
    st.dataframe(_rows(edges), hide_index=True, width="stretch", key=key)


def _summary(page: ServicePage) -> None:
    produced = sum(e.count for e in page.produces)
    c1, c2, c3 = st.columns(3)
    c1.metric("Events produced", format_count(produced))
    c2.metric("Event types", len({e.event_type for e in (*page.produces, *page.consumes)}))
    c3.metric("Violations", format_count(sum(e.violations for e in page.produces)))
    st.markdown(f"**Domains** {md_links(page.domains, DOMAIN, 'name')}  \n"
                f"**Topics** {md(', '.join(page.topics) or '-')}  \n"
                f"**Flows** {md(', '.join(page.flows) or '-')} · "
                f"{md_link('search its flows', 'search', service=page.name)} · "
                f"{md_link('messages it sent', 'messages', source=page.name)}")


def _page(store: Store) -> None:
    page = entity_page(store, "Service", "name", "service_choose",
                       names=lambda state: state.view.event_map.nodes("service"),
                       none_yet="No services yet: neither traffic nor imported contracts.",
                       lookup=service_page)
    if page is None:
        return
    _summary(page)
    _edges("Produces", page.produces, "service_produces")
    _edges("Consumes", page.consumes, "service_consumes")
    st.subheader("Violations", anchor=False)
    violations = service_violations(store, page.name, [e.event_type for e in page.produces])
    if violations:
        st.dataframe(violations, hide_index=True, width="stretch", key="service_violations")
    else:
        st.caption("None of its events failed validation.")
    st.subheader("Dead letters on its topics", anchor=False)
    produced_topics = sorted({t for e in page.produces for t in e.topics})
    letters = service_dead_letters(store, produced_topics)
    if letters:
        st.dataframe(letters, hide_index=True, width="stretch", key="service_dead_letters")
    else:
        st.caption("No dead letters on the topics it produces to.")
    st.subheader("Neighbourhood", anchor=False)
    st.markdown(f"Services one event away: {md_links(page.neighbours, SERVICE, 'name')}")
    small_map(page.neighbourhood)


st.title("Service")
store = store_or_help()
if store is not None:
    _page(store)
