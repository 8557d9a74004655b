"""The catalog's data, read from the store and the schema folder and handed over as values.

The catalog never reads the store: this module does, on the collector side.

- `refresh_rollups` keeps the per-minute traffic rollups (migration 050) up to date: it finds the
  minutes touched by events, spans and violations stored since the last refresh (by rowid) and
  recomputes those minutes with one ``GROUP BY`` per range, so building a map never touches a
  million Python objects.
- `read_traffic` sums the rollups over a window into `EdgeTraffic` values.
- `read_declarations` / `save_declarations` keep declared contracts (an imported AsyncAPI file).
- `load_schema_infos`, `load_flow_infos` and `read_samples` give the rest of an entry.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import orjson

from catalog.eventmap import EventMap, build_event_map
from catalog.metadata import (
    Declaration,
    DeclaredRole,
    FlowInfo,
    SamplePayload,
    SchemaInfo,
    schema_infos,
)
from catalog.traffic import LATENCY_BUCKETS_MS, EdgeKind, EdgeTraffic, GroupAssignment, Window
from collector.exceptions import CollectorError
from collector.store._time import from_text, to_text

__all__ = [
    "CatalogSourceError",
    "CatalogView",
    "RollupRefresher",
    "RollupStats",
    "load_event_map",
    "load_flow_infos",
    "load_schema_infos",
    "read_declarations",
    "read_groups",
    "read_samples",
    "read_traffic",
    "refresh_rollups",
    "rollup_store",
    "save_declarations",
    "traffic_window",
]

logger = logging.getLogger(__name__)

_MINUTE = timedelta(minutes=1)
_MERGE_GAP = timedelta(minutes=60)
"""Minute ranges closer than this are recomputed as one range (fewer statements)."""


class CatalogSourceError(CollectorError):
    """The catalog's inputs cannot be read (a schema file, the store)."""


class ReadStore(Protocol):
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...


class RollupStore(ReadStore, Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...


def rollup_store(store: object) -> RollupStore:
    """The store, as one that can run the rollup statements (a writable SQL backend)."""
    if not (callable(getattr(store, "execute", None)) and callable(getattr(store, "query", None))):
        raise CatalogSourceError(f"store {getattr(store, 'url', store)!r} cannot keep the "
                                 "catalog's rollups (no SQL execute)")
    return cast("RollupStore", store)


@dataclass(frozen=True, slots=True)
class RollupStats:
    minutes: int
    ranges: int
    marks: dict[str, int]


# -- rollups ------------------------------------------------------------------------------------

# Milliseconds between two store times, exact to the microsecond (julianday() would round to
# tens of microseconds, enough to push a latency over a bucket bound).
_LATENCY_MS = ("ROUND((CAST(strftime('%s', s.start_at) AS INTEGER) - "
               "CAST(strftime('%s', e.occurred_at) AS INTEGER)) * 1000.0 + "
               "(CAST(substr(s.start_at, 20, 7) AS REAL) - "
               "CAST(substr(e.occurred_at, 20, 7) AS REAL)) * 1000.0, 3)")
_BUCKET = "CASE " + " ".join(
    f"WHEN {_LATENCY_MS} <= {bound:g} THEN {i}"
    for i, bound in enumerate(LATENCY_BUCKETS_MS[:-1])) + f" ELSE {len(LATENCY_BUCKETS_MS) - 1} END"
_TOPIC = ("COALESCE(e.topic, json_extract(s.attributes, '$.\"messaging.destination.name\"'), "
          "json_extract(s.attributes, '$.\"messaging.destination\"'), '')")
_PAIR_COLUMNS = (f"s.trace_id AS st, s.span_id AS ss, e.source AS es, e.id AS ei, s.start_at, "
                 f"s.service, s.status, e.type, {_TOPIC} AS topic, {_BUCKET} AS bucket")
_CONSUMED = f"""
    SELECT {_PAIR_COLUMNS}
      FROM spans s JOIN events e ON e.trace_id = s.trace_id AND e.span_id = s.parent_id
     WHERE s.kind = 'consumer' AND s.start_at >= ?1 AND s.start_at < ?2
    UNION
    SELECT {_PAIR_COLUMNS}
      FROM spans s, json_each(s.links) j
      JOIN events e ON e.trace_id = json_extract(j.value, '$[0]')
                   AND e.span_id = json_extract(j.value, '$[1]')
     WHERE s.kind = 'consumer' AND s.links != '[]' AND s.start_at >= ?1 AND s.start_at < ?2
"""  # noqa: S608 -- built from constants only

_PRODUCE_SQL = """
INSERT OR REPLACE INTO catalog_traffic_minute
SELECT substr(occurred_at, 1, 16), 'produce', source, type, COALESCE(topic, ''), COUNT(*), 0, 0,
       MIN(occurred_at), MAX(occurred_at)
  FROM events
 WHERE occurred_at >= ?1 AND occurred_at < ?2
 GROUP BY 1, 3, 4, 5
"""

# Violations and producer-span errors are few: counted from their side and set on the rows above.
_VIOLATIONS_SQL = """
INSERT INTO catalog_traffic_minute
SELECT substr(e.occurred_at, 1, 16), 'produce', e.source, e.type, COALESCE(e.topic, ''), 0,
       COUNT(*), 0, '', ''
  FROM (SELECT DISTINCT source, id FROM violations) v
  JOIN events e ON e.source = v.source AND e.id = v.id
 WHERE e.occurred_at >= ?1 AND e.occurred_at < ?2
 GROUP BY 1, 3, 4, 5
    ON CONFLICT DO UPDATE SET violations = excluded.violations
"""

_PRODUCER_ERRORS_SQL = """
INSERT INTO catalog_traffic_minute
SELECT substr(e.occurred_at, 1, 16), 'produce', e.source, e.type, COALESCE(e.topic, ''), 0, 0,
       COUNT(*), '', ''
  FROM spans s JOIN events e ON e.trace_id = s.trace_id AND e.span_id = s.span_id
 WHERE s.kind = 'producer' AND s.status = 'error' AND s.start_at >= ?3 AND s.start_at < ?4
   AND e.occurred_at >= ?1 AND e.occurred_at < ?2
 GROUP BY 1, 3, 4, 5
    ON CONFLICT DO UPDATE SET errors = excluded.errors
"""

_LATENCY_SQL = f"""
INSERT OR REPLACE INTO catalog_latency_minute
SELECT substr(p.start_at, 1, 16), p.service, p.type, p.topic, p.bucket, COUNT(*),
       SUM(p.status = 'error'), MIN(p.start_at), MAX(p.start_at)
  FROM ({_CONSUMED}) p
 GROUP BY 1, 2, 3, 4, 5
"""  # noqa: S608

_CONSUME_SQL = """
INSERT OR REPLACE INTO catalog_traffic_minute
SELECT minute, 'consume', service, event_type, topic, SUM(count), 0, SUM(errors),
       MIN(first_seen), MAX(last_seen)
  FROM catalog_latency_minute
 WHERE minute >= substr(?1, 1, 16) AND minute < substr(?2, 1, 16)
 GROUP BY 1, 3, 4, 5
"""

_RANGE_STATEMENTS = (_PRODUCE_SQL, _VIOLATIONS_SQL, _PRODUCER_ERRORS_SQL, _LATENCY_SQL,
                     _CONSUME_SQL)

# The hourly tier (migration 051): hours [?1, ?2) (as minute keys) summed from their minutes.
_HOUR_STATEMENTS = (
    """
INSERT OR REPLACE INTO catalog_traffic_hour
SELECT substr(minute, 1, 13), kind, service, event_type, topic, SUM(count), SUM(violations),
       SUM(errors), MIN(first_seen), MAX(last_seen)
  FROM catalog_traffic_minute WHERE minute >= ?1 AND minute < ?2
 GROUP BY 1, 2, 3, 4, 5
""",
    """
INSERT OR REPLACE INTO catalog_latency_hour
SELECT substr(minute, 1, 13), service, event_type, topic, bucket, SUM(count)
  FROM catalog_latency_minute WHERE minute >= ?1 AND minute < ?2
 GROUP BY 1, 2, 3, 4, 5
""",
)
_HOUR = timedelta(hours=1)
_SPAN_SLACK = timedelta(minutes=5)
"""A producer span starts within this of its event's time (clock skew between hosts)."""

# Minutes touched by rows stored after a mark: (source table, SQL over rowids (?1, ?2]).
_TOUCHED = {
    "events": (
        "SELECT DISTINCT substr(occurred_at, 1, 16) AS m FROM events WHERE rowid > ?1 AND "
        "rowid <= ?2",
        # consumer spans stored before the event they consumed: recompute their minutes too
        "SELECT DISTINCT substr(s.start_at, 1, 16) AS m FROM events e JOIN spans s ON "
        "s.trace_id = e.trace_id AND s.parent_id = e.span_id WHERE e.rowid > ?1 AND "
        "e.rowid <= ?2 AND e.trace_id IS NOT NULL AND s.kind = 'consumer'",
        "SELECT DISTINCT substr(s.start_at, 1, 16) AS m FROM events e JOIN span_links l ON "
        "l.linked_trace_id = e.trace_id AND l.linked_span_id = e.span_id JOIN spans s ON "
        "s.trace_id = l.trace_id AND s.span_id = l.span_id WHERE e.rowid > ?1 AND "
        "e.rowid <= ?2 AND e.trace_id IS NOT NULL AND s.kind = 'consumer'",
    ),
    "spans": (
        "SELECT DISTINCT substr(start_at, 1, 16) AS m FROM spans WHERE rowid > ?1 AND "
        "rowid <= ?2 AND kind = 'consumer'",
        "SELECT DISTINCT substr(e.occurred_at, 1, 16) AS m FROM spans s JOIN events e ON "
        "e.trace_id = s.trace_id AND e.span_id = s.span_id WHERE s.rowid > ?1 AND "
        "s.rowid <= ?2 AND s.kind = 'producer'",
    ),
    "violations": (
        "SELECT DISTINCT substr(e.occurred_at, 1, 16) AS m FROM violations v JOIN events e ON "
        "e.source = v.source AND e.id = v.id WHERE v.rowid > ?1 AND v.rowid <= ?2",
    ),
}


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


# On the first refresh every minute is touched: the extent of each table is enough.
_EXTENT = {
    "events": "SELECT MIN(occurred_at) AS a, MAX(occurred_at) AS b FROM events",
    "spans": "SELECT MIN(start_at) AS a, MAX(start_at) AS b FROM spans",
    "violations": "SELECT NULL AS a, NULL AS b",  # their events are in the events' extent
}


def _touched(store: ReadStore, table: str, lo: int, hi: int) -> set[tuple[datetime, datetime]]:
    if lo == 0:
        row = store.query(_EXTENT[table])[0]
        if row["a"] is None:
            return set()
        first = _minute(row["a"][:16])
        return {(first, _minute(row["b"][:16]) + _MINUTE)}
    return {(_minute(r["m"]), _minute(r["m"]) + _MINUTE)
            for sql in _TOUCHED[table] for r in store.query(sql, (lo, hi))}


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
    touched: set[tuple[datetime, datetime]] = set()
    for table in _TOUCHED:
        sql_top = f"SELECT COALESCE(MAX(rowid), 0) AS n FROM {table}"  # noqa: S608 -- constant
        tops[table] = int(store.query(sql_top)[0]["n"])
        if tops[table] > marks.get(table, 0):
            touched |= _touched(store, table, marks.get(table, 0), tops[table])
    ranges = _ranges(touched)
    for a, b in (piece for r in ranges for piece in _hour_pieces(*r)):
        params = (to_text(a), to_text(b), to_text(a - _SPAN_SLACK), to_text(b + _SPAN_SLACK))
        for sql in _RANGE_STATEMENTS:
            store.execute(sql, params[:4] if "?3" in sql else params[:2])
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


# -- reads --------------------------------------------------------------------------------------


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


def _tiered(columns: str, table: str) -> str:
    """Rows of the window from the minute and hour tables of one rollup (``table`` prefix)."""
    return (f"SELECT {columns} FROM {table}_minute WHERE minute >= ?1 AND minute < ?2 "  # noqa: S608
            f"UNION ALL SELECT {columns} FROM {table}_hour WHERE hour >= ?3 AND hour < ?4 "
            f"UNION ALL SELECT {columns} FROM {table}_minute WHERE minute >= ?5 AND minute < ?6")


_READ_LATENCY = ("SELECT service, event_type, topic, bucket, SUM(count) AS n FROM ("  # noqa: S608
                 + _tiered("service, event_type, topic, bucket, count", "catalog_latency")
                 + ") GROUP BY 1, 2, 3, 4")
_READ_TRAFFIC = ("SELECT kind, service, event_type, topic, SUM(count) AS n, "  # noqa: S608
                 "SUM(violations) AS v, SUM(errors) AS err, MIN(first_seen) AS f, "
                 "MAX(last_seen) AS l FROM ("
                 + _tiered("kind, service, event_type, topic, count, violations, errors, "
                           "first_seen, last_seen", "catalog_traffic")
                 + ") GROUP BY 1, 2, 3, 4")


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


def read_groups(store: ReadStore) -> list[GroupAssignment]:
    """Consumer groups and the topics they read, where the Kafka tap records them.

    The store has no consumer-group table yet (the Kafka tap's issue); until it does, there is
    nothing to read and consumers are known from consumer spans only.
    """
    tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
    if "consumer_groups" not in tables:
        return []
    return [GroupAssignment(r["group_id"], r["topic"],
                            from_text(r["last_seen"]) if r.get("last_seen") else None)
            for r in store.query("SELECT * FROM consumer_groups")]


def read_samples(store: ReadStore, event_types: Iterable[str], per_type: int = 3
                 ) -> list[SamplePayload]:
    """The latest stored payloads of each type (stored redacted, under the capture policy)."""
    out: list[SamplePayload] = []
    for name in event_types:
        for r in store.query(
                "SELECT source, id, occurred_at, data FROM events WHERE type = ? AND data IS NOT "
                "NULL ORDER BY occurred_at DESC LIMIT ?", (name, per_type)):
            out.append(SamplePayload(name, r["source"], r["id"], from_text(r["occurred_at"]),
                                     orjson.loads(r["data"])))
    return out


def read_declarations(store: ReadStore) -> list[Declaration]:
    return [
        Declaration(r["service"], DeclaredRole(r["role"]), r["event_type"], r["topic"] or None,
                    r["origin"], None if r["payload"] is None else orjson.loads(r["payload"]))
        for r in store.query("SELECT * FROM catalog_declarations ORDER BY origin, service, role, "
                             "event_type, topic")
    ]


def save_declarations(store: RollupStore, origin: str, declarations: Iterable[Declaration],
                      now: datetime) -> int:
    """Replace what ``origin`` declared before with ``declarations``; returns how many."""
    stamp = to_text(now)
    n = 0
    for d in declarations:
        store.execute(
            "INSERT OR REPLACE INTO catalog_declarations VALUES (?, ?, ?, ?, ?, ?, ?)",
            (origin, d.service, d.role.value, d.event_type, d.topic or "",
             None if d.payload is None else orjson.dumps(d.payload).decode(), stamp))
        n += 1
    store.execute("DELETE FROM catalog_declarations WHERE origin = ? AND imported_at != ?",
                  (origin, stamp))
    return n


# -- files --------------------------------------------------------------------------------------

def load_schema_infos(schemas_dir: Path) -> list[SchemaInfo]:
    """Every registered schema version (``events/<Type>/v<N>.json``), with its metadata.

    Read by the registry's loader, so a schema its meta-schema refuses is refused here too
    (`catalog.exceptions.SchemaRejected`, naming the file).
    """
    from catalog.files import load_registry

    return schema_infos(load_registry(schemas_dir / "events"))


def load_flow_infos(schemas_dir: Path) -> list[FlowInfo]:
    """The flow types of ``flows/*.json`` and the event types each names."""
    from collector.flows.definition import load_definitions

    folder = schemas_dir / "flows"
    if not folder.is_dir():
        return []
    return [FlowInfo(d.flow_type, d.event_types, d.description, d.owner)
            for d in load_definitions([folder])]


# -- everything together ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogView:
    """A built event map with the schema metadata it was built with."""

    event_map: EventMap
    schemas: tuple[SchemaInfo, ...]


def load_event_map(store: ReadStore, schemas_dir: Path, window: Window | None = None
                   ) -> CatalogView:
    """The event map of ``window`` (default: everything rolled up) with declared contracts.

    Reads only: call `refresh_rollups` first on a writable store to include the latest events.
    """
    window = window or traffic_window(store)
    traffic = read_traffic(store, window) if window is not None else []
    schemas = tuple(load_schema_infos(schemas_dir))
    event_map = build_event_map(
        traffic, window=window, groups=read_groups(store),
        declarations=read_declarations(store), schemas=schemas,
        flows=load_flow_infos(schemas_dir))
    return CatalogView(event_map, schemas)
