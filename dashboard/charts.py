"""The dashboard's charts, one way: time on a UTC axis, one y-axis per chart, bars as wide as
the bucket they count (a minute's bar fills its minute), tooltips with times to the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import altair as alt

from collector.humanize import format_time
from dashboard.queries import chart_data

__all__ = ["bucket_bars", "time_lines"]

_X = alt.X("at:T", title="Time (UTC)", scale=alt.Scale(type="utc"),
           axis=alt.Axis(format="%H:%M", formatType="utc"))


def _rows(rows: Sequence[dict[str, Any]], bucket: timedelta | None) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        at: datetime = r["at"]
        row = {**r, "time": format_time(at)}
        if bucket is not None:
            row["end"] = at + bucket
        out.append(row)
    return out


def bucket_bars(rows: Sequence[dict[str, Any]], y: str, *, y_title: str,
                color: str | None = None, bucket: timedelta = timedelta(minutes=1)
                ) -> alt.Chart:
    """Bars from each row's ``at`` to the end of its bucket (stacked by ``color``)."""
    tooltip: list[Any] = [alt.Tooltip("time:N", title="Time (UTC)"),
                          alt.Tooltip(f"{y}:Q", title=y_title)]
    encoding: dict[str, Any] = {"x": _X, "x2": "end:T", "y": alt.Y(f"{y}:Q", title=y_title)}
    if color is not None:
        encoding["color"] = alt.Color(f"{color}:N", title=color.replace("_", " "))
        tooltip.insert(1, alt.Tooltip(f"{color}:N", title=color.replace("_", " ")))
    chart: alt.Chart = alt.Chart(chart_data(_rows(rows, bucket))).mark_bar().encode(
        **encoding, tooltip=tooltip)
    return chart


def time_lines(rows: Sequence[dict[str, Any]], y: str, *, y_title: str,
               color: str | None = None, y_format: str | None = None) -> alt.Chart:
    """One line per ``color`` over time, with points when there are few."""
    axis = alt.Axis(format=y_format) if y_format else alt.Axis()
    tooltip: list[Any] = [alt.Tooltip("time:N", title="Time (UTC)"),
                          alt.Tooltip(f"{y}:Q", title=y_title, format=y_format or ",.3~f")]
    encoding: dict[str, Any] = {"x": _X, "y": alt.Y(f"{y}:Q", title=y_title, axis=axis)}
    if color is not None:
        encoding["color"] = alt.Color(f"{color}:N", title=color.replace("_", " "))
        tooltip.insert(1, alt.Tooltip(f"{color}:N", title=color.replace("_", " ")))
    chart: alt.Chart = alt.Chart(chart_data(_rows(rows, None))).mark_line(
        point=len(rows) < 60).encode(**encoding, tooltip=tooltip)
    return chart
