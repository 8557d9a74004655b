"""Browse the flows of a store: by type, status, breach, violations, duration, time and the
events they hold, newest first or longest first, a page at a time.

The store edge behind ``choreoscope flows list`` and the dashboard's flow search. Each filter
is a clause over the ``flows`` table (by the start-time index, ``flows_started``), the event
filters an ``EXISTS`` through the events' correlation index; every query carries a LIMIT.
An open flow's duration and amount over are measured to ``at`` (now live, the detection clock
for a stored history: `collector.flows.query.measured_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from collector.flows.definition import FlowDefinition
from collector.flows.query import over_sql
from collector.store._time import to_text
from collector.store.base import Store

__all__ = ["SORTS", "STATUSES", "FlowFilter", "list_flows"]

STATUSES = ("running", "completed", "failed", "compensated", "stuck")
SORTS = ("started", "duration")
Sort = Literal["started", "duration"]


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """What to list; ``None`` (or empty) leaves a filter out."""

    flow_type: str | None = None
    statuses: tuple[str, ...] = ()
    breached: bool | None = None
    """True: only flows that broke their SLA or a step deadline; False: only those that did not."""
    violations: bool | None = None
    """True: only flows with a schema violation in their events; False: only those without."""
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    since: datetime | None = None
    """Started at or after."""
    until: datetime | None = None
    """Started before."""
    event_type: str | None = None
    """Only flows holding an event of this type."""
    service: str | None = None
    """Only flows holding an event this service (the event's source) produced."""
    sort: Sort = "started"
    """``started``: newest first; ``duration``: longest first."""
    limit: int = 50


_DURATION = "(julianday(COALESCE(f.ended_at, ?)) - julianday(f.started_at)) * 86400.0"
_VIOLATED = ("EXISTS (SELECT 1 FROM events e JOIN violations v ON v.source = e.source AND "
             "v.id = e.id WHERE e.correlation_id = f.correlation_id)")


def list_flows(store: Store, f: FlowFilter, *, at: datetime,
               definitions: Sequence[FlowDefinition] = ()) -> list[dict[str, Any]]:
    """The flows ``f`` selects, at most ``f.limit``: correlation and instance id, type,
    status, start, end, duration (an open flow's to ``at``), events, whether breached
    and by how much."""
    when = to_text(at)
    over, over_params = over_sql(at, definitions)
    where, params = _where(store, f, when)
    order = "started_at DESC" if f.sort == "started" else "duration_s DESC, started_at DESC"
    sql = (f"SELECT f.correlation_id, f.instance_id, f.flow_type, f.status, f.started_at, "  # noqa: S608
           f"f.ended_at, ROUND({_DURATION}, 3) AS duration_s, f.event_count AS events, "
           f"f.sla_breached, {over} AS over_s, f.stuck_step, f.last_event_type "
           f"FROM flows f WHERE {where} ORDER BY {order} LIMIT ?")
    rows = store.query(sql, [when, *over_params, *params, f.limit])
    for r in rows:
        r["sla_breached"] = bool(r["sla_breached"])
        if not r["sla_breached"]:
            r["over_s"] = None
    return rows


RARE = 5000
"""Fewer events than this of a type (or a service): the flows are found from those events
(their index), not by testing every flow newest first until a page is full."""


def _holding(store: Store, column: str, value: str) -> tuple[str, list[Any]]:
    """The clause for "holds an event whose ``column`` is ``value``" (type or source)."""
    n = store.query(f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE {column} = ? "  # noqa: S608
                    "LIMIT ?) AS found", (value, RARE))[0]["n"]
    if n < RARE:
        return (f"f.correlation_id IN (SELECT e.correlation_id FROM events e "  # noqa: S608
                f"WHERE e.{column} = ?)", [value])
    # +: by the flow's own events (the correlation index), not every event of that value
    return (f"EXISTS (SELECT 1 FROM events e WHERE e.correlation_id = f.correlation_id "  # noqa: S608
            f"AND +e.{column} = ?)", [value])


def _where(store: Store, f: FlowFilter, when: str) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        clauses.append(clause)
        params.extend(values)

    if f.flow_type is not None:
        add("f.flow_type = ?", f.flow_type)
    if f.statuses:
        add(f"f.status IN ({','.join('?' * len(f.statuses))})", *f.statuses)
    if f.breached is not None:
        add("f.sla_breached = ?", int(f.breached))
    if f.since is not None:
        add("f.started_at >= ?", to_text(f.since))
    if f.until is not None:
        add("f.started_at < ?", to_text(f.until))
    if f.min_duration_s is not None:
        add(f"{_DURATION} >= ?", when, f.min_duration_s)
    if f.max_duration_s is not None:
        add(f"{_DURATION} <= ?", when, f.max_duration_s)
    for column, value in (("type", f.event_type), ("source", f.service)):
        if value is not None:
            clause, values = _holding(store, column, value)
            add(clause, *values)
    if f.violations is not None:
        add(_VIOLATED if f.violations else f"NOT {_VIOLATED}")
    return " AND ".join(clauses), params
