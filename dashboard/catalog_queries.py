"""Read-only queries behind the Event map, Catalog and Schema compatibility pages.

No Streamlit here: the store and the catalog's values in, plain data out. The map is read from
the per-minute and per-hour traffic rollups (`collector.catalog_source`), never from the events
table; the store queries here use the violations and flows indexes and carry a ``LIMIT``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from catalog.changes import Mode, Policy
from catalog.compatibility import Change, check, check_history, iter_changes
from catalog.entries import CatalogEntry, build_entries
from catalog.eventmap import EventMap, event_node
from catalog.files import load_registry
from catalog.registry import Registry
from catalog.reports import Finding, run_reports
from catalog.traffic import Window
from collector.catalog_source import CatalogView, load_event_map, read_samples, traffic_window
from collector.store import Store
from collector.store._time import from_text

__all__ = [
    "KINDS",
    "MAP_WINDOWS",
    "MODES",
    "NO_TRAFFIC",
    "VersionDiff",
    "catalog_rows",
    "compare_versions",
    "entry_of",
    "findings",
    "load_view",
    "map_window",
    "recent_failures",
    "registry_of",
    "rollup_lag",
    "rollup_marks",
    "sample_payloads",
    "stalls_by_event_type",
    "validation_by_producer",
    "view_of",
]

KINDS = ("service", "event", "topic")
MAP_WINDOWS: dict[str, timedelta | None] = {
    "last 15 minutes": timedelta(minutes=15),
    "last hour": timedelta(hours=1),
    "last 6 hours": timedelta(hours=6),
    "last 24 hours": timedelta(hours=24),
    "everything": None,
}
"""Map windows, ending where the rolled-up traffic ends (live: about now)."""
MODES = (Mode.BACKWARD, Mode.BACKWARD_TRANSITIVE, Mode.FORWARD, Mode.FORWARD_TRANSITIVE,
         Mode.FULL, Mode.FULL_TRANSITIVE)
NO_TRAFFIC = ("No traffic rolled up yet: shown is what the schemas declare. Observed producers, "
              "consumers and rates appear once the collector has rolled up stored events "
              "(`choreoscope catalog report` brings the rollups up to date).")
STALLS_LIMIT = 2_000
FAILURES_LIMIT = 50
VALIDATION_LIMIT = 500


# -- the event map --------------------------------------------------------------------------

def map_window(store: Store, last: timedelta | None) -> Window | None:
    """The ``last`` stretch of rolled-up traffic (all of it for None); None when there is none."""
    full = traffic_window(store)
    if full is None or last is None:
        return full
    return Window(max(full.start, full.end - last), full.end)


def rollup_marks(store: Store) -> tuple[tuple[str, int], ...]:
    """How far the rollups were refreshed, per source table: changes whenever the map may."""
    rows = store.query("SELECT source_table, last_rowid FROM catalog_rollup_marks "
                       "ORDER BY source_table")
    return tuple((r["source_table"], int(r["last_rowid"])) for r in rows)


def rollup_lag(store: Store) -> int:
    """Events stored since the rollups were last refreshed (not on the map yet)."""
    top = store.query("SELECT COALESCE(MAX(rowid), 0) AS n FROM events")[0]["n"]
    mark = dict(rollup_marks(store)).get("events", 0)
    return max(0, int(top) - mark)


def _stamp(folder: Path) -> int:
    """Changes when a file under ``folder`` is added, removed or rewritten."""
    if not folder.is_dir():
        return 0
    paths = list(folder.rglob("*"))
    return hash((len(paths), max((p.stat().st_mtime_ns for p in paths), default=0)))


_VIEWS: OrderedDict[tuple[Any, ...], CatalogView] = OrderedDict()
_VIEWS_LOCK = threading.Lock()
_VIEWS_KEPT = 16


def load_view(store: Store, schemas_dir: Path, window: Window | None) -> CatalogView:
    """The event map of ``window`` with the schemas' metadata, built once per state of the
    rollups and the schema folder: a page refreshing every few seconds rebuilds it only when
    the collector has rolled up new traffic or a schema changed."""
    key = (store.url, str(schemas_dir), window, rollup_marks(store), _stamp(schemas_dir))
    with _VIEWS_LOCK:
        if key in _VIEWS:
            _VIEWS.move_to_end(key)
            return _VIEWS[key]
    view = load_event_map(store, schemas_dir, window)
    with _VIEWS_LOCK:
        _VIEWS[key] = view
        while len(_VIEWS) > _VIEWS_KEPT:
            _VIEWS.popitem(last=False)
    return view


def stalls_by_event_type(store: Store) -> dict[str, int]:
    """Stuck flows by the event type they last saw (the step after it is overdue)."""
    rows = store.query(
        "SELECT last_event_type AS t, COUNT(*) AS n FROM flows WHERE status = 'stuck' "
        "GROUP BY last_event_type ORDER BY n DESC LIMIT ?", (STALLS_LIMIT,))
    return {r["t"]: int(r["n"]) for r in rows}


def view_of(event_map: EventMap, *, domain: str | None = None, flow_type: str | None = None,
            service: str | None = None, kinds: Iterable[str] = KINDS,
            around: str | None = None, hops: int = 1) -> EventMap:
    """The map cut by the page's filters: domain, flow type, service, node kinds, and the
    neighbourhood of a node (when it is still on the map)."""
    if domain or flow_type or service:
        event_map = event_map.filtered(domain=domain or None, flow_type=flow_type or None,
                                       service=service or None)
    if around and around in event_map.graph:
        event_map = event_map.neighbourhood(around, hops)
    wanted = set(kinds)
    if wanted >= set(KINDS):
        return event_map
    keep = [n for n, d in event_map.graph.nodes(data=True) if d["kind"] in wanted]
    return EventMap(event_map.graph.subgraph(keep).copy(), event_map.window)


# -- catalog entries ------------------------------------------------------------------------

def sample_payloads(store: Store, event_type: str, per_type: int = 3) -> list[Any]:
    """The latest stored payloads of one type (as captured: redacted by the collector)."""
    return list(read_samples(store, [event_type], per_type))


def entry_of(event_map: EventMap, event_type: str, samples: Iterable[Any] = ()
             ) -> CatalogEntry | None:
    """One type's catalog entry (built from its neighbourhood only: cheap on a big map)."""
    node = event_node(event_type)
    if node not in event_map.graph:
        return None
    entries = build_entries(event_map.neighbourhood(node, 1), samples)
    return next((e for e in entries if e.event_type == event_type), None)


def _when(t: datetime | None) -> str:
    return "" if t is None else f"{t:%Y-%m-%d %H:%M:%S}"


def catalog_rows(entries: Iterable[CatalogEntry]) -> list[dict[str, Any]]:
    """One table row per catalog entry."""
    return [{
        "event type": e.event_type,
        "owner": e.owner,
        "domain": e.domain,
        "versions": ", ".join(f"v{v}" for v in e.versions),
        "producers": ", ".join(e.producers),
        "consumers": ", ".join(e.consumers),
        "topics": ", ".join(e.topics),
        "events": e.count,
        "last seen": _when(e.last_seen),
        "flows": ", ".join(e.flows),
        "documented": e.documented,
    } for e in entries]


def findings(event_map: EventMap, report: str) -> list[Finding]:
    """One report's findings (``undocumented``, ``orphans``, ``violations``, ...)."""
    return run_reports(event_map, (report,))


# -- schema compatibility -------------------------------------------------------------------

def registry_of(schemas_dir: Path, mode: Mode = Mode.BACKWARD,
                policy: Policy = Policy.STRICT, draft: str = "draft-07") -> Registry:
    return load_registry(schemas_dir / "events", mode, policy, draft)


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """Version ``old`` against version ``new`` of one subject."""

    subject: str
    old: int
    new: int
    backward: tuple[Change, ...]
    """old -> new: can a consumer on ``new`` read what ``old`` producers write."""
    forward: tuple[Change, ...]
    """new -> old: can a consumer still on ``old`` read what ``new`` producers write."""
    verdicts: Mapping[Mode, bool]
    """Per mode; the transitive ones check ``new`` against every version before it."""
    mode: Mode
    policy: Policy

    @property
    def change_rows(self) -> list[dict[str, Any]]:
        """One row per change: its type, where, and the modes it breaks (if any)."""
        breaks = {"backward": "BACKWARD, FULL", "forward": "FORWARD, FULL"}
        return [{"direction": direction, "change": ch.type.value, "path": ch.path,
                 "compatible": ch.compatible, "breaks": "" if ch.compatible else breaks[direction]}
                for direction, changes in (("backward", self.backward),
                                           ("forward", self.forward))
                for ch in changes]


def compare_versions(registry: Registry, subject: str, old: int, new: int) -> VersionDiff:
    """Every change between two versions, in both directions, and the verdict per mode.

    BACKWARD, FORWARD and FULL judge the pair; their transitive variants judge ``new`` against
    every earlier version of the subject (those before ``new``), as a registry would on
    registering it.
    """
    mode, policy = registry.settings(subject)
    a, b = registry.get(subject, old).schema, registry.get(subject, new).schema
    backward = tuple(iter_changes(a, b, policy=policy))
    forward = tuple(iter_changes(b, a, policy=policy))
    pair = check(a, b, Mode.BACKWARD, policy).verdicts
    history = [(v.version, v.schema) for v in registry.subject(subject).versions
               if v.version < new] or [(old, a)]
    whole = check_history(history, b, Mode.BACKWARD, policy).verdicts
    verdicts = {m: (whole if m.transitive else pair)[m] for m in MODES}
    return VersionDiff(subject, old, new, backward, forward, verdicts, mode, policy)


def validation_by_producer(
    store: Store, event_type: str, latest_version: int | None = None,
    ids: Mapping[int, Sequence[tuple[str, int]]] | None = None,
) -> list[dict[str, Any]]:
    """Per producer and schema version: events seen, events failing validation, last failure.

    Events seen are counted per producer and ``dataschema`` (the version it names, else
    ``latest_version``, the one such events are validated against) from the traffic rollups
    (``catalog_schema_hour``, migration 220: as of the collector's last refresh, every 5 s,
    and events stored since the store began, retention aside); failures come from the
    violations table (indexed by type, producer and version).
    """
    from catalog.validation import confluent_id, parse_dataschema

    def version_named(dataschema: str | None) -> tuple[str | None, int | None]:
        """The version a ``dataschema`` names; a schema id (Confluent wire format) names the
        version registered with it (``ids``, from ``registry.json`` or ``[registry] url``)."""
        schema_id = confluent_id(dataschema)
        if schema_id is not None:
            places = list((ids or {}).get(schema_id, ()))
            place = next((p for p in places if p[0] == event_type), None)
            return (event_type, place[1]) if place else (None, None)
        return parse_dataschema(dataschema)

    counted = [(str(r["source"]), version_named(r["dataschema"] or None), int(r["n"]))
               for r in store.query(
        "SELECT service AS source, dataschema, SUM(count) AS n FROM catalog_schema_hour "
        "WHERE event_type = ? GROUP BY service, dataschema LIMIT ?",
        (event_type, VALIDATION_LIMIT))]
    failing = {(r["producer"], r["schema_version"]): r for r in store.query(
        "SELECT producer, schema_version, COUNT(DISTINCT id) AS events, COUNT(*) AS violations, "
        "MAX(occurred_at) AS last FROM violations WHERE event_type = ? "
        "GROUP BY producer, schema_version ORDER BY producer, schema_version LIMIT ?",
        (event_type, VALIDATION_LIMIT))}
    if latest_version is None:  # the newest version anything names stands for the registry's
        named = [v for _, (_, v), _ in counted if v is not None]
        named += [v for _, v in failing if v is not None]
        latest_version = max(named, default=None)
    seen: dict[tuple[str, int | None], int] = {}
    for source, (named_type, version), n in counted:
        if version is None or named_type not in (None, event_type):
            version = latest_version
        seen[(source, version)] = seen.get((source, version), 0) + n
    rows = []
    for producer, version in sorted(seen.keys() | failing.keys(),
                                    key=lambda k: (k[0], k[1] is None, k[1] or 0)):
        f = failing.get((producer, version))
        rows.append({"producer": producer, "schema version": version,
                     "events seen": seen.get((producer, version), 0),
                     "failing events": 0 if f is None else int(f["events"]),
                     "violations": 0 if f is None else int(f["violations"]),
                     "last failure": "" if f is None else _when(from_text(f["last"]))})
    return rows


def recent_failures(store: Store, event_type: str, producer: str | None = None,
                    limit: int = FAILURES_LIMIT) -> list[dict[str, Any]]:
    """The latest violations of a type (optionally one producer's), with the failing field."""
    where, params = "event_type = ?", [event_type]
    if producer:
        where, params = where + " AND producer = ?", [*params, producer]
    rows = store.query(
        "SELECT occurred_at, producer, schema_version, source, id, pointer, keyword, message "  # noqa: S608 -- constant clauses
        f"FROM violations WHERE {where} ORDER BY occurred_at DESC LIMIT ?", (*params, limit))
    return [{"time": _when(from_text(r["occurred_at"])), "producer": r["producer"],
             "schema version": r["schema_version"], "field": r["pointer"] or "/",
             "rule": r["keyword"], "message": r["message"], "event id": r["id"]}
            for r in rows]


def schema_ids(schemas_dir: Path) -> dict[int, list[tuple[str, int]]]:
    """Schema id -> (subject, version)s of the schema folder (``registry.json``); {} when the
    folder cannot be read (the page that needs the registry says why)."""
    from catalog.exceptions import CatalogError
    from collector.validate import ids_by_number

    try:
        return ids_by_number(schemas_dir / "events", load_registry(schemas_dir / "events"))
    except CatalogError:
        return {}
