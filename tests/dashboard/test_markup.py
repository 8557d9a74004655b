"""Data is never markup: the escaping and link helpers every page uses."""

from __future__ import annotations

import re

import pytest

from dashboard.markup import md, md_join, md_link, md_links, page_url

PHISH = "[Re-login](http://127.0.0.1:18999/phish)"


def _read(markdown: str) -> tuple[str, list[str]]:
    """What the Markdown reads as, and its words that are neither escaped nor code."""
    words, loose = [], []
    for part in re.split(r"(\s+)", markdown):
        fence = re.match(r"`+", part)
        if fence and part.endswith(fence.group()) and len(part) > 2 * len(fence.group()):
            inner = part[len(fence.group()):-len(fence.group())]
            words.append(inner[1:-1] if inner.startswith(" ") and inner.endswith(" ") else inner)
            continue
        if re.search(r"[!-/:-@\[-`{-~]", re.sub(r"\\([!-/:-@\[-`{-~])", "", part)):
            loose.append(part)
        words.append(re.sub(r"\\(.)", r"\1", part))
    return "".join(words), loose


@pytest.mark.parametrize("text", [
    PHISH, "![x](http://e.x/i.png)", "**bold** _it_ `code`", "<b>html</b>", ":red[colour]",
    ":smile: :material/home:", "$x^2$", "# heading", "1. list", "a | b", "www.example.com",
    "see https://example.com/x now", "mail a@b.example", "a `` b", "x -- y",
])
def test_every_word_is_escaped_or_code_and_reads_as_written(text: str) -> None:
    reads, loose = _read(md(text))
    assert reads == text
    assert loose == []


@pytest.mark.parametrize("text", [PHISH, "www.example.com", "(www.example.com)", "a@b.example",
                                  "mailto:x", "ftp://x.y"])
def test_words_gfm_would_autolink_go_into_code(text: str) -> None:
    assert md(text).startswith("`")


def test_a_word_ending_in_a_colon_is_only_escaped() -> None:
    assert md("orphan: produced") == r"orphan\: produced"


@pytest.mark.parametrize(("text", "expected"), [
    ("a -- b", "a `--` b"), ("x -> y <- z", "x `->` y `<-` z"), ("--", "`--`"),
    ("a >= b", "a `>=` b"), ("a--b", r"a\-\-b"), ("a `-` b", r"a \`\-\` b"),
])
def test_streamlit_typographic_operators_go_into_inline_code(text: str, expected: str) -> None:
    assert md(text) == expected


def test_page_urls_encode_every_parameter_value() -> None:
    assert page_url("event", type="Order Placed&x=1") == "event?type=Order%20Placed%26x%3D1"
    assert page_url("service", name=PHISH) == (
        "service?name=%5BRe-login%5D%28http%3A%2F%2F127.0.0.1%3A18999%2Fphish%29")
    assert page_url("domain") == "domain"


def test_links_have_an_escaped_label_and_an_encoded_href() -> None:
    link = md_link(PHISH, "service", name=PHISH)
    assert link.startswith("[`[Re-login](http://127.0.0.1:18999/phish)`](")
    assert link.endswith(
        "(service?name=%5BRe-login%5D%28http%3A%2F%2F127.0.0.1%3A18999%2Fphish%29)")
    assert md_links([], "event", "type") == r"\-"
    assert md_join(["a-b", "c"]) == r"a\-b, c"
