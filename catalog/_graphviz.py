"""The one I/O edge of the map drawing: Graphviz's ``dot`` turns DOT source into SVG.

``dot`` comes from Debian's ``graphviz`` package (``scripts/ensure_graphviz.sh`` installs it);
the PyPI ``graphviz`` package only runs it. Its failures become `MapLayoutError`.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from catalog.exceptions import CatalogError

__all__ = ["MapLayoutError", "render_svg"]

LAYOUT_TIMEOUT = 20.0
"""Seconds ``dot`` may take before the drawing is given up."""
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)


class MapLayoutError(CatalogError):
    """``dot`` is missing or failed on a drawing."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot draw the event map: {reason}")
        self.reason = reason


def render_svg(dot_source: str) -> str:
    """The SVG element ``dot`` lays out for ``dot_source`` (XML prolog and doctype removed)."""
    dot = shutil.which("dot")
    if dot is None:
        raise MapLayoutError("Graphviz's dot is not installed; run scripts/ensure_graphviz.sh "
                             "(or apt-get install graphviz)")
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_source.encode(), capture_output=True,
                              timeout=LAYOUT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MapLayoutError(f"dot took more than {LAYOUT_TIMEOUT:g} s") from exc
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip().splitlines()
        raise MapLayoutError(f"dot exited with {done.returncode}: {error[-1] if error else ''}")
    return _PROLOG.sub("", done.stdout.decode(), count=1)
