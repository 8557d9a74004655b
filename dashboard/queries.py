"""Read-only queries behind the dashboard's pages. No Streamlit here: values in, values out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.model import Event, FlowSnapshot
from collector.store import Store

__all__ = ["FlowMatch", "Overview", "find_flows", "overview"]

SEARCH_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Overview:
    events: int
    flows: int
    dead_letters: int
    events_by_type: list[dict[str, Any]]
    flows_by_status: list[dict[str, Any]]


def overview(store: Store) -> Overview:
    """Counts of events by type and of flows by type and status."""
    by_type = store.query(
        "SELECT type AS event_type, COUNT(*) AS events FROM events GROUP BY type "
        "ORDER BY events DESC")
    by_status = store.query(
        "SELECT flow_type, status, COUNT(*) AS flows FROM flows GROUP BY flow_type, status "
        "ORDER BY flow_type, status")
    dead = store.query("SELECT COUNT(*) AS n FROM dead_letters")[0]["n"]
    return Overview(
        events=sum(int(r["events"]) for r in by_type),
        flows=sum(int(r["flows"]) for r in by_status),
        dead_letters=int(dead),
        events_by_type=by_type,
        flows_by_status=by_status,
    )


@dataclass(frozen=True, slots=True)
class FlowMatch:
    correlation_id: str
    flows: list[FlowSnapshot]
    events: list[Event]


def find_flows(store: Store, correlation_id: str) -> FlowMatch | None:
    """The flows and events of a correlation id, or None when nothing has it."""
    key = correlation_id.strip()
    if not key:
        return None
    events = store.events_by_correlation(key)
    flows = store.flows_by_correlation(key)
    if not events and not flows:
        return None
    return FlowMatch(key, flows, events)


def nearest_correlation_ids(store: Store, prefix: str, limit: int = SEARCH_LIMIT) -> list[str]:
    """Correlation ids starting with ``prefix``, for 'did you mean'."""
    rows = store.query(
        "SELECT DISTINCT correlation_id FROM flows WHERE correlation_id >= ? "
        "AND correlation_id < ? ORDER BY correlation_id LIMIT ?",
        (prefix, prefix + "\U0010ffff", limit))
    return [r["correlation_id"] for r in rows]
