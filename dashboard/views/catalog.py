"""Catalog: every event type with its owner, producers, consumers, topics and schemas, searchable
by name, field, owner, producer and consumer, each linked to its own page (``event?type=``,
``service?name=``, ``domain?name=``); the undocumented and orphan events as their own lists,
with what to do about them."""

from __future__ import annotations

import streamlit as st

from catalog.entries import CatalogEntry, build_entries
from catalog.reports import Finding, has_consumer_evidence
from catalog.search import Hit
from collector.settings import load_settings
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.catalog_queries import NO_TRAFFIC, catalog_rows, findings, load_view, map_window
from dashboard.catalog_widgets import DOMAIN, EVENT, SERVICE
from dashboard.markup import md, md_link, md_links
from dashboard.page_queries import search_rows

HITS_SHOWN = 30
SEARCH_HELP = ("Words match event type names, field names, owners, producers and consumers; "
               "narrow a word with name:, field:, owner:, producer: or consumer: "
               "(field:customer_id).")


def _filtered(entries: list[CatalogEntry], domain: str, only: str) -> list[CatalogEntry]:
    return [e for e in entries
            if (not domain or e.domain == domain)
            and (only != "undocumented" or not e.documented)
            and (only != "documented" or e.documented)]


def _hits(hits: list[Hit]) -> None:
    """Each event type found, linked to its page, with what matched (a field's pointer and
    versions)."""
    lines = [f"- {md_link(h.event_type, EVENT, type=h.event_type)}: {md(h.describe())}"
             for h in hits[:HITS_SHOWN]]
    st.markdown("\n".join(lines))
    if len(hits) > HITS_SHOWN:
        st.caption(f"{len(hits) - HITS_SHOWN} more in the table below.")


def _findings_list(title: str, found: list[Finding], empty: str) -> None:
    st.subheader(f"{title} ({len(found)})", anchor=False)
    if found:
        st.dataframe([{"event type": f.event_type, "finding": f.report, "detail": f.message,
                       "what to do": _advice(f)} for f in found],
                     hide_index=True, width="stretch")
    else:
        st.caption(empty)


def _advice(f: Finding) -> str:
    if f.report == "undocumented":
        return f"choreoscope schemas propose {f.event_type}"
    if f.report == "orphan-produced":
        return "find the missing consumer, or stop producing it"
    if f.report == "orphan-consumed":
        return "check the producer, or drop the subscription"
    return ""


def _page(store: Store) -> None:
    window = map_window(store, None)
    if window is None:
        st.info(NO_TRAFFIC)
    view = load_view(store, load_settings().schemas_dir, window)
    event_map = view.event_map
    entries = build_entries(event_map)
    domains = sorted({e.domain for e in entries if e.domain})
    c1, c2, c3 = st.columns([3, 2, 2])
    text = c1.text_input("Search", key="catalog_search", help=SEARCH_HELP,
                         placeholder="name, field:customer_id, owner:, producer:, consumer:")
    domain = c2.selectbox("Domain", ["", *domains], key="catalog_domain",
                          format_func=lambda d: d or "all")
    only = c3.selectbox("Show", ["all", "documented", "undocumented"], key="catalog_only")
    hits = search_rows(_filtered(entries, domain, only), view.schemas, text)
    shown = [h.entry for h in hits]
    span = "no traffic" if window is None else (f"traffic {window.start:%Y-%m-%d %H:%M} – "
                                                f"{window.end:%Y-%m-%d %H:%M} UTC")
    st.caption(f"{len(shown)} of {len(entries)} event types · {span}")
    if text.strip():
        _hits(hits)
    st.dataframe(catalog_rows(shown), hide_index=True, width="stretch")
    st.markdown(f"**Domains** {md_links(domains, DOMAIN, 'name')}  \n"
                f"**Services** {md_links(event_map.nodes('service'), SERVICE, 'name')}")
    if not text.strip():
        st.markdown("**Event types** " + md_links([e.event_type for e in shown], EVENT, "type"))
    _findings_list("Undocumented events", findings(event_map, "undocumented"),
                   "Every event type seen has a schema.")
    orphans = findings(event_map, "orphans")
    _findings_list("Orphan events", orphans, "Every event type produced is consumed, and "
                   "every one consumed is produced.")
    if not has_consumer_evidence(event_map):
        st.caption("No consumer spans or consumer groups observed: produced-but-never-consumed "
                   "is not judged.")
    with st.expander("Other findings: violating producers, shared topics, declared but unseen"):
        other = [f for name in ("violations", "shared-topics", "declared-unseen")
                 for f in findings(event_map, name)]
        st.dataframe([f.to_json() for f in other], hide_index=True, width="stretch")


st.title("Catalog")
st.caption("Event types as discovered from live traffic, merged with their schemas.")
store = store_or_help()
if store is not None:
    _page(store)
