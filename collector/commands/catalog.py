"""``choreoscope catalog export|import|report|entries``: the event catalog and event map.

- ``export --format markdown --out DIR``: the catalog's pages (one per event type, service and
  domain seen or declared, with relative links and an ``index.md``) as Markdown files.
- ``export --format asyncapi|graphml|json [--service S] [--out FILE]``: the event map (or one
  service's AsyncAPI document) over a window (``--last 1h``, ``--since``/``--until``; default
  everything observed), optionally filtered (``--domain``, ``--flow``, ``--service``) or cut to
  the neighbourhood of a node (``--around service:NAME --hops N``).
- ``import FILE [--root DIR]``: an AsyncAPI 2.x, 3.0 or 3.1 document (JSON or YAML) stored as
  declared contracts; references to other files (``../common/messages.yaml#/...``) are followed
  from the file holding them while they stay under ``--root`` (default: the working
  directory); a URL or a path leaving the root is refused, nothing is fetched. Importing the
  same file again replaces what it declared before.
- ``report [NAME ...] [--json] [--fail-on-findings]``: undocumented, orphans, violations,
  shared-topics, declared-unseen.
- ``entries [TYPE ...] [--json]``: the catalog entry of each event type.
- ``search WORD ... [--json]``: event types by name, field (``field:customer_id``: at which
  pointer, in which versions), owner, producer or consumer; exit 1 when none matches.

Each command first brings the per-minute rollups up to date with what the store holds.
Exit codes: 0 done, 1 findings (with ``--fail-on-findings``), no search hit or a store problem,
2 bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.traffic import Window
    from collector.catalog_source import CatalogView
    from collector.settings import Settings
from collector.commands._args import at_least

__all__ = ["register"]

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
REPORT_NAMES = ("undocumented", "orphans", "violations", "shared-topics", "declared-unseen")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    p.add_argument("--schemas-dir", help="schema folder (events/<Type>/v<N>.json, flows/)")
    p.add_argument("--last", help="only the last 30m, 1h, 7d ... of traffic")
    p.add_argument("--since", help="window start, ISO 8601 with a UTC offset")
    p.add_argument("--until", help="window end, ISO 8601 with a UTC offset (default now)")


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "catalog", help="event catalog and map: export (AsyncAPI, GraphML, JSON), import, reports")
    sub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)

    exp = sub.add_parser("export", help="the event map as AsyncAPI 3.0, GraphML or JSON; the "
                         "catalog's pages as Markdown files")
    exp.add_argument("--format", required=True,
                     choices=("asyncapi", "graphml", "json", "markdown"),
                     help="asyncapi, graphml or json (the event map), markdown (the pages)")
    exp.add_argument("--out", metavar="FILE", help="write here instead of standard output "
                     "(markdown: the folder to write the pages into, required)")
    exp.add_argument("--samples", type=at_least(0), default=3,
                     help="markdown: newest sample payloads per event type (default 3)")
    exp.add_argument("--service", help="only this service (AsyncAPI: the service's document)")
    exp.add_argument("--domain", help="only event types of this domain (x-domain)")
    exp.add_argument("--flow", help="only event types of this flow type")
    exp.add_argument("--around", metavar="NODE", help="neighbourhood of service:NAME, "
                     "event:TYPE or topic:NAME")
    exp.add_argument("--hops", type=at_least(0), default=1, help="neighbourhood radius (default 1)")
    exp.add_argument("--bootstrap-servers", help="Kafka host:port named as the AsyncAPI server")
    _common(exp)
    exp.set_defaults(handler=_export)

    imp = sub.add_parser("import", help="store an AsyncAPI 2.x/3.x document as declared "
                         "contracts (following its references to other files under --root)")
    imp.add_argument("file", metavar="FILE", help="the AsyncAPI document (YAML or JSON)")
    imp.add_argument("--root", metavar="DIR", help="references to other files are followed "
                     "only inside this folder (default: the working directory); URLs never")
    imp.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    imp.set_defaults(handler=_import)

    rep = sub.add_parser("report", help="undocumented, orphan and violating events, shared "
                         "topics, declared but unseen producers and consumers")
    rep.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(REPORT_NAMES)}")
    rep.add_argument("--json", action="store_true", help="one JSON object per finding")
    rep.add_argument("--fail-on-findings", action="store_true", help="exit 1 if anything found")
    _common(rep)
    rep.set_defaults(handler=_report)

    sea = sub.add_parser("search", help="event types by name, field, owner, producer or "
                         "consumer (field:customer_id owner:checkout producer:order-service)")
    sea.add_argument("query", nargs="+", metavar="WORD", help="words that must all match; "
                     "name:, field:, owner:, producer: or consumer: narrow one")
    sea.add_argument("--json", action="store_true", help="one JSON object per event type")
    _common(sea)
    sea.set_defaults(handler=_search)

    ent = sub.add_parser("entries", help="catalog entries: one per event type")
    ent.add_argument("types", nargs="*", metavar="TYPE", help="only these event types")
    ent.add_argument("--json", action="store_true", help="print JSON")
    ent.add_argument("--samples", type=at_least(0), default=3, help="sample payloads per type")
    _common(ent)
    ent.set_defaults(handler=_entries)


def _fail(message: str, code: int = 2) -> int:
    print(f"choreoscope: {' '.join(message.split())}", file=sys.stderr)  # one line
    return code


class _BadInput(ValueError):
    pass


def _time(text: str, flag: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _BadInput(f"{flag} {text!r}: expected ISO 8601, e.g. 2026-01-05T08:00:00Z") from exc
    if at.tzinfo is None:
        raise _BadInput(f"{flag} {text!r}: give a UTC offset, e.g. 2026-01-05T08:00:00Z")
    return at


def _window(args: argparse.Namespace, now: datetime) -> Window | None:
    from catalog.traffic import Window

    if not (args.last or args.since or args.until):
        return None
    end = _time(args.until, "--until") if args.until else now
    if args.last:
        match = _DURATION.match(args.last)
        if not match:
            raise _BadInput(f"--last {args.last!r}: expected a number and a unit, e.g. 30m, 1h, 7d")
        start = end - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    elif args.since:
        start = _time(args.since, "--since")
    else:
        raise _BadInput("--until needs --since or --last")
    try:
        return Window(start, end)
    except ValueError as exc:
        raise _BadInput(f"window {start.isoformat()} .. {end.isoformat()}: {exc}") from exc


def _settings(args: argparse.Namespace) -> Settings:
    from collector.settings import load_settings

    return load_settings(args.config, store=args.store,
                         schemas_dir=getattr(args, "schemas_dir", None))


def _view(args: argparse.Namespace) -> CatalogView:
    from collector.catalog_source import load_event_map, refresh_rollups, rollup_store
    from collector.store import open_store

    settings = _settings(args)
    window = _window(args, datetime.now(UTC))
    store = open_store(settings.store)
    try:
        refresh_rollups(rollup_store(store))
        return load_event_map(store, settings.schemas_dir, window)
    finally:
        store.close()


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _run(handler: Any, args: argparse.Namespace) -> int:
    from catalog.exceptions import CatalogError

    try:
        return int(handler(args))
    except _BadInput as exc:
        return _fail(str(exc))
    except CatalogError as exc:
        return _fail(str(exc))


def _export(args: argparse.Namespace) -> int:
    return _run(_do_export, args)


def _do_export(args: argparse.Namespace) -> int:
    from catalog.asyncapi import AsyncApiOptions, export_asyncapi
    from catalog.mapexport import map_to_graphml, map_to_json

    if args.format == "markdown":
        return _export_markdown(args)
    view = _view(args)
    event_map = view.event_map
    if args.domain or args.flow or (args.service and args.format != "asyncapi"):
        event_map = event_map.filtered(domain=args.domain, flow_type=args.flow,
                                       service=args.service)
    if args.around:
        event_map = event_map.neighbourhood(args.around, args.hops)
    if args.format == "asyncapi":
        doc = export_asyncapi(event_map, view.schemas, service=args.service,
                              options=AsyncApiOptions(bootstrap_servers=args.bootstrap_servers))
        _write(json.dumps(doc, indent=2), args.out)
    elif args.format == "graphml":
        _write(map_to_graphml(event_map), args.out)
    else:
        _write(json.dumps(map_to_json(event_map), indent=2), args.out)
    return 0


def _export_markdown(args: argparse.Namespace) -> int:
    from catalog.changes import Mode, Policy
    from catalog.markdown import render_catalog
    from collector.catalog_source import read_samples
    from collector.catalog_source.flow_places import load_flow_places
    from collector.store import open_store

    if not args.out:
        raise _BadInput("--format markdown needs --out DIR (the folder to write the pages into)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _BadInput(f"--out {out}: not a folder")
    settings = _settings(args)
    view = _view(args)
    event_map = view.event_map
    if args.domain or args.flow or args.service:
        event_map = event_map.filtered(domain=args.domain, flow_type=args.flow,
                                       service=args.service)
    store = open_store(settings.store, read_only=True)
    try:
        samples = read_samples(store, event_map.nodes("event"), args.samples) \
            if args.samples > 0 else []
    finally:
        store.close()
    pages = render_catalog(event_map, view.schemas, load_flow_places(settings.schemas_dir),
                           samples, mode=Mode(settings.registry.mode),
                           policy=Policy(settings.registry.policy), shown=args.samples)
    try:
        for relative, text in pages.items():
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _BadInput(f"--out {out}: cannot write ({exc.strerror})") from exc
    print(f"{out}: {len(pages)} pages written ({len(event_map.nodes('event'))} event types, "
          f"{len(event_map.nodes('service'))} services, index.md)")
    return 0


def _import(args: argparse.Namespace) -> int:
    return _run(_do_import, args)


def _do_import(args: argparse.Namespace) -> int:
    from catalog.asyncapi_files import FileDocuments, read_document
    from catalog.asyncapi_import import import_asyncapi
    from collector.catalog_source import rollup_store, save_declarations
    from collector.store import open_store

    path = Path(args.file)
    root = Path(args.root) if args.root else Path.cwd()
    if not root.is_dir():
        raise _BadInput(f"--root {args.root}: no such folder")
    declarations = import_asyncapi(read_document(path), str(path), FileDocuments(root))
    store = open_store(_settings(args).store)
    try:
        n = save_declarations(rollup_store(store), str(path), declarations, datetime.now(UTC))
    finally:
        store.close()
    print(f"{path}: {n} declarations stored ({sum(d.role == 'producer' for d in declarations)} "
          f"producers, {sum(d.role == 'consumer' for d in declarations)} consumers)")
    return 0


def _report(args: argparse.Namespace) -> int:
    return _run(_do_report, args)


def _do_report(args: argparse.Namespace) -> int:
    from catalog.reports import has_consumer_evidence, run_reports

    unknown = [n for n in args.names if n not in REPORT_NAMES]
    if unknown:
        raise _BadInput(f"unknown report {unknown[0]!r}: one of {', '.join(REPORT_NAMES)}")
    event_map = _view(args).event_map
    findings = run_reports(event_map, tuple(args.names) or REPORT_NAMES)
    if not has_consumer_evidence(event_map) and (not args.names or "orphans" in args.names):
        print("choreoscope: no consumer spans or consumer groups observed: produced-but-never-"
              "consumed is not judged", file=sys.stderr)
    for f in findings:
        print(json.dumps(f.to_json()) if args.json else f"{f.report}: {f.message}")
    return 1 if findings and args.fail_on_findings else 0


def _search(args: argparse.Namespace) -> int:
    return _run(_do_search, args)


def _do_search(args: argparse.Namespace) -> int:
    from catalog.entries import build_entries
    from catalog.fields import field_history
    from catalog.search import search_catalog

    view = _view(args)
    documents: dict[str, list[tuple[int, Any]]] = {}
    for s in view.schemas:
        documents.setdefault(s.event_type, []).append((s.version, s.document))
    fields = {name: field_history(versions) for name, versions in documents.items()}
    hits = search_catalog(build_entries(view.event_map), fields, " ".join(args.query))
    for h in hits:
        if args.json:
            print(json.dumps({"event_type": h.event_type, "matches": [
                {"scope": m.scope, "value": m.value, "versions": list(m.versions)}
                for m in h.matches]}))
        else:
            print(f"{h.event_type}: {h.describe()}")
    return 0 if hits else 1


def _entries(args: argparse.Namespace) -> int:
    return _run(_do_entries, args)


def _do_entries(args: argparse.Namespace) -> int:
    from catalog.entries import build_entries, entry_to_json
    from collector.catalog_source import read_samples
    from collector.store import open_store

    view = _view(args)
    types = args.types or view.event_map.nodes("event")
    store = open_store(_settings(args).store, read_only=True)
    try:
        samples = read_samples(store, types, args.samples) if args.samples else []
    finally:
        store.close()
    entries = [e for e in build_entries(view.event_map, samples, samples_per_type=args.samples)
               if e.event_type in types]
    if args.json:
        print(json.dumps([entry_to_json(e) for e in entries], indent=2))
        return 0
    for e in entries:
        print(f"{e.event_type}{'' if e.documented else '  (undocumented)'}"
              f"  owner={e.owner or '-'} domain={e.domain or '-'} versions="
              f"{','.join(map(str, e.versions)) or '-'}")
        print(f"  producers: {', '.join(e.producers) or '-'}   consumers: "
              f"{', '.join(e.consumers) or '-'}   topics: {', '.join(e.topics) or '-'}")
        print(f"  seen: {e.count} events, {e.first_seen} .. {e.last_seen}   flows: "
              f"{', '.join(e.flows) or '-'}")
    return 0
