"""Data is never markup: how the dashboard puts user-derived strings into Markdown and links.

Event types, sources, ids, owners and payload strings come from the traffic, that is from
anyone who can produce to a topic. Streamlit renders Markdown almost everywhere (``st.markdown``,
``st.caption``, headings, alert boxes, widget and link labels), and on top of CommonMark it
turns ``:name:`` into emoji, ``:red[...]`` into colour, ``$...$`` into LaTeX, and, in plain text,
``--``/``->``/``<-``/``>=``/``<=``/``~=`` between spaces into typographic symbols. So:

- `md` escapes every ASCII punctuation character (CommonMark's backslash escapes), which stops
  links, images, emphasis, HTML, directives, emoji codes and maths. Two rewrites run on the text
  after escapes are resolved, so escaping cannot stop them: GFM's autolink literals (a bare
  ``http://...``, ``www.``, an e-mail address) and Streamlit's typographic replacement; such
  words are put in inline code, where they are shown exactly as written;
- `page_url` builds a link to a dashboard page with its query parameters URL-encoded, and
  `md_link` puts it behind an escaped label: the href never comes from the data itself.

Headings take ``anchor=False`` where they show data (Streamlit would otherwise add an anchor
whose href is a slug of the data).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlencode

from catalog.markdown import code_span, escape_words

__all__ = ["md", "md_code", "md_join", "md_link", "md_links", "page_url"]

_TYPOGRAPHY = frozenset({"<->", "->", "<-", "--", ">=", "<=", "~="})
"""What Streamlit turns into a symbol when it stands between spaces (or at either end)."""


def md(value: object) -> str:
    """``value`` as Markdown text that renders exactly as ``str(value)`` reads."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return escape_words(text, lambda word: word in _TYPOGRAPHY)


def md_code(value: object) -> str:
    """``value`` as inline code (on one line): no backtick inside can end it early."""
    return code_span(" ".join(str(value).splitlines()) or " ")


def md_join(values: Iterable[object], empty: str = "-") -> str:
    """Escaped values separated by commas; ``empty`` (escaped) when there are none."""
    shown = [md(v) for v in values]
    return ", ".join(shown) if shown else md(empty)


def page_url(page: str, **params: str) -> str:
    """``event?type=Order%20Placed``: a relative link to a dashboard page (its URL path), with
    every parameter value URL-encoded."""
    query = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)
    return f"{quote(page)}?{query}" if query else quote(page)


def md_link(label: object, page: str, **params: str) -> str:
    """A Markdown link with an escaped label to a dashboard page built by `page_url`."""
    return f"[{md(label)}]({page_url(page, **params)})"


def md_links(values: Iterable[str], page: str, param: str, empty: str = "-") -> str:
    """One `md_link` per value (``param=value``), comma-separated."""
    shown = [md_link(v, page, **{param: v}) for v in values]
    return ", ".join(shown) if shown else md(empty)
