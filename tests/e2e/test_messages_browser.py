"""Issue 16, the message browser in a real browser over a running ``choreoscope demo``: open it
from the sidebar, filter a topic by a record key, open a message and follow its link to the
flow (``search?id=CORRELATION_ID``), where the flow is found. The page is saved as the README's
screenshot (``message-browser-message.png``)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from collector.store import open_store
from tests.e2e._process import Demo
from tests.e2e.test_browser import (  # noqa: F401 - fixtures used by name
    SETTLE_MS,
    demo,
    exception_boxes,
    open_page,
    save,
    screenshots,
    settle,
)

MAIN = '[data-testid="stMain"]'


def _keyed_event(running: Demo) -> dict[str, str]:
    """A stored orders event with a key whose flow the store holds."""
    deadline = time.monotonic() + 60
    while True:
        store = open_store(running.store_url, read_only=True)
        try:
            rows = store.query(
                "SELECT e.key, e.correlation_id, e.type FROM events e JOIN flows f ON "
                "f.correlation_id = e.correlation_id WHERE e.topic = 'orders' AND e.key IS NOT "
                "NULL ORDER BY e.occurred_at LIMIT 1")
        finally:
            store.close()
        if rows or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert rows, "the demo stored no keyed orders event with a flow"
    return {k: str(v) for k, v in rows[0].items()}


def _wait_for_text(tab: Page, text: str) -> str:
    main = tab.locator(MAIN)
    deadline = time.monotonic() + SETTLE_MS / 1000
    shown = ""
    while time.monotonic() < deadline:
        shown = main.text_content() or ""  # text_content: the data grid's cells are in the DOM
        if text in shown:
            break
        tab.wait_for_timeout(200)
    settle(tab)
    return main.text_content() or ""


def _choose(tab: Page, label: str, option: str) -> None:
    """Pick the first option holding ``option`` in the select box ``label`` (its list can close
    while the page reruns: open it again)."""
    for _ in range(5):
        settle(tab)
        tab.get_by_role("combobox", name=label, exact=True).click()
        found = tab.get_by_role("option").filter(has_text=option).first
        try:
            found.wait_for(timeout=5000)
            found.click()
            settle(tab)
            return
        except PlaywrightTimeout:
            tab.keyboard.press("Escape")
    raise AssertionError(f"no option {option!r} in {label!r}")


def test_filter_by_key_open_a_message_and_follow_it_to_its_flow(
        page: Page, demo: Demo, screenshots: Path) -> None:  # noqa: F811
    wanted = _keyed_event(demo)
    errors = open_page(page, demo, "Message browser")
    assert not errors, errors
    _choose(page, "Topic", "orders")
    key_box = page.get_by_label("Key (exact)")
    key_box.fill(wanted["key"])
    key_box.press("Enter")
    shown = _wait_for_text(page, wanted["correlation_id"])
    assert not exception_boxes(page), exception_boxes(page)
    assert wanted["key"] in shown
    assert wanted["correlation_id"] in shown, shown[:800]
    assert "What the store holds of this topic" in shown

    _choose(page, "Message", f"key {wanted['key']}")
    link = page.get_by_role("link", name="Open its flow")
    link.wait_for(timeout=SETTLE_MS)
    href = link.get_attribute("href") or ""
    assert href.startswith("search?id=")
    assert (page.locator(MAIN).text_content() or "").count("Payload") >= 1
    save(page, screenshots / "message-browser-message.png")

    with page.context.expect_page() as opened:
        link.click()
    flow = opened.value
    flow.wait_for_load_state()
    assert "search?id=" in flow.url
    settle(flow)
    followed = unquote(href.split("=", 1)[1])
    text = _wait_for_text(flow, followed)
    assert not exception_boxes(flow), exception_boxes(flow)
    assert "no such flow" not in text.lower()
    assert followed in text
