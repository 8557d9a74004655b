"""Event type page (``/event?type=OrderPlaced``): owner, domain, producers and consumers, topics,
live rate, the schema as a field table per version, the difference between two versions with
its verdict, validation per producer and version, the newest samples, and its flows."""

from __future__ import annotations

import json

import streamlit as st

from catalog.changes import Mode, Policy
from catalog.exceptions import CatalogError
from catalog.pages import EventPage
from collector.humanize import format_count, format_time
from collector.settings import load_settings
from collector.store import Store
from dashboard._store import store_or_help
from dashboard.catalog_queries import (
    MODES,
    compare_versions,
    registry_of,
    schema_ids,
    validation_by_producer,
)
from dashboard.catalog_widgets import DOMAIN, SERVICE, entity_page
from dashboard.markup import md, md_link, md_links
from dashboard.page_queries import entries_of, event_page


def _rate(page: EventPage) -> str:
    rate = page.rate_per_min
    if rate is None:
        return "-"
    return f"{rate:.3g}/min" if rate >= 1 else f"{rate * 60:.3g}/h"


def _topics(page: EventPage) -> str:
    """Each topic, linked to its messages of this type in the Message browser."""
    links = [md_link(t, "messages", topic=t, type=page.name) for t in page.entry.topics]
    return ", ".join(links) or "-"


def _summary(page: EventPage) -> None:
    e = page.entry
    if e.description:
        st.markdown(md(e.description))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rate", _rate(page), help="Events per minute over the last 15 minutes of "
              "rolled-up traffic, all producers together.")
    c2.metric("Events", format_count(e.count))
    c3.metric("Producers", len(e.producers))
    c4.metric("Schema versions", len(e.versions))
    domain = md_link(e.domain, DOMAIN, name=e.domain) if e.domain else "-"
    st.markdown(f"**Owner** {md(e.owner or '-')}  \n**Domain** {domain}  \n"
                f"**Producers** {md_links(e.producers, SERVICE, 'name')}  \n"
                f"**Consumers** {md_links(e.consumers, SERVICE, 'name')}  \n"
                f"**Topics** {_topics(page)}  \n"
                f"**Flows with it** {md_link('search', 'search', event_type=e.event_type)}  \n"
                f"**Last seen** {md(format_time(e.last_seen, empty='-'))} · **first seen** "
                f"{md(format_time(e.first_seen, empty='-'))}")
    if e.declared_producers or e.declared_consumers:
        st.caption(f"Declared (imported contracts): producers "
                   f"{md_links(e.declared_producers, SERVICE, 'name')}, consumers "
                   f"{md_links(e.declared_consumers, SERVICE, 'name')}")


def _fields(page: EventPage) -> None:
    st.subheader("Schema", anchor=False)
    if not page.fields:
        st.caption("No schema registered.")
        if page.inferred:
            st.markdown(f"Fields its {page.inferred_from} newest stored payloads carry "
                        "(inferred: what `choreoscope schemas propose` starts from):")
            st.dataframe([{"field": f.pointer, "type": f.type, "required": f.required,
                           "format": f.format, "constraints": f.constraints}
                          for f in page.inferred], hide_index=True, width="stretch",
                         key="event_fields_inferred")
        return
    numbers = sorted(page.fields, reverse=True)  # the newest first
    for tab, number in zip(st.tabs([f"v{n}" for n in numbers]), numbers, strict=True):
        with tab:
            st.dataframe([{"field": h.field.pointer, "type": h.field.type,
                           "required": h.field.required, "format": h.field.format,
                           "constraints": h.field.constraints,
                           "description": h.field.description, "since": f"v{h.since}"}
                          for h in page.fields[number]], hide_index=True, width="stretch",
                         key=f"event_fields_v{number}")


def _diff(page: EventPage) -> None:
    numbers = sorted(page.fields)
    if len(numbers) < 2:
        return
    st.subheader("Changes between versions", anchor=False)
    settings = load_settings()
    try:
        registry = registry_of(settings.schemas_dir, Mode(settings.registry.mode),
                               Policy(settings.registry.policy))
        c1, c2 = st.columns(2)
        old = c1.selectbox("From", numbers, index=len(numbers) - 2, key="event_old",
                           format_func=lambda v: f"v{v}")
        new = c2.selectbox("To", numbers, index=len(numbers) - 1, key="event_new",
                           format_func=lambda v: f"v{v}")
        diff = compare_versions(registry, page.name, old, new)
    except CatalogError as exc:
        st.error(md(exc))
        return
    verdict = "compatible" if diff.verdicts.get(diff.mode, True) else "breaking"
    st.markdown(f"v{new} after v{old} is **{verdict}** under the subject's mode "
                f"**{diff.mode.value}** (" + ", ".join(
                    f"{m.value} {'yes' if diff.verdicts[m] else 'no'}" for m in MODES) + ").")
    rows = diff.change_rows
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch", key="event_changes")
    else:
        st.caption("No changes between these versions.")
    st.page_link("views/schemas.py", label="Open in Schema compatibility",
                 query_params={"subject": page.name}, icon=":material/compare_arrows:")


def _validation(store: Store, page: EventPage) -> None:
    st.subheader("Validation by producer and version", anchor=False)
    ids = schema_ids(load_settings().schemas_dir)
    rows = validation_by_producer(store, page.name, max(page.fields) if page.fields else None,
                                  ids)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch", key="event_validation")
    else:
        st.caption("No events of this type validated yet.")


def _samples(page: EventPage) -> None:
    st.subheader("Newest samples", anchor=False)
    st.caption("As stored: redacted by the collector under the capture policy before storing.")
    if not page.samples:
        st.caption("No payloads captured.")
    columns = st.columns(max(1, len(page.samples)))
    for column, s in zip(columns, page.samples, strict=False):
        column.caption(f"{md(s.source)} · {md(s.event_id)} · "
                       f"{md(format_time(s.occurred_at))}")
        column.code(json.dumps(s.data, indent=2, ensure_ascii=False), language="json")


def _flows(page: EventPage) -> None:
    st.subheader("Flows", anchor=False)
    if not page.flows:
        st.caption("Named by no flow definition.")
        return
    st.dataframe([{"flow type": f.flow_type, "its place": f.place} for f in page.flows],
                 hide_index=True, width="stretch", key="event_flows")


def _page(store: Store) -> None:
    page = entity_page(store, "Event type", "type", "event_choose",
                       names=lambda state: [e.event_type for e in entries_of(state)],
                       none_yet="No event types yet: neither traffic nor schemas.",
                       lookup=lambda state, name: event_page(store, state, name))
    if page is None:
        return
    _summary(page)
    _fields(page)
    _diff(page)
    _validation(store, page)
    _samples(page)
    _flows(page)
    st.page_link("views/catalog.py", label="Back to the catalog", icon=":material/list:")


st.title("Event type")
store = store_or_help()
if store is not None:
    _page(store)
