"""Moving a store to another backend (``choreoscope store migrate``): every table, row for row.

The target is opened (and so migrated to the latest version) first and must be empty: a copy
into a store that already holds data would mix two histories, so a second run adds nothing and
says why. Rows are read in the source's ``rowid`` order, in pages, and written with their
``rowid`` where the target keeps one, so the event map's rollup marks (which count rowids) stay
true. Into PostgreSQL every table is loaded with COPY (its secondary indexes dropped and built
again after) in one transaction that also checks the target is empty (its tables locked
meanwhile), upserts the few rows of tables that the target's migrations filled (counters) and
sets the identity counters past the rows copied: a migration that fails or is stopped leaves the
target empty, ready for another run.
Into SQLite each page is one multi-row upsert by the table's natural key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

from collector.exceptions import StoreError
from collector.store._dialect import ROWID_TABLES
from collector.store.base import Store, shown_url
from collector.store.postgres import PostgresStore
from collector.store.sqlite import SqliteStore

__all__ = ["TableCopy", "copy_store", "table_columns"]

_PARAMETERS_PER_PAGE = 30_000
"""Bound parameters per statement: below SQLite's 32,766 and PostgreSQL's 65,535."""
_SKIPPED = frozenset({"schema_migrations"})
"""Tables the target's own migrations fill."""
_CHECKED = ("events", "flows", "dead_letters", "spans", "outbox")
"""Tables whose rows make a target "not empty"."""
_IDENTITIES = (*((t, "rowid") for t in sorted(ROWID_TABLES)), ("dead_letters", "dl_id"))

TableCopy = tuple[str, int]
"""(table, rows copied)."""


def _is_postgres(store: Store) -> bool:
    return store.url.startswith(("postgresql://", "postgres://"))


def table_columns(store: Store) -> dict[str, list[str]]:
    """The store's tables and their columns in order (``rowid`` left out)."""
    if _is_postgres(store):
        rows = store.query(
            "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND column_name <> 'rowid' "
            "ORDER BY table_name, ordinal_position")
    else:
        rows = store.query(
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p "
            "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid")
    found: dict[str, list[str]] = {}
    for r in rows:
        found.setdefault(str(r["t"]), []).append(str(r["c"]))
    return found


def _has_rowid(store: Store, table: str) -> bool:
    return not _is_postgres(store) or table in ROWID_TABLES


def _pages(source: Store, table: str, columns: list[str], size: int,
           with_rowid: bool) -> Iterator[list[list[Any]]]:
    """``table``'s rows in pages of ``size``, each row its values in ``columns``' order (after
    its ``rowid`` when ``with_rowid``)."""
    listed = ", ".join(_q(c) for c in columns)
    if _has_rowid(source, table):
        last = -(2**63)
        sql = (f"SELECT rowid AS rowid, {listed} FROM {table} WHERE rowid > ? "  # noqa: S608
               "ORDER BY rowid LIMIT ?")
        names = (["rowid"] if with_rowid else []) + columns
        while rows := source.query(sql, (last, size)):
            last = rows[-1]["rowid"]
            yield [[r[n] for n in names] for r in rows]
        return
    offset = 0
    sql = f"SELECT {listed} FROM {table} ORDER BY 1 LIMIT ? OFFSET ?"  # noqa: S608
    while rows := source.query(sql, (size, offset)):
        offset += len(rows)
        yield [[r[c] for c in columns] for r in rows]


def _q(column: str) -> str:
    return f'"{column}"'


def _plan(source: Store, target: Store) -> Iterator[tuple[str, list[str], list[str], int]]:
    """(table, its columns in the source to read, the target's columns to write with the
    ``rowid`` first where both keep one, page size) for each table to copy."""
    wanted = table_columns(target)
    for table, columns in sorted(table_columns(source).items()):
        if table in _SKIPPED or table not in wanted:
            continue
        shared = [c for c in columns if c in wanted[table]]
        with_rowid = _has_rowid(source, table) and _has_rowid(target, table)
        names = (["rowid"] if with_rowid else []) + shared
        yield table, shared, names, max(1, _PARAMETERS_PER_PAGE // len(names))


def _refuse_unless_empty(target: Store, count: Callable[[str], int]) -> None:
    for table in _CHECKED:
        if n := count(table):
            raise StoreError(f"the target store {shown_url(target.url)} already holds {n} {table} "
                             "rows: migrate into a new, empty database")


def copy_store(source: Store, target: Store, *,
               on_table: Callable[[str, int], None] | None = None) -> list[TableCopy]:
    """Copy every table of ``source`` into the empty ``target``; answers the rows per table."""
    if isinstance(target, PostgresStore):
        return _copy_into_postgres(source, target, on_table)
    _refuse_unless_empty(target, lambda table: int(target.query(
        f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]))  # noqa: S608
    done: list[TableCopy] = []
    for table, shared, names, size in _plan(source, target):
        one = "(" + ",".join("?" * len(names)) + ")"
        copied = 0
        for page in _pages(source, table, shared, size, len(names) > len(shared)):
            values = ",".join([one] * len(page))
            target.execute(f"INSERT OR REPLACE INTO {table} "  # noqa: S608
                           f"({', '.join(_q(n) for n in names)}) VALUES {values}",
                           list(chain.from_iterable(page)))
            copied += len(page)
        done.append((table, copied))
        if on_table is not None:
            on_table(table, copied)
    if isinstance(target, SqliteStore):  # spans copied in: their trace index, as a write builds
        target.keep_trace_index()
    return done


def _copy_into_postgres(source: Store, target: PostgresStore,
                        on_table: Callable[[str, int], None] | None) -> list[TableCopy]:
    plan = list(_plan(source, target))
    done: list[TableCopy] = []
    with target.bulk_load(sorted({*_CHECKED, *(t for t, *_ in plan)})) as load:
        _refuse_unless_empty(target, load.count)
        for table, shared, names, size in plan:
            rows: Iterable[list[Any]] = chain.from_iterable(
                _pages(source, table, shared, size, len(names) > len(shared)))
            write = load.replace if load.count(table) else load.copy  # rows of a migration
            done.append((table, write(table, names, rows)))
            if on_table is not None:
                on_table(table, done[-1][1])
        for table, column in _IDENTITIES:
            load.move_identity_past_rows(table, column)
    return done
