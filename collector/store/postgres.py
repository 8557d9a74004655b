"""PostgreSQL backend (psycopg 3): the same tables, natural keys and batches as the SQLite one.

Statements are the SQLite store's, translated by `collector.store._dialect`; a batch's rows and
the source positions they came from commit in one transaction, as multi-row statements (up to
1,200 rows each). Several collectors may share one database: migrations run under an advisory
lock, and every write is an upsert by natural key, so a batch written twice changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql as psql
from psycopg.adapt import Loader
from psycopg.rows import dict_row

from collector.exceptions import StoreError
from collector.model import Event
from collector.store._dialect import COMPAT_FUNCTIONS, PostgresDialect, ddl
from collector.store.base import Batch, shown_url
from collector.store.dead_letters import DeadLetterBounds
from collector.store.sqlite import (
    PreparedWrite,
    SqlStore,
    _statements,
    migrations,
    prepare_write,
)

__all__ = ["BulkLoad", "PostgresStore"]

_MIGRATION_LOCK = 0x43686F72  # "Chor": one migrating process at a time per database
_SENDER_LOCK = 0x43686F73  # the alert sender of a database (`PostgresStore.hold_alert_sender`)


class _NumberLoader(Loader):
    """``numeric`` (what PostgreSQL's SUM of integers answers) as int or float, as SQLite
    answers, not Decimal."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return float(text) if any(c in text for c in ".eEN") else int(text)


class _Translating:
    """A psycopg connection that runs SQLite's SQL (the shared statements' `SqlRunner`)."""

    def __init__(self, conn: psycopg.Connection[Any], dialect: PostgresDialect) -> None:
        self._conn, self._dialect = conn, dialect

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        stmt = self._dialect.statement(sql)
        cur = self._conn.cursor(row_factory=psycopg.rows.tuple_row)
        return cur.execute(stmt.sql, stmt.params(parameters))

    def executemany(self, sql: str, rows: Sequence[Any]) -> None:
        stmt = self._dialect.statement(sql)
        with self._conn.cursor() as cur:
            cur.executemany(stmt.sql, [stmt.params(r) for r in rows])


class BulkLoad:
    """One transaction of a `PostgresStore` in which whole tables are loaded with COPY
    (`PostgresStore.bulk_load`)."""

    def __init__(self, conn: psycopg.Connection[Any], db: _Translating) -> None:
        self._conn, self._db = conn, db

    def count(self, table: str) -> int:
        query = psql.SQL("SELECT COUNT(*) FROM {}").format(psql.Identifier(table))
        row = self._conn.execute(query).fetchone()
        return int(row[0]) if row else 0

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """COPY ``rows`` (values in ``columns``' order) into ``table``; answers how many. The
        table's indexes other than its keys are dropped first and built again after, once
        (PostgreSQL's advice for a bulk load: cheaper than one index entry per row)."""
        indexes = self._conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = current_schema() "
            "AND tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE "
            "c.conname = i.indexname AND c.connamespace = i.schemaname::regnamespace)",
            (table,)).fetchall()
        for name, _ in indexes:
            self._conn.execute(psql.SQL("DROP INDEX {}").format(psql.Identifier(name)))
        statement = psql.SQL("COPY {} ({}) FROM STDIN").format(
            psql.Identifier(table), psql.SQL(", ").join(map(psql.Identifier, columns)))
        n = 0
        with self._conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        for _, definition in indexes:
            self._conn.execute(definition)
        return n

    def replace(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Upsert ``rows`` by ``table``'s primary key: for the tables whose rows the
        migrations wrote (a table's single row of counters)."""
        listed = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        rows = list(rows)
        self._db.executemany(
            f"INSERT OR REPLACE INTO {table} ({listed}) VALUES ({marks})", rows)  # noqa: S608
        return len(rows)

    def move_identity_past_rows(self, table: str, column: str) -> None:
        """The identity counter of ``table.column`` set past its largest value, so that rows
        written later do not collide with the loaded ones."""
        self._conn.execute(psql.SQL(
            "SELECT setval(pg_get_serial_sequence({t}, {c}), "
            "(SELECT COALESCE(MAX({ci}), 0) + 1 FROM {ti}), false)").format(
                t=psql.Literal(table), c=psql.Literal(column), ci=psql.Identifier(column),
                ti=psql.Identifier(table)))


class PostgresStore(SqlStore):
    """The store in a PostgreSQL database (``postgresql://user@host:port/db``); a lock makes
    the connection safe to share between threads."""

    def __init__(self, url: str, *, read_only: bool = False,
                 dead_letters: DeadLetterBounds | None = None) -> None:
        self.url = url
        self.dead_letter_bounds = dead_letters if dead_letters is not None else (
            DeadLetterBounds())
        self.read_only = read_only
        self.dialect = PostgresDialect()
        self._lock = threading.RLock()
        self._sender = False
        try:
            self._conn: psycopg.Connection[Any] = psycopg.connect(
                url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open store {shown_url(url)}: {_first_line(exc)}") from exc
        self._conn.adapters.register_loader("numeric", _NumberLoader)
        self._db = _Translating(self._conn, self.dialect)
        try:
            if read_only:
                self._conn.execute("SET default_transaction_read_only = on")
                if self._conn.execute("SELECT to_regclass('schema_migrations')"
                                      ).fetchone() == (None,):
                    raise StoreError(f"no store at {shown_url(url)}: start the collector first")
            else:
                self._migrate()
            self._load_tables()
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot open store {shown_url(url)}: {_first_line(exc)}") from exc

    @property
    def _shown_url(self) -> str:
        return shown_url(self.url)

    # -- schema -----------------------------------------------------------------------------

    def _migrate(self) -> None:
        conn = self._conn
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(COMPAT_FUNCTIONS)
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY "
                         "KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT "
                         "now())")
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations():
                if version in done:
                    continue
                try:
                    with conn.transaction():
                        for statement in _statements(sql):
                            for translated in ddl(statement):
                                conn.execute(translated)
                        conn.execute("INSERT INTO schema_migrations (version, name) "
                                     "VALUES (%s, %s)", (version, name))
                except psycopg.Error as exc:
                    raise StoreError(f"migration {version:03d}_{name} failed on "
                                     f"PostgreSQL: {_first_line(exc)}") from exc

    def _load_tables(self) -> None:
        columns: dict[str, list[str]] = {}
        for table, column in self._conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE "
                "table_schema = current_schema() AND column_name <> 'rowid' "
                "ORDER BY table_name, ordinal_position"):
            columns.setdefault(table, []).append(column)
        keys: dict[str, list[str]] = {}
        for table, column in self._conn.execute(
                "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints"
                " tc JOIN information_schema.key_column_usage kcu ON kcu.constraint_name ="
                " tc.constraint_name AND kcu.table_schema = tc.table_schema WHERE"
                " tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()"
                " ORDER BY tc.table_name, kcu.ordinal_position"):
            keys.setdefault(table, []).append(column)
        self.dialect.tables = {t: (tuple(cols), tuple(keys.get(t, ()))) for t, cols
                               in columns.items()}

    def schema_version(self) -> int:
        (row,) = self._rows("SELECT MAX(version) AS v FROM schema_migrations", ())
        return int(row["v"] or 0)

    # -- writes -----------------------------------------------------------------------------

    def prepare(self, batch: Batch) -> PreparedWrite:
        """`SqliteStore.prepare`'s statements, after keeping one row per natural key where a
        batch may repeat one (PostgreSQL's upsert refuses to touch a row twice in one
        statement): an event's first delivery, a flow's, a rollup's and a position's last."""
        return prepare_write(_one_per_key(batch), self.dead_letter_bounds)

    @contextmanager
    def bulk_load(self, tables: Sequence[str]) -> Iterator[BulkLoad]:
        """One transaction for loading whole tables with COPY, ``tables`` locked against other
        writers until it commits; nothing of it stays when it fails."""
        if self.read_only:
            raise StoreError(f"store {self._shown_url} is open read-only")
        with self._lock:
            try:
                with self._conn.transaction():
                    self._conn.execute(psql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
                        psql.SQL(", ").join(map(psql.Identifier, tables))))
                    self._conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
                    yield BulkLoad(self._conn, self._db)
            except psycopg.Error as exc:
                raise StoreError(f"cannot load into {shown_url(self.url)}: {_first_line(exc)} "
                                 "(nothing of this load was kept)") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            try:
                return int(self._db.execute(sql, params).rowcount)
            except psycopg.Error as exc:
                raise StoreError(f"cannot write to {shown_url(self.url)}: "
                                 f"{_first_line(exc)}") from exc

    def hold_alert_sender(self) -> bool:
        """A session advisory lock of this connection: the server frees it when the connection
        closes or drops (its process died), and the next sender takes it."""
        with self._lock:
            if not self._sender:
                try:
                    row = self._conn.execute("SELECT pg_try_advisory_lock(%s)",
                                             (_SENDER_LOCK,)).fetchone()
                except psycopg.Error as exc:
                    raise StoreError(f"cannot lock the alert sender of {self._shown_url}: "
                                     f"{_first_line(exc)}") from exc
                self._sender = bool(row and row[0])
            return self._sender

    def _in_transaction(self, what: str, job: Callable[[], int]) -> int:
        with self._lock:
            try:
                with self._conn.transaction():
                    return int(job())
            except psycopg.Error as exc:
                raise StoreError(f"cannot {what} {shown_url(self.url)}: "
                                 f"{_first_line(exc)}") from exc

    # -- reads ------------------------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        stmt = self.dialect.statement(sql)
        with self._lock:
            try:
                with self._conn.cursor(row_factory=dict_row) as cur:
                    cur.execute(stmt.sql, stmt.params(params))
                    return cur.fetchall() if cur.description else []
            except psycopg.Error as exc:
                raise StoreError(f"cannot read {shown_url(self.url)}: {_first_line(exc)}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _one_per_key(batch: Batch) -> Batch:
    """One row per natural key, and the events in key order: two scale-out readers storing
    the same new events at once (a record read again by the next owner of its partition, or
    one event published to two partitions) then take their key locks in the same order, so
    one waits for the other instead of both waiting for each other (a deadlock that stops a
    collector)."""
    first: dict[tuple[str, str], Event] = {}
    for e in batch.events:  # an event's first delivery
        first.setdefault((e.source, e.id), e)
    events = [first[key] for key in sorted(first)]
    flows = list({f.instance_id: f for f in batch.flows}.values())
    rollups = list({(r.minute, r.flow_type, r.step, r.part): r
                    for r in batch.flow_rollups}.values())
    positions = list({(p.source, p.topic, p.partition): p for p in batch.positions}.values())
    return Batch(events=events, dead_letters=batch.dead_letters, flows=flows,
                 assignments=batch.assignments, violations=batch.violations,
                 alerts=batch.alerts, positions=positions, metrics=batch.metrics,
                 spans=batch.spans, flow_rollups=rollups, consumers=batch.consumers,
                 collectors=batch.collectors, detected_at=batch.detected_at)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

