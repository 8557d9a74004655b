"""The collectors of the store's groups (table ``collectors``, `collector.member`), for the
Collector health page. No Streamlit here: values in, values out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from collector.member import CollectorBeat, Status, silent_after, status_of, successors
from collector.store import Store
from collector.store._time import from_text, to_text

__all__ = ["COLLECTOR_LIMIT", "CollectorList", "collectors", "compact_partitions",
           "list_collectors"]

COLLECTOR_LIMIT = 200
SHOWN_FOR = timedelta(days=1)
"""A collector heard from within this long is listed (silent or not); older rows are not."""


@dataclass(frozen=True, slots=True)
class CollectorList:
    """What the Collector health page lists: one row per collector."""

    listed: list[dict[str, Any]]
    replaced: list[dict[str, Any]]
    """Earlier runs a restart on the same host, group and roles replaced (not listed), each
    with ``replaced_by``: the run that replaced it."""


def collectors(store: Store, *, now: datetime, within: timedelta = SHOWN_FOR,
               ) -> list[dict[str, Any]]:
    """Every collector row heard from in the last ``within`` before ``now``, by group and
    start, each with ``status`` (`collector.member.Status`), ``silent`` (stopped heartbeating
    without saying so), ``since_heartbeat_s`` and, unless it stopped, its rate."""
    return [_shown(b, now) for b in _beats(store, now - within)]


def list_collectors(store: Store, *, now: datetime, within: timedelta = SHOWN_FOR,
                    ) -> CollectorList:
    """`collectors`, with the earlier runs a restart replaced (`collector.member.successors`)
    set apart."""
    beats = _beats(store, now - within)
    replaced = successors(beats, now)
    return CollectorList(
        [_shown(b, now) for b in beats if b.collector_id not in replaced],
        [{**_shown(b, now), "replaced_by": replaced[b.collector_id]}
         for b in beats if b.collector_id in replaced])


def _beats(store: Store, since: datetime) -> list[CollectorBeat]:
    rows = store.query("SELECT * FROM collectors WHERE heartbeat_at >= ? "
                       "ORDER BY group_id, started_at, collector_id LIMIT ?",
                       (to_text(since), COLLECTOR_LIMIT))
    return [_beat(r) for r in rows]


def _beat(row: dict[str, Any]) -> CollectorBeat:
    stopped = row.get("stopped_at")
    return CollectorBeat(
        row["collector_id"], row["group_id"], tuple(orjson.loads(row["roles"])),
        {role: tuple(p) for role, p in orjson.loads(row["partitions"]).items()}, row["lag"],
        float(row["records_per_second"]), from_text(row["started_at"]),
        from_text(row["heartbeat_at"]), float(row["beat_every_s"]),
        # rows from before migration 210: the host is the id's first part
        row.get("host") or row["collector_id"].split(":", 1)[0], row.get("records") or 0,
        None if stopped is None else from_text(stopped))


def _shown(b: CollectorBeat, now: datetime) -> dict[str, Any]:
    status = status_of(b, now)
    return {
        "collector_id": b.collector_id, "group": b.group, "host": b.host,
        "roles": ", ".join(b.roles),
        "partitions": "" if status is Status.STOPPED else "; ".join(
            f"{role}: {compact_partitions(p) or '(none)'}" for role, p in b.partitions.items()),
        "lag": b.lag, "records": b.records,
        "records_per_second": (None if status is Status.STOPPED
                               else round(b.records_per_second, 1)),
        "started_at": b.started_at, "heartbeat_at": b.heartbeat_at,
        "stopped_at": b.stopped_at, "status": status,
        "silent": status is Status.SILENT,
        "silent_after_s": silent_after(b.beat_every_s).total_seconds(),
        "since_heartbeat_s": max((now - b.heartbeat_at).total_seconds(), 0.0),
    }


def compact_partitions(partitions: Iterable[str]) -> str:
    """``orders[0]``, ``orders[1]``, ``orders[2]``, ``orders[5]``, ``payments[0]`` ->
    ``orders[0-2, 5], payments[0]``: a topic once, its partitions as runs (what a group of
    many partitions needs to stay on one line). A name not of the ``topic[n]`` form is kept."""
    by_topic: dict[str, list[int]] = {}
    other: list[str] = []
    for name in partitions:
        topic, bracket, rest = name.rpartition("[")
        if bracket and rest.endswith("]") and rest[:-1].isdigit():
            by_topic.setdefault(topic, []).append(int(rest[:-1]))
        else:
            other.append(name)
    shown = [f"{topic}[{', '.join(_runs(sorted(set(numbers))))}]"
             for topic, numbers in sorted(by_topic.items())]
    return ", ".join(shown + other)


def _runs(numbers: list[int]) -> list[str]:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return [str(a) if a == b else f"{a}-{b}" for a, b in runs]
