"""SQLite SQL as PostgreSQL runs it: the store's dialect layer. Pure.

The migrations, the store's statements and the read queries of the dashboard, the catalog and
the commands are written once, in SQLite's SQL. `PostgresDialect.statement` rewrites one for
PostgreSQL: parameters (``?``, ``?N``) to psycopg's, literal ``%`` doubled, ``INSERT OR
IGNORE``/``OR REPLACE`` and an upsert without target to ``ON CONFLICT`` on the table's primary key,
``IS`` between values to ``IS NOT DISTINCT FROM``, ``json_each`` over an array, ``LIKE`` (case
insensitive in SQLite) to ``ILIKE``, and SQLite's integer and real casts to 64-bit ones. The
functions SQLite has and PostgreSQL lacks (``json_extract``, ``julianday``, ``strftime``,
``instr``, ``round`` of a float, ``sum`` of a boolean, scalar ``max``/``min``,
``pragma_table_info``; a JSON number, text here, equals an integer as in SQLite) are defined
in the database by `COMPAT_FUNCTIONS` (``julianday`` to SQLite's millisecond, so durations
agree), so queries keep their text, and so does migration 042's expression index.

`ddl` rewrites a migration: types (``BLOB``, ``REAL``, ``INTEGER``, ``INTEGER PRIMARY KEY``) and,
for the tables whose SQLite ``rowid`` callers read (rollup marks, retention), a ``rowid``
identity column that grows in insertion order as SQLite's does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COMPAT_FUNCTIONS", "ROWID_TABLES", "PostgresDialect", "Translated", "ddl"]

ROWID_TABLES = frozenset({"events", "spans", "violations", "metrics", "dead_letters"})
"""Tables given a ``rowid`` column on PostgreSQL (SQLite has one implicitly)."""

COMPAT_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT jsonb_path_query_first(doc::jsonb, path::jsonpath) #>> '{}' $$;
CREATE OR REPLACE FUNCTION json_extract(doc jsonb, path text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT jsonb_path_query_first(doc, path::jsonpath) #>> '{}' $$;
CREATE OR REPLACE FUNCTION julianday(at text) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ((extract(epoch FROM date_trunc('minute', t))::bigint * 1000
                   + floor(extract(second FROM t)::double precision * 1000.0 + 0.5)::bigint
                   + 210866760000000)::double precision / 86400000.0)
            FROM (SELECT at::timestamptz AT TIME ZONE 'UTC' AS t) AS x $$;
CREATE OR REPLACE FUNCTION strftime(fmt text, at text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN fmt = '%s'
                      THEN floor(extract(epoch FROM at::timestamptz))::bigint::text
                      ELSE to_char(at::timestamptz AT TIME ZONE 'UTC',
                                   replace(replace(replace(replace(replace(replace(replace(
                                       fmt, '%Y', 'YYYY'), '%m', 'MM'), '%d', 'DD'),
                                       '%H', 'HH24'), '%M', 'MI'), '%S', 'SS'), '%f', 'SS.US'))
                 END $$;
CREATE OR REPLACE FUNCTION instr(haystack text, needle text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT strpos(haystack, needle) $$;
CREATE OR REPLACE FUNCTION round(x double precision, digits integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT round(x::numeric, digits)::double precision $$;
CREATE OR REPLACE FUNCTION choreoscope_add_bool(acc bigint, b boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT acc + CASE WHEN b THEN 1 ELSE 0 END $$;
CREATE OR REPLACE FUNCTION max(a anycompatible, b anycompatible) RETURNS anycompatible
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT GREATEST(a, b) $$;
CREATE OR REPLACE FUNCTION max(a anycompatible, b anycompatible, c anycompatible)
    RETURNS anycompatible
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT GREATEST(a, b, c) $$;
CREATE OR REPLACE FUNCTION min(a anycompatible, b anycompatible) RETURNS anycompatible
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT LEAST(a, b) $$;
CREATE OR REPLACE FUNCTION min(a anycompatible, b anycompatible, c anycompatible)
    RETURNS anycompatible
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT LEAST(a, b, c) $$;
CREATE OR REPLACE FUNCTION pragma_table_info(tbl text)
    RETURNS TABLE (cid integer, name text, type text, "notnull" integer, dflt_value text,
                   pk integer)
    LANGUAGE sql STABLE
    AS $$ SELECT (c.ordinal_position - 1)::integer, c.column_name::text, upper(c.data_type),
                 (c.is_nullable = 'NO')::integer, c.column_default::text, 0
            FROM information_schema.columns c
           WHERE c.table_schema = current_schema() AND c.table_name = tbl
             AND c.column_name <> 'rowid' ORDER BY c.ordinal_position $$;
CREATE OR REPLACE FUNCTION choreoscope_text_eq_int(t text, n bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT t = n::text $$;
DO $$ BEGIN
    CREATE OPERATOR = (LEFTARG = text, RIGHTARG = bigint, FUNCTION = choreoscope_text_eq_int);
EXCEPTION WHEN duplicate_function OR duplicate_object THEN NULL;
END $$;
CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = choreoscope_add_bool, STYPE = bigint,
                                        INITCOND = '0');
"""
"""SQLite's functions, as PostgreSQL functions of the same name (run before the migrations)."""

_TYPES = (
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b", re.I),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


def ddl(statement: str) -> list[str]:
    """One migration statement as PostgreSQL statements (a table of `ROWID_TABLES` gets its
    ``rowid`` right after it is created)."""
    out = statement
    for pattern, replacement in _TYPES:
        out = pattern.sub(replacement, out)
    created = _CREATE_TABLE.match(out)
    if created and created.group(1).lower() in ROWID_TABLES:
        return [out, f"ALTER TABLE {created.group(1)} ADD COLUMN rowid BIGINT "
                     "GENERATED BY DEFAULT AS IDENTITY UNIQUE"]
    return [out]


@dataclass(frozen=True, slots=True)
class Translated:
    """A statement in PostgreSQL's SQL and how to pass its parameters."""

    sql: str
    numbered: bool
    """Parameters are ``?N`` in SQLite: pass them as ``{"pN": value}``."""

    def params(self, params: Sequence[Any] | Mapping[str, Any]) -> Any:
        if self.numbered and not isinstance(params, Mapping):
            return {f"p{i}": v for i, v in enumerate(params, start=1)}
        return params


_PARAM = re.compile(r"\?(\d*)")
_OR_IGNORE = re.compile(r"^(\s*INSERT)\s+OR\s+IGNORE\b", re.I)
_OR_REPLACE = re.compile(
    r"^(\s*INSERT)\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*(\(([\w\s,\x00]+)\))?", re.I)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(\w+)", re.I)
_UNTARGETED_UPDATE = re.compile(r"\bON\s+CONFLICT\s+DO\s+UPDATE\b", re.I)
_IS = re.compile(r"\bIS\s+(NOT\s+)?(?!NULL\b|NOT\b|DISTINCT\b|TRUE\b|FALSE\b)", re.I)
_JSON_EACH = re.compile(r"\bjson_each\(([^()]+)\)\s+(?:AS\s+)?(\w+)", re.I)
_SQLITE_MASTER = (
    "(SELECT 'table'::text AS type, table_name::text AS name, table_name::text AS tbl_name "
    "FROM information_schema.tables WHERE table_schema = current_schema() UNION ALL "
    "SELECT 'index', indexname::text, tablename::text FROM pg_indexes "
    "WHERE schemaname = current_schema()) AS sqlite_master")
_HINTS = (
    (re.compile(r"\s+(?:INDEXED\s+BY\s+\w+|NOT\s+INDEXED)\b", re.I), ""),  # planner hints
    (re.compile(r"(?:(?<=BY )|(?<=, )|(?<=,)|(?<=\())\+(?=[A-Za-z_])"), ""),  # +col: no index
    (re.compile(r"\bFROM\s+sqlite_master\b", re.I), f"FROM {_SQLITE_MASTER}"),
)
_AFTER_SUBQUERY = re.compile(
    r"\s*(?:$|\)|;|WHERE\b|GROUP\b|ORDER\b|LIMIT\b|UNION\b|JOIN\b|LEFT\b|INNER\b|CROSS\b"
    r"|ON\b|HAVING\b|WINDOW\b|,)", re.I)
_FROM_PAREN = re.compile(r"\b(?:FROM|JOIN)\s*\(", re.I)


def _alias_subqueries(code: str) -> str:
    """``FROM (SELECT ...)`` without an alias (SQLite allows it) gets one."""
    out, at, n = [], 0, 0
    for m in _FROM_PAREN.finditer(code):
        if m.start() < at:
            continue
        depth, i = 0, m.end() - 1
        while i < len(code):
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            if depth == 0:
                break
            i += 1
        if i < len(code) and _AFTER_SUBQUERY.match(code, i + 1):
            n += 1
            out.append(code[at:i + 1] + f" AS _q{n}")
            at = i + 1
    return "".join(out) + code[at:]


_CASTS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"\bAS\s+INTEGER\s*\)", re.I), "AS BIGINT)"),
    (re.compile(r"\bAS\s+REAL\s*\)", re.I), "AS DOUBLE PRECISION)"),
    (re.compile(r"(?<!I)\bLIKE\b", re.I), "ILIKE"),
    (re.compile(r"\bIFNULL\(", re.I), "COALESCE("),
    (re.compile(r"\bGROUP_CONCAT\(", re.I), "STRING_AGG("),
)


@dataclass
class PostgresDialect:
    """Translates statements for one database, whose tables' columns and primary keys it is
    told (`with_tables`), for the upserts that SQLite writes without a conflict target."""

    tables: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    """table: (columns in order, primary key columns)."""
    _cache: dict[str, Translated] = field(default_factory=dict)

    def statement(self, sql: str) -> Translated:
        done = self._cache.get(sql)
        if done is None:
            done = self._cache[sql] = self._translate(sql)
        return done

    def _translate(self, sql: str) -> Translated:
        code, literals = _split_literals(sql)
        numbered = bool(re.search(r"\?\d", code))
        code = _PARAM.sub(lambda m: f"%(p{m.group(1)})s" if m.group(1) else "%s",
                          code.replace("%", "%%"))
        if numbered and "%s" in code:
            raise ValueError(f"a statement mixes ? and ?N parameters: {sql[:80]!r}")
        code = _IS.sub(lambda m: "IS DISTINCT FROM " if m.group(1) else
                       "IS NOT DISTINCT FROM ", code)
        code = _JSON_EACH.sub(r"jsonb_array_elements(CAST(\1 AS jsonb)) AS \2(value)", code)
        for pattern, replacement in (*_CASTS, *_HINTS):
            code = pattern.sub(replacement, code)
        code = _alias_subqueries(code)
        code = self._upserts(code, literals)
        text = _join_literals(code, [lit.replace("%", "%%") for lit in literals])
        return Translated(text, numbered)

    def _upserts(self, code: str, literals: list[str]) -> str:
        if _OR_IGNORE.match(code):
            return _OR_IGNORE.sub(r"\1", code).rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
        replace = _OR_REPLACE.match(code)
        if replace:
            table = replace.group(2)
            columns, key = self._table(table)
            if replace.group(4):
                named = _join_literals(replace.group(4), literals)
                columns = tuple(c.strip().strip('"') for c in named.split(","))
            head = f"{replace.group(1)} INTO {table}" + (
                f" {replace.group(3)}" if replace.group(3) else "")
            updates = ", ".join(f"{_quote(c)} = EXCLUDED.{_quote(c)}"
                                for c in columns if c not in key)
            action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
            body = code[replace.end():].strip().rstrip(";")
            if not key:  # a table without a key (metrics): nothing to replace
                return f"{head} {body}"
            return f"{head} {body} ON CONFLICT ({', '.join(map(_quote, key))}) {action}"
        into = _INSERT_INTO.match(code)
        if into and _UNTARGETED_UPDATE.search(code):
            key = self._table(into.group(1))[1]
            return _UNTARGETED_UPDATE.sub(
                f"ON CONFLICT ({', '.join(map(_quote, key))}) DO UPDATE", code)
        return code

    def _table(self, table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        try:
            return self.tables[table.lower()]
        except KeyError:
            raise ValueError(f"unknown table {table!r} in an upsert") from None


_KEYWORDS = frozenset({"offset", "order", "user", "limit"})
"""Column names PostgreSQL reserves (the store uses "offset")."""


def _quote(column: str) -> str:
    return f'"{column}"' if column.lower() in _KEYWORDS else column


_LITERAL = "\x00{}\x00"


def _split_literals(sql: str) -> tuple[str, list[str]]:
    """``sql`` with its string literals and quoted identifiers set aside (placeholders), so the
    rewrites touch code only; and the literals."""
    literals: list[str] = []
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            literals.append(sql[i:j + 1])
            out.append(_LITERAL.format(len(literals) - 1))
            i = j + 1
        elif ch == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(ch)
            i += 1
    return "".join(out), literals


def _join_literals(code: str, literals: list[str]) -> str:
    return re.sub("\x00(\\d+)\x00", lambda m: literals[int(m.group(1))], code)
