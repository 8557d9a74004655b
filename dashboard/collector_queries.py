"""The collectors of the store's groups (table ``collectors``, `collector.member`), for the
Collector health page. No Streamlit here: values in, values out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from collector.member import is_silent, silent_after
from collector.store import Store
from collector.store._time import from_text, to_text

__all__ = ["COLLECTOR_LIMIT", "collectors"]

COLLECTOR_LIMIT = 200
SHOWN_FOR = timedelta(days=1)
"""A collector heard from within this long is listed (silent or not); older rows are not."""


def collectors(store: Store, *, now: datetime, within: timedelta = SHOWN_FOR,
               ) -> list[dict[str, Any]]:
    """The collectors heard from in the last ``within`` before ``now``, by group and start,
    each with ``silent`` (no heartbeat for `collector.member.silent_after` its interval) and
    ``silent_for`` (seconds since its last heartbeat)."""
    rows = store.query("SELECT * FROM collectors WHERE heartbeat_at >= ? "
                       "ORDER BY group_id, started_at, collector_id LIMIT ?",
                       (to_text(now - within), COLLECTOR_LIMIT))
    return [_shown(r, now) for r in rows]


def _shown(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    heartbeat = from_text(row["heartbeat_at"])
    every = float(row["beat_every_s"])
    partitions: dict[str, list[str]] = orjson.loads(row["partitions"])
    return {
        "collector_id": row["collector_id"], "group": row["group_id"],
        "roles": ", ".join(orjson.loads(row["roles"])),
        "partitions": "; ".join(f"{role}: {', '.join(p) or '(none)'}"
                                for role, p in partitions.items()),
        "lag": row["lag"], "records_per_second": round(float(row["records_per_second"]), 1),
        "started_at": from_text(row["started_at"]), "heartbeat_at": heartbeat,
        "silent": is_silent(heartbeat, every, now),
        "silent_after_s": silent_after(every).total_seconds(),
        "since_heartbeat_s": max((now - heartbeat).total_seconds(), 0.0),
    }
