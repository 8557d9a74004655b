"""``choreoscope messages``: browse a topic's stored records, newest first, like a topic browser
(over the store: no consumer on the cluster). Filters by time, partition, offset range, key,
header, event type, correlation id, producing service and payload text; ``--json`` for scripts;
``--partitions`` says which offsets and times the store holds of each partition.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.messages import Message, MessageFilter, PartitionSpan
    from collector.store.base import Store

__all__ = ["register"]

_DURATION = re.compile(r"^(\d+)\s*(s|m|min|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days"}


class _BadInput(ValueError):
    pass


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "messages", help="browse a topic's stored messages (key, headers, partition, offset)",
        description="A topic's stored messages, newest first: events and dead letters with "
        "their partition, offset, time, key, headers, type, correlation id and status. Times "
        "are UTC.")
    p.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    p.add_argument("--topic", help="the topic to browse (without it: the stored topics)")
    p.add_argument("--since", metavar="TIME", help="from this time, ISO 8601 with a zone")
    p.add_argument("--until", metavar="TIME", help="before this time, ISO 8601 with a zone")
    p.add_argument("--last", metavar="DURATION",
                   help="the last DURATION before the newest message (30m, 1h, 7d)")
    p.add_argument("--partition", type=int, help="only this partition")
    p.add_argument("--offset-from", type=int, metavar="N", help="offsets from N (inclusive)")
    p.add_argument("--offset-to", type=int, metavar="N", help="offsets up to N (inclusive)")
    p.add_argument("--key", help="only records with exactly this key")
    p.add_argument("--header", metavar="NAME[=VALUE]",
                   help="only records with this header (and exactly this value); without "
                   "a window, key or offsets: within the topic's last hour")
    p.add_argument("--type", dest="event_type", metavar="EVENT_TYPE",
                   help="only events of this type")
    p.add_argument("--correlation-id", help="only the events of this correlation id")
    p.add_argument("--source", metavar="SERVICE",
                   help="only events this service produced (their CloudEvents source)")
    p.add_argument("--text", help="text in the payload (within the window; default: the "
                   "topic's last hour)")
    p.add_argument("--limit", type=int, default=50, help="at most this many messages "
                   "(default 50, at most 1000)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per message, with its payload as stored")
    p.add_argument("--partitions", action="store_true",
                   help="what the store holds of each partition instead of messages")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from collector.messages import MAX_LIMIT
    from collector.settings import load_settings
    from collector.store.base import open_store

    if not 1 <= args.limit <= MAX_LIMIT:
        return _fail(f"--limit {args.limit}: expected 1 to {MAX_LIMIT}")
    settings = load_settings(args.config, store=args.store)
    store = open_store(settings.store, read_only=True)
    try:
        if args.topic is None:
            return _list_topics(store, args)
        if args.partitions:
            return _partitions(store, args)
        return _messages(store, args)
    except _BadInput as exc:
        return _fail(str(exc))
    finally:
        store.close()


def _fail(message: str) -> int:
    print(f"choreoscope messages: {message}", file=sys.stderr)
    return 2


def _list_topics(store: Store, args: argparse.Namespace) -> int:
    import orjson

    from collector.messages import topics

    names = topics(store)
    if args.json:
        for name in names:
            sys.stdout.write(orjson.dumps({"topic": name}).decode() + "\n")
    else:
        print("stored topics (choose one with --topic):" if names else "no stored topics")
        for name in names:
            print(f"  {name}")
    return 0


def _time(text: str, flag: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _BadInput(f"{flag} {text!r}: expected ISO 8601, e.g. 2026-01-05T08:00:00Z") from exc
    if at.tzinfo is None:
        raise _BadInput(f"{flag} {text!r}: give a zone, e.g. 2026-01-05T08:00:00Z")
    return at


def _filter(store: Store, args: argparse.Namespace) -> MessageFilter:
    from collector.messages import MessageFilter, latest, parse_header_filter

    since = None if args.since is None else _time(args.since, "--since")
    until = None if args.until is None else _time(args.until, "--until")
    if args.last is not None:
        match = _DURATION.match(args.last.strip())
        if not match:
            raise _BadInput(f"--last {args.last!r}: expected a number and a unit, e.g. 30m, "
                            "1h, 7d")
        end = until or latest(store, args.topic)
        if end is not None:
            since = end - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    header = None
    if args.header is not None:
        try:
            header = parse_header_filter(args.header)
        except ValueError as exc:
            raise _BadInput(f"--header: {exc}") from exc
    return MessageFilter(
        topic=args.topic, since=since, until=until, partition=args.partition,
        offset_from=args.offset_from, offset_to=args.offset_to, key=args.key, header=header,
        event_type=args.event_type, correlation_id=args.correlation_id, source=args.source,
        text=args.text)


def _messages(store: Store, args: argparse.Namespace) -> int:
    import orjson

    from collector.messages import find_messages

    found = find_messages(store, _filter(store, args), limit=args.limit,
                          with_payload=args.json)
    if args.json:
        for m in found:
            sys.stdout.write(orjson.dumps(m.as_json()).decode() + "\n")
        return 0
    if not found:
        print(f"no stored messages on {args.topic} match", file=sys.stderr)
        return 0
    print(f"{'PARTITION':>9} {'OFFSET':>9}  {'TIME (UTC)':<19}  {'STATUS':<11} "
          f"{'TYPE / REASON':<24} {'KEY':<20} {'CORRELATION ID':<24} HEADERS")
    for m in found:
        print(_line(m))
    return 0


def _line(m: Message) -> str:
    from collector.humanize import format_time

    what = m.event_type if m.status != "dead letter" else m.reason
    headers = ", ".join(f"{k}={v}" for k, v in m.headers)
    return (f"{_cell(m.partition):>9} {_cell(m.offset):>9}  "
            f"{format_time(m.at, with_zone=False):<19}  {m.status:<11} {_cell(what):<24} "
            f"{_cell(m.key):<20} {_cell(m.correlation_id):<24} {headers}").rstrip()


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _partitions(store: Store, args: argparse.Namespace) -> int:
    import orjson

    from collector.messages import partition_spans

    spans = partition_spans(store, args.topic)
    if args.json:
        for s in spans:
            sys.stdout.write(orjson.dumps(_span_json(s)).decode() + "\n")
        return 0
    if not spans:
        print(f"no stored messages on {args.topic}", file=sys.stderr)
        return 0
    from collector.humanize import format_time

    print(f"{'PARTITION':>9} {'FIRST OFFSET':>12} {'LAST OFFSET':>12} {'EVENTS':>9} "
          f"{'DEAD':>6}  {'FIRST (UTC)':<19}  {'LAST (UTC)':<19}  NOT STORED")
    for s in spans:
        print(f"{s.partition:>9} {s.first_offset:>12} {s.last_offset:>12} {s.events:>9} "
              f"{s.dead_letters:>6}  {format_time(s.first_at, with_zone=False)}  "
              f"{format_time(s.last_at, with_zone=False)}  {'; '.join(s.notes())}".rstrip())
    return 0


def _span_json(s: PartitionSpan) -> dict[str, Any]:
    return {"topic": s.topic, "partition": s.partition, "first_offset": s.first_offset,
            "last_offset": s.last_offset, "first_at": s.first_at.isoformat(),
            "last_at": s.last_at.isoformat(), "events": s.events,
            "dead_letters": s.dead_letters, "next_offset": s.next_offset,
            "missing": s.missing, "gaps": [list(g) for g in s.gaps], "notes": s.notes()}
