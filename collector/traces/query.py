"""Spans read back from the store, and a flow's timeline built from them.

The only I/O of `collector.traces`: read-only queries through `Store.query`. The traces that
touch a flow are those its events' traceparents name, plus those with a span linking into one
of them (a batch consumer's own trace); links are followed that one step only, since a batch
span also links to other flows' messages and their traces are not this flow's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from collector.model import Event, Span, SpanKind, SpanLink, SpanStatus
from collector.store._time import from_text
from collector.store.base import Store
from collector.traces.join import SpanKey
from collector.traces.messaging import messaging_of
from collector.traces.timeline import Timeline, build_timeline

__all__ = [
    "consumers_at",
    "flows_sent_from",
    "span_from_row",
    "spans_of_traces",
    "timeline_for",
    "traces_linking_into",
]

_CHUNK = 500


def timeline_for(store: Store, correlation_id: str) -> Timeline:
    """The timeline of every stored event with this correlation id and the spans of every
    stored trace touching them."""
    events = store.events_by_correlation(correlation_id)
    traces = {e.trace_id for e in events if e.trace_id is not None}
    traces |= traces_linking_into(store, traces)
    traces |= {s.trace_id for s in consumers_at(store, events)}
    spans = spans_of_traces(store, traces)
    # other flows' events sent from these spans: only spans are named, so none without spans
    # (and a SQLite store keeps no trace index without spans: the query would read every event)
    elsewhere = {key: flow for key, flow in flows_sent_from(store, traces).items()
                 if flow != correlation_id} if spans else {}
    return build_timeline(correlation_id, events, spans, elsewhere)


def spans_of_traces(store: Store, trace_ids: Iterable[str]) -> list[Span]:
    spans: list[Span] = []
    for chunk in _chunks(sorted(set(trace_ids))):
        marks = ",".join("?" * len(chunk))
        rows = store.query(f"SELECT * FROM spans WHERE trace_id IN ({marks})"  # noqa: S608
                           " ORDER BY start_at, trace_id, span_id", chunk)
        spans.extend(span_from_row(r) for r in rows)
    return spans


def traces_linking_into(store: Store, trace_ids: Iterable[str]) -> set[str]:
    """Traces with a span that links to a span of one of these traces."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(trace_ids))):
        marks = ",".join("?" * len(chunk))
        rows = store.query("SELECT DISTINCT trace_id FROM span_links"  # noqa: S608
                           f" WHERE linked_trace_id IN ({marks})", chunk)
        found.update(str(r["trace_id"]) for r in rows)
    return found


_OFFSET = ("COALESCE(json_extract(attributes, '$.\"messaging.kafka.offset\"'), "
           "json_extract(attributes, '$.\"messaging.kafka.message.offset\"'))")
"""The expression of migration 042's index, verbatim, so that the planner uses it."""


def consumers_at(store: Store, events: Iterable[Event]) -> list[Span]:
    """Consumer spans whose messaging attributes name an event's topic, partition and offset
    (found even when no trace context travelled with the record)."""
    wanted = {(e.location.topic, e.location.partition, e.location.offset) for e in events
              if e.location.offset is not None and e.location.topic is not None}
    found: list[Span] = []
    for chunk in _chunks(sorted({str(offset) for _, _, offset in wanted})):
        marks = ",".join("?" * len(chunk))
        rows = store.query(f"SELECT * FROM spans WHERE kind = 'consumer' AND {_OFFSET}"  # noqa: S608
                           f" IN ({marks})", [int(o) for o in chunk])
        for span in map(span_from_row, rows):
            info = messaging_of(span)
            if info is not None and (info.destination, info.partition, info.offset) in wanted:
                found.append(span)
    return found


def flows_sent_from(store: Store, trace_ids: Iterable[str]) -> dict[SpanKey, str]:
    """The correlation id of each stored event sent from a span of these traces, by span."""
    found: dict[SpanKey, str] = {}
    for chunk in _chunks(sorted(set(trace_ids))):
        marks = ",".join("?" * len(chunk))
        rows = store.query("SELECT DISTINCT trace_id, span_id, correlation_id FROM events"  # noqa: S608
                           f" WHERE trace_id IN ({marks}) AND span_id IS NOT NULL", chunk)
        found.update(((r["trace_id"], r["span_id"]), r["correlation_id"]) for r in rows)
    return found


def span_from_row(row: dict[str, Any]) -> Span:
    return Span(
        trace_id=row["trace_id"], span_id=row["span_id"], parent_id=row["parent_id"],
        name=row["name"], kind=SpanKind(row["kind"]), service=row["service"],
        start=from_text(row["start_at"]), end=from_text(row["end_at"]),
        status=SpanStatus(row["status"]), status_message=row["status_message"],
        links=tuple(SpanLink(t, s, a) for t, s, a in orjson.loads(row["links"])),
        attributes=orjson.loads(row["attributes"]), scope=row["scope"],
    )


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield list(items[i:i + _CHUNK])
