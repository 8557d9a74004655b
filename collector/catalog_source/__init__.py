"""The catalog's data, read from the store and the schema folder and handed over as values.

The catalog never reads the store: this package does, on the collector side (the rollups in
`collector.catalog_source.rollups`, their SQL in ``_sql``).

- `refresh_rollups` keeps the traffic rollups (migrations 050, 051) up to date: it finds the
  minutes touched by events, spans and violations stored since the last refresh (by rowid) and
  recomputes those minutes with one ``GROUP BY`` per range, so building a map never touches a
  million Python objects.
- `read_traffic` sums the rollups over a window into `EdgeTraffic` values.
- `read_declarations` / `save_declarations` keep declared contracts (an imported AsyncAPI file).
- `load_schema_infos`, `load_flow_infos` and `read_samples` give the rest of an entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
from catalog.traffic import GroupAssignment, Window
from collector import _json
from collector.catalog_source._store import (
    CatalogSourceError,
    ReadStore,
    RollupStore,
    rollup_store,
)
from collector.catalog_source.rollups import (
    RollupRefresher,
    RollupStats,
    read_edge_series,
    read_traffic,
    refresh_rollups,
    traffic_window,
)
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
    "read_edge_series",
    "read_groups",
    "read_samples",
    "read_traffic",
    "refresh_rollups",
    "rollup_store",
    "save_declarations",
    "traffic_window",
]


_GROUP_COLUMNS = {"group_id", "topic", "last_seen"}


def read_groups(store: ReadStore) -> list[GroupAssignment]:
    """Consumer groups and the topics they read, from a ``consumer_groups (group_id, topic,
    last_seen)`` table.

    Migration 150 creates it; the RabbitMQ tap fills it from the firehose (the queue a message
    was delivered to names its service). Without rows, consumers are known from consumer spans
    only. A table of another shape is not read.
    """
    columns = {r["name"] for r in store.query("SELECT name FROM pragma_table_info(?)",
                                               ("consumer_groups",))}
    if not columns >= _GROUP_COLUMNS:
        return []
    return [GroupAssignment(r["group_id"], r["topic"],
                            from_text(r["last_seen"]) if r["last_seen"] else None)
            for r in store.query("SELECT group_id, topic, last_seen FROM consumer_groups")]


def read_samples(store: ReadStore, event_types: Iterable[str], per_type: int = 3
                 ) -> list[SamplePayload]:
    """The latest stored payloads of each type (stored redacted, under the capture policy)."""
    out: list[SamplePayload] = []
    for name in event_types:
        for r in store.query(
                "SELECT source, id, occurred_at, data FROM events WHERE type = ? AND data IS NOT "
                "NULL ORDER BY occurred_at DESC LIMIT ?", (name, per_type)):
            out.append(SamplePayload(name, r["source"], r["id"], from_text(r["occurred_at"]),
                                     _json.loads(r["data"])))
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
