"""The event map's drawing in the page: Graphviz's SVG in a Streamlit v2 component.

A bidirectional component (``st.components.v2``), not ``st.graphviz_chart``: the SVG is in the
DOM, so a click on a node comes back to Python (trigger ``clicked``: the node id; ``collapse``: a
domain box's name), the selection's neighbourhood is highlighted and the rest dimmed by CSS
classes, and Ctrl + wheel zoom and drag pan keep their view box in the browser's session
storage, so a refresh (new SVG, same map) keeps the zoom. The SVG is ``dot``'s output over
escaped DOT text; the script only reads attributes and sets classes, text content and the view
box: nothing from the data becomes markup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

__all__ = ["map_component"]

_HERE = Path(__file__).resolve().parent
_MAP = st.components.v2.component(
    "choreoscope.eventmap", css=(_HERE / "eventmap.css").read_text(encoding="utf-8"),
    js=(_HERE / "eventmap.js").read_text(encoding="utf-8"))


def map_component(data: Mapping[str, Any], *, key: str,
                  on_clicked: Callable[[], None], on_collapse: Callable[[], None]) -> Any:
    """Mount the map: ``data`` holds ``svg``, ``digest``, ``view_key``, ``nodes`` (SVG id →
    node id), ``clusters`` (SVG id → domain), ``selected`` (the SVG ids drawing the selected node),
    ``near_nodes`` and ``near_edges`` (SVG ids) and ``max_height`` (pixels)."""
    return _MAP(data=dict(data), key=key, on_clicked_change=on_clicked,
                on_collapse_change=on_collapse)
