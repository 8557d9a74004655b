"""Fixtures of the end-to-end tests: one running ``choreoscope demo`` per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e._process import Demo, start_demo


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
