"""Issue 8, end to end in a real browser: headless Chromium from Debian's packages, driven by
Playwright, over a running ``choreoscope demo``.

The pages are found the way a user finds them, from the sidebar's navigation links; the set
found must hold every page the product names. Each page is opened by clicking its link, must
render without a Streamlit exception box or an uncaught script error, and is saved as a
full-page screenshot: under a temporary folder, or into ``$CHOREOSCOPE_SCREENSHOTS`` (what
``scripts/screenshots.py`` sets to docs/screenshots for the README).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from collector.store import open_store
from tests.e2e._process import Demo, serving, start_dashboard

CHROMIUM = "/usr/bin/chromium"
"""Debian's package (scripts/ensure_chromium.sh): Playwright never downloads a browser here."""
EXPECTED_PAGES = (
    "Overview", "Event map", "Flow search", "Message browser", "Stuck workflows", "SLA breaches",
    "Schema compatibility", "Catalog", "Collector health",
)
NAV_LINK = '[data-testid="stSidebarNav"] a'
TITLE = '[data-testid="stMain"] h1'
SETTLE_MS = 30_000
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Path:
    """Where pages are saved: ``$CHOREOSCOPE_SCREENSHOTS`` or a temporary folder, with a
    ``postgresql`` folder in it for the run on PostgreSQL (the README's are SQLite's)."""
    target = os.environ.get("CHOREOSCOPE_SCREENSHOTS")
    folder = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    if backend != "sqlite":
        folder = folder / backend
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def demo(running_demo: Demo) -> Demo:
    """The running demo, given ``$CHOREOSCOPE_E2E_WARMUP`` seconds to gather data first (the
    README's screenshots wait a minute or two so that stuck flows and breaches show)."""
    time.sleep(float(os.environ.get("CHOREOSCOPE_E2E_WARMUP", "0")))
    assert running_demo.proc.poll() is None, running_demo.output()
    return running_demo


def settle(page: Page) -> None:
    """Wait until the page's script has run and its elements have drawn."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=SETTLE_MS)
    page.wait_for_selector('[data-testid="stSkeleton"]', state="detached", timeout=SETTLE_MS)
    page.wait_for_timeout(500)  # charts and data grids draw after the script has finished


def open_home(page: Page, demo: Demo) -> None:
    page.goto(demo.url)
    page.wait_for_selector(NAV_LINK, timeout=SETTLE_MS)
    settle(page)


def navigation(page: Page) -> dict[str, str]:
    """Title -> URL of every link in the sidebar navigation (expanded when it is folded)."""
    more = page.locator('[data-testid="stSidebarNavViewButton"]')
    if more.count() and "more" in more.inner_text().lower():
        more.click()
    links = page.locator(NAV_LINK)
    return {links.nth(i).inner_text().strip(): links.nth(i).get_attribute("href") or ""
            for i in range(links.count())}


def open_page(page: Page, demo: Demo, title: str) -> list[str]:
    """Click the page's navigation link from the home page; the script errors seen."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_home(page, demo)
    nav = navigation(page)
    assert title in nav, f"{title!r} is not in the sidebar navigation: {sorted(nav)}"
    home_url, home_title = page.url, page.locator(TITLE).first.inner_text()
    page.locator(NAV_LINK).filter(has_text=re.compile(rf"^\s*{re.escape(title)}\s*$")).click()
    # a page may add its state to the query string (?subject=...) as soon as it runs
    page.wait_for_url(re.compile(rf"^{re.escape(nav[title])}(\?.*)?$"), timeout=SETTLE_MS)
    if nav[title] != home_url:  # the home page's elements stay until the new page replaces them
        page.wait_for_function(
            "([sel, old]) => { const h = document.querySelector(sel);"
            " return h !== null && h.innerText !== old; }",
            arg=[TITLE, home_title], timeout=SETTLE_MS)
    settle(page)
    return errors


def exception_boxes(page: Page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()


def save(page: Page, path: Path) -> None:
    """A full-page screenshot: Streamlit scrolls inside its main block, so grow the viewport."""
    height = page.evaluate(
        "() => Math.max(document.body.scrollHeight,"
        " document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0)")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def test_sidebar_navigation_lists_every_page(page: Page, demo: Demo) -> None:
    open_home(page, demo)
    found = navigation(page)
    missing = [t for t in EXPECTED_PAGES if t not in found]
    assert not missing, f"pages missing from the navigation: {missing}; found {sorted(found)}"


@pytest.mark.parametrize("title", EXPECTED_PAGES)
def test_page_renders_without_exception(page: Page, demo: Demo, screenshots: Path,
                                        title: str) -> None:
    errors = open_page(page, demo, title)
    boxes = exception_boxes(page)
    assert not boxes, f"{title}: Streamlit exception shown:\n" + "\n".join(boxes)
    assert not errors, f"{title}: uncaught errors in the browser: {errors}"
    heading = page.locator(TITLE)
    assert heading.count() > 0, f"{title}: the page shows no title"
    save(page, screenshots / f"{slug(title)}.png")


@pytest.mark.parametrize("title", EXPECTED_PAGES[1:])
def test_a_page_opened_first_by_its_url_shows_the_navigation(
        page: Page, browser: Browser, demo: Demo, tmp_path: Path, title: str) -> None:
    """A bookmarked page (an alert's link), the first one opened on a dashboard just
    (re)started, shows the app's sidebar, not Streamlit's listing of the page files."""
    open_home(page, demo)
    expected = navigation(page)
    assert title in expected, f"{title!r} is not in the sidebar navigation: {sorted(expected)}"
    with serving(start_dashboard(tmp_path, demo.store_url)) as server:
        context = browser.new_context(viewport=VIEWPORT)
        try:
            fresh = context.new_page()
            fresh.goto(server.url + urlsplit(expected[title]).path)
            fresh.wait_for_selector(NAV_LINK, timeout=SETTLE_MS)
            settle(fresh)
            shown = list(navigation(fresh))
        finally:
            context.close()
    assert shown == list(expected), f"{title} opened by its URL shows the navigation {shown}"


def test_flow_search_finds_a_flow_of_the_demo(page: Page, demo: Demo, screenshots: Path) -> None:
    store = open_store(demo.store_url, read_only=True)
    try:
        row = store.query("SELECT correlation_id FROM flows ORDER BY started_at LIMIT 1")
        assert row, "the demo's store has no flow yet"
        correlation_id = str(row[0]["correlation_id"])
        flows = store.flows_by_correlation(correlation_id)
        events = store.events_by_correlation(correlation_id)
    finally:
        store.close()
    open_page(page, demo, "Flow search")
    box = page.locator('[data-testid="stMain"] [data-testid="stTextInput"] input').first
    box.fill(correlation_id)
    box.press("Enter")

    identities = [correlation_id, *(f.instance_id for f in flows)]
    main = page.locator('[data-testid="stMain"]')
    deadline = time.monotonic() + SETTLE_MS / 1000
    shown = ""
    while time.monotonic() < deadline:
        shown = main.text_content() or ""  # text_content: the data grid's cells are in the DOM
        if any(i in shown for i in identities) or "no such flow" in shown.lower():
            break
        page.wait_for_timeout(200)
    settle(page)
    shown = main.text_content() or ""
    assert not exception_boxes(page), exception_boxes(page)
    assert "no such flow" not in shown.lower(), f"{correlation_id} exists, the page says: {shown}"
    assert any(i in shown for i in identities), (
        f"the result shows neither the correlation id nor its instance: {shown[:500]}")
    assert events, "the flow has events in the store"
    assert events[0].type in shown, f"the flow's first event {events[0].type} is not shown"
    save(page, screenshots / "flow-search-result.png")


def _open_url(page: Page, url: str) -> list[str]:
    """Open a page by its URL (a bookmark, a link from elsewhere); the script errors seen."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_selector(TITLE, timeout=SETTLE_MS)
    settle(page)
    return errors


@pytest.mark.parametrize(("path", "title", "shows"), [
    ("event?type=OrderPlaced", "Event type", ("OrderPlaced", "team-checkout", "/customer_id")),
    ("service?name=order-service", "Service", ("order-service", "Produces", "OrderPlaced")),
    ("domain?name=orders", "Domain", ("orders", "OrderPlaced", "order-service")),
])
def test_catalog_pages_open_by_their_url(page: Page, demo: Demo, screenshots: Path, path: str,
                                         title: str, shows: tuple[str, ...]) -> None:
    errors = _open_url(page, f"{demo.url}/{path}")
    assert not exception_boxes(page), exception_boxes(page)
    assert not errors, f"{path}: uncaught errors in the browser: {errors}"
    assert page.locator(TITLE).first.inner_text() == title
    main = page.locator('[data-testid="stMain"]')
    text = main.text_content() or ""
    missing = [s for s in shows if s not in text]
    assert not missing, f"{path} does not show {missing}"
    save(page, screenshots / f"{title.lower().replace(' ', '-')}-page.png")


def _follow(page: Page, href: str) -> Page:
    """Click the main area's link to ``href`` (Streamlit opens Markdown links in a new tab)."""
    with page.context.expect_page() as opened:
        page.locator(f'[data-testid="stMain"] a[href="{href}"]').first.click()
    new = opened.value
    new.wait_for_selector(TITLE, timeout=SETTLE_MS)
    settle(new)
    return new


def test_catalog_links_lead_to_the_pages(page: Page, demo: Demo) -> None:
    """From the Catalog, an event type's link opens its page; from there a producer's link
    opens the service page."""
    _open_url(page, f"{demo.url}/catalog")
    event = _follow(page, "event?type=OrderPlaced")
    assert event.url == f"{demo.url}/event?type=OrderPlaced"
    assert event.locator('[data-testid="stMain"] h2').first.inner_text() == "OrderPlaced"
    service = _follow(event, "service?name=order-service")
    assert service.url == f"{demo.url}/service?name=order-service"
    assert service.locator('[data-testid="stMain"] h2').first.inner_text() == "order-service"
    assert not exception_boxes(service)
