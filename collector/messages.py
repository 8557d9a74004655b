"""The message browser's reads: a topic's stored records, filtered, newest first, and what of
each partition the store holds. Values in, values out; the store is the only I/O.

Every query is bounded by an index and a LIMIT: the topic's time index for a window, the key
index for a key, the correlation index, the type index, the (topic, partition, offset) index
for an offset range. Header values and payload text are matched inside the time window (the
text search defaults to the last hour of the topic). Dead letters are messages too: they carry
their topic, partition, offset, key and headers, and come back with the status ``dead letter``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson

from collector.store import Store
from collector.store._time import from_text, to_text
from collector.store.sqlite import data_of

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "TEXT_WINDOW",
    "Message",
    "MessageFilter",
    "PartitionSpan",
    "find_messages",
    "latest",
    "message",
    "parse_header_filter",
    "partition_spans",
    "topics",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
TEXT_WINDOW = timedelta(hours=1)
"""A payload text or header value search without a time window looks at the topic's last
hour (neither has an index: the window bounds the scan)."""
GAP_LIMIT = 20

Status = Literal["event", "violation", "dead letter"]


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """What to show of a topic (every field optional; together they all must hold)."""

    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    partition: int | None = None
    offset_from: int | None = None
    offset_to: int | None = None
    key: str | None = None
    header: tuple[str, str | None] | None = None
    """A header name and value (exact), or a name alone: the record has that header."""
    event_type: str | None = None
    correlation_id: str | None = None
    source: str | None = None
    """The producing service (the event's CloudEvents ``source``)."""
    text: str | None = None
    """Text in the payload (case-insensitive for ASCII), within the time window."""
    # text and header, without a window (and, for a header, without a key, correlation id or
    # offset range): the topic's last hour, `TEXT_WINDOW`

    @property
    def events_only(self) -> bool:
        """Filters that only an event can match (a dead letter has no type or correlation)."""
        return any(v is not None for v in (self.event_type, self.correlation_id, self.source,
                                           self.text))


@dataclass(frozen=True, slots=True)
class Message:
    """One stored record as the browser lists it."""

    topic: str | None
    partition: int | None
    offset: int | None
    at: datetime
    key: str | None
    headers: tuple[tuple[str, str], ...]
    status: Status
    event_type: str | None = None
    correlation_id: str | None = None
    source: str | None = None
    event_id: str | None = None
    dead_letter_id: int | None = None
    payload: Any = None
    """The decoded, redacted payload (`message` only; None in lists)."""
    payload_kept: bool = True
    """False when the capture policy kept no payload for this event."""
    reason: str | None = None
    """A dead letter's reason and detail."""
    detail: str | None = None
    violations: tuple[dict[str, Any], ...] = ()
    schema: str | None = None

    def as_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["at"] = self.at.isoformat()
        out["headers"] = [list(h) for h in self.headers]
        out["violations"] = list(self.violations)
        return out


@dataclass(frozen=True, slots=True)
class PartitionSpan:
    """What the store holds of one partition: first and last stored offsets and times, how
    many records, and the offsets it does not hold (with why, where known)."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    first_at: datetime
    last_at: datetime
    events: int
    dead_letters: int
    next_offset: int | None
    """Where the collector reads next (its stored position), if it reads this partition."""
    numbered_across_topics: bool = False
    """The simulator numbers its records across all topics: holes are not gaps."""
    gaps: tuple[tuple[int, int], ...] = field(default=())
    """Offset ranges inside [first, last] that the store does not hold (the first few)."""

    @property
    def missing(self) -> int:
        """Offsets inside [first, last] held neither as events nor as dead letters."""
        if self.numbered_across_topics:
            return 0
        return max(0, self.last_offset - self.first_offset + 1 - self.events - self.dead_letters)

    def notes(self) -> list[str]:
        """What the store does not hold of this partition, in words."""
        out: list[str] = []
        if self.first_offset > 0 and not self.numbered_across_topics:
            out.append(f"offsets 0 to {self.first_offset - 1}: not stored (written before the "
                       "collector started, or deleted by retention)")
        if self.missing:
            ranges = ", ".join(f"{a}" if a == b else f"{a} to {b}" for a, b in self.gaps)
            out.append(f"{self.missing:,} offsets inside the stored range not captured"
                       + (f" ({ranges})" if ranges else ""))
        if self.next_offset is not None and self.next_offset > self.last_offset + 1:
            out.append(f"offsets {self.last_offset + 1} to {self.next_offset - 1}: read by "
                       "the collector but not stored (deleted by retention, or not events)")
        if self.numbered_across_topics:
            out.append("offsets are the simulator's record numbers across all topics")
        return out


def parse_header_filter(text: str) -> tuple[str, str | None]:
    """``NAME=VALUE`` (that value) or ``NAME`` (any value); raises ValueError when empty."""
    name, sep, value = text.partition("=")
    if not name.strip():
        raise ValueError(f"header filter {text!r}: expected NAME=VALUE or NAME")
    return name.strip(), value if sep else None


def topics(store: Store, limit: int = 200) -> list[str]:
    """The topics of the stored events, by a skip scan of the topic index."""
    rows = store.query(
        "WITH RECURSIVE d(v) AS (SELECT MIN(topic) FROM events UNION ALL "
        "SELECT (SELECT MIN(topic) FROM events WHERE topic > d.v) FROM d WHERE d.v IS NOT NULL) "
        "SELECT v FROM d WHERE v IS NOT NULL LIMIT ?", (limit,))
    return [str(r["v"]) for r in rows]


# -- lists ------------------------------------------------------------------------------------


def find_messages(store: Store, f: MessageFilter, *, limit: int = DEFAULT_LIMIT,
                  with_payload: bool = False) -> list[Message]:
    """The messages that match ``f``, newest first (events and dead letters), at most
    ``limit``; ``with_payload``: each event's stored payload too (``payload_kept`` says
    whether the capture policy kept one)."""
    limit = max(1, min(limit, MAX_LIMIT))
    f = _with_text_window(store, f)
    rows = _event_rows(store, f, limit, with_payload=with_payload)
    violated = _violated(store, rows)
    found = [_listed_event(r, (r["source"], r["id"]) in violated) for r in rows]
    if with_payload:
        found = [replace(m, payload=None if r["data"] is None else orjson.loads(r["data"]),
                         payload_kept=r["data"] is not None) for m, r in zip(found, rows,
                                                                            strict=True)]
    if not f.events_only:
        found += [_listed_dead_letter(r) for r in _dead_letter_rows(store, f, limit)]
    found.sort(key=lambda m: (m.at, m.offset or 0), reverse=True)
    return found[:limit]


def _with_text_window(store: Store, f: MessageFilter) -> MessageFilter:
    if (f.text is None and f.header is None) or f.since is not None:
        return f
    if f.header is not None and f.text is None and any(
            v is not None for v in (f.key, f.correlation_id, f.offset_from, f.offset_to)):
        return f  # an index bounds the scan already
    newest = latest(store, f.topic)
    if newest is None:
        return f
    return replace(f, since=(f.until or newest) - TEXT_WINDOW)


def latest(store: Store, topic: str | None) -> datetime | None:
    if topic is None:
        t = store.query("SELECT MAX(occurred_at) AS t FROM events")[0]["t"]
    else:
        t = store.query("SELECT MAX(occurred_at) AS t FROM events WHERE topic = ?",
                        (topic,))[0]["t"]
    return None if t is None else from_text(t)


_EVENT_COLUMNS = ('source, id, type, occurred_at, correlation_id, topic, partition, "offset", '
                  "key, headers, dataschema")


def _event_rows(store: Store, f: MessageFilter, limit: int, *, with_payload: bool = False
                ) -> list[dict[str, Any]]:
    where, params = _where(f, time="occurred_at")
    if f.event_type is not None:
        where.append("type = ?")
        params.append(f.event_type)
    if f.correlation_id is not None:
        where.append("correlation_id = ?")
        params.append(f.correlation_id)
    if f.source is not None:
        where.append("source = ?")
        params.append(f.source)
    if f.text is not None:
        where.append("data LIKE ? ESCAPE '\\'")
        params.append("%" + _like(f.text) + "%")
    columns = _EVENT_COLUMNS + (", data" if with_payload else "")
    if f.key is None or f.correlation_id is not None:
        return _select(store, columns, _index_for(f), where, params, limit)
    # a key: the events_key index holds only keys that differ from the correlation id (a
    # record keyed by its correlation id, the common case, costs that index nothing), so
    # look in both places and merge
    other = _select(store, columns, " INDEXED BY events_key",
                    [*where, "key <> correlation_id"], params, limit)
    same = _select(store, columns, " INDEXED BY events_correlation",
                   [*where, "correlation_id = ?"], [*params, f.key], limit)
    both = sorted(other + same, key=lambda r: r["occurred_at"], reverse=True)
    return both[:limit]


def _select(store: Store, columns: str, index: str, where: list[str], params: list[Any],
            limit: int) -> list[dict[str, Any]]:
    clause = " AND ".join(where) or "1 = 1"
    return store.query(
        f"SELECT {columns} FROM events{index} WHERE {clause} "  # noqa: S608
        "ORDER BY occurred_at DESC LIMIT ?", [*params, limit])


def _index_for(f: MessageFilter) -> str:
    """The index that bounds the query, named: left to itself, SQLite would walk the topic's
    time index newest first (to skip a sort) past a million rows looking for one key."""
    if f.correlation_id is not None:
        return " INDEXED BY events_correlation"
    if f.topic is not None and f.partition is not None and (
            f.offset_from is not None or f.offset_to is not None):
        return " INDEXED BY events_topic_offset"
    if f.event_type is not None:
        return " INDEXED BY events_type_time"
    if f.topic is not None:
        return " INDEXED BY events_topic_time"
    return ""


def _dead_letter_rows(store: Store, f: MessageFilter, limit: int) -> list[dict[str, Any]]:
    where, params = _where(f, time="received_at", key_bytes=True)
    clause = " AND ".join(where) or "1 = 1"
    return store.query(
        'SELECT dl_id, reason, detail, topic, partition, "offset", received_at, key, headers '  # noqa: S608
        f"FROM dead_letters WHERE {clause} ORDER BY dl_id DESC LIMIT ?", [*params, limit])


def _where(f: MessageFilter, *, time: str, key_bytes: bool = False
           ) -> tuple[list[str], list[Any]]:
    """The conditions events and dead letters share (column names are code, not input); a
    dead letter keeps its key as bytes."""
    where: list[str] = []
    params: list[Any] = []
    key = f.key.encode() if key_bytes and f.key is not None else f.key
    for sql, value in (("topic = ?", f.topic), ("partition = ?", f.partition),
                       ('"offset" >= ?', f.offset_from), ('"offset" <= ?', f.offset_to),
                       ("key = ?", key)):
        if value is not None:
            where.append(sql)
            params.append(value)
    if f.since is not None:
        where.append(f"{time} >= ?")
        params.append(to_text(f.since))
    if f.until is not None:
        where.append(f"{time} < ?")
        params.append(to_text(f.until))
    if f.header is not None:
        name, value = f.header
        pair = [name, value] if value is not None else [name]
        text = orjson.dumps(pair).decode()
        where.append("instr(headers, ?) > 0")
        params.append(text if value is not None else text[:-1] + ",")
    return where, params


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _violated(store: Store, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    if not rows:
        return set()
    pairs = ", ".join("(?, ?)" for _ in rows)
    found = store.query(
        f"SELECT DISTINCT source, id FROM violations WHERE (source, id) IN (VALUES {pairs})",  # noqa: S608
        [v for r in rows for v in (r["source"], r["id"])])
    return {(r["source"], r["id"]) for r in found}


def _headers(text: str | None) -> tuple[tuple[str, str], ...]:
    """An event's headers (text pairs)."""
    if not text:
        return ()
    return tuple((str(k), str(v)) for k, v in orjson.loads(text))


def _dead_letter_headers(text: str | None) -> tuple[tuple[str, str], ...]:
    """A dead letter's headers (kept as exact bytes), as text."""
    from collector.store.dead_letters import decode_headers

    if not text:
        return ()
    return tuple((k, v.decode("utf-8", "backslashreplace")) for k, v in decode_headers(text))


def _key(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", "backslashreplace")


def _listed_event(r: dict[str, Any], violated: bool) -> Message:
    return Message(
        topic=r["topic"], partition=r["partition"], offset=r["offset"],
        at=from_text(r["occurred_at"]), key=r["key"], headers=_headers(r["headers"]),
        status="violation" if violated else "event", event_type=r["type"],
        correlation_id=r["correlation_id"], source=r["source"], event_id=r["id"],
        schema=r.get("dataschema"))


def _listed_dead_letter(r: dict[str, Any]) -> Message:
    return Message(
        topic=r["topic"], partition=r["partition"], offset=r["offset"],
        at=from_text(r["received_at"]), key=_key(r["key"]),
        headers=_dead_letter_headers(r["headers"]),
        status="dead letter", dead_letter_id=r["dl_id"], reason=r["reason"],
        detail=r["detail"])


# -- one message ------------------------------------------------------------------------------


def message(store: Store, *, source: str | None = None, event_id: str | None = None,
            dead_letter_id: int | None = None, preview: int = 65_536) -> Message | None:
    """One message with its payload: an event by (source, id), or a dead letter by id."""
    if dead_letter_id is not None:
        return _dead_letter_message(store, dead_letter_id, preview)
    rows = store.query(f"SELECT {_EVENT_COLUMNS}, data, data_bytes FROM events "  # noqa: S608
                       "WHERE source = ? AND id = ?", (source, event_id))
    if not rows:
        return None
    r = rows[0]
    violations = store.query(
        "SELECT pointer, keyword, message, schema_version FROM violations "
        "WHERE source = ? AND id = ? ORDER BY pointer", (source, event_id))
    listed = _listed_event(r, bool(violations))

    payload = data_of(r)  # JSON (integers exact), or the bytes of non-JSON content
    if type(payload) is bytes:
        payload = payload[:preview].decode("utf-8", "replace")
    return replace(listed, payload=payload, payload_kept=payload is not None,
                   violations=tuple(violations))


def _dead_letter_message(store: Store, dl_id: int, preview: int) -> Message | None:
    rows = store.query(
        'SELECT dl_id, reason, detail, topic, partition, "offset", received_at, key, headers, '
        "substr(raw, 1, ?) AS raw FROM dead_letters WHERE dl_id = ?", (preview, dl_id))
    if not rows:
        return None
    r = rows[0]

    raw = r["raw"]
    text = None if raw is None else bytes(raw).decode("utf-8", "replace")
    return replace(_listed_dead_letter(r), payload=text, payload_kept=raw is not None)


# -- what the store holds ---------------------------------------------------------------------


def partition_spans(store: Store, topic: str) -> list[PartitionSpan]:
    """Per partition of ``topic``: the first and last stored offsets (events and dead letters)
    and times, the counts, the collector's position, and the first few offset gaps (by the
    offset index)."""
    events = {r["partition"]: r for r in store.query(  # covered by events_topic_offset
        'SELECT partition, MIN("offset") AS first, MAX("offset") AS last, COUNT(*) AS n '
        "FROM events WHERE topic = ? AND partition IS NOT NULL GROUP BY partition", (topic,))}
    dead = {r["partition"]: r for r in store.query(
        'SELECT partition, MIN("offset") AS first, MAX("offset") AS last, COUNT(*) AS n, '
        "MIN(received_at) AS a, MAX(received_at) AS b FROM dead_letters WHERE topic = ? AND "
        "partition IS NOT NULL GROUP BY partition", (topic,))}
    out = []
    for p in sorted(events.keys() | dead.keys()):
        e, d = events.get(p), dead.get(p)
        both = [r for r in (e, d) if r is not None]
        first, last = min(r["first"] for r in both), max(r["last"] for r in both)
        if e is not None:
            first_at, last_at = (from_text(store.query(
                'SELECT occurred_at AS t FROM events WHERE topic = ? AND partition = ? AND '
                '"offset" = ?', (topic, p, off))[0]["t"]) for off in (e["first"], e["last"]))
        else:
            assert d is not None
            first_at, last_at = from_text(d["a"]), from_text(d["b"])
        position = store.query(
            "SELECT MAX(next_offset) AS n FROM positions WHERE topic = ? AND partition = ?",
            (topic, p))[0]["n"]
        span = PartitionSpan(
            topic=topic, partition=p, first_offset=first, last_offset=last, first_at=first_at,
            last_at=last_at, events=0 if e is None else e["n"],
            dead_letters=0 if d is None else d["n"], next_offset=position,
            numbered_across_topics=e is not None and _read_from(store, topic, p) == "simulator")
        if span.missing:
            span = replace(span, gaps=_gaps(store, topic, p))
        out.append(span)
    return out


def _read_from(store: Store, topic: str, partition: int) -> str | None:
    """Where the partition's events were read (``kafka``, ``simulator``): one row's answer."""
    rows = store.query("SELECT loc_source FROM events WHERE topic = ? AND partition = ? "
                       "LIMIT 1", (topic, partition))
    return None if not rows else str(rows[0]["loc_source"])


def _gaps(store: Store, topic: str, partition: int) -> tuple[tuple[int, int], ...]:
    rows = store.query(
        'SELECT prev + 1 AS a, "offset" - 1 AS b FROM (SELECT "offset", LAG("offset") OVER '
        '(ORDER BY "offset") AS prev FROM (SELECT "offset" FROM events WHERE topic = ?1 AND '
        'partition = ?2 UNION SELECT "offset" FROM dead_letters WHERE topic = ?1 AND '
        'partition = ?2) AS held) AS steps WHERE "offset" - prev > 1 ORDER BY "offset" '
        'LIMIT ?3', (topic, partition, GAP_LIMIT))
    return tuple((int(r["a"]), int(r["b"])) for r in rows)
