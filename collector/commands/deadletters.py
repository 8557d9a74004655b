"""``choreoscope deadletters list|show|replay``: records that could not become events.

``replay`` runs stored dead letters through the pipeline again with the current configuration
(after a correlation rule was added, say): those that now decode are stored as events and
removed from the dead letters; the others stay. Replaying twice changes nothing more, since an
event is stored once per identity. A dead letter whose bytes were not stored (withheld under
redaction rules) or were cut short (``dead_letters.max_raw_bytes``) is re-read from the broker
by its topic, partition and offset, while the broker still retains it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from collector.model import Observation
    from collector.pipeline import Pipeline
    from collector.store.base import Store
from collector.commands._args import at_least

__all__ = ["register", "replay"]

_COLUMNS = ('dl_id, reason, detail, loc_source, topic, partition, "offset", received_at, '
            "raw, key, headers, raw_size, raw_truncated, raw_withheld")


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "deadletters", help="records that could not become events: list, show, replay")
    sub = p.add_subparsers(dest="deadletters_command", metavar="ACTION", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = sub.add_parser(name, help=help)
        a.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
        return a

    ls = action("list", "dead letters, newest first")
    _filters(ls)
    ls.add_argument("--limit", type=at_least(1), default=50,
                    help="at most this many, newest first (default 50)")
    ls.add_argument("--json", action="store_true",
                    help="one JSON object per dead letter (the fields of show --json)")
    ls.set_defaults(handler=_list)
    show = action("show", "one dead letter with its headers and bytes")
    show.add_argument("id", type=int, metavar="ID", help="the dead letter's id (from list)")
    show.add_argument("--json", action="store_true", help="print it as one JSON object")
    show.set_defaults(handler=_show)
    rp = action("replay", "decode dead letters again; store and remove those that now pass")
    _filters(rp)
    rp.add_argument("--id", type=int, action="append", dest="ids", metavar="ID",
                    help="only this dead letter (repeatable)")
    rp.add_argument("--bootstrap-servers", metavar="HOST:PORT[,...]",
                    help="the Kafka cluster to re-read withheld or cut records from "
                    "(default: the kafka section's)")
    rp.set_defaults(handler=_replay)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", help="only this reason, e.g. no-correlation")
    p.add_argument("--topic", help="only records from this topic")


def _where(args: argparse.Namespace) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in (("reason", args.reason), ("topic", args.topic)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    ids = getattr(args, "ids", None) or []
    if ids:
        clauses.append(f"dl_id IN ({','.join('?' * len(ids))})")
        params.extend(ids)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _open(args: argparse.Namespace, *, read_only: bool) -> tuple[Any, Store]:
    from collector.settings import load_settings
    from collector.store.base import open_store
    from collector.store.dead_letters import bounds_of

    settings = load_settings(args.config, store=args.store, kafka={
        "bootstrap_servers": getattr(args, "bootstrap_servers", None)})
    return settings, open_store(settings.store, read_only=read_only,
                                dead_letters=bounds_of(settings))


def _where_of(row: dict[str, Any]) -> str:
    if row["topic"] is None:
        return str(row["loc_source"])
    return f"{row['topic']}[{row['partition']}]@{row['offset']}"


def _list(args: argparse.Namespace) -> int:
    _, store = _open(args, read_only=True)
    try:
        where, params = _where(args)
        rows = store.query(f"SELECT {_COLUMNS} FROM dead_letters{where} "  # noqa: S608
                           "ORDER BY dl_id DESC LIMIT ?", [*params, args.limit])
    finally:
        store.close()
    if args.json:
        import orjson

        for r in rows:
            sys.stdout.write(orjson.dumps(_as_json(r)).decode() + "\n")
        return 0
    if not rows:
        print("no dead letters", file=sys.stderr)
        return 0
    from collector.humanize import format_time

    print(f"{'ID':>8}  {'REASON':<17} {'FROM':<32} {'RECEIVED (UTC)':<19}  DETAIL")
    for r in rows:
        print(f"{r['dl_id']:>8}  {r['reason']:<17} {_where_of(r):<32} "
              f"{format_time(r['received_at'], with_zone=False):<19}  {r['detail']}")
    return 0


PREVIEW = 4096
"""Bytes of a dead letter shown (as text) by show and in the JSON of list and show."""


def _as_json(r: dict[str, Any]) -> dict[str, Any]:
    """A dead letter as `list --json` and `show --json` print it (the same fields)."""
    from collector.store.dead_letters import decode_headers

    raw: bytes | None = r["raw"]
    return {
        "id": r["dl_id"], "reason": r["reason"], "detail": r["detail"],
        "source": r["loc_source"], "topic": r["topic"], "partition": r["partition"],
        "offset": r["offset"], "received_at": r["received_at"],
        "key": None if r["key"] is None else _shown(r["key"]),
        "headers": [[k, _shown(v)] for k, v in decode_headers(r["headers"])],
        "size": r["raw_size"] if r["raw_size"] is not None else (
            None if raw is None else len(raw)),
        "truncated": bool(r["raw_truncated"]), "withheld": r["raw_withheld"],
        "text": None if raw is None else raw[:PREVIEW].decode("utf-8", "replace"),
    }


def _show(args: argparse.Namespace) -> int:
    from collector.store.dead_letters import decode_headers

    _, store = _open(args, read_only=True)
    try:
        rows = store.query(f"SELECT {_COLUMNS} FROM dead_letters WHERE dl_id = ?",  # noqa: S608
                           [args.id])
    finally:
        store.close()
    if not rows:
        print(f"choreoscope: no dead letter {args.id}", file=sys.stderr)
        return 1
    r = rows[0]
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(_as_json(r)).decode() + "\n")
        return 0
    raw: bytes | None = r["raw"]
    print(f"id:       {r['dl_id']}\nreason:   {r['reason']}\ndetail:   {r['detail']}\n"
          f"from:     {r['loc_source']} {_where_of(r)}\nreceived: {r['received_at']}")
    key = r["key"]
    print(f"key:      {_shown(key) if key is not None else '-'}")
    for name, value in decode_headers(r["headers"]):
        print(f"header:   {name}: {_shown(value)}")
    if raw is None and r["raw_withheld"]:
        print(f"bytes:    not kept: {r['raw_withheld']}; `deadletters replay` re-reads the "
              f"record from {_where_of(r)} while the broker retains it")
    elif raw is None:
        print("bytes:    not kept (capture policy is not 'full')")
    else:
        size = f"{len(raw)}" if not r["raw_truncated"] else (
            f"{len(raw)} of {r['raw_size']} (cut at dead_letters.max_raw_bytes; replay re-reads "
            "the whole record from the broker)")
        print(f"bytes:    {size}\n{raw[:4096].decode('utf-8', 'replace')}")
    return 0


def _shown(value: bytes) -> str:
    """Bytes as text when they are UTF-8, else as a bytes literal (never lossily decoded)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return repr(value)


Where = tuple[str, int, int]
"""(topic, partition, offset) of a record to re-read."""


def _observation(r: dict[str, Any]) -> Observation:
    from collector.model import Location, Observation
    from collector.store._time import from_text
    from collector.store.dead_letters import decode_headers

    return Observation(
        location=Location(r["loc_source"], r["topic"], r["partition"], r["offset"]),
        received_at=from_text(r["received_at"]), value=r["raw"], key=r["key"],
        headers=decode_headers(r["headers"]))


def _refetchable(r: dict[str, Any]) -> Where | None:
    """Where to re-read a dead letter whose stored bytes are missing or cut short."""
    if r["raw"] is not None and not r["raw_truncated"]:
        return None
    if r["loc_source"] != "kafka" or r["topic"] is None or r["offset"] is None:
        return None
    return (r["topic"], r["partition"], r["offset"])


def replay(store: Store, pipeline: Pipeline, decode: Callable[[Observation], Any],
           rows: list[dict[str, Any]],
           fetch: Callable[[Sequence[Where]], dict[Where, Observation]] | None = None,
           ) -> tuple[int, dict[str, int]]:
    """Store the dead letters that now decode and remove them; how many passed, and why the
    others are still rejected (by reason). Those whose bytes were withheld or cut short are
    re-read through ``fetch`` (from the broker; None: not re-read)."""
    from collector.model import DeadLetter

    passing: list[Observation] = []
    ids: list[int] = []
    still: dict[str, int] = {}
    wanted = [w for w in map(_refetchable, rows) if w is not None]
    fetched = fetch(wanted) if fetch is not None and wanted else {}
    for r in rows:
        where = _refetchable(r)
        if where is not None:
            found = fetched.get(where)
            if found is None:
                why = "gone from the broker" if fetch is not None else "no bytes kept"
                still[why] = still.get(why, 0) + 1
                continue
            obs = found
        elif r["raw"] is None:
            still["no bytes kept"] = still.get("no bytes kept", 0) + 1
            continue
        else:
            obs = _observation(r)
        result = decode(obs)
        if isinstance(result, DeadLetter):
            still[result.reason.value] = still.get(result.reason.value, 0) + 1
        else:
            passing.append(obs)
            ids.append(r["dl_id"])
    if passing:
        pipeline.process(passing)
        store.delete_dead_letters(ids)
    return len(passing), still


def _replay(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from functools import partial

    from collector.commands.collect import build_pipeline
    from collector.envelope import Decoder, build_rules
    from collector.kafka.fetch import FetchError, fetch_records

    settings, store = _open(args, read_only=False)
    fetch = partial(fetch_records, settings.kafka, received_at=datetime.now(UTC))
    try:
        where, params = _where(args)
        rows = store.query(f"SELECT {_COLUMNS} FROM dead_letters{where} ORDER BY dl_id",  # noqa: S608
                           params)
        pipeline = build_pipeline(settings, store)
        passed, still = replay(store, pipeline, Decoder(build_rules(settings)), rows, fetch)
    except FetchError as exc:
        print(f"choreoscope: {exc} (check kafka.bootstrap_servers or --config)",
              file=sys.stderr)
        return 2
    finally:
        store.close()
    rest = ", ".join(f"{n} {reason}" for reason, n in sorted(still.items())) or "none"
    print(f"replayed {len(rows)} dead letters: {passed} now stored as events; still rejected: "
          f"{rest}")
    return 0
