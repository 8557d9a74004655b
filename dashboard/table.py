"""Tables that read like a product: column labels in words, durations humanised, times to the
second (UTC, stated in the column label), empty cells empty, counts as numbers.

`readable(rows)` is pure (tested without Streamlit); `show(rows, key=...)` draws it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from collector.humanize import format_duration, format_time

__all__ = ["label", "readable", "show"]

_LABELS = {
    "id": "Id", "dl_id": "Id", "p50_s": "p50", "p95_s": "p95", "p99_s": "p99",
    "worst_p99_s": "Worst p99", "sla_over_s": "Over the SLA by", "over_s": "Over by",
    "correlation_id": "Correlation id", "instance_id": "Instance id", "loc_source": "Read from",
    "offset": "Offset", "share_within_sla": "Within SLA", "burn_rate": "Burn rate",
    "dead_letters": "Dead letters", "received_at": "Received (UTC)", "at": "Time (UTC)",
    "latest": "Latest (UTC)", "oldest": "Oldest (UTC)", "flow_type": "Flow type",
    "event_type": "Event type", "schema_version": "Schema version",
}
_TIME = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?$")


def label(column: str) -> str:
    """``stuck_for_s`` -> ``Stuck for``; ``started_at`` -> ``Started (UTC)``; words as they
    are otherwise, first letter capitalised."""
    if column in _LABELS:
        return _LABELS[column]
    words = column
    if words.endswith("_s"):
        words = words[:-2]
    elif words.endswith("_at"):
        words = words[:-3] + " (UTC)"
    words = words.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_time(value, with_zone=False)
    if isinstance(value, str) and _TIME.match(value):
        return format_time(value, with_zone=False)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and (column.endswith("_s") or column == "seconds"):
        return format_duration(value)
    if isinstance(value, float):
        return round(value, 3)
    return value


def readable(rows: Sequence[Mapping[str, Any]],
             columns: Mapping[str, str] | Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The rows with labelled columns and formatted cells. ``columns`` picks and orders them
    (a mapping gives each its own label); by default every column, labelled by `label`."""
    if columns is None:
        names: dict[str, str] = {c: label(c) for r in rows[:1] for c in r}
    elif isinstance(columns, Mapping):
        names = dict(columns)
    else:
        names = {c: label(c) for c in columns}
    return [{shown: _cell(c, r.get(c)) for c, shown in names.items()} for r in rows]


def show(rows: Sequence[Mapping[str, Any]], *, key: str,
         columns: Mapping[str, str] | Sequence[str] | None = None,
         links: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
    """Draw `readable` rows; ``links`` maps a (labelled) column of URLs to its link text."""
    import streamlit as st

    config = {name: st.column_config.LinkColumn(name, display_text=text)
              for name, text in (links or {}).items()}
    return st.dataframe(readable(rows, columns), hide_index=True, key=key,
                        column_config=config or None, **kwargs)
