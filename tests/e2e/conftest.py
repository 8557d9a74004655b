"""Fixtures of the end-to-end tests: one running ``choreoscope demo`` per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e._process import Demo, start_demo
from tests.e2e.test_browser import CHROMIUM, VIEWPORT


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One demo serving for a whole test module; SIGTERM afterwards, SIGKILL for what is left."""
    demo = start_demo(tmp_path_factory.mktemp("demo"))
    try:
        demo.wait_serving()
        yield demo
    finally:
        try:
            if demo.proc.poll() is None:
                demo.terminate()
        finally:
            demo.kill_leftovers()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, one per test module."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page at the tests' viewport."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield context.new_page()
    finally:
        context.close()
