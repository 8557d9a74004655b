"""Issue 2's acceptance: ``choreoscope demo`` serves the dashboard with flows in it within 60 s,
and SIGTERM stops it with nothing left behind (no child process, no open port)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest  # noqa: TID251  (renders the dashboard, as tests/dashboard does)

from tests.e2e._process import REPO, Demo, alive, port_open, start_demo

APP = str(REPO / "dashboard" / "app.py")
FLOWS_WITHIN = 60.0
"""Seconds after the dashboard serves until the paced simulator's first flows show."""


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def render_home(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The home page rendered server-side (AppTest) against the demo's live store."""
    monkeypatch.setenv("CHOREOSCOPE_STORE", demo.store_url)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def wait_for_flows(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The home page's metrics once it shows at least one flow; fails after FLOWS_WITHIN."""
    deadline = time.monotonic() + FLOWS_WITHIN
    while True:
        metrics = {m.label: m.value for m in render_home(demo, monkeypatch).metric}
        if _count(metrics.get("Flows", "0")) > 0 or time.monotonic() > deadline:
            return metrics
        assert demo.proc.poll() is None, demo.output()
        time.sleep(1.0)


def test_demo_serves_flows_then_stops_leaving_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = start_demo(tmp_path)
    try:
        demo.wait_serving()
        assert demo.children, "the demo runs the dashboard as a child process"
        assert all(alive(pid) for pid in demo.children)

        with urllib.request.urlopen(f"http://127.0.0.1:{demo.registry_port}/subjects",
                                    timeout=10) as resp:  # the demo serves its registry too
            assert "OrderPlaced" in json.loads(resp.read())

        metrics = wait_for_flows(demo, monkeypatch)
        assert _count(metrics["Flows"]) > 0, metrics
        assert _count(metrics["Events"]) >= _count(metrics["Flows"]), metrics

        code = demo.terminate()
        assert code == 0, demo.output()
        left = sorted(pid for pid in demo.children if alive(pid))
        assert not left, f"processes left behind by the demo: {left}"
        assert not port_open(demo.port), f"port {demo.port} still open after the demo stopped"
    finally:
        demo.kill_leftovers()
