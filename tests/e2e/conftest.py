"""Fixtures of the end-to-end tests: one running ``choreoscope demo`` per test module and store
backend. Every browser test runs twice: on the demo's SQLite file, then on a demo collecting
into a new database of the session's PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e._process import Demo, serving, start_demo
from tests.e2e.test_browser import CHROMIUM, VIEWPORT

BACKENDS = ("sqlite", "postgresql")
_DATABASES = iter(range(1, 1_000_000))


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this module's run: ``sqlite``, then ``postgresql``."""
    return str(request.param)


NewStore = Callable[[Path, str], str]


@pytest.fixture(scope="module")
def new_store(request: pytest.FixtureRequest, backend: str) -> NewStore:
    """``new_store(folder, name)``: the URL of a new store of ``backend``, the file
    ``NAME.db`` in ``folder`` or a new database on the session's PostgreSQL server."""
    server: Any = request.getfixturevalue("postgres_server") if backend != "sqlite" else None

    def make(folder: Path, name: str) -> str:
        if server is None:
            return f"sqlite:///{folder / name}.db"
        return str(server.create_database(f"e2e_{name}_{next(_DATABASES)}"))
    return make


@pytest.fixture(scope="module")
def running_demo(backend: str, new_store: NewStore,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One demo serving for a whole test module on ``backend``'s store (SQLite's is the short
    ``sqlite:///demo.db`` of the README's screenshots); SIGTERM afterwards, SIGKILL for what
    is left."""
    folder = tmp_path_factory.mktemp("demo")
    with serving(start_demo(folder, "sqlite:///demo.db" if backend == "sqlite"
                            else new_store(folder, "demo"))) as demo:
        yield demo


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
