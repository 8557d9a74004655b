"""Issue 14, Dashboard: event types, sources, ids and payload strings are data, never markup.

A store is seeded with an event type and a source named ``[Re-login](http://127.0.0.1:18999/phish)``
and names holding ``--`` and ``->`` (which Streamlit's Markdown turns into an em dash and an arrow),
and ``choreoscope dashboard`` serves it to a real headless Chromium. On every page of the
navigation and on the catalog's own pages: no anchor's href came from the data (none points at
the phishing host), and where the names are shown they read exactly as stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page

from collector.catalog_source import refresh_rollups, rollup_store
from collector.model import Event, EventIdentity, Location, Violation
from collector.store import Batch, open_store
from tests.e2e._process import Demo, serving, start_dashboard
from tests.e2e.test_browser import (
    NAV_LINK,
    SETTLE_MS,
    TITLE,
    exception_boxes,
    navigation,
    settle,
)
from tests.e2e.test_eventmap_browser import node, open_map

PHISH = "[Re-login](http://127.0.0.1:18999/phish)"
PHISH_HOST = "127.0.0.1:18999"
DASHES = "svc -- one -> two"
TYPE_DASHES = "Order -- Placed <= now"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def _event(n: int, type_: str, source: str, data: object) -> Event:
    at = T0 + timedelta(seconds=n)
    return Event(id=f"e{n}", type=type_, source=source, occurred_at=at,
                 correlation_id=f"{PHISH}-{n}", data=data,
                 location=Location("kafka", "orders", 0, n), received_at=at, key=PHISH)


@pytest.fixture(scope="module")
def hostile(new_store: Callable[[Path, str], str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The hostile store on each backend (``new_store``), served by ``choreoscope
    dashboard``."""
    folder = tmp_path_factory.mktemp("hostile")
    url = new_store(folder, "hostile")
    events = [_event(1, PHISH, PHISH, {"note": PHISH}),
              _event(2, TYPE_DASHES, DASHES, {"note": DASHES}),
              _event(3, "OrderPlaced", PHISH, {"order_id": PHISH}),
              _event(4, PHISH, DASHES, {"note": "x"})]
    violation = Violation(EventIdentity(PHISH, "e3"), "OrderPlaced", PHISH, 1, "/order_id",
                          "pattern", f"{PHISH} does not match", T0)
    store = open_store(url)
    try:
        store.write(Batch(events=events, violations=[violation]))
        refresh_rollups(rollup_store(store))
    finally:
        store.close()
    with serving(start_dashboard(folder, url)) as server:
        yield server


def _open(page: Page, url: str) -> str:
    page.goto(url)
    page.wait_for_selector(TITLE, timeout=SETTLE_MS)
    settle(page)
    assert not exception_boxes(page), exception_boxes(page)
    return page.locator('[data-testid="stMain"]').inner_text()


def _hrefs(page: Page) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    return hrefs


def _no_anchor_from_data(page: Page, where: str) -> None:
    bad = [h for h in _hrefs(page)
           if urlsplit(h).netloc == PHISH_HOST or urlsplit(h).path.endswith("/phish")]
    assert not bad, f"{where}: anchors whose href came from data: {bad}"


def _pages(hostile: Demo, page: Page) -> list[str]:
    page.goto(hostile.url)
    page.wait_for_selector(NAV_LINK, timeout=SETTLE_MS)
    settle(page)
    return [urlsplit(u).path for u in navigation(page).values()]


CATALOG_PAGES = [
    ("catalog", (PHISH, DASHES, TYPE_DASHES)),
    (f"event?type={quote(PHISH, safe='')}", (PHISH, DASHES)),
    (f"event?type={quote(TYPE_DASHES, safe='')}", (TYPE_DASHES, DASHES)),
    (f"service?name={quote(PHISH, safe='')}", (PHISH,)),
    (f"service?name={quote(DASHES, safe='')}", (DASHES, TYPE_DASHES, PHISH)),
    (f"domain?name={quote('(none)', safe='')}", (PHISH, DASHES, TYPE_DASHES)),
]


@pytest.mark.parametrize(("path", "shown"), CATALOG_PAGES)
def test_catalog_pages_show_hostile_names_as_text(page: Page, hostile: Demo, path: str,
                                                  shown: tuple[str, ...]) -> None:
    text = _open(page, f"{hostile.url}/{path}")
    _no_anchor_from_data(page, path)
    missing = [s for s in shown if s not in text]
    assert not missing, f"{path}: not shown exactly as stored: {missing}\n{text[:2000]}"
    for mangled in ("svc — one → two", "Order — Placed ≤ now", "Re-login"):
        if mangled == "Re-login":
            assert f"{mangled}](" not in text.replace(PHISH, "")
        else:
            assert mangled not in text, f"{path}: Markdown changed the text: {mangled}"


def test_no_page_of_the_navigation_has_an_anchor_from_data(page: Page, hostile: Demo) -> None:
    paths = _pages(hostile, page)
    assert len(paths) >= 8
    for path in paths:
        text = _open(page, hostile.url + path)
        _no_anchor_from_data(page, path)
        assert "svc — one → two" not in text, f"{path}: Markdown changed {DASHES!r}"


def test_links_the_pages_build_carry_the_names_url_encoded(page: Page, hostile: Demo) -> None:
    _open(page, f"{hostile.url}/catalog")
    own = [h for h in _hrefs(page) if "event?type=" in h or "service?name=" in h]
    assert f"{hostile.url}/event?type={quote(PHISH, safe='')}" in own
    assert f"{hostile.url}/service?name={quote(DASHES, safe='')}" in own


@pytest.mark.parametrize("name", [PHISH, DASHES])
def test_the_event_maps_side_panel_shows_hostile_names_as_text(page: Page, hostile: Demo,
                                                               name: str) -> None:
    """Click the node on the map (the issue found the side panel rendering a live link)."""
    open_map(page, hostile)
    node(page, name).click()
    main = page.locator('[data-testid="stMain"]')
    main.locator("h3", has_text=name).first.wait_for(timeout=SETTLE_MS)
    settle(page)
    assert not exception_boxes(page), exception_boxes(page)
    _no_anchor_from_data(page, f"map, {name} selected")
    text = main.inner_text()
    assert name in text
    assert "svc — one → two" not in text
