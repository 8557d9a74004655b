"""Catalog: every event type with its owner, producers, consumers, topics, schemas and samples;
the undocumented and orphan events as their own lists."""

from __future__ import annotations

import streamlit as st

from catalog.entries import CatalogEntry, build_entries
from catalog.eventmap import EventMap
from catalog.reports import Finding, has_consumer_evidence
from collector.settings import load_settings
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.catalog_queries import (
    NO_TRAFFIC,
    catalog_rows,
    entry_of,
    findings,
    load_view,
    map_window,
    sample_payloads,
)

SAMPLES = 3


def _filtered(entries: list[CatalogEntry], text: str, domain: str, only: str
              ) -> list[CatalogEntry]:
    needle = text.strip().lower()
    return [e for e in entries
            if (not needle or needle in e.event_type.lower() or needle in e.owner.lower())
            and (not domain or e.domain == domain)
            and (only != "undocumented" or not e.documented)
            and (only != "documented" or e.documented)]


def _entry(store: Store, event_map: EventMap, name: str) -> None:
    entry = entry_of(event_map, name, sample_payloads(store, name, SAMPLES))
    if entry is None:
        return
    st.subheader(name)
    if entry.description:
        st.write(entry.description)
    c1, c2, c3 = st.columns(3)
    c1.write(f"**Owner** {entry.owner or '-'}  \n**Domain** {entry.domain or '-'}  \n"
             f"**Flows** {', '.join(entry.flows) or '-'}")
    c2.write(f"**Producers** {', '.join(entry.producers) or '-'}  \n"
             f"**Consumers** {', '.join(entry.consumers) or '-'}  \n"
             f"**Topics** {', '.join(entry.topics) or '-'}")
    c3.write(f"**Events** {entry.count:,}  \n**First seen** {entry.first_seen or '-'}  \n"
             f"**Last seen** {entry.last_seen or '-'}")
    declared = set(entry.declared_producers) | set(entry.declared_consumers)
    if declared:
        st.caption(f"Declared: producers {', '.join(entry.declared_producers) or '-'}, "
                   f"consumers {', '.join(entry.declared_consumers) or '-'}")
    if entry.versions:
        st.write(f"**Schema versions** {', '.join(f'v{v}' for v in entry.versions)}")
        st.page_link("views/schemas.py", label="Compare versions and see validation results",
                     query_params={"subject": name})
    else:
        st.warning(f"{name} has no schema: `choreoscope schemas propose {name}` infers one "
                   "from its stored payloads.")
    st.markdown("**Sample payloads** (as captured, redacted under the capture policy)")
    if not entry.samples:
        st.caption("No payloads captured.")
    for sample in entry.samples:
        st.caption(f"{sample.source} · {sample.event_id} · {sample.occurred_at:%Y-%m-%d %H:%M:%S}")
        st.json(sample.data, expanded=False)


def _findings_list(title: str, found: list[Finding], empty: str) -> None:
    st.subheader(f"{title} ({len(found)})")
    if found:
        st.dataframe([{"event type": f.event_type, "finding": f.report, "detail": f.message}
                      for f in found], hide_index=True, width="stretch")
    else:
        st.caption(empty)


def _page(store: Store) -> None:
    window = map_window(store, None)
    if window is None:
        st.info(NO_TRAFFIC)
    event_map = load_view(store, load_settings().schemas_dir, window).event_map
    entries = build_entries(event_map)
    domains = sorted({e.domain for e in entries if e.domain})
    c1, c2, c3 = st.columns([3, 2, 2])
    text = c1.text_input("Search", key="catalog_search", placeholder="event type or owner")
    domain = c2.selectbox("Domain", ["", *domains], key="catalog_domain",
                          format_func=lambda d: d or "all")
    only = c3.selectbox("Show", ["all", "documented", "undocumented"], key="catalog_only")
    shown = _filtered(entries, text, domain, only)
    span = "no traffic" if window is None else (f"traffic {window.start:%Y-%m-%d %H:%M} – "
                                                f"{window.end:%Y-%m-%d %H:%M} UTC")
    st.caption(f"{len(shown)} of {len(entries)} event types · {span}")
    st.dataframe(catalog_rows(shown), hide_index=True, width="stretch")
    names = [e.event_type for e in shown]
    if names:
        name = st.selectbox("Entry", names, key="catalog_entry")
        if name:
            _entry(store, event_map, name)
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
