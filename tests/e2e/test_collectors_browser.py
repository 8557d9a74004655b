"""Issue 19, the Collector health page in a real browser over a scale-out group's rows: three
collectors of one group (one running as reader and tracker, one gone silent, one stopped
cleanly) and the demo's own simulator. The silent one is flagged with a red box and SILENT,
the stopped one says when it stopped and raises no alarm, and the collectors table fits the
page's width (no column hidden behind a horizontal scroll). Runs on both backends through
``choreoscope dashboard`` over a store these tests fill."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page

from collector.member import Membership
from collector.store import Batch, open_store
from tests.e2e._process import Demo, serving, start_dashboard
from tests.e2e.conftest import NewStore
from tests.e2e.test_browser import (  # noqa: F401 - fixtures used by name
    exception_boxes,
    open_page,
    save,
    screenshots,
)

MAIN = '[data-testid="stMain"]'
TABLE = '[data-testid="stTable"]'


def _group(url: str, now: datetime) -> None:
    """Host a: reader and tracker of six partitions each, heard from now; host b: silent for
    five minutes; host c: stopped cleanly a minute ago after reading 1,200 records."""
    running = Membership("a:101:2026-12-06T08:00:00Z", "orders-collectors",
                         now - timedelta(hours=2), 10.0, host="a")
    silent = Membership("b:202:2026-12-06T08:00:05Z", "orders-collectors",
                        now - timedelta(hours=2), 10.0, host="b")
    stopped = Membership("c:303:2026-12-06T09:00:00Z", "orders-collectors",
                         now - timedelta(hours=1), 10.0, host="c")
    reader, tracker = running.role("reader"), running.role("tracker")
    store = open_store(url)
    try:
        tracker.beat({("choreoscope.flows", p): 0 for p in range(6)}, 900,
                     now - timedelta(seconds=2))
        store.write(Batch(collectors=[
            reader.beat({(t, p): 3 for t in ("orders", "payments") for p in range(3)}, 1800,
                        now - timedelta(seconds=1)),
            silent.role("reader").beat({("shipping", 0): 40}, 300, now - timedelta(minutes=5)),
            stopped.role("reader").beat({("inventory", 0): 0}, 1200,
                                        now - timedelta(minutes=2))]))
        store.write(Batch(collectors=[stopped.stop(now - timedelta(minutes=1))]))
    finally:
        store.close()


@pytest.fixture(scope="module")
def dashboard(backend: str, new_store: NewStore,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, datetime]]:
    folder = tmp_path_factory.mktemp("collectors")
    url = (f"sqlite:///{folder / 'group.db'}" if backend == "sqlite"
           else new_store(folder, "group"))
    now = datetime.now(UTC).replace(microsecond=0)
    _group(url, now)
    with serving(start_dashboard(folder, url)) as served:
        yield served, now


def test_a_silent_collector_is_flagged_and_a_stopped_one_says_when(
        page: Page, dashboard: tuple[Demo, datetime], screenshots: Path) -> None:  # noqa: F811
    served, now = dashboard
    errors = open_page(page, served, "Collector health")
    assert not exception_boxes(page)
    assert not errors, errors
    alerts = [a for a in page.locator('[data-testid="stAlert"]').all_inner_texts()
              if "Collector" in a]  # the page's other boxes ("No dead letters.") aside
    assert len(alerts) == 1, alerts  # the silent one; the stopped one raises no alarm
    assert "b:202:2026-12-06T08:00:05Z" in alerts[0]
    assert "is silent: no heartbeat for 5 min" in alerts[0]
    shown = page.locator(MAIN).text_content() or ""  # the data grid's cells are in the DOM
    assert "SILENT" in shown
    assert f"stopped at {now - timedelta(minutes=1):%H:%M}" in shown
    assert "reader: orders[0-2], payments[0-2]; tracker: choreoscope.flows[0-5]" in shown
    assert "1,800" in shown  # host a's reader: counts with thousands separators
    assert "1,200" in shown
    save(page, screenshots / "collector-health-group.png")


def test_the_collectors_table_fits_the_page(
        page: Page, dashboard: tuple[Demo, datetime]) -> None:
    """Every column is on screen: the table is no wider than the page's main block and does
    not scroll sideways (its cells wrap)."""
    served, _ = dashboard
    open_page(page, served, "Collector health")
    table = page.locator(TABLE).first
    frame = table.bounding_box()
    main = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    assert frame is not None
    assert main is not None
    assert frame["x"] + frame["width"] <= main["x"] + main["width"] + 1
    content, visible = table.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert content <= visible + 1, f"the table scrolls sideways: {content} px in {visible} px"
    assert "tracker: choreoscope.flows[0-5]" in (table.text_content() or "")
