"""Issue 16, in a real browser over a running ``choreoscope demo``: find a flow by business key,
by a unique prefix and by filters, open it, click a row of its waterfall and read its details.

The demo indexes its business keys with no configuration (schemas/business_keys.json). Full
page screenshots of the search results and of a waterfall with its detail panel go where the
other browser tests put theirs (``$CHOREOSCOPE_SCREENSHOTS`` for the README).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page

from collector.store import open_store
from collector.store._time import to_text
from dashboard.flow_queries import waterfall
from dashboard.waterfall import ROW_PX
from tests.e2e import test_browser as tb
from tests.e2e._process import Demo
from tests.e2e.test_browser import SETTLE_MS, exception_boxes, open_page, save, settle

# the browser tests' fixtures, by name: one demo and screenshot folder for this module
demo, screenshots = tb.demo, tb.screenshots

MAIN = '[data-testid="stMain"]'
DETAIL = ".st-key-waterfall_detail"


def one(demo: Demo, query: str | Callable[[], str]) -> dict[str, object]:
    """The first row of a query on the demo's store, waiting for the demo to produce one; a
    callable query is built again on each try (its times move with the clock)."""
    deadline = time.monotonic() + 90
    while True:
        sql = query() if callable(query) else query
        store = open_store(demo.store_url, read_only=True)
        try:
            rows = store.query(sql)
        finally:
            store.close()
        if rows or time.monotonic() > deadline:
            assert rows, f"the demo's store has no row for {sql}"
            return rows[0]
        time.sleep(2)


def wait_for_text(page: Page, *texts: str) -> str:
    """The main block's text once it holds every one of ``texts`` (or fails after a while)."""
    main = page.locator(MAIN)
    deadline = time.monotonic() + SETTLE_MS / 1000
    shown = ""
    while time.monotonic() < deadline:
        shown = main.text_content() or ""  # text_content: the data grid's cells are in the DOM
        if all(t in shown for t in texts):
            break
        page.wait_for_timeout(200)
    settle(page)
    shown = main.text_content() or ""
    missing = [t for t in texts if t not in shown]
    assert not missing, f"{missing} not shown: {shown[:800]}"
    assert not exception_boxes(page), exception_boxes(page)
    return shown


def search_for(page: Page, demo: Demo, text: str) -> None:
    open_page(page, demo, "Flow search")
    box = page.locator(f'{MAIN} [data-testid="stTextInput"] input').first
    box.fill(text)
    box.press("Enter")


def test_a_business_key_of_the_demo_finds_its_flow(page: Page, demo: Demo) -> None:
    row = one(demo, "SELECT correlation_id, value FROM business_keys WHERE name = 'order_id' "
                    "ORDER BY value LIMIT 1")
    search_for(page, demo, str(row["value"]))
    shown = wait_for_text(page, f"Flow {row['correlation_id']}", "business key order_id")
    assert "no such flow" not in shown.lower()


def test_a_unique_prefix_in_the_url_opens_its_flow(page: Page, demo: Demo) -> None:
    row = one(demo, "SELECT correlation_id FROM flows ORDER BY started_at LIMIT 1")
    cid = str(row["correlation_id"])
    page.goto(f"{demo.url}/search?id={cid[:8]}")
    shown = wait_for_text(page, f"Flow {cid}", "correlation id prefix")
    assert "no such flow" not in shown.lower()


def test_the_filters_list_the_demos_flows(page: Page, demo: Demo, screenshots: Path) -> None:
    one(demo, "SELECT correlation_id FROM flows WHERE flow_type = 'onboarding' LIMIT 1")
    open_page(page, demo, "Flow search")
    wait_for_text(page, "flows", "newest first")
    page.goto(f"{demo.url}/search?service=kyc-service")
    shown = wait_for_text(page, "flows", "onboarding")
    assert "order" not in shown.split("newest first", 1)[1].replace("Sort by", ""), \
        "only onboarding flows hold kyc-service's events"
    page.locator(f"{MAIN} label").filter(has_text="Has an SLA breach").click()
    settle(page)
    page.goto(f"{demo.url}/search")
    shown = wait_for_text(page, "newest first", "open")
    assert page.locator(f'{MAIN} [data-testid="stVegaLiteChart"]').count() >= 1, "the scatter"
    save(page, screenshots / "flow-search-results.png")


def test_clicking_a_waterfall_row_opens_its_details(page: Page, demo: Demo,
                                                    screenshots: Path) -> None:
    def settled() -> str:  # ended 15 s ago or more: no late notification joins it now
        return ("SELECT f.correlation_id FROM flows f WHERE f.flow_type = 'order' AND "
                "f.status = 'completed' AND f.ended_at < '"
                + to_text(datetime.now(UTC) - timedelta(seconds=15)) + "' AND EXISTS ("
                "SELECT 1 FROM events e WHERE e.correlation_id = f.correlation_id AND "
                "e.trace_id IS NOT NULL) ORDER BY f.started_at LIMIT 1")

    row = one(demo, settled)
    cid = str(row["correlation_id"])
    page.goto(f"{demo.url}/search?id={cid}")
    wait_for_text(page, f"Flow {cid}", "Waterfall")
    store = open_store(demo.store_url, read_only=True)
    try:
        rows = waterfall(store, cid).rows
    finally:
        store.close()
    placed = next(r["n"] for r in rows if r["kind"] == "event" and r["label"] == "OrderPlaced")
    chart = page.locator(f'{MAIN} [data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    box = chart.locator("canvas, svg").first.bounding_box()
    assert box is not None
    band = (ROW_PX * len(rows) + 50) / len(rows)  # the rows share the plot's height evenly
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + 5 + band * (placed + 0.5))
    page.wait_for_selector(DETAIL, timeout=SETTLE_MS)
    settle(page)
    detail = page.locator(DETAIL).text_content() or ""
    assert "OrderPlaced" in detail
    assert "Headers" in detail
    assert "Payload" in detail
    assert "order_id" in detail, "the event's payload, as stored"
    save(page, screenshots / "flow-waterfall.png")
