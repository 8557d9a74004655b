"""One flow, found and explained: the queries behind the flow search page.

No Streamlit here: each function takes the `Store` (read-only) and returns plain values. Every
query goes by an index (correlation id, instance id, business key name and value, the
violations' event identity) and carries a LIMIT, so a search costs the same on any store size.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.flows.definition import FlowDefinition
from collector.flows.query import show
from collector.store import Store
from collector.store.sqlite import INSTANCE_EVENTS
from collector.traces.query import timeline_for
from collector.traces.timeline import EntryKind, Timeline

__all__ = [
    "FlowDetail",
    "business_key_matches",
    "compare_path",
    "flow_details",
    "prefix_matches",
    "timeline_rows",
    "violations_of",
]

MATCH_LIMIT = 50
TIMELINE_LIMIT = 500
_TOP = "\U0010ffff"
"""Above every character: ``[prefix, prefix + _TOP)`` is the index range of a prefix."""

_FLOW_COLUMNS = ("correlation_id, instance_id, flow_type, status, started_at, last_event_type, "
                 "last_event_at, stuck_step, stuck_since, sla_breached")
_VIOLATION_COLUMNS = ("source, id, event_type, producer, schema_version, pointer, keyword, "
                      "message, occurred_at")


def business_key_matches(store: Store, value: str, names: Iterable[str], *,
                         prefix: bool = False, limit: int = MATCH_LIMIT) -> list[dict[str, Any]]:
    """Flows with a business key of this value (or starting with it), for each key name."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for name in names:
        if prefix:
            rows = store.query(
                "SELECT name, value, correlation_id FROM business_keys WHERE name = ? AND "
                "value >= ? AND value < ? ORDER BY value LIMIT ?",
                (name, value, value + _TOP, limit))
        else:
            rows = store.query(
                "SELECT name, value, correlation_id FROM business_keys WHERE name = ? AND "
                "value = ? LIMIT ?", (name, value, limit))
        for r in rows:
            found.setdefault((r["name"], r["value"], r["correlation_id"]), {
                "key": r["name"], "value": r["value"], "correlation_id": r["correlation_id"]})
    return _with_flows(store, list(found.values())[:limit])


def _with_flows(store: Store, matches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each match with its (first) flow's type and status, by the correlation index."""
    for m in matches:
        rows = store.query("SELECT flow_type, status FROM flows WHERE correlation_id = ? "
                           "ORDER BY started_at LIMIT 1", (m["correlation_id"],))
        m["flow_type"] = rows[0]["flow_type"] if rows else None
        m["status"] = rows[0]["status"] if rows else None
    return matches


def prefix_matches(store: Store, prefix: str, limit: int = MATCH_LIMIT) -> list[dict[str, Any]]:
    """Flows whose correlation id starts with ``prefix``, in id order (an index range)."""
    return store.query(
        f"SELECT {_FLOW_COLUMNS} FROM flows WHERE correlation_id >= ? AND "  # noqa: S608
        "correlation_id < ? ORDER BY correlation_id LIMIT ?", (prefix, prefix + _TOP, limit))


# -- one flow ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlowDetail:
    """One flow instance: its state and steps (`collector.flows.query.show`), the expected
    path against the actual one, and its events' schema violations."""

    flow: dict[str, Any]
    path: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    stuck_for_s: float | None


def flow_details(store: Store, correlation_id: str, definitions: Sequence[FlowDefinition], *,
                 now: datetime) -> list[FlowDetail]:
    """Every flow instance of a correlation id, explained; ``now`` measures how long stuck."""
    by_version = {(d.flow_type, d.version): d for d in definitions}
    out = []
    for flow in show(store, correlation_id, definitions, now=now):
        d = by_version.get((flow["flow_type"], flow["definition_version"]))
        stuck_for = None
        if flow["status"] == "stuck" and flow["stuck_since"] is not None:
            since = datetime.fromisoformat(flow["stuck_since"])
            stuck_for = max(0.0, (now - since).total_seconds())
        path = compare_path(d, flow["events"], flow["status"]) if d is not None else []
        out.append(FlowDetail(flow, path, violations_of(store, flow["instance_id"]), stuck_for))
    return out


def compare_path(d: FlowDefinition, events: Sequence[dict[str, Any]],
                 status: str) -> list[dict[str, Any]]:
    """The expected path against the actual one, a row per step: what the definition allowed
    there, what came, and the verdict; then the steps still expected, to a success end."""
    rows: list[dict[str, Any]] = []
    prev: str | None = None
    for e in (e for e in events if e["step"]):
        allowed = d.start if prev is None else _targets(d, prev)
        verdict = ("not allowed here" if e["type"] not in allowed
                   else "late" if e.get("late") else "ok")
        rows.append({"expected": " | ".join(sorted(allowed)) or "(flow had ended)",
                     "actual": e["type"], "verdict": verdict, "at": e["at"],
                     "took_s": e.get("duration_s"), "deadline_s": e.get("deadline_s")})
        prev = e["type"]
    if prev is None or prev in d.terminal or not _targets(d, prev):
        return rows
    waiting = "stuck here" if status == "stuck" else "waiting"
    rows.append({"expected": " | ".join(sorted(_targets(d, prev))), "actual": None,
                 "verdict": waiting, "at": None, "took_s": None,
                 "deadline_s": _deadline(d, prev)})
    ahead = _to_success(d, prev)
    for before, kind in itertools.pairwise(ahead[1:]):
        rows.append({"expected": kind, "actual": None, "verdict": "pending", "at": None,
                     "took_s": None, "deadline_s": _deadline(d, before)})
    return rows


def _targets(d: FlowDefinition, kind: str) -> frozenset[str]:
    t = d.transition_from(kind)
    return frozenset() if t is None else t.targets


def _deadline(d: FlowDefinition, kind: str) -> float | None:
    t = d.transition_from(kind)
    return None if t is None else t.deadline.total_seconds()


def _to_success(d: FlowDefinition, start: str) -> list[str]:
    """The shortest path of transitions from ``start`` to a success event (``[start]`` alone
    when none is reachable), breadth first in name order for a stable answer."""
    parents: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node in d.success:
            path = [node]
            while (p := parents[path[-1]]) is not None:
                path.append(p)
            return path[::-1]
        for nxt in sorted(_targets(d, node)):
            if nxt not in parents:
                parents[nxt] = node
                queue.append(nxt)
    return [start]


def violations_of(store: Store, instance_id: str,
                  limit: int = MATCH_LIMIT) -> list[dict[str, Any]]:
    """Schema violations of a flow's events, with the failing field (a JSON Pointer)."""
    events = store.query(INSTANCE_EVENTS.format(columns="source, id") + " LIMIT 1000",
                         (instance_id, instance_id))
    if not events:
        return []
    sources = sorted({e["source"] for e in events})
    ids = sorted({e["id"] for e in events})
    wanted = {(e["source"], e["id"]) for e in events}
    where = f"source IN ({_marks(sources)}) AND id IN ({_marks(ids)})"
    sql = (f"SELECT {_VIOLATION_COLUMNS} FROM violations WHERE {where} "  # noqa: S608
           "ORDER BY occurred_at LIMIT ?")
    rows = store.query(sql, [*sources, *ids, limit])
    return [{"event_type": r["event_type"], "field": r["pointer"] or "/",
             "keyword": r["keyword"], "message": r["message"], "producer": r["producer"],
             "schema_version": r["schema_version"], "at": r["occurred_at"], "event_id": r["id"]}
            for r in rows if (r["source"], r["id"]) in wanted]


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


# -- timeline ----------------------------------------------------------------------------------


def timeline_rows(store: Store, correlation_id: str,
                  limit: int = TIMELINE_LIMIT) -> tuple[list[dict[str, Any]], int]:
    """The flow's events and spans as Gantt rows (start, end, lane), first ``limit`` of them,
    and how many there are in all."""
    tl: Timeline = timeline_for(store, correlation_id)
    rows = []
    for i, e in enumerate(tl.entries[:limit]):
        is_event = e.kind is EntryKind.EVENT
        status = None if e.span is None else e.span.status.value
        rows.append({
            "n": i, "lane": f"{i:03d} {e.label}", "kind": e.kind.value, "label": e.label,
            "service": e.service, "start": e.start, "end": e.end,
            "duration_ms": round(e.duration.total_seconds() * 1000, 3),
            "gap_ms": round(e.gap.total_seconds() * 1000, 3), "depth": e.depth,
            "status": "event" if is_event else status,
            "note": _note(e.unpaired, e.other_flow),
        })
    return rows, len(tl.entries)


def _note(unpaired: bool, other_flow: str | None) -> str:
    if other_flow is not None:
        return f"sent an event of flow {other_flow}"
    return "unpaired" if unpaired else ""
