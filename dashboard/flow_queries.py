"""One flow, found and explained: the queries behind the flow search page.

No Streamlit here: each function takes the `Store` (read-only) and returns plain values. Every
query goes by an index (correlation id, instance id, business key name and value, the
violations' event identity) and carries a LIMIT, so a search costs the same on any store size.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.flows.definition import FlowDefinition
from collector.flows.query import show
from collector.humanize import format_duration, format_time
from collector.model import Event
from collector.store import Store
from collector.store._time import to_text
from collector.store.sqlite import INSTANCE_EVENTS
from collector.traces.query import timeline_for
from collector.traces.timeline import EntryKind, Timeline, TimelineEntry

__all__ = [
    "FlowDetail",
    "Waterfall",
    "business_key_matches",
    "compare_path",
    "flow_details",
    "prefix_matches",
    "violations_of",
    "waterfall",
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


# -- waterfall ---------------------------------------------------------------------------------

MIN_WIDTH_SHARE = 0.006
"""The narrowest bar, as a share of the axis: a 2 ms span on a 14 s axis stays visible."""


@dataclass(frozen=True, slots=True)
class Waterfall:
    """A flow's events and spans as rows (``from_s``/``to_s`` from the first entry, ``to_s``
    widened to the minimum width; ``detail`` for the panel), the gaps between consecutive
    steps, the labelled deadline and SLA marks, and how many entries there are in all."""

    rows: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    marks: list[dict[str, Any]]
    total: int

    @property
    def axis_s(self) -> float:
        return float(max([0.0, *(r["to_s"] for r in self.rows),
                          *(m["at_s"] for m in self.marks)]))


def waterfall(store: Store, correlation_id: str, details: Sequence[FlowDetail] = (),
              definitions: Sequence[FlowDefinition] = (),
              limit: int = TIMELINE_LIMIT) -> Waterfall:
    """The flow's waterfall: every entry visible whatever its duration, the gap before each
    step, the step deadline and SLA marks of its instances (``details``)."""
    tl: Timeline = timeline_for(store, correlation_id)
    entries = tl.entries[:limit]
    if not entries:
        return Waterfall([], [], [], 0)
    t0 = entries[0].start
    rows = [_row(i, e, t0) for i, e in enumerate(entries)]
    end = max(r["to_s"] for r in rows)
    marks = [m for m in _deadline_marks(details, definitions, t0)
             if m["open"] or m["at_s"] <= end]  # an ended flow's SLA only when it was broken
    axis = max([end] + [m["at_s"] for m in marks])
    least = axis * MIN_WIDTH_SHARE
    for r in rows:
        if r["kind"] == "span":
            r["to_s"] = max(r["to_s"], r["from_s"] + least)
    return Waterfall(rows, _gaps(rows, details), marks, len(tl.entries))


def _row(i: int, e: TimelineEntry, t0: datetime) -> dict[str, Any]:
    is_event = e.kind is EntryKind.EVENT
    return {
        "n": i, "lane": f"{i + 1:03d} {e.label}", "kind": e.kind.value, "label": e.label,
        "service": e.service, "start": e.start, "end": e.end,
        "from_s": (e.start - t0).total_seconds(), "to_s": (e.end - t0).total_seconds(),
        "took": format_duration(e.duration.total_seconds()) if not is_event else "instant",
        "gap": format_duration(e.gap.total_seconds()) if e.gap.total_seconds() else "",
        "depth": e.depth,
        "status": "event" if is_event or e.span is None else e.span.status.value,
        "note": _note(e.unpaired, e.other_flow),
        "detail": _event_detail(e.event) if e.event is not None else _span_detail(e),
    }


def _event_detail(e: Event) -> dict[str, Any]:
    loc = e.location
    return {
        "what": "event", "type": e.type, "id": e.id, "source": e.source,
        "occurred at": format_time(e.occurred_at), "received at": format_time(e.received_at),
        "schema": e.dataschema or "", "subject": e.subject or "",
        "causation id": e.causation_id or "", "trace id": e.trace_id or "",
        "span id": e.span_id or "",
        "where": " · ".join(str(x) for x in (loc.topic, loc.partition, loc.offset)
                            if x is not None) or loc.source,
        "key": e.key or "", "headers": dict(e.headers),
        "business keys": dict(e.business_keys),
        "payload": _shown(e.data),
    }


def _shown(data: Any) -> Any:
    """A payload as the panel's ``st.json`` shows it: a text payload (``text/*`` content, or a
    JSON string) serialized, as ``st.json`` reads a string as JSON text; non-JSON content
    (bytes) as a short description."""
    if type(data) is bytes:
        data = f"{len(data)} bytes of non-JSON content: {data[:64].hex(' ')}"
    return json.dumps(data, ensure_ascii=False) if type(data) is str else data


def _span_detail(entry: TimelineEntry) -> dict[str, Any]:
    sp = entry.span
    if sp is None:
        return {"what": "span"}
    return {
        "what": "span", "name": sp.name, "service": sp.service, "kind": sp.kind.value,
        "status": sp.status.value + (f": {sp.status_message}" if sp.status_message else ""),
        "trace id": sp.trace_id, "span id": sp.span_id, "parent span id": sp.parent_id or "",
        "start": format_time(sp.start), "took": format_duration(sp.duration.total_seconds()),
        "scope": sp.scope, "attributes": {k: _plain(v) for k, v in sp.attributes.items()},
        "links": [{"trace id": link.trace_id, "span id": link.span_id,
                   **{k: _plain(v) for k, v in link.attributes.items()}} for link in sp.links],
        "consumes": [i.id for i in entry.consumes],
    }


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _gaps(rows: list[dict[str, Any]], details: Sequence[FlowDetail]) -> list[dict[str, Any]]:
    """Between consecutive steps of each instance: from the earlier step's time to the later
    one's, on the later one's row, labelled with its length."""
    steps = {(e["type"], e["at"]) for d in details for e in d.flow["events"] if e["step"]}
    at_row = [r for r in rows if r["kind"] == "event"
              and (r["label"], to_text(r["start"])) in steps]
    out = []
    for before, after in itertools.pairwise(at_row):
        length = after["from_s"] - before["from_s"]
        if length > 0:
            out.append({"lane": after["lane"], "from_s": before["from_s"],
                        "to_s": after["from_s"], "mid_s": (before["from_s"] + after["from_s"]) / 2,
                        "text": format_duration(length)})
    return out


def _deadline_marks(details: Sequence[FlowDetail], definitions: Sequence[FlowDefinition],
           t0: datetime) -> list[dict[str, Any]]:
    """The SLA of each instance (start + SLA) and its next or missed step deadline."""
    by_version = {(d.flow_type, d.version): d for d in definitions}
    out = []
    for detail in details:
        f = detail.flow
        started = datetime.fromisoformat(f["started_at"])
        d = by_version.get((f["flow_type"], f["definition_version"]))
        if d is not None:
            sla = started + d.sla
            out.append({"at_s": (sla - t0).total_seconds(), "kind": "SLA",
                        "open": f["ended_at"] is None,
                        "text": f"SLA {format_duration(d.sla.total_seconds())}"})
        deadline = f["stuck_since"] if f["status"] == "stuck" else f["next_deadline"]
        if deadline is not None and f["ended_at"] is None:
            when = datetime.fromisoformat(deadline)
            nxt = " or ".join(f["expected_next"]) or "next step"
            out.append({"at_s": (when - t0).total_seconds(), "kind": "deadline",
                        "open": True, "text": f"deadline: {nxt}"})
    return out


def _note(unpaired: bool, other_flow: str | None) -> str:
    if other_flow is not None:
        return f"sent an event of flow {other_flow}"
    return "unpaired" if unpaired else ""
