"""Per-minute and per-hour traffic rollups: kept current from the stored rows, read per window.

`refresh_rollups` finds the minutes touched by events, spans and violations stored since the
last refresh (by rowid) and recomputes those minutes with one ``GROUP BY`` per hour of them, so
building a map never touches a million Python objects; `read_traffic` sums a window's rollups
(whole hours from the hourly tier) into `EdgeTraffic` values.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from catalog.traffic import LATENCY_BUCKETS_MS, EdgeKind, EdgeTraffic, Window
from collector.catalog_source._sql import (
    _EXTENT,
    _HOUR,
    _HOUR_STATEMENTS,
    _MERGE_GAP,
    _MINUTE,
    _RANGE_STATEMENTS,
    _READ_LATENCY,
    _READ_TRAFFIC,
    _READS_SPANS,
    _SPAN_SLACK,
    _TOUCHED,
    _VIOLATION_SLACK,
    _highest_parameter,
)
from collector.catalog_source._store import ReadStore, RollupStore
from collector.store._time import from_text, to_text

__all__ = ["RollupRefresher", "RollupStats", "read_edge_series", "read_traffic",
           "refresh_rollups", "traffic_window"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RollupStats:
    minutes: int
    ranges: int
    marks: dict[str, int]


def _minute(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _ranges(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Half-open intervals merged when they overlap or lie closer than `_MERGE_GAP`."""
    out: list[list[datetime]] = []
    for a, b in sorted(intervals):
        if out and a - out[-1][1] <= _MERGE_GAP:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _touched(store: ReadStore, table: str, lo: int, hi: int, *,
             spans: bool) -> set[tuple[datetime, datetime]]:
    if lo == 0:
        row = store.query(_EXTENT[table])[0]
        if row["a"] is None:
            return set()
        first = _minute(row["a"][:16])
        return {(first, _minute(row["b"][:16]) + _MINUTE)}
    return {(_minute(r["m"]), _minute(r["m"]) + _MINUTE)
            for sql in _TOUCHED[table] if spans or sql not in _READS_SPANS
            for r in store.query(sql, (lo, hi))}


def _hour_pieces(a: datetime, b: datetime) -> Iterator[tuple[datetime, datetime]]:
    """``[a, b)`` cut at hour boundaries: each statement's write lock is held briefly, so a
    collector writing into the same store meanwhile is never kept waiting long."""
    while a < b:
        end = min(_floor_hour(a) + _HOUR, b)
        yield a, end
        a = end


def refresh_rollups(store: RollupStore) -> RollupStats:
    """Bring the rollups up to date with everything stored so far; safe to run any time.

    Each statement is its own transaction and recomputes whole minutes (or hours) from the
    stored rows, so an interrupted refresh is completed by the next one.
    """
    marks = {r["source_table"]: r["last_rowid"]
             for r in store.query("SELECT source_table, last_rowid FROM catalog_rollup_marks")}
    tops: dict[str, int] = {}
    for table in _TOUCHED:
        sql_top = f"SELECT COALESCE(MAX(rowid), 0) AS n FROM {table}"  # noqa: S608 -- constant
        tops[table] = int(store.query(sql_top)[0]["n"])
    spans = tops["spans"] > 0  # spans stored after this are the next refresh's
    touched: set[tuple[datetime, datetime]] = set()
    for table in _TOUCHED:
        if tops[table] > marks.get(table, 0):
            touched |= _touched(store, table, marks.get(table, 0), tops[table], spans=spans)
    ranges = _ranges(touched)
    for a, b in (piece for r in ranges for piece in _hour_pieces(*r)):
        params = (to_text(a), to_text(b), to_text(a - _SPAN_SLACK), to_text(b + _SPAN_SLACK),
                  to_text(a - _VIOLATION_SLACK), to_text(b + _VIOLATION_SLACK))
        for sql in _RANGE_STATEMENTS:
            if spans or sql not in _READS_SPANS:
                store.execute(sql, params[:_highest_parameter(sql)])
        hours = (_minute_key(_floor_hour(a)), _minute_key(_ceil_hour(b)))
        for sql in _HOUR_STATEMENTS:
            store.execute(sql, hours)
    for table, top in tops.items():
        store.execute("INSERT OR REPLACE INTO catalog_rollup_marks VALUES (?, ?)", (table, top))
    minutes = sum(int((b - a) / _MINUTE) for a, b in ranges)
    logger.debug("rolled up %d minutes in %d ranges", minutes, len(ranges))
    return RollupStats(minutes, len(ranges), tops)


class RollupRefresher:
    """Keeps the rollups current from a live loop: `on_tick` refreshes at most every ``every``.

    The live runner owns time and calls ``on_tick(now)`` on its ticks; the dashboard, which is
    read-only, then shows maps no older than ``every``.
    """

    def __init__(self, store: RollupStore, every: timedelta = timedelta(seconds=5)) -> None:
        self._store = store
        self._every = every
        self._last: datetime | None = None

    def on_tick(self, now: datetime) -> RollupStats | None:
        if self._last is not None and now - self._last < self._every:
            return None
        self._last = now
        return refresh_rollups(self._store)


def traffic_window(store: ReadStore) -> Window | None:
    """The window every rollup falls in (None when nothing was rolled up)."""
    row = store.query("SELECT MIN(minute) AS a, MAX(minute) AS b FROM catalog_traffic_minute")[0]
    if row["a"] is None:
        return None
    return Window(_minute(row["a"]), _minute(row["b"]) + _MINUTE)


def _ceil_minute(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + _MINUTE


def _floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(at: datetime) -> datetime:
    floor = _floor_hour(at)
    return floor if floor == at else floor + _HOUR


def _minute_key(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


def _segments(window: Window) -> tuple[str, ...]:
    """Keys of the minutes that start inside the window, as three ranges: leading minutes,
    whole hours (``YYYY-MM-DDTHH``), trailing minutes; unused ranges are empty."""
    a, b = _ceil_minute(window.start), _ceil_minute(window.end)
    ha, hb = _ceil_hour(a), _floor_hour(b)
    if ha >= hb:
        return (_minute_key(a), _minute_key(b), "", "", "", "")
    return (_minute_key(a), _minute_key(ha), ha.strftime("%Y-%m-%dT%H"),
            hb.strftime("%Y-%m-%dT%H"), _minute_key(hb), _minute_key(b))


def read_traffic(store: ReadStore, window: Window) -> list[EdgeTraffic]:
    """The rollups of the window, summed per (kind, service, event type, topic).

    A minute belongs to the window when it starts inside it; whole hours are read from the
    hourly tier.
    """
    segments = _segments(window)
    hist: dict[tuple[str, str, str], list[int]] = defaultdict(
        lambda: [0] * len(LATENCY_BUCKETS_MS))
    for r in store.query(_READ_LATENCY, segments):
        hist[r["service"], r["event_type"], r["topic"]][r["bucket"]] += r["n"]
    return [
        EdgeTraffic(
            kind=EdgeKind(r["kind"]), service=r["service"], event_type=r["event_type"],
            topic=r["topic"] or None, count=r["n"], first_seen=from_text(r["f"]),
            last_seen=from_text(r["l"]), violations=r["v"], errors=r["err"],
            latency=tuple(hist.get((r["service"], r["event_type"], r["topic"]), ()))
            if r["kind"] == EdgeKind.CONSUME else (),
        )
        for r in store.query(_READ_TRAFFIC, segments)
    ]


def read_edge_series(store: ReadStore, kind: EdgeKind, service: str, event_type: str,
                     window: Window) -> list[tuple[datetime, int, int, int]]:
    """One edge's traffic minute by minute over the window, all topics together:
    ``(minute, count, violations, errors)``, minutes without traffic left out (a sparkline)."""
    a, b = _minute_key(_ceil_minute(window.start)), _minute_key(_ceil_minute(window.end))
    rows = store.query(
        "SELECT minute, SUM(count) AS n, SUM(violations) AS v, SUM(errors) AS err "
        "FROM catalog_traffic_minute WHERE minute >= ? AND minute < ? AND kind = ? AND "
        "service = ? AND event_type = ? GROUP BY minute ORDER BY minute",
        (a, b, str(kind), service, event_type))
    return [(_minute(r["minute"]), r["n"], r["v"], r["err"]) for r in rows]
