"""SQLite backend: WAL mode, versioned migrations, one transaction per batch."""

from __future__ import annotations

import logging
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from collector import _json
from collector.exceptions import StoreError, StoreUnusable
from collector.model import (
    DeadLetter,
    DeadLetterReason,
    Event,
    EventIdentity,
    FlowSnapshot,
    FlowStatus,
    Location,
    Span,
)
from collector.store._checkpoint import Checkpointer
from collector.store._path import check_store_path, check_store_schema
from collector.store._sender import SenderLock
from collector.store._time import from_text, to_text
from collector.store.base import Batch
from collector.store.dead_letters import (
    STORED_COLUMNS,
    DeadLetterBounds,
    DeadLetterUsage,
    stored_row,
)

if TYPE_CHECKING:
    from collector.member import CollectorBeat

__all__ = ["INSTANCE_EVENTS", "PreparedWrite", "SqlRunner", "SqlStore", "SqliteStore", "data_of",
           "delete_older", "migrations", "prepare_write"]

logger = logging.getLogger(__name__)

_OPEN_STATUSES = (FlowStatus.RUNNING.value, FlowStatus.STUCK.value)
_RETAINED = (("events", "occurred_at"), ("spans", "start_at"), ("metrics", "at"))
"""Tables retention deletes from, with the time column it goes by (constants, not input)."""
_WRITER_PRAGMAS = (
    "page_size=8192",  # a new file's pages (set before its first table; an existing store
    # keeps its own): 8 KiB against 4 KiB, fewer B-tree splits and WAL frames per event, the
    # events insert about a tenth cheaper at 200k events
    "journal_mode=WAL",
    "synchronous=NORMAL",  # in WAL: durable at checkpoints; a power cut loses at most the
    # last commits, which the positions stored with them make the tap read again
    "cache_size=-65536",  # 64 MiB: the events indexes have random keys (ids, correlation ids)
    "temp_store=MEMORY",
    "wal_autocheckpoint=20000",  # a backstop: `Checkpointer` copies the WAL in the background
    "secure_delete=ON",  # deleted rows (dead letters' raw bytes) are zeroed, not left in
    # freed pages
)
_TRACE_INDEX = ("CREATE INDEX IF NOT EXISTS catalog_events_trace_span ON events "
                "(trace_id, span_id) WHERE trace_id IS NOT NULL")
"""The events' trace index (migration 050; a consumer span finds the event it consumed, a trace
the flows it carried), kept on SQLite only while spans are stored (`SqliteStore`)."""
_CHUNKS = (1200, 400, 100, 25, 5, 1)
"""Rows per multi-row INSERT, greedily: a few statement shapes, each compiled once (the
statement cache); a size whose statement would pass `_MAX_PARAMETERS` is skipped."""
_MAX_PARAMETERS = 32_766
"""SQLite's limit on bound parameters in one statement."""


INSTANCE_EVENTS = ("SELECT {columns} FROM events WHERE correlation_id = (SELECT correlation_id "
                   "FROM flows WHERE instance_id = ?) AND instance_id = ?")
"""A flow instance's events (parameters: the instance id twice), through the correlation index:
every event of an instance carries its correlation id."""


class SqlRunner(Protocol):
    """What the shared statements run on: a sqlite3 connection, or the PostgreSQL store's
    translating connection."""

    def execute(self, sql: str, parameters: Any = (), /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


class SqlStore(ABC):
    """What the SQLite and the PostgreSQL store do alike, in SQLite's SQL on their `SqlRunner`
    (``_db``): reads through `_rows`, writes through `_in_transaction`, the two parts each
    backend has its own."""

    url: str
    read_only: bool
    dead_letter_bounds: DeadLetterBounds
    _db: Any

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """The rows a query answers, as dicts; a failure as `StoreError`."""

    @abstractmethod
    def _in_transaction(self, what: str, job: Callable[[], int]) -> int:
        """``job``'s answer, run in one transaction; a failure rolls it back and is raised as
        `StoreError` ("cannot WHAT STORE: ...")."""

    @property
    def _shown_url(self) -> str:
        return self.url

    # -- writes -----------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        self.write_prepared(self.prepare(batch))

    def prepare(self, batch: Batch) -> PreparedWrite:
        """The statements that write ``batch``, parameters bound to Python values: the
        Python half of `write`, so a caller can run it on its own thread and leave only
        `write_prepared` (the database's work, mostly without the GIL) to a writer thread."""
        return prepare_write(batch, self.dead_letter_bounds)

    def write_prepared(self, prepared: PreparedWrite) -> None:
        """Run a `prepare`d batch in one transaction."""
        if self.read_only:
            raise StoreError(f"store {self._shown_url} is open read-only")
        self._in_transaction("write to", lambda: _run(self._db, prepared))

    def delete_older_than(self, cutoff: datetime, limit: int) -> int:
        return self._in_transaction("apply retention to",
                                    lambda: delete_older(self._db, to_text(cutoff), limit))

    def delete_dead_letters(self, dl_ids: Sequence[int]) -> int:
        return self._in_transaction("delete dead letters in", lambda: sum(
            _drop_dead_letters(self._db, None, "WHERE dl_id = ?", (i,)) for i in dl_ids))

    def trim_dead_letters(self, now: datetime) -> int:
        """Apply the dead letters' age bound at ``now`` (wall time), in one transaction, so
        they age out while no new ones arrive; how many went."""
        cutoff = now - self.dead_letter_bounds.max_age
        return self._in_transaction("trim dead letters in",
                                    lambda: _trim_by_age(self._db, cutoff))

    # -- reads ------------------------------------------------------------------------------

    def dead_letter_usage(self) -> DeadLetterUsage:
        """The stored dead letters' count and size, and what the bounds dropped or cut."""
        (row,) = self._rows(
            "SELECT (SELECT COUNT(*) FROM dead_letters) AS stored, bytes, dropped_budget, "
            "dropped_age, truncated FROM dead_letter_usage", ())
        return DeadLetterUsage(**row)

    def positions(self, source: str) -> dict[tuple[str, int], int]:
        rows = self._rows("SELECT topic, partition, next_offset FROM positions WHERE reader = ?",
                          (source,))
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    def open_flows(self) -> Iterator[FlowSnapshot]:
        rows = self._rows("SELECT * FROM flows WHERE status IN (?, ?) ORDER BY started_at",
                          _OPEN_STATUSES)
        return (flow_from_row(r) for r in rows)

    def flow_events(self, instance_id: str) -> list[Event]:
        rows = self._rows(INSTANCE_EVENTS.format(columns="*")
                          + " ORDER BY occurred_at, sequence", (instance_id, instance_id))
        return [event_from_row(r) for r in rows]

    def events_by_correlation(self, correlation_id: str) -> list[Event]:
        rows = self._rows("SELECT * FROM events WHERE correlation_id = ? "
                          "ORDER BY occurred_at, sequence", (correlation_id,))
        return [event_from_row(r) for r in rows]

    def flows_by_correlation(self, correlation_id: str) -> list[FlowSnapshot]:
        rows = self._rows("SELECT * FROM flows WHERE correlation_id = ? ORDER BY started_at",
                          (correlation_id,))
        return [flow_from_row(r) for r in rows]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._rows(sql, params)


def _run(db: SqlRunner, prepared: PreparedWrite) -> int:
    for sql, params, many in prepared.statements:
        if many:
            db.executemany(sql, params)
        else:
            db.execute(sql, params)
    for call in prepared.calls:
        call(db)
    return prepared.rows_written


def migrations() -> list[tuple[int, str, str]]:
    """The packaged migrations as (version, name, sql), in order."""
    found = []
    for entry in resources.files("collector.store").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(number), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class SqliteStore(SqlStore):
    """The store in one SQLite file; a lock makes the connection safe to share between threads."""

    _db: sqlite3.Connection

    def __init__(self, url: str, *, read_only: bool = False,
                 dead_letters: DeadLetterBounds | None = None) -> None:
        self.url = url
        self.dead_letter_bounds = dead_letters if dead_letters is not None else (
            DeadLetterBounds())
        self.path = Path(url.removeprefix("sqlite:///"))
        self.read_only = read_only
        self._lock = threading.RLock()
        self._checkpointer: Checkpointer | None = None
        self._sender = SenderLock(self.path)
        check_store_path(self.path, read_only=read_only)
        try:
            if read_only:
                uri = f"file:{self.path.resolve()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                tables = {r[0] for r in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "schema_migrations" not in tables:
                    self._db.close()
                    check_store_schema(self.path, tables)
            else:
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                           cached_statements=256)
                for pragma in _WRITER_PRAGMAS:
                    self._db.execute(f"PRAGMA {pragma}")
                self._migrate()
                self._trace_index()
                self._checkpointer = Checkpointer(self.path)
            self._db.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:  # e.g. a file the process may not write after all
            raise StoreUnusable(self.path, f"cannot be opened ({exc})") from exc

    # -- schema -----------------------------------------------------------------------------

    def _migrate(self) -> None:
        db = self._db
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL "
            "DEFAULT CURRENT_TIMESTAMP)"
        )
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in migrations():
            if version in done:
                continue
            try:
                db.execute("BEGIN IMMEDIATE")
                for statement in _statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                           (version, name))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise StoreError(f"migration {version:03d}_{name} failed: {exc}") from exc

    def _trace_index(self) -> None:
        """Keep the events' trace index exactly while spans are stored.

        Only spans are ever looked up in it (the consumer span's parent is the event's span;
        a trace's spans name the flows they carried), so without spans it is pure cost: a
        random key per event, the costliest of the events' indexes (about 4 us of the store's
        16 per event on the Kafka bench, and 6 % of the file). It is dropped while no span is
        stored (checked and dropped in one transaction: another process may be writing its
        first spans), and every write of spans makes sure of it in its own transaction
        (`prepare`), so a span is never stored without it. PostgreSQL keeps it always:
        several collectors write there at once, and building an index locks the table
        against their writes."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            spans = db.execute("SELECT 1 FROM spans LIMIT 1").fetchone() is not None
            db.execute(_TRACE_INDEX if spans else
                       "DROP INDEX IF EXISTS catalog_events_trace_span")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def keep_trace_index(self) -> None:
        """Build or drop the trace index for the spans stored now, after rows came in other
        than by `write` (`collector.store.copy.copy_store`)."""
        with self._lock:
            self._trace_index()

    def schema_version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    # -- writes -----------------------------------------------------------------------------

    def prepare(self, batch: Batch) -> PreparedWrite:
        """`SqlStore.prepare`; a batch with spans first makes sure of the trace index
        (`_trace_index`: built by the store's first spans, a no-op after)."""
        prepared = super().prepare(batch)
        if batch.spans:
            prepared.statements.insert(0, (_TRACE_INDEX, (), False))
        return prepared

    def write_prepared(self, prepared: PreparedWrite) -> None:
        """Run a `prepare`d batch in one transaction."""
        super().write_prepared(prepared)
        if self._checkpointer is not None:
            self._checkpointer.wrote(prepared.rows_written)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one writing statement in its own transaction (retention, outbox marks)."""
        with self._lock:
            try:
                return self._db.execute(sql, params).rowcount
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write to {self.url}: {exc}") from exc

    def _in_transaction(self, what: str, job: Callable[[], int]) -> int:
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                done = job()
                db.execute("COMMIT")
                return done
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"cannot {what} {self.url}: {exc}") from exc
                raise

    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._lock:
            try:
                cur = self._db.execute(sql, params)
                names = [d[0] for d in cur.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read {self.url}: {exc}") from exc

    def hold_alert_sender(self) -> bool:
        """A `flock` on ``PATH-alerts.lock`` (`collector.store._sender`)."""
        with self._lock:
            return self._sender.hold()

    def close(self) -> None:
        with self._lock:
            self._sender.release()
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
            self._db.close()


def prepare_write(batch: Batch, bounds: DeadLetterBounds) -> PreparedWrite:
    """The statements that write ``batch`` (SQLite's SQL; `collector.store._dialect` gives
    PostgreSQL's), parameters bound to Python values."""
    out = PreparedWrite(len(batch) + len(batch.flows) + len(batch.spans) + 1)
    assigned = {(i.source, i.id): inst for i, inst in batch.assignments}
    unstorable = _write_events(out, batch.events, assigned)
    _write_dead_letters(out, [*batch.dead_letters, *unstorable] if unstorable
                        else batch.dead_letters, bounds)
    _write_flows(out, batch.flows)
    _write_spans(out, batch.spans)
    _write_flow_rollups(out, batch.flow_rollups)
    if assigned:  # events stored by earlier batches, joined to a flow now
        out.many("UPDATE events SET instance_id = ? WHERE source = ? AND id = ?",
                 [(inst, src, eid) for (src, eid), inst in assigned.items()])
    if batch.violations:
        out.rows("INSERT OR IGNORE INTO violations VALUES",
                 [(v.event.source, v.event.id, v.pointer, v.keyword, v.event_type,
                   v.producer, v.schema_version, v.message, to_text(v.occurred_at))
                  for v in batch.violations])
    if batch.alerts:
        out.rows("INSERT OR IGNORE INTO outbox (alert_id, kind, instance_id, "
                 "correlation_id, flow_type, step, at, details) VALUES",
                 [(a.alert_id, a.kind.value, a.instance_id, a.correlation_id,
                   a.flow_type, a.step, to_text(a.at),
                   orjson.dumps(a.details).decode() if a.details is not None else None)
                  for a in batch.alerts])
    if batch.positions:
        out.many("INSERT INTO positions VALUES (?,?,?,?) ON CONFLICT (reader, topic, "
                 "partition) DO UPDATE SET next_offset = excluded.next_offset",
                 [(p.source, p.topic, p.partition, p.next_offset) for p in batch.positions])
    if batch.detected_at is not None:
        out.many("INSERT INTO detection_clock VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
                 "at = MAX(detection_clock.at, excluded.at)", [(to_text(batch.detected_at),)])
    if batch.consumers:
        out.many("INSERT INTO consumer_groups VALUES (?,?,?) ON CONFLICT (group_id, topic) DO "
                 "UPDATE SET last_seen = MAX(consumer_groups.last_seen, excluded.last_seen)",
                 [(c.service, c.topic, to_text(c.last_seen)) for c in batch.consumers])
    if batch.collectors:
        _write_collectors(out, batch.collectors)
    if batch.metrics:
        out.many("INSERT INTO metrics VALUES (?,?,?,?)",
                 [(n, orjson.dumps(lbl, option=orjson.OPT_SORT_KEYS).decode(), v,
                   to_text(at)) for n, lbl, v, at in batch.metrics])
    return out


def _write_collectors(out: PreparedWrite, beats: list[CollectorBeat]) -> None:
    out.many("INSERT INTO collectors (collector_id, group_id, roles, partitions, lag, "
             "records_per_second, started_at, heartbeat_at, beat_every_s, host, records, "
             "stopped_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (collector_id) DO "
             "UPDATE SET group_id = excluded.group_id, roles = excluded.roles, partitions = "
             "excluded.partitions, lag = excluded.lag, records_per_second = "
             "excluded.records_per_second, heartbeat_at = excluded.heartbeat_at, beat_every_s "
             "= excluded.beat_every_s, host = excluded.host, records = excluded.records, "
             "stopped_at = excluded.stopped_at WHERE excluded.heartbeat_at >= "
             "collectors.heartbeat_at",
             [(b.collector_id, b.group, orjson.dumps(list(b.roles)).decode(),
               orjson.dumps(b.partitions, option=orjson.OPT_SORT_KEYS).decode(), b.lag,
               b.records_per_second, to_text(b.started_at), to_text(b.heartbeat_at),
               b.beat_every_s, b.host, b.records,
               None if b.stopped_at is None else to_text(b.stopped_at)) for b in beats])


def delete_older(db: SqlRunner, at: str, limit: int) -> int:
    """Retention's statements (see `SqliteStore.delete_older_than`), inside the caller's
    transaction; ``db`` runs SQLite's SQL (or a dialect's translation of it)."""
    gone = db.execute(  # a span's links go with it
        "DELETE FROM span_links WHERE (trace_id, span_id) IN (SELECT trace_id, "
        "span_id FROM spans WHERE start_at < ? ORDER BY start_at LIMIT ?)",
        (at, limit)).rowcount
    gone += _drop_dead_letters(db, "dropped_age", "WHERE rowid IN (SELECT rowid "
                               "FROM dead_letters WHERE received_at < ? ORDER BY "
                               "received_at LIMIT ?)", (at, limit))
    for table, column in _RETAINED:
        delete = (f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} "  # noqa: S608
                  f"WHERE {column} < ? ORDER BY {column} LIMIT ?)")
        if table != "events":
            gone += db.execute(delete, (at, limit)).rowcount
            continue
        deleted = db.execute(f"{delete} RETURNING correlation_id", (at, limit)).fetchall()
        gone += len(deleted)
        if deleted:  # the keys of the flows whose last event went
            gone += _drop_business_keys(db, sorted({c for (c,) in deleted}))
    # collectors not heard from since the cutoff (a few rows: one per process start; uncounted)
    db.execute("DELETE FROM collectors WHERE heartbeat_at < ?", (at,))
    return int(gone)


def _drop_business_keys(db: SqlRunner, correlations: Sequence[str]) -> int:
    """The business keys of those of ``correlations`` that have no event left (a flow is
    found by its keys while any of its events is stored); how many rows went."""
    gone = 0
    for at in range(0, len(correlations), 500):
        chunk = correlations[at:at + 500]
        gone += db.execute(
            "DELETE FROM business_keys WHERE correlation_id IN "  # noqa: S608
            f"({','.join('?' * len(chunk))}) AND NOT EXISTS (SELECT 1 FROM events "
            "WHERE events.correlation_id = business_keys.correlation_id)", chunk).rowcount
    return int(gone)


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (migrations hold no triggers and no '--' or ';' in
    string literals)."""
    lines = [ln.split("--", 1)[0] for ln in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _unstorable(event: Event, exc: Exception) -> DeadLetter:
    """The store's fault boundary: an event whose row cannot be made is a dead letter (the
    exception's type only: its message may quote payload values)."""
    logger.warning("event %s from %s is unstorable (%s): stored as a dead letter",
                   event.id, event.location, type(exc).__name__)
    return DeadLetter(DeadLetterReason.UNSTORABLE,
                      f"unstorable: {type(exc).__name__} while preparing the store row",
                      event.location, event.received_at, None)


def _write_events(out: PreparedWrite, events: list[Event],
                  assigned: dict[tuple[str, str], str]) -> list[DeadLetter]:
    """Insert events with the flow instance they joined, taking their assignments out of
    ``assigned`` (what is left joins events stored earlier). An event stored before is kept;
    only its instance is set, as the tracker decided. Answers the dead letters of events
    whose row could not be made (the rest are written).

    Rows that set no instance (a scale-out reader's: the trackers set them) leave a stored
    row alone rather than update it with nothing: on PostgreSQL ``DO UPDATE`` locks the
    stored row even when its ``WHERE`` declines, and a reader reading records again (after a
    kill or a rebalance) then locks rows a tracker is setting the instance of, in another
    order: a deadlock that killed a collector (issue 19). Business keys go in key order, so
    two readers adding the same ones wait for each other rather than deadlock."""
    unstorable: list[DeadLetter] = []
    if not events:
        return unstorable
    dumps = _json.dumps
    take = assigned.pop
    assigning = len(assigned)
    rows: list[tuple[object, ...]] = []
    keys: dict[tuple[str, str, str], None] = {}
    """Each business key once per correlation id (in the order first seen)."""
    row = rows.append
    # the tap stamps a whole poll with one receive time: format it once
    last_received: datetime | None = None
    received_text = ""
    for e in events:
        loc = e.location
        src, eid, received = e.source, e.id, e.received_at
        data = e.data
        try:
            if received is not last_received:
                received_text = _utc_text(received)
                last_received = received
            binary = type(data) is bytes
            made = (
                src, eid, e.type, _utc_text(e.occurred_at), received_text,
                e.correlation_id, e.causation_id, e.subject, e.dataschema, e.trace_id,
                e.span_id, e.sequence, loc.source, loc.topic, loc.partition, loc.offset,
                None if data is None or binary else dumps(data), e.time_text,
                data if binary else None, take((src, eid), None),
                e.key, orjson.dumps(e.headers).decode() if e.headers else None,
            )
        except Exception as exc:  # one event's row: never the whole batch
            unstorable.append(_unstorable(e, exc))
            continue
        row(made)
        if e.business_keys:
            corr = e.correlation_id
            for name, value in e.business_keys:
                keys[name, value, corr] = None
    joined = len(assigned) < assigning  # some row sets its instance
    out.rows(
        "INSERT INTO events (source, id, type, occurred_at, received_at, "
        "correlation_id, causation_id, subject, dataschema, trace_id, span_id, sequence, "
        'loc_source, topic, partition, "offset", data, time_text, data_bytes, instance_id, '
        "key, headers) VALUES",
        rows, " ON CONFLICT (source, id) DO UPDATE SET instance_id = excluded.instance_id "
        "WHERE excluded.instance_id IS NOT NULL" if joined
        else " ON CONFLICT (source, id) DO NOTHING",
    )
    if keys:
        out.rows("INSERT OR IGNORE INTO business_keys VALUES", sorted(keys))
    return unstorable


class PreparedWrite:
    """The statements of one batch, in order, with their parameters (see `SqliteStore.prepare`).
    """

    __slots__ = ("calls", "rows_written", "statements")

    def __init__(self, rows_written: int) -> None:
        self.rows_written = rows_written
        """About how many rows the batch writes (paces the background checkpoint)."""
        self.statements: list[tuple[str, Sequence[Any], bool]] = []
        """(sql, parameters, executemany?)"""
        self.calls: list[Callable[[SqlRunner], object]] = []
        """Run after the statements, in the same transaction (e.g. the dead letters' bounds)."""

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement run once per row (for the few rows of rarely written tables)."""
        if rows:
            self.statements.append((sql, rows, True))

    def rows(self, head: str, rows: Sequence[tuple[object, ...]], tail: str = "") -> None:
        """``head`` (ending in VALUES) + ``tail`` for every row, as a few multi-row statements.

        Against `executemany`, one row at a time, SQLite then does the B-tree work in a
        handful of long steps, during which the sqlite3 module releases the GIL: a write on a
        thread of its own runs beside the Python that prepares the next batch, instead of
        taking the GIL back (and waiting for it) after every row.
        """
        if not rows:
            return
        width = len(rows[0])
        flat = chain.from_iterable
        at, total = 0, len(rows)
        add = self.statements.append
        for size in _CHUNKS:
            if size > 1 and size * width > _MAX_PARAMETERS:
                continue
            sql = None
            while total - at >= size:
                sql = sql or _multi_row(head, tail, width, size)
                add((sql, list(flat(rows[at:at + size])), False))
                at += size


@cache
def _multi_row(head: str, tail: str, width: int, rows: int) -> str:
    one = "(" + ",".join("?" * width) + ")"
    return f"{head} {','.join([one] * rows)}{tail}"


def _write_dead_letters(out: PreparedWrite, letters: list[DeadLetter],
                        bounds: DeadLetterBounds) -> None:
    """Insert dead letters (raw bytes cut to the bound), count their size and truncations,
    then bring the dead letters back within their age and size bounds, in the same
    transaction: a flood of dead letters costs its rows, never the disk."""
    if not letters:
        return
    cap = bounds.max_raw_bytes
    out.many("UPDATE dead_letter_usage SET last_id = (SELECT COALESCE(MAX(dl_id), 0) "
             "FROM dead_letters)", [()])
    out.many(f"INSERT OR IGNORE INTO dead_letters ({STORED_COLUMNS}) VALUES "  # noqa: S608
             "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
             [stored_row(d, to_text(d.received_at), cap) for d in letters])
    out.many("UPDATE dead_letter_usage SET bytes = bytes + (SELECT COALESCE(SUM(size), 0) FROM "
             "dead_letters WHERE dl_id > last_id), truncated = truncated + (SELECT COUNT(*) "
             "FROM dead_letters WHERE dl_id > last_id AND raw_truncated = 1)", [()])
    newest = max(d.received_at for d in letters)
    out.calls.append(lambda db: _bound_dead_letters(db, bounds, newest))


def _bound_dead_letters(db: SqlRunner, bounds: DeadLetterBounds,
                        now: datetime) -> None:
    _trim_by_age(db, now - bounds.max_age)
    (used,) = db.execute("SELECT bytes FROM dead_letter_usage").fetchone()
    if used <= bounds.max_bytes:
        return
    excess = used - int(bounds.max_bytes * bounds.keep_fraction)
    freed, last = 0, None
    for dl_id, size in db.execute("SELECT dl_id, size FROM dead_letters ORDER BY dl_id"):
        freed += size
        last = dl_id
        if freed >= excess:
            break
    if last is not None:
        _drop_dead_letters(db, "dropped_budget", "WHERE dl_id <= ?", (last,))


def _trim_by_age(db: SqlRunner, cutoff: datetime) -> int:
    return _drop_dead_letters(db, "dropped_age", "WHERE received_at < ?", (to_text(cutoff),))


def _drop_dead_letters(db: SqlRunner, counter: str | None, where: str,
                       params: Sequence[Any]) -> int:
    """Delete the dead letters ``where`` selects, keeping the usage row exact; ``counter``
    (dropped_age, dropped_budget) counts them as dropped by a bound, None as removed (replay).
    ``counter`` and ``where`` are constants of this module, never input."""
    n, size = db.execute(f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM dead_letters {where}",  # noqa: S608
                         params).fetchone()
    if not n:
        return 0
    db.execute(f"DELETE FROM dead_letters {where}", params)  # noqa: S608
    dropped = f", {counter} = {counter} + ?" if counter else ""
    db.execute(f"UPDATE dead_letter_usage SET bytes = bytes - ?{dropped}",  # noqa: S608
               (size, n) if counter else (size,))
    return int(n)


def _opt_text(value: Any) -> str | None:
    return None if value is None else _utc_text(value)


def _write_flows(out: PreparedWrite, flows: list[FlowSnapshot]) -> None:
    """Insert new flows, update the progress of known ones. Identity, type, version and start
    never change for an instance (its id is its start event's), so an update leaves the
    indexes on them alone."""
    if not flows:
        return
    dumps = orjson.dumps
    out.rows(
        "INSERT INTO flows (instance_id, correlation_id, flow_type, definition_version,"
        " status, started_at, last_event_at, last_event_type, event_count, ended_at,"
        " next_deadline, expected_next, stuck_step, stuck_since, sla_breached, sla_over_s,"
        " recovered) VALUES",
        [(f.instance_id, f.correlation_id, f.flow_type, f.definition_version, f.status.value,
          _utc_text(f.started_at), _utc_text(f.last_event_at), f.last_event_type, f.event_count,
          _opt_text(f.ended_at), _opt_text(f.next_deadline),
          dumps(list(f.expected_next)).decode(), f.stuck_step, _opt_text(f.stuck_since),
          int(f.sla_breached), None if f.sla_over is None else f.sla_over.total_seconds(),
          int(f.recovered))
         for f in flows],
        " ON CONFLICT (instance_id) DO UPDATE SET status = excluded.status,"
        " last_event_at = excluded.last_event_at,"
        " last_event_type = excluded.last_event_type, event_count = excluded.event_count,"
        " ended_at = excluded.ended_at, next_deadline = excluded.next_deadline,"
        " expected_next = excluded.expected_next, stuck_step = excluded.stuck_step,"
        " stuck_since = excluded.stuck_since, sla_breached = excluded.sla_breached,"
        " sla_over_s = excluded.sla_over_s, recovered = excluded.recovered",
    )


def _opt_time(value: str | None) -> Any:
    return None if value is None else from_text(value)


def flow_from_row(r: dict[str, Any]) -> FlowSnapshot:
    return FlowSnapshot(
        instance_id=r["instance_id"], correlation_id=r["correlation_id"],
        flow_type=r["flow_type"], definition_version=r["definition_version"],
        status=FlowStatus(r["status"]), started_at=from_text(r["started_at"]),
        last_event_at=from_text(r["last_event_at"]), last_event_type=r["last_event_type"],
        event_count=r["event_count"], ended_at=_opt_time(r["ended_at"]),
        next_deadline=_opt_time(r["next_deadline"]),
        expected_next=tuple(orjson.loads(r["expected_next"])), stuck_step=r["stuck_step"],
        stuck_since=_opt_time(r["stuck_since"]), sla_breached=bool(r["sla_breached"]),
        sla_over=None if r["sla_over_s"] is None else timedelta(seconds=r["sla_over_s"]),
        recovered=bool(r["recovered"]),
    )


def event_from_row(r: dict[str, Any]) -> Event:
    return Event(
        id=r["id"], type=r["type"], source=r["source"], occurred_at=from_text(r["occurred_at"]),
        correlation_id=r["correlation_id"],
        data=data_of(r),
        location=Location(r["loc_source"], r["topic"], r["partition"], r["offset"]),
        received_at=from_text(r["received_at"]), causation_id=r["causation_id"],
        subject=r["subject"], dataschema=r["dataschema"], trace_id=r["trace_id"],
        span_id=r["span_id"], sequence=r["sequence"], key=r.get("key"),
        headers=tuple((k, v) for k, v in orjson.loads(r.get("headers") or "[]")),
        time_text=r.get("time_text"),
    )


def data_of(row: dict[str, Any]) -> Any:
    """An event row's payload: its JSON value (integers exact), its bytes (``data_bytes``,
    content that is not JSON nor text), or None."""
    if row.get("data_bytes") is not None:
        return bytes(row["data_bytes"])
    text = row.get("data")
    return None if text is None else _json.loads(text)


def identity_of(row: dict[str, Any]) -> EventIdentity:
    return EventIdentity(row["source"], row["id"])


# -- spans (issue 6) --------------------------------------------------------------------------


_SECONDS: dict[tuple[int, int, int, int, int, int], str] = {}
"""``YYYY-MM-DDTHH:MM:SS`` by whole second, for `_utc_text` (cleared when it holds
`_SECONDS_MAX`): a batch's events share seconds, and formatting one costs a dict lookup."""
_SECONDS_MAX = 65_536


def _utc_text(at: datetime) -> str:
    """`to_text`, about four times as fast for the UTC datetimes the decoders make (the hot
    path: twice per event, five times per flow): the whole second's text is formatted once
    (`_SECONDS`), the microseconds each time."""
    if at.tzinfo is not UTC:
        return to_text(at)
    key = (at.year, at.month, at.day, at.hour, at.minute, at.second)
    head = _SECONDS.get(key)
    if head is None:
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        head = _SECONDS[key] = at.isoformat(timespec="seconds")[:19]
    return f"{head}.{at.microsecond:06d}Z"


def _write_spans(out: PreparedWrite, spans: list[Span]) -> None:
    """Insert spans by their natural key (trace id, span id): a span stored before is kept."""
    if not spans:
        return
    dumps = orjson.dumps
    rows: list[tuple[object, ...]] = []
    links: list[tuple[str, str, str, str]] = []
    for sp in spans:
        duration = sp.end - sp.start
        rows.append((
            sp.trace_id, sp.span_id, sp.parent_id, sp.name, sp.kind.value, sp.service,
            _utc_text(sp.start), _utc_text(sp.end),
            (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds,
            sp.status.value, sp.status_message, sp.scope,
            dumps(sp.attributes).decode() if sp.attributes else "{}",
            dumps([[ln.trace_id, ln.span_id, ln.attributes] for ln in sp.links]).decode()
            if sp.links else "[]",
        ))
        links.extend((ln.trace_id, ln.span_id, sp.trace_id, sp.span_id) for ln in sp.links)
    out.rows(
        "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_id, name, kind, service,"
        " start_at, end_at, duration_us, status, status_message, scope, attributes, links)"
        " VALUES",
        rows,
    )
    if links:
        out.rows("INSERT OR IGNORE INTO span_links VALUES", links)


# -- flow rollups (issue 5) ---------------------------------------------------------------------


def _write_flow_rollups(out: PreparedWrite, rows: list[Any]) -> None:
    """Upsert per-minute flow rollups (`collector.flows.rollup.FlowRollup`) by their key
    (minute, flow type, step, part)."""
    if not rows:
        return
    out.many(
        "INSERT OR REPLACE INTO flow_rollups (minute, flow_type, step, part, count, within_sla,"
        " p50_s, p95_s, p99_s) VALUES (?,?,?,?,?,?,?,?,?)",
        [(to_text(r.minute), r.flow_type, r.step, r.part, r.count, r.within_sla, r.p50_s,
          r.p95_s, r.p99_s) for r in rows],
    )
