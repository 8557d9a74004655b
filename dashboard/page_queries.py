"""Read-only queries behind the catalog's own pages: Event, Service and Domain, and the
Catalog's search.

No Streamlit here. The pages are `catalog.pages` values built from the whole rolled-up traffic
(the map's "everything" window) and the schema folder; the store queries (violations, dead
letters, samples) use their indexes and carry a ``LIMIT``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from catalog.entries import CatalogEntry, build_entries
from catalog.eventmap import EventMap
from catalog.fields import FieldHistory, field_history
from catalog.metadata import SchemaInfo
from catalog.pages import (
    DomainPage,
    EventPage,
    FlowPlace,
    ServicePage,
    build_domain_page,
    build_event_page,
    build_service_page,
)
from catalog.search import Hit, search_catalog
from collector.catalog_source import CatalogView, read_samples
from collector.catalog_source.flow_places import load_flow_places
from collector.humanize import format_time
from collector.store import Store
from dashboard.catalog_queries import load_view, map_window

__all__ = [
    "LIVE",
    "SAMPLES",
    "CatalogState",
    "catalog_state",
    "domain_page",
    "entries_of",
    "event_page",
    "field_index",
    "search_rows",
    "service_dead_letters",
    "service_page",
    "service_violations",
]

SAMPLES = 3
INFER_FROM = 50
"""Payloads read to show an undocumented type's fields."""
DEAD_LETTERS_LIMIT = 50
VIOLATIONS_LIMIT = 200


@dataclass(frozen=True, slots=True)
class CatalogState:
    view: CatalogView
    places: Mapping[str, Sequence[FlowPlace]]
    rolled_up: bool
    """False when no traffic is rolled up yet (the pages show what the schemas declare)."""
    live: EventMap | None = None
    """The map of the last `LIVE` of rolled-up traffic (the live rates)."""


LIVE = timedelta(minutes=15)
"""The window of the live rates: the last 15 minutes of rolled-up traffic (live: until now)."""


def catalog_state(store: Store, schemas_dir: Path) -> CatalogState:
    window = map_window(store, None)
    recent = map_window(store, LIVE)
    live = None if recent is None else load_view(store, schemas_dir, recent).event_map
    return CatalogState(load_view(store, schemas_dir, window), load_flow_places(schemas_dir),
                        window is not None, live)


def field_index(schemas: Sequence[SchemaInfo]) -> dict[str, dict[int, list[FieldHistory]]]:
    """Per event type, its field table per schema version."""
    by_type: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for s in schemas:
        by_type.setdefault(s.event_type, []).append((s.version, s.document))
    return {name: field_history(versions) for name, versions in by_type.items()}


def search_rows(entries: Sequence[CatalogEntry], schemas: Sequence[SchemaInfo], text: str
                ) -> list[Hit]:
    return search_catalog(entries, field_index(schemas), text)


def event_page(store: Store, state: CatalogState, name: str,
               samples: int = SAMPLES) -> EventPage | None:
    """The page; an undocumented type's newest `INFER_FROM` payloads are read for its fields."""
    documented = any(s.event_type == name for s in state.view.schemas)
    wanted = samples if documented else max(samples, INFER_FROM)
    found = read_samples(store, [name], wanted) if wanted else []
    return build_event_page(state.view.event_map, name, state.view.schemas, state.places, found,
                            state.live, shown=samples)


def service_page(state: CatalogState, name: str) -> ServicePage | None:
    return build_service_page(state.view.event_map, name)


def domain_page(state: CatalogState, name: str) -> DomainPage | None:
    return build_domain_page(state.view.event_map, name)


def entries_of(state: CatalogState) -> list[CatalogEntry]:
    return build_entries(state.view.event_map)


def service_violations(store: Store, service: str, event_types: Sequence[str]
                       ) -> list[dict[str, Any]]:
    """Per event type (of those it produces) and schema version: the service's events failing
    validation. Read through the violations index (event type, producer, version)."""
    if not event_types:
        return []
    marks = ", ".join("?" for _ in event_types)
    rows = store.query(
        "SELECT event_type, schema_version, COUNT(DISTINCT id) AS events, COUNT(*) AS n, "  # noqa: S608 -- placeholders only
        f"MAX(occurred_at) AS last FROM violations WHERE event_type IN ({marks}) "
        "AND producer = ? GROUP BY event_type, schema_version "
        "ORDER BY event_type, schema_version LIMIT ?",
        (*event_types, service, VIOLATIONS_LIMIT))
    return [{"event type": r["event_type"], "schema version": r["schema_version"],
             "failing events": int(r["events"]), "violations": int(r["n"]),
             "last failure": format_time(r["last"], with_zone=False)} for r in rows]


def service_dead_letters(store: Store, topics: Sequence[str]) -> list[dict[str, Any]]:
    """The latest dead letters read from the topics a service produces to (a dead letter
    cannot name its producer: it could not be read)."""
    if not topics:
        return []
    marks = ", ".join("?" for _ in topics)
    rows = store.query(
        "SELECT dl_id, reason, detail, topic, partition, \"offset\", received_at "  # noqa: S608 -- placeholders only
        f"FROM dead_letters WHERE topic IN ({marks}) ORDER BY dl_id DESC LIMIT ?",
        (*topics, DEAD_LETTERS_LIMIT))
    return [{"received": format_time(r["received_at"], with_zone=False), "topic": r["topic"],
             "partition": r["partition"], "offset": r["offset"], "reason": r["reason"],
             "detail": r["detail"]} for r in rows]
