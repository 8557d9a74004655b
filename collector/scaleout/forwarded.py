"""The store edge of forwarding: how far the readers have forwarded each partition of the
user's topics (table ``forwarded``, migration 120).

A reader writes a row after the internal topic has acknowledged what it forwarded, and
resumes a partition from it, so a crash between the store's commit and the forward reads and
forwards those records again (the store keeps them once, the tracker ignores an event it has).
A row never moves back: everything before the highest ``next_offset`` written was forwarded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.store._time import from_text, to_text
from collector.store.base import Store

__all__ = ["HEARTBEAT", "ForwardedMark", "forwarded_marks", "forwarded_positions",
           "write_forwarded", "write_unknown"]

HEARTBEAT = timedelta(seconds=5)
"""How often a reader rewrites the rows of its partitions, caught up or not: a row older than
the fail-over bound belongs to a reader that is gone."""

_UPSERT = ("INSERT INTO forwarded VALUES (?,?,?,?,?,?,?) ON CONFLICT (reader, topic, partition) "
           "DO UPDATE SET next_offset = excluded.next_offset, latest_at = COALESCE("
           "excluded.latest_at, forwarded.latest_at), lag = excluded.lag, updated_at = "
           "excluded.updated_at WHERE excluded.next_offset >= forwarded.next_offset")


@dataclass(frozen=True, slots=True)
class ForwardedMark:
    """One partition of the user's topics as its reader last forwarded it."""

    topic: str
    partition: int
    next_offset: int
    latest_at: datetime | None
    """The latest event time forwarded from it (None: no event yet, only dead letters)."""
    lag: int
    """Records after ``next_offset`` when it was written; -1 when not known."""
    updated_at: datetime | None = None
    """When its reader wrote it (readers rewrite their rows at least every `HEARTBEAT`)."""


def write_forwarded(store: Store, reader: str, marks: Iterable[ForwardedMark],
                    now: datetime) -> None:
    """Record what was forwarded (one short transaction per partition; each row is true on
    its own)."""
    at = to_text(now)
    for m in marks:
        store.execute(_UPSERT, (reader, m.topic, m.partition, m.next_offset,
                                None if m.latest_at is None else to_text(m.latest_at),
                                m.lag, at))


def write_unknown(store: Store, reader: str, partitions: Iterable[tuple[str, int]],
                  now: datetime) -> None:
    """A row of "nothing known" (offset -1, no event, lag -1) for each of ``partitions`` that
    has none yet: a partition of the user's topics without a row would hold no tracker's
    clock back (`collector.scaleout.clock`), however much of it is unread."""
    at = to_text(now)
    for topic, partition in partitions:
        store.execute("INSERT INTO forwarded VALUES (?,?,?,?,?,?,?) ON CONFLICT (reader, topic, "
                      "partition) DO NOTHING", (reader, topic, partition, -1, None, -1, at))


def forwarded_positions(store: Store, reader: str) -> dict[tuple[str, int], int]:
    """Where ``reader``'s partitions resume: ``{(topic, partition): next_offset}`` (a row of
    -1 marks a partition assigned before anything was forwarded from it)."""
    rows = store.query("SELECT topic, partition, next_offset FROM forwarded WHERE reader = ? "
                       "AND next_offset >= 0", (reader,))
    return {(r["topic"], int(r["partition"])): int(r["next_offset"]) for r in rows}


def forwarded_marks(store: Store, reader: str) -> list[ForwardedMark]:
    rows = store.query("SELECT topic, partition, next_offset, latest_at, lag, updated_at "
                       "FROM forwarded WHERE reader = ?", (reader,))
    return [ForwardedMark(r["topic"], int(r["partition"]), int(r["next_offset"]),
                          None if r["latest_at"] is None else from_text(r["latest_at"]),
                          int(r["lag"]), from_text(r["updated_at"])) for r in rows]
