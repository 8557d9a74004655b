"""The dashboard's one way to the store: read-only, opened once per process."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from collector.exceptions import StoreError
from collector.flows.definition import FlowDefinition, load_definitions
from collector.settings import load_settings
from collector.store import Store, open_store

__all__ = ["flow_definitions", "get_store", "store_or_help"]


@st.cache_resource
def get_store(url: str) -> Store:
    return open_store(url, read_only=True)


def store_or_help() -> Store | None:
    """The store, or a page explaining how to start the collector when there is none yet."""
    url = load_settings().store
    try:
        return get_store(url)
    except StoreError as exc:
        st.warning(f"No data yet: {exc}")
        st.markdown(
            "Start the collector first, for example:\n\n"
            "```\nchoreoscope demo            # simulator -> collector -> this dashboard\n"
            f"choreoscope collect --store {url}\n```"
        )
        return None


@st.cache_resource
def _definitions(folder: str) -> tuple[FlowDefinition, ...]:
    path = Path(folder)
    return load_definitions([path]) if path.is_dir() else ()


def flow_definitions() -> tuple[FlowDefinition, ...]:
    """The flow definitions in ``schemas_dir/flows`` (none when the folder is missing)."""
    return _definitions(str(load_settings().schemas_dir / "flows"))
