"""Pieces shared by the catalog's Event, Service and Domain pages (Streamlit, no queries)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import streamlit as st

from catalog._graphviz import MapLayoutError
from catalog.eventmap import EventMap
from catalog.exceptions import CatalogError
from catalog.pages import Attention
from collector.exceptions import CollectorError
from collector.settings import load_settings
from collector.store import Store
from dashboard.map_queries import draw_map
from dashboard.markup import md
from dashboard.page_queries import CatalogState, catalog_state

__all__ = ["DOMAIN", "EVENT", "SERVICE", "attention_notes", "choose", "entity_page", "small_map",
           "state_or_none"]

EVENT, SERVICE, DOMAIN = "event", "service", "domain"
"""The pages' URL paths: ``event?type=T``, ``service?name=S``, ``domain?name=D``."""


def state_or_none(store: Store) -> CatalogState | None:
    settings = load_settings()
    try:
        return catalog_state(store, settings.schemas_dir)
    except (CatalogError, CollectorError) as exc:  # e.g. a schema the registry refuses
        st.error(f"Cannot read the catalog from {md(settings.schemas_dir)}: {md(exc)}")
        return None


def choose(label: str, options: Sequence[str], param: str, key: str) -> str | None:
    """The item named by the query parameter ``param``; else a chooser (which sets it)."""
    wanted = st.query_params.get(param)
    if wanted in options:
        return wanted
    if wanted:
        st.warning(f"No {md(label.lower())} {md(wanted)} in the catalog.")
    if not options:
        return None
    picked = st.selectbox(label, ["", *options], key=key,
                          format_func=lambda o: o or f"choose a {label.lower()}")
    if picked:
        st.query_params[param] = picked
        return picked
    return None


class _WithAttention(Protocol):
    @property
    def attention(self) -> Iterable[Attention]: ...


PageT = TypeVar("PageT", bound=_WithAttention)


def entity_page(store: Store, label: str, param: str, key: str, *,
                names: Callable[[CatalogState], Sequence[str]], none_yet: str,
                lookup: Callable[[CatalogState, str], PageT | None]) -> PageT | None:
    """The catalog page (event type, service, domain) chosen by the query parameter ``param``
    or a chooser, its name shown as the header with its attention notes; None (and why, where
    there is something to say) when there is none to show. ``none_yet``: what to say when the
    catalog has no ``label`` at all."""
    state = state_or_none(store)
    if state is None:
        return None
    options = names(state)
    name = choose(label, options, param, key)
    if name is None:
        if not options:
            st.info(none_yet)
        return None
    page = lookup(state, name)
    if page is None:
        return None
    st.header(md(name), anchor=False)
    attention_notes(page.attention)
    return page


def attention_notes(notes: Iterable[Attention]) -> None:
    """Each note as a warning saying what is wrong and what to do; the command in a code box."""
    for note in notes:
        st.warning(f"**{md(note.event_type)}** is {md(note.problem)}: {md(note.action)}.")
        if note.command:
            st.code(note.command, language="bash")


def small_map(event_map: EventMap) -> None:
    """Part of the map drawn the Event map's way (Graphviz ``dot``), as a picture: an SVG in an
    image holds no link and runs nothing."""
    if not event_map.graph:
        st.caption("Nothing to draw.")
        return
    try:
        picture = draw_map(event_map, group_by_domain=False)
    except MapLayoutError as exc:
        st.error(f"Cannot draw the map: {md(exc)}")
        return
    st.image(picture.svg)
