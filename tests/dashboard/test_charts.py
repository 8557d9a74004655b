"""The dashboard's chart conventions (dashboard/charts.py): time labels in whole minutes, or
whole seconds on a short run, never fractions; a y-axis of counts or rates never below zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboard.charts import bucket_bars, time_lines

T0 = datetime(2026, 12, 6, 7, 15, 48, 760_000, tzinfo=UTC)


def _rows(seconds: list[float], values: list[float]) -> list[dict[str, Any]]:
    return [{"at": T0 + timedelta(seconds=s), "value": v} for s, v in zip(seconds, values,
                                                                           strict=True)]


@pytest.mark.parametrize(("seconds", "label_format", "min_step_ms"), [
    ([0, 2], "%H:%M:%S", 1000),  # a short run: seconds, not ".500"
    ([0, 599], "%H:%M:%S", 1000),
    ([0, 600], "%H:%M", 60_000),
    ([0, 3600], "%H:%M", 60_000),
])
def test_time_axis_labels_by_span(seconds: list[float], label_format: str,
                                  min_step_ms: int) -> None:
    for chart in (time_lines(_rows(seconds, [1, 2]), "value", y_title="v"),
                  bucket_bars(_rows(seconds, [1, 2]), "value", y_title="v")):
        x = chart.to_dict()["encoding"]["x"]
        assert x["scale"] == {"type": "utc"}  # labels in UTC whatever the browser's zone
        # formatType "utc" on top of the utc scale drops the format in Vega-Lite 6
        assert x["axis"] == {"format": label_format, "tickMinStep": min_step_ms}


@pytest.mark.parametrize(("values", "scale"), [
    ([0.0, 0.0, 0.0], {"domain": [0, 1]}),  # zeros only: 0 to 1, not a band around zero
    ([0.0, 0.2, 3.0], {"zero": True}),
    ([4000.0, 4100.0, 4200.0], {"zero": True}),  # counts and rates are read against zero
    ([-1.0, 2.0, 3.0], {}),  # a series that may go negative keeps Vega-Lite's own domain
])
def test_y_axis_never_below_zero_for_counts(values: list[float], scale: dict[str, Any]) -> None:
    rows = _rows([0, 10, 20], values)
    assert time_lines(rows, "value", y_title="v").to_dict()["encoding"]["y"].get(
        "scale", {}) == scale
    if min(values) >= 0:
        assert bucket_bars(rows, "value", y_title="v").to_dict()["encoding"]["y"][
            "scale"] == scale


def test_bars_stand_on_zero_and_stack_within_their_bucket() -> None:
    rows = [{"at": T0, "reason": "not-json", "n": 2}, {"at": T0, "reason": "bad-schema", "n": 3},
            {"at": T0 + timedelta(minutes=1), "reason": "not-json", "n": 1}]
    spec = bucket_bars(rows, "n", y_title="dead letters", color="reason").to_dict()
    assert (spec["encoding"]["y"]["field"], spec["encoding"]["y2"]["field"]) == ("_to", "_from")
    (values,) = spec["datasets"].values()
    assert [(v["reason"], v["_from"], v["_to"]) for v in values] == [
        ("bad-schema", 0.0, 3.0), ("not-json", 3.0, 5.0), ("not-json", 0.0, 1.0)]
