"""``choreoscope timeline CORRELATION_ID``: a flow's events and the spans of every trace
touching it, in time order, with durations, gaps, and who produced and consumed each event."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, timedelta
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "timeline", help="a flow's events and spans in time order, by correlation id")
    p.add_argument("correlation_id", metavar="ID",
                   help="a correlation id, a business key (an order id), or a unique prefix of "
                        "a correlation or instance id (6 characters or more)")
    p.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    p.set_defaults(handler=_timeline)


def _timeline(args: argparse.Namespace) -> int:
    from collector.commands.flows import not_found
    from collector.flows.lookup import find_flow
    from collector.settings import load_settings
    from collector.store.base import open_store
    from collector.traces.query import timeline_for

    settings = load_settings(args.config, store=args.store)
    store = open_store(settings.store, read_only=True)
    try:
        lookup = find_flow(store, args.correlation_id)
        if lookup.correlation_id is None:
            return not_found(lookup)
        timeline = timeline_for(store, lookup.correlation_id)
    finally:
        store.close()
    if not timeline.entries:
        print(f"choreoscope: nothing stored for correlation id {lookup.correlation_id!r}",
              file=sys.stderr)
        return 1
    args.correlation_id = lookup.correlation_id
    rows = [_row(e) for e in timeline.entries]
    if args.json:
        sys.stdout.write("".join(json.dumps(r) + "\n" for r in rows))
        return 0
    print(f"{args.correlation_id}: {len(rows)} entries over {_ms(timeline.duration)} ms, "
          f"{_ms(timeline.idle)} ms idle, {len(timeline.trace_ids)} trace(s)")
    print(f"{'start (UTC)':<27}  {'gap ms':>10}  {'took ms':>9}     what")
    for r in rows:
        print(f"{r['start']}  +{r['gap_ms']:>9.1f}  {r['duration_ms']:>9.1f}     "
              f"{'  ' * r['depth']}{r['kind']:<5} {r['service']}: {r['label']}{r['note']}")
    return 0


def _ms(delta: timedelta) -> float:
    return round(delta.total_seconds() * 1000, 1)


def _row(entry: Any) -> dict[str, Any]:
    note = ""
    if entry.event is not None and entry.produced_by is not None:
        note = f"  (sent by span {entry.produced_by[1]})"
    elif entry.consumes:
        note = "  (consumed " + ", ".join(i.id for i in entry.consumes) + ")"
    elif entry.other_flow is not None:
        note = f"  (sent for flow {entry.other_flow})"
    elif entry.unpaired:
        note = "  (unpaired)"
    start = entry.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # fixed width
    return {"kind": entry.kind.value, "start": start, "depth": entry.depth,
            "duration_ms": _ms(entry.duration), "gap_ms": _ms(entry.gap),
            "service": entry.service, "label": entry.label, "note": note,
            "trace_id": entry.span.trace_id if entry.span is not None else None,
            "span_id": entry.span.span_id if entry.span is not None else None,
            "event_id": entry.event.id if entry.event is not None else None}
