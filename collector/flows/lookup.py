"""Which flow a user means: an id as typed into ``flows show``, ``timeline`` or the flow search.

Tried in this order, each by an index: the exact correlation id; the exact value of a business
key (an order id); a unique correlation-id prefix (at least `MIN_PREFIX` characters); a unique
instance-id prefix. A text naming several flows answers with its candidates; a text naming
none answers with the nearest ids, ranked by similarity (the shared prefix first, then the edit
distance), not by sort order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from collector.store.base import Store

__all__ = ["MIN_PREFIX", "Lookup", "business_key_names", "find_flow", "nearest_ids",
           "rank_by_similarity"]

MIN_PREFIX = 6
"""Shorter prefixes name too many flows to be an answer."""
CANDIDATE_LIMIT = 50
NEAREST_LIMIT = 10
_POOL = 200
_SIDE = 25
_TOP = "\U0010ffff"
"""Above every character: ``[prefix, prefix + _TOP)`` is the index range of a prefix."""


@dataclass(frozen=True, slots=True)
class Lookup:
    """The answer: a correlation id (and, when a prefix named one instance, its instance id),
    or candidates (ambiguous), or the nearest ids (nothing matched)."""

    text: str
    correlation_id: str | None = None
    instance_id: str | None = None
    how: str = ""
    """``correlation id``, ``business key NAME``, ``correlation id prefix``, ``instance id
    prefix``; empty when nothing or several matched."""
    candidates: tuple[dict[str, Any], ...] = field(default=())
    """Several flows matched ``how`` (each: correlation_id, instance_id, flow_type, status,
    started_at, matched)."""
    nearest: tuple[str, ...] = field(default=())

    @property
    def found(self) -> bool:
        return self.correlation_id is not None


def find_flow(store: Store, text: str, *, key_names: Sequence[str] | None = None) -> Lookup:
    """Resolve ``text`` (see the module's docstring); ``key_names`` defaults to every business
    key name in the store."""
    key = text.strip()
    if not key:
        return Lookup(key)
    if _has_correlation(store, key):
        return Lookup(key, key, how="correlation id")
    names = business_key_names(store) if key_names is None else list(key_names)
    for step in (_by_business_key, _by_correlation_prefix, _by_instance_prefix):
        found = step(store, key, names)
        if found is not None:
            return found
    return Lookup(key, nearest=tuple(nearest_ids(store, key, names)))


def _has_correlation(store: Store, key: str) -> bool:
    return bool(store.query("SELECT 1 FROM flows WHERE correlation_id = ? LIMIT 1", (key,))
                or store.query("SELECT 1 FROM events WHERE correlation_id = ? LIMIT 1", (key,)))


def _by_business_key(store: Store, key: str, names: Sequence[str]) -> Lookup | None:
    matched: dict[str, str] = {}
    for name in names:
        rows = store.query("SELECT DISTINCT correlation_id FROM business_keys WHERE name = ? "
                           "AND value = ? LIMIT ?", (name, key, CANDIDATE_LIMIT))
        for r in rows:
            matched.setdefault(r["correlation_id"], name)
    if not matched:
        return None
    if len(matched) == 1:
        ((correlation_id, name),) = matched.items()
        return Lookup(key, correlation_id, how=f"business key {name}")
    rows = [{**_first_flow(store, c), "matched": f"business key {n}"}
            for c, n in sorted(matched.items())]
    return Lookup(key, how="", candidates=tuple(rows))


def _by_correlation_prefix(store: Store, key: str, _names: Sequence[str]) -> Lookup | None:
    if len(key) < MIN_PREFIX:
        return None
    rows = store.query(
        "SELECT DISTINCT correlation_id FROM flows WHERE correlation_id >= ? AND "
        "correlation_id < ? ORDER BY correlation_id LIMIT ?", (key, key + _TOP, CANDIDATE_LIMIT))
    ids = [r["correlation_id"] for r in rows]
    if not ids:
        return None
    if len(ids) == 1:
        return Lookup(key, ids[0], how="correlation id prefix")
    return Lookup(key, candidates=tuple(
        {**_first_flow(store, c), "matched": "correlation id prefix"} for c in ids))


def _by_instance_prefix(store: Store, key: str, _names: Sequence[str]) -> Lookup | None:
    if len(key) < MIN_PREFIX:
        return None
    rows = store.query(
        "SELECT instance_id, correlation_id, flow_type, status, started_at FROM flows "
        "WHERE instance_id >= ? AND instance_id < ? ORDER BY instance_id LIMIT ?",
        (key, key + _TOP, CANDIDATE_LIMIT))
    if not rows:
        return None
    if len(rows) == 1:
        r = rows[0]
        return Lookup(key, r["correlation_id"], r["instance_id"], how="instance id prefix")
    return Lookup(key, candidates=tuple({**r, "matched": "instance id prefix"} for r in rows))


def _first_flow(store: Store, correlation_id: str) -> dict[str, Any]:
    rows = store.query("SELECT instance_id, correlation_id, flow_type, status, started_at "
                       "FROM flows WHERE correlation_id = ? ORDER BY started_at LIMIT 1",
                       (correlation_id,))
    if rows:
        return rows[0]
    return {"instance_id": None, "correlation_id": correlation_id, "flow_type": None,
            "status": None, "started_at": None}


def business_key_names(store: Store, limit: int = 100) -> list[str]:
    """The business key names in the store, by a skip scan of the key index (one seek each)."""
    rows = store.query(
        "WITH RECURSIVE k(name) AS (SELECT MIN(name) FROM business_keys UNION ALL "
        "SELECT (SELECT MIN(name) FROM business_keys WHERE name > k.name) FROM k "
        "WHERE k.name IS NOT NULL) SELECT name FROM k WHERE name IS NOT NULL LIMIT ?", (limit,))
    return [r["name"] for r in rows]


def nearest_ids(store: Store, text: str, key_names: Sequence[str] = (),
                limit: int = NEAREST_LIMIT) -> list[str]:
    """Correlation ids and business key values most like ``text``, the fewest edits first, then
    the longest shared prefix. The pool: for each prefix of ``text``, longest first, the ids on
    either side of ``text`` within that prefix's index range, until the pool is full."""
    pool: set[str] = set()
    sources: list[tuple[str, str, tuple[str, ...]]] = [("flows WHERE", "correlation_id", ())]
    sources += [("business_keys WHERE name = ? AND", "value", (name,)) for name in key_names]
    for n in range(len(text), -1, -1):  # down to no shared prefix: the ids around it
        for table, column, before in sources:
            pool.update(_around(store, table, column, before, text, text[:n]))
        if len(pool) >= _POOL:
            break
    return rank_by_similarity(text, pool)[:limit]


def _around(store: Store, table: str, column: str, before: tuple[str, ...], text: str,
            prefix: str) -> list[str]:
    """Up to `_SIDE` ids just below and just above ``text`` that start with ``prefix``."""
    sql = (f"SELECT DISTINCT {column} AS v FROM {table} {column} >= ? AND "  # noqa: S608
           f"{column} < ? ORDER BY {column}")
    below = store.query(f"{sql} DESC LIMIT ?", (*before, prefix, text, _SIDE))
    above = store.query(f"{sql} LIMIT ?", (*before, text, prefix + _TOP, _SIDE))
    return [r["v"] for r in (*below, *above)]


def rank_by_similarity(text: str, ids: Iterable[str]) -> list[str]:
    """``ids`` most like ``text`` first: the fewest edits, then the longest shared prefix."""
    return sorted(ids, key=lambda v: (Levenshtein.distance(v, text), -_shared(v, text), v))


def _shared(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
