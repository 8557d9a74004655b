"""Issue 16, every page: tables read like a product over the simulated store. Column labels in
words (no snake_case), times to the second (no microsecond ISO text), empty cells empty (no
"None"), and no chart draws two y-axes."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, SimulatedStore

PAGES = ("views/overview.py", "views/messages.py", "views/stuck.py", "views/sla.py",
         "views/schemas.py", "views/health.py")
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d{3,}")


def _page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    if name != "views/overview.py":
        at.switch_page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("name", PAGES)
def test_tables_read_like_a_product(simulated_env: SimulatedStore, name: str) -> None:
    at = _page(name)
    frames = [d.value for d in at.dataframe]
    # the simulated store has no dead letters and no lag: the health page has no table
    assert frames or name == "views/health.py", f"{name} shows no table"
    for frame in frames:
        snake = [c for c in frame.columns if SNAKE.match(str(c))]
        assert snake == [], f"{name}: column labels not in words: {snake}"
        cells = [str(v) for row in frame.itertuples(index=False) for v in row]
        assert "None" not in cells, f"{name}: a None cell in {list(frame.columns)}"
        assert not [c for c in cells if MICROSECONDS.search(c)], f"{name}: microsecond times"


@pytest.mark.parametrize("name", PAGES)
def test_no_chart_has_two_y_axes(simulated_env: SimulatedStore, name: str) -> None:
    at = _page(name)
    for chart in (e for e in at.main if getattr(e, "type", None) == "vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        assert "independent" not in json.dumps(spec.get("resolve", {})), name
