"""The dashboard's charts, one way: time on a UTC axis, one y-axis per chart, bars as wide as
the bucket they count (a minute's bar fills its minute), tooltips with times to the second.

Time labels are whole minutes (``07:15``), or whole seconds when the chart spans less than
`SECONDS_BELOW` (a short run), never fractions. A y-axis of values that are never negative
starts at zero, and one of zeros only spans 0 to 1 (not a band around zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import altair as alt

from collector.humanize import format_time
from dashboard.queries import chart_data

__all__ = ["SECONDS_BELOW", "bucket_bars", "time_lines"]

SECONDS_BELOW = timedelta(minutes=10)
"""A chart spanning less than this labels its time axis to the second."""


def _x(rows: Sequence[dict[str, Any]]) -> alt.X:
    """The UTC time axis (a ``utc`` scale formats in UTC: Vega-Lite's ``formatType: utc`` on
    top of it loses the format and labels ticks ``.500``)."""
    times = [r["at"] for r in rows]
    short = not times or max(times) - min(times) < SECONDS_BELOW
    axis = (alt.Axis(format="%H:%M:%S", tickMinStep=1000) if short
            else alt.Axis(format="%H:%M", tickMinStep=60_000))
    return alt.X("at:T", title="Time (UTC)", scale=alt.Scale(type="utc"), axis=axis)


def _y_scale(rows: Sequence[dict[str, Any]], y: str) -> alt.Scale:
    values = [float(r[y]) for r in rows if r.get(y) is not None]
    if values and not any(values):
        return alt.Scale(domain=[0, 1])
    # zero in the domain, and a nice top (a domainMin would leave the top at the largest value)
    return alt.Scale(zero=True) if values and min(values) >= 0 else alt.Scale()


def _rows(rows: Sequence[dict[str, Any]], bucket: timedelta | None) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        at: datetime = r["at"]
        row = {**r, "time": format_time(at)}
        if bucket is not None:
            row["end"] = at + bucket
        out.append(row)
    return out


def _stacked(rows: list[dict[str, Any]], y: str, color: str | None) -> list[dict[str, Any]]:
    """Each row with ``_from`` and ``_to``: where its bar starts and ends, stacked on the rows
    of its bucket before it (by ``color``). A bar ranged in x (``x``, ``x2``) is not stacked by
    Vega-Lite, and without ``y2`` it is drawn as a thin band at its height."""
    base: dict[Any, float] = {}
    out = []
    for r in sorted(rows, key=lambda r: (r["at"], "" if color is None else str(r[color]))):
        start = base.get(r["at"], 0.0)
        base[r["at"]] = start + float(r[y])
        out.append({**r, "_from": start, "_to": base[r["at"]]})
    return out


def bucket_bars(rows: Sequence[dict[str, Any]], y: str, *, y_title: str,
                color: str | None = None, bucket: timedelta = timedelta(minutes=1)
                ) -> alt.Chart:
    """Bars from each row's ``at`` to the end of its bucket, from zero up to its value (stacked
    by ``color``)."""
    stacked = _stacked(_rows(rows, bucket), y, color)
    tops = [{"_to": r["_to"]} for r in stacked]
    tooltip: list[Any] = [alt.Tooltip("time:N", title="Time (UTC)"),
                          alt.Tooltip(f"{y}:Q", title=y_title)]
    encoding: dict[str, Any] = {
        "x": _x(rows), "x2": "end:T",
        "y": alt.Y("_to:Q", title=y_title, scale=_y_scale(tops, "_to")), "y2": "_from:Q"}
    if color is not None:
        encoding["color"] = alt.Color(f"{color}:N", title=color.replace("_", " "),
                                      legend=alt.Legend(labelLimit=280))
        tooltip.insert(1, alt.Tooltip(f"{color}:N", title=color.replace("_", " ")))
    chart: alt.Chart = alt.Chart(chart_data(stacked)).mark_bar().encode(
        **encoding, tooltip=tooltip)
    return chart


def time_lines(rows: Sequence[dict[str, Any]], y: str, *, y_title: str,
               color: str | None = None, y_format: str | None = None) -> alt.Chart:
    """One line per ``color`` over time, with points when there are few."""
    axis = alt.Axis(format=y_format) if y_format else alt.Axis()
    tooltip: list[Any] = [alt.Tooltip("time:N", title="Time (UTC)"),
                          alt.Tooltip(f"{y}:Q", title=y_title, format=y_format or ",.3~f")]
    encoding: dict[str, Any] = {"x": _x(rows), "y": alt.Y(f"{y}:Q", title=y_title, axis=axis,
                                                     scale=_y_scale(rows, y))}
    if color is not None:
        encoding["color"] = alt.Color(f"{color}:N", title=color.replace("_", " "),
                                      legend=alt.Legend(labelLimit=280))
        tooltip.insert(1, alt.Tooltip(f"{color}:N", title=color.replace("_", " ")))
    chart: alt.Chart = alt.Chart(chart_data(_rows(rows, None))).mark_line(
        point=len(rows) < 60).encode(**encoding, tooltip=tooltip)
    return chart
