"""``choreoscope flows show|stuck|breaches|variants|settle``: the flows in a store."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from collector.commands._args import at_least
from collector.exceptions import ConfigError
from collector.humanize import format_duration, format_overdue, format_time

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "flows", help="flow instances: show one, list stuck flows and SLA breaches, variants")
    sub = p.add_subparsers(dest="flows_command", metavar="ACTION", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = sub.add_parser(name, help=help)
        a.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
        a.add_argument("--json", action="store_true", help="print JSON instead of a table")
        return a

    show = action("show", "one flow by correlation id, business key or id prefix, with its "
                          "events")
    show.add_argument("id", metavar="ID", help="a correlation id, a business key (an order id), "
                                               "or a unique prefix of a correlation or instance "
                                               "id (6 characters or more)")
    show.add_argument("--at", metavar="TIME",
                      help="time left measured at TIME (default now, or the detection clock a "
                           "stored history last reached)")
    show.set_defaults(handler=_show)
    for name, help, handler in (("stuck", "flows stuck now, with the step", _stuck),
                                ("breaches", "flows that broke a deadline or SLA", _breaches)):
        a = action(name, help)
        a.add_argument("--flow-type", help="only this flow type")
        a.add_argument("--at", metavar="TIME",
                       help="measure how long stuck and how far over at TIME (default now, or "
                            "the detection clock a stored history last reached)")
        a.set_defaults(handler=handler)
    listing = action("list", "flows by type, status, breach, duration and time, newest first")
    _list_arguments(listing)
    listing.set_defaults(handler=_list)
    variants = action("variants", "paths the flows really take, and directly-follows counts")
    variants.add_argument("--flow-type", help="only this flow type")
    variants.add_argument("--limit", type=at_least(1), default=20, help="variants per flow type")
    variants.set_defaults(handler=_variants)
    settle = action("settle", "advance the detection clock of a stored history to TIME")
    settle.add_argument("--at", required=True, metavar="TIME",
                        help="ISO 8601 time with a UTC offset, e.g. 2026-01-01T12:00:00Z")
    settle.set_defaults(handler=_settle)
    imp = action("import", "replay an XES event log into the store as events (and flows)")
    imp.add_argument("file", metavar="FILE", help="an XES log, plain or gzip (.xes, .xes.gz)")
    imp.add_argument("--source", help="the producer named in each event's identity "
                                      "(default: the file's name)")
    imp.set_defaults(handler=_import)
    publish = sub.add_parser("publish", help="send the alert outbox to Kafka and/or a webhook")
    publish.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    publish.add_argument("--topic", help="Kafka topic for alerts (alerts.topic)")
    publish.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                         help="Kafka cluster (kafka.bootstrap_servers)")
    publish.add_argument("--webhook", metavar="URL",
                         help="POST each alert here (alerts.webhook_url)")
    publish.add_argument("--once", action="store_true",
                         help="send what is pending and exit (default: keep sending until Ctrl-C)")
    publish.set_defaults(handler=_publish)


def _list_arguments(a: argparse.ArgumentParser) -> None:
    from collector.flows.listing import SORTS, STATUSES

    a.add_argument("--flow-type", help="only this flow type")
    a.add_argument("--status", action="append", choices=STATUSES, default=[],
                   help="only flows with this status (repeatable)")
    a.add_argument("--breached", action="store_true",
                   help="only flows that broke their SLA or a step deadline")
    a.add_argument("--violations", action="store_true",
                   help="only flows with a schema violation in their events")
    a.add_argument("--min-duration", metavar="DURATION",
                   help="only flows that took at least this long (so far), e.g. 30s, 2min, 1h")
    a.add_argument("--max-duration", metavar="DURATION",
                   help="only flows that took at most this long (so far), e.g. 500ms, 45s")
    a.add_argument("--since", metavar="TIME", help="only flows started at or after TIME "
                                                   "(ISO 8601 with a UTC offset)")
    a.add_argument("--until", metavar="TIME", help="only flows started before TIME")
    a.add_argument("--event-type", help="only flows holding an event of this type")
    a.add_argument("--service", help="only flows holding an event this service produced")
    a.add_argument("--sort", choices=SORTS, default="started",
                   help="started: newest first (default); duration: longest first")
    a.add_argument("--limit", type=at_least(1), default=50, metavar="N",
                   help="page size: at most N flows (default 50)")
    a.add_argument("--at", metavar="TIME",
                   help="measure open flows' durations at TIME (default now, or the detection "
                        "clock a stored history last reached)")


_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _duration(text: str | None, flag: str) -> float | None:
    """``90``, ``90s``, ``2min``, ``1.5h``, ``500ms`` in seconds."""
    import re

    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-z]*)\s*", text.lower())
    if m is None or m.group(2) not in ("", *_UNITS):
        raise ConfigError(flag, text, "a duration such as 45s, 2min, 1h or 500ms")
    return float(m.group(1)) * _UNITS.get(m.group(2), 1.0)


def _context(args: argparse.Namespace, *, read_only: bool = True) -> tuple[Any, Any]:
    from collector.flows.definition import load_definitions
    from collector.settings import load_settings, require_schemas_dir
    from collector.store.base import open_store

    settings = load_settings(args.config, store=args.store)
    folder = require_schemas_dir(settings) / "flows"
    definitions = load_definitions([folder]) if folder.is_dir() else ()
    return open_store(settings.store, read_only=read_only), definitions


def _now() -> datetime:
    return datetime.now(UTC)  # the CLI is an edge: "now" for how long a flow has been stuck


def _measured(args: argparse.Namespace, store: Any) -> datetime:
    """``--at`` if given; else now for a live store, or the detection clock a stored history
    last reached (`collector.flows.query.measured_at`)."""
    from collector.flows.query import measured_at

    if args.at is not None:
        return _time(args.at)
    return measured_at(store, _now())[0]


def _time(text: str | None, flag: str = "--at") -> datetime:
    """A time given on the command line (with a UTC offset), or now."""
    if text is None:
        return _now()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(flag, text, "an ISO 8601 time such as 2026-01-01T12:00:00Z") from None
    if at.tzinfo is None:
        raise ConfigError(flag, text, "a time with a UTC offset (Z or +HH:MM)")
    return at


def _emit(args: argparse.Namespace, value: Any, table: list[str]) -> int:
    if args.json:
        sys.stdout.write(json.dumps(value, indent=None if isinstance(value, list) else 2,
                                    default=str) + "\n")
    else:
        sys.stdout.write("\n".join(table) + ("\n" if table else ""))
    return 0


def _show(args: argparse.Namespace) -> int:
    from collector.flows.lookup import find_flow
    from collector.flows.query import show

    store, definitions = _context(args)
    try:
        lookup = find_flow(store, args.id)
        found = [] if not lookup.found else show(
            store, lookup.instance_id or lookup.correlation_id or "", definitions,
            now=_measured(args, store))
    finally:
        store.close()
    if not found:
        return not_found(lookup)
    if lookup.how != "correlation id":
        print(f"{args.id!r} is the {lookup.how} of flow {lookup.correlation_id}",
              file=sys.stderr)
    lines: list[str] = []
    for f in found:
        lines.append(f"{f['flow_type']} v{f['definition_version']} {f['instance_id']} "
                     f"(correlation {f['correlation_id']}): {f['status']}"
                     + (" (recovered)" if f["recovered"] else ""))
        if f["stuck_step"]:
            lines.append(f"  stuck after {f['stuck_step']} since {f['stuck_since']}")
        if f["sla_breached"]:
            lines.append(f"  SLA breached, over by {format_duration(f['sla_over_s'])}")
        if f["time_left_s"] is not None:
            left = format_overdue(-f["overdue_s"] if f["overdue_s"] else f["time_left_s"])
            lines.append(f"  next: {', '.join(f['expected_next'])} by {f['next_deadline']} "
                         f"({left})")
        for e in f["events"]:
            took = f" +{e['duration_s']:.3f} s" if "duration_s" in e else ""
            late = " LATE" if e.get("late") else ""
            lines.append(f"  {e['at']}  {e['type']}{took}{late}")
        lines.extend(f"  deviation: {d['kind']} {d['event_type']} after {d['after']}"
                     for d in f["deviations"])
    return _emit(args, found if len(found) > 1 else found[0], lines)


def not_found(lookup: Any) -> int:
    """Exit 1 saying why no one flow is shown: the candidates of an ambiguous id, or the
    nearest ids of an unknown one (a `collector.flows.lookup.Lookup`)."""
    if lookup.candidates:
        print(f"choreoscope: {lookup.text!r} names {len(lookup.candidates)} flows; give one of "
              "these correlation ids:", file=sys.stderr)
        for c in lookup.candidates:
            print(f"  {c['correlation_id']}\t{c['flow_type'] or '-'}\t{c['status'] or '-'}\t"
                  f"{c['matched']}", file=sys.stderr)
        return 1
    near = f"; nearest: {', '.join(lookup.nearest[:5])}" if lookup.nearest else ""
    print(f"choreoscope: no flow with correlation id, business key or id prefix "
          f"{lookup.text!r}{near}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    from collector.flows.listing import FlowFilter, list_flows

    wanted = FlowFilter(
        flow_type=args.flow_type, statuses=tuple(args.status),
        breached=True if args.breached else None, violations=True if args.violations else None,
        min_duration_s=_duration(args.min_duration, "--min-duration"),
        max_duration_s=_duration(args.max_duration, "--max-duration"),
        since=None if args.since is None else _time(args.since, "--since"),
        until=None if args.until is None else _time(args.until, "--until"),
        event_type=args.event_type, service=args.service, sort=args.sort, limit=args.limit)
    store, definitions = _context(args)
    try:
        rows = list_flows(store, wanted, at=_measured(args, store), definitions=definitions)
    finally:
        store.close()
    if args.json:
        return _emit(args, rows, [])
    if not rows:
        return _emit(args, rows, ["no flows match"])
    lines = ["CORRELATION ID\tFLOW TYPE\tSTATUS\tSTARTED (UTC)\tDURATION\tEVENTS\tSLA"]
    lines += [f"{r['correlation_id']}\t{r['flow_type']}\t{r['status']}\t"
              f"{format_time(r['started_at'], with_zone=False)}\t"
              f"{format_duration(r['duration_s'])}\t{r['events']}\t"
              f"{'over by ' + format_duration(r['over_s']) if r['sla_breached'] else 'met'}"
              for r in rows]
    return _emit(args, rows, lines)


def _stuck(args: argparse.Namespace) -> int:
    from collector.flows.query import stuck

    store, _ = _context(args)
    try:
        rows = stuck(store, now=_measured(args, store), flow_type=args.flow_type)
    finally:
        store.close()
    lines = [f"{r['correlation_id']}\t{r['flow_type']}\t{r['step']}\t"
             f"{format_time(r['stuck_since'], with_zone=False)}\t"
             f"{format_duration(r['stuck_for_s'])}" for r in rows]
    header = "CORRELATION ID\tFLOW TYPE\tWAITING AFTER\tSTUCK SINCE (UTC)\tSTUCK FOR"
    return _emit(args, rows, [header, *lines] if lines else ["no stuck flows"])


def _breaches(args: argparse.Namespace) -> int:
    from collector.flows.query import breaches

    store, definitions = _context(args)
    try:
        rows = breaches(store, at=_measured(args, store), definitions=definitions,
                        flow_type=args.flow_type)
    finally:
        store.close()
    lines = [f"{r['correlation_id']}\t{r['flow_type']}\t{r['step']}\t"
             f"over by {format_duration(r['over_s'])}\t{r['status']}" for r in rows]
    header = "CORRELATION ID\tFLOW TYPE\tWAITING AFTER\tAMOUNT OVER\tSTATUS NOW"
    return _emit(args, rows, [header, *lines] if lines else ["no SLA breaches"])


def _variants(args: argparse.Namespace) -> int:
    from collector.flows.query import discover

    store, definitions = _context(args)
    try:
        report = discover(store, definitions, flow_type=args.flow_type)
    finally:
        store.close()
    from collector.flows.discovery import deviation_summary, deviations

    latest = {d.flow_type: d for d in definitions}  # sorted by version: the newest wins
    out: dict[str, Any] = {}
    lines: list[str] = []
    for ft, r in report.items():
        d = latest.get(ft)
        found = deviation_summary(r, d) if d is not None else []
        out[ft] = {
            "cases": r.cases, "events": r.events,
            "variants": [{"path": list(v.path), "count": v.count, "share": round(v.share, 6),
                          "deviations": [] if d is None else [
                              {"kind": x.kind, "event_type": x.event_type, "after": x.after}
                              for x in deviations(v.path, d)]}
                         for v in r.variants[:args.limit]],
            "deviations": [{"kind": k, "event_type": t, "after": a, "flows": n}
                           for k, t, a, n in found],
            "variant_count": len(r.variants),
            "edges": [{"from": e.source, "to": e.target, "count": e.count, "p50_s": e.p50_s,
                       "p95_s": e.p95_s, "p99_s": e.p99_s} for e in r.edges],
        }
        lines.append(f"{ft}: {r.cases} flows, {len(r.variants)} variants")
        lines.extend(f"  {v.count:>7}  {v.share:6.1%}  {' -> '.join(v.path)}"
                     for v in r.variants[:args.limit])
        lines.extend(f"  deviation in {n} flows: {k} {t} after {a}" for k, t, a, n in found)
    return _emit(args, out, lines or ["no events"])


def _settle(args: argparse.Namespace) -> int:
    from collector.flows.query import settle

    at = _time(args.at)
    store, definitions = _context(args, read_only=False)
    try:
        result = settle(store, definitions, at)
    finally:
        store.close()
    value = {"at": at.isoformat(), "open_before": result.open_before,
             "changed": result.changed, "stuck": result.stuck, "breached": result.breached,
             "alerts": result.alerts}
    return _emit(args, value, [
        f"settled at {at.isoformat()}: {result.open_before} open flows, {result.changed} "
        f"changed, {result.stuck} stuck, {result.breached} breached, {result.alerts} alerts"])


def _publish(args: argparse.Namespace) -> int:
    import logging
    import time

    from collector.flows.publish import PublishFailed, build_publisher
    from collector.settings import load_settings
    from collector.store.base import open_store

    settings = load_settings(args.config, store=args.store,
                             alerts={"topic": args.topic, "webhook_url": args.webhook},
                             kafka={"bootstrap_servers": args.bootstrap_servers})
    store = open_store(settings.store)
    try:
        publisher = build_publisher(settings, store, now=_now)
        if publisher is None:
            raise ConfigError("alerts.topic", None, "a Kafka topic (--topic) or a webhook URL "
                              "(--webhook) to publish alerts to")
        log = logging.getLogger(__name__)
        try:
            while True:
                try:
                    publisher.drain()
                except PublishFailed as exc:
                    if args.once:
                        raise
                    log.warning("alerts not sent, retrying: %s", exc)
                if args.once:
                    break
                time.sleep(settings.alerts.publish_every_s)
        finally:
            publisher.close()  # the Kafka sink's producer flushes and lets go of its connections
    finally:
        store.close()
    waited = "" if publisher.sender else (
        " (another process is the store's alert sender and sends them)")
    print(f"published {publisher.sent} alerts{waited}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from collector.flows.query import import_events
    from collector.xes import read_xes

    store, definitions = _context(args, read_only=False)
    try:
        events = read_xes(args.file, received_at=_now(), source=args.source)
        result = import_events(store, definitions, events)
    finally:
        store.close()
    value = {"file": args.file, **result}
    return _emit(args, value, [
        f"imported {result['events']} events of {result['correlation_ids']} correlation ids; "
        f"{result['flows']} flow instances"])
