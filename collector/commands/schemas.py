"""``choreoscope schemas check|register|config|report|propose|drift``: the schema registry.

Exit codes are a contract users gate on: ``check`` exits 0 when compatible, 1 when not and 2
on bad input (unreadable file, invalid JSON, a schema its meta-schema refuses, an unknown mode).
``check --json`` prints ``{"compatible", "mode", "policy", "changes": [{"type", "path",
"compatible"}]}``. ``check --against-traffic SUBJECT NEW.json`` validates the recent stored
payloads of that event type against the proposed schema instead (exit 1 if any would be
rejected). ``drift`` lists fields never declared and types that differ, per producer;
``propose`` infers a schema for an undocumented type from its stored payloads. The registry
lives in ``<schemas_dir>/events/<EventType>/v<N>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.compatibility import Report
    from catalog.registry import Registry
from collector.commands._args import at_least

__all__ = ["register"]

MODES = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
         "FULL_TRANSITIVE")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "schemas", help="schema registry: compatibility checks, registration, reports")
    sub = p.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="is NEW compatible with OLD (exit 0 yes, 1 no, 2 bad "
                           "input); or, with --against-traffic, with stored payloads")
    check.add_argument("files", nargs="+", metavar="FILE", help="OLD.json NEW.json, or NEW.json "
                       "with --against-traffic")
    check.add_argument("--mode", type=str.upper, help=f"one of {', '.join(MODES)}")
    check.add_argument("--policy", type=str.upper, help="STRICT or LENIENT")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--against-traffic", metavar="SUBJECT",
                       help="validate stored payloads of event type SUBJECT against NEW.json")
    check.add_argument("--subject", metavar="SUBJECT",
                       help="check NEW.json against SUBJECT's registered versions under its mode "
                            "(from the schema folder, or [registry] url)")
    check.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    check.add_argument("--since", help="only payloads this recent: 30m, 1h, 2d, or an ISO time")
    check.add_argument("--limit", type=at_least(1), default=10_000,
                       help="most recent payloads to check")
    check.add_argument("--examples", type=at_least(0), default=3, help="examples per producer")
    check.set_defaults(handler=_check)

    reg = sub.add_parser("register", help="add FILE as the next version of SUBJECT, if compatible")
    reg.add_argument("subject", metavar="SUBJECT", help="the event type")
    reg.add_argument("file", metavar="FILE", help="the JSON Schema document")
    reg.add_argument("--json", action="store_true", help="print the report as JSON")
    reg.set_defaults(handler=_register)

    conf = sub.add_parser("config", help="set (or show) a subject's compatibility mode/policy")
    conf.add_argument("subject", metavar="SUBJECT", help="the event type")
    conf.add_argument("--mode", type=str.upper, help=f"one of {', '.join(MODES)}")
    conf.add_argument("--policy", type=str.upper, help="STRICT or LENIENT")
    conf.set_defaults(handler=_config)

    rep = sub.add_parser("report", help="the compatibility report of every subject")
    rep.add_argument("--json", action="store_true", help="print JSON instead of text")
    rep.set_defaults(handler=_report)

    prop = sub.add_parser("propose", help="infer a schema for EVENT_TYPE (default: every "
                          "stored type without a registered schema) from stored payloads")
    prop.add_argument("event_type", metavar="EVENT_TYPE", nargs="?",
                      help="only this event type (default: every undocumented one)")
    prop.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    prop.add_argument("--limit", type=at_least(1), default=1000,
                      help="most recent payloads to sample")
    prop.set_defaults(handler=_propose)

    imp = sub.add_parser("import", help="copy every JSON subject of a Confluent-compatible "
                         "registry into the schema folder, keeping versions and ids")
    imp.add_argument("--from", dest="source", required=True, metavar="URL",
                     help="the registry, e.g. http://127.0.0.1:8081 (auth and TLS: [registry] "
                          "url_* settings)")
    imp.set_defaults(handler=_import)
    exp = sub.add_parser("export", help="copy the schema folder's subjects to a Confluent-"
                         "compatible registry, keeping versions and ids (IMPORT mode)")
    exp.add_argument("--to", dest="target", required=True, metavar="URL",
                     help="the registry, e.g. http://127.0.0.1:8081")
    exp.set_defaults(handler=_export)

    dr = sub.add_parser("drift", help="stored payloads that stray from their schema, per producer")
    dr.add_argument("event_type", metavar="EVENT_TYPE", nargs="?", help="only this event type")
    dr.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    dr.add_argument("--limit", type=at_least(1), default=1000, help="most recent payloads per type")
    dr.add_argument("--json", action="store_true", help="print JSON instead of text")
    dr.set_defaults(handler=_drift)


def _fail(message: str) -> int:
    print(f"choreoscope: {message}", file=sys.stderr)
    return 2


def _registry_dir(args: argparse.Namespace) -> tuple[Path, Any]:
    from collector.settings import load_settings

    settings = load_settings(getattr(args, "config", None), store=getattr(args, "store", None))
    return settings.schemas_dir / "events", settings


def _load(args: argparse.Namespace) -> tuple[Registry, Path]:
    from catalog.changes import Mode, Policy
    from catalog.files import load_registry

    folder, settings = _registry_dir(args)
    remote = _remote(settings)
    if remote is not None:
        from catalog.registry import Registry
        from collector.registry_remote import fetch_registry

        base = Registry(mode=Mode(settings.registry.mode), policy=Policy(settings.registry.policy),
                        default_draft=settings.registry.default_draft)
        return fetch_registry(remote, base)[0], folder
    registry = load_registry(folder, Mode(settings.registry.mode),
                             Policy(settings.registry.policy),
                             settings.registry.default_draft)
    return registry, folder


def _remote(settings: Any) -> Any:
    from collector.registry_remote import RemoteRegistry

    return RemoteRegistry.from_settings(settings.registry)


def _check(args: argparse.Namespace) -> int:
    from catalog.changes import Mode, Policy
    from catalog.compatibility import check
    from catalog.exceptions import CatalogError
    from catalog.files import read_schema
    from catalog.metaschema import check_schema

    if args.against_traffic:
        if len(args.files) != 1:
            return _fail("--against-traffic SUBJECT takes one file: NEW.json")
        return _against_traffic(args)
    if args.subject:
        if len(args.files) != 1:
            return _fail("--subject SUBJECT takes one file: NEW.json")
        return _check_subject(args)
    if len(args.files) != 2:
        return _fail("schemas check takes two files: OLD.json NEW.json")
    try:
        _, settings = _registry_dir(args)
        mode = Mode(args.mode or settings.registry.mode)
        policy = Policy(args.policy or settings.registry.policy)
    except ValueError:
        return _fail(f"--mode must be one of {', '.join(MODES)}; --policy STRICT or LENIENT")
    try:
        draft = settings.registry.default_draft
        old, new = (read_schema(f) for f in args.files)
        check_schema(old, args.files[0], draft)
        check_schema(new, args.files[1], draft)
        report = check(old, new, mode, policy, draft=draft)
    except CatalogError as exc:
        return _fail(str(exc))
    _print_report(report, args.json)
    return 0 if report.compatible else 1


def _check_subject(args: argparse.Namespace) -> int:
    from catalog.exceptions import CatalogError
    from catalog.files import read_schema

    try:
        registry, _ = _load(args)
        report = registry.check(args.subject, read_schema(args.files[0]), source=args.files[0])
    except CatalogError as exc:
        return _fail(str(exc))
    _, settings = _registry_dir(args)
    remote = _remote(settings)
    if remote is not None and not args.json:
        print(f"{args.subject}: the registry at {remote.url} enforces "
              f"{remote.mode(args.subject)}")
    _print_report(report, args.json, f"{args.subject}: ")
    return 0 if report.compatible else 1


def _import(args: argparse.Namespace) -> int:
    from collector.registry_remote import RemoteRegistry, import_subjects

    folder, settings = _registry_dir(args)
    conf = settings.registry
    password = conf.url_password.get_secret_value() if conf.url_password else None
    remote = RemoteRegistry(args.source, user=conf.url_user, password=password,
                            ca=conf.url_ca, cert=conf.url_cert, key=conf.url_key)
    copied = import_subjects(remote, folder)
    print(f"imported {len(copied)} versions of "
          f"{len({v.subject for v in copied})} subjects from {args.source} into {folder}",
          file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from collector.registry_remote import export_subjects

    folder, settings = _registry_dir(args)
    conf = settings.registry
    password = conf.url_password.get_secret_value() if conf.url_password else None
    sent = export_subjects(folder, args.target, user=conf.url_user, password=password,
                           verify=conf.url_ca or True)
    print(f"exported {sent} versions from {folder} to {args.target}", file=sys.stderr)
    return 0


def _print_report(report: Report, as_json: bool, title: str = "") -> None:
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
        return
    verdict = "compatible" if report.compatible else "NOT compatible"
    print(f"{title}{report.mode.value} ({report.policy.value}): {verdict}")
    several = len(report.comparisons) > 1
    for comparison in report.comparisons:
        if several:
            against = "" if comparison.against is None else f" v{comparison.against}"
            print(f"  {comparison.direction} against{against or ' the old schema'}:")
        for change in comparison.changes:
            mark = "ok  " if change.compatible else "FAIL"
            print(f"  {'  ' if several else ''}{mark} {change.type.value:<58} {change.path}")


def _register(args: argparse.Namespace) -> int:
    from catalog.exceptions import CatalogError, IncompatibleSchema
    from catalog.files import read_schema, write_version

    try:
        registry, folder = _load(args)
        schema = read_schema(args.file)
        if not isinstance(schema, dict):
            return _fail(f"{args.file}: an event schema must be a JSON object")
        report = registry.check(args.subject, schema, source=args.file)
        updated, version = registry.with_version(args.subject, schema, source=args.file)
    except IncompatibleSchema as exc:
        _print_report(exc.report, args.json, f"{args.subject}: ")  # type: ignore[arg-type]
        print(f"choreoscope: refused: not compatible with {args.subject}", file=sys.stderr)
        return 1
    except CatalogError as exc:
        return _fail(str(exc))
    if updated is registry:
        print(f"{args.subject} version {version.version} is this schema already; nothing "
              "registered", file=sys.stderr)
        return 0
    _print_report(report, args.json, f"{args.subject}: ")
    path = write_version(folder, version)
    print(f"registered {args.subject} version {version.version} ({path})", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace) -> int:
    from catalog.exceptions import CatalogError

    try:
        registry, _ = _load(args)
        reports = registry.report()
    except CatalogError as exc:
        return _fail(str(exc))
    by_subject: dict[str, list[Any]] = {}
    for item in reports:
        by_subject.setdefault(item.subject, []).append(item)
    out: list[dict[str, Any]] = []
    for subject in registry:
        mode, policy = registry.settings(subject.name)
        out.append({
            "subject": subject.name, "mode": mode.value, "policy": policy.value,
            "versions": [v.version for v in subject.versions],
            "checks": [{"version": r.version, **r.report.to_json()}
                       for r in by_subject.get(subject.name, [])],
        })
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for entry in out:
        versions = ", ".join(f"v{v}" for v in entry["versions"])
        print(f"{entry['subject']} [{entry['mode']}, {entry['policy']}]: {versions}")
        for item in by_subject.get(entry["subject"], []):
            _print_report(item.report, False, f"  v{item.version} ")
    return 0


def _since(value: str | None) -> str | None:
    """A duration (``30m``) or ISO time as the store's UTC text, or None."""
    if not value:
        return None
    unit = _UNITS.get(value[-1:])
    if unit is not None and value[:-1].isdigit():
        at = datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * unit)  # the CLI's edge
    else:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if at.tzinfo is None:
            raise ValueError(value)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stored_samples(args: argparse.Namespace, event_type: str, since: str | None) -> list[Any]:
    from catalog.backtest import Sample
    from collector import _json
    from collector.store.base import open_store

    _, settings = _registry_dir(args)
    store = open_store(settings.store, read_only=True)
    try:
        where = "type = ? AND data IS NOT NULL" + (" AND occurred_at >= ?" if since else "")
        params: list[Any] = [event_type, *([since] if since else []), args.limit]
        rows = store.query(
            f"SELECT id, source, occurred_at, data FROM events WHERE {where} "  # noqa: S608
            "ORDER BY occurred_at DESC LIMIT ?", params)
    finally:
        store.close()
    return [Sample(r["source"], _json.loads(r["data"]), r["occurred_at"], r["id"])
            for r in rows]


def _against_traffic(args: argparse.Namespace) -> int:
    from catalog.backtest import backtest
    from catalog.exceptions import CatalogError
    from catalog.files import read_schema
    from collector.exceptions import StoreError

    try:
        since = _since(args.since)
    except ValueError:
        return _fail(f"--since {args.since!r}: expected 30m, 1h, 2d or an ISO time with offset")
    try:
        schema = read_schema(args.files[0])
        samples = _stored_samples(args, args.against_traffic, since)
        result = backtest(schema, samples, examples=args.examples, source=args.files[0])
    except (CatalogError, StoreError) as exc:  # a store that is not there is bad input too
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"subject": args.against_traffic, **result.to_json()}, indent=2))
    else:
        _print_backtest(args.against_traffic, result)
    return 1 if result.rejected else 0


def _print_backtest(subject: str, result: Any) -> None:
    print(f"{subject}: {result.rejected} of {result.checked} stored payloads would be rejected")
    for p in result.producers:
        print(f"  {p.producer}: {p.rejected} of {p.checked} rejected")
        for (path, keyword), n in p.paths.most_common(10):
            print(f"    {n:>6}  {path or '/'}  ({keyword})")
        for e in p.examples:
            first = e.findings[0]
            print(f"    e.g. event {e.event_id} at {e.occurred_at}: {first.pointer or '/'}: "
                  f"{first.message}")


def _propose(args: argparse.Namespace) -> int:
    from catalog.exceptions import CatalogError
    from catalog.inference import infer_schema, propose_undocumented

    if args.event_type:
        samples = _stored_samples(args, args.event_type, None)
        if not samples:
            return _fail(f"no stored payloads of type {args.event_type!r}")
        print(json.dumps(infer_schema((s.data for s in samples), event_type=args.event_type),
                         indent=2))
        return 0
    try:
        registry, _ = _load(args)
    except CatalogError as exc:
        return _fail(str(exc))
    unknown = [t for t in _stored_types(args) if t not in registry]
    pairs = [(t, s.data) for t in unknown for s in _stored_samples(args, t, None)]
    print(json.dumps(propose_undocumented(pairs, registry), indent=2))
    return 0


def _stored_types(args: argparse.Namespace) -> list[str]:
    from collector.store.base import open_store

    _, settings = _registry_dir(args)
    store = open_store(settings.store, read_only=True)
    try:
        rows = store.query("SELECT DISTINCT type FROM events WHERE data IS NOT NULL ORDER BY type")
    finally:
        store.close()
    return [r["type"] for r in rows]


def _drift(args: argparse.Namespace) -> int:
    from catalog.drift import drift
    from catalog.exceptions import CatalogError

    try:
        registry, _ = _load(args)
        names = [args.event_type] if args.event_type else [s.name for s in registry]
        results = {name: drift(registry.get(name).schema, _stored_samples(args, name, None),
                               registry.schemas())
                   for name in names}
    except CatalogError as exc:
        return _fail(str(exc))
    out: list[dict[str, Any]] = [{"event_type": name, "producer": p.producer, "samples": p.samples,
            "drift": [{"kind": i.kind, "path": i.path, "declared": i.declared, "seen": i.seen,
                       "count": i.count} for i in p.items]}
           for name, producers in results.items() for p in producers]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for entry in out:
        print(f"{entry['event_type']} from {entry['producer']} ({entry['samples']} payloads): "
              f"{'no drift' if not entry['drift'] else ''}")
        for item in entry["drift"]:
            what = (f"undeclared field ({item['seen']})" if item["kind"] == "undeclared"
                    else f"declared {item['declared']}, seen {item['seen']}")
            print(f"  {item['count']:>6}  {item['path'] or '/'}  {what}")
    return 0


def _config(args: argparse.Namespace) -> int:
    from catalog.changes import Mode, Policy
    from catalog.exceptions import CatalogError
    from catalog.files import write_settings

    try:
        mode = Mode(args.mode) if args.mode else None
        policy = Policy(args.policy) if args.policy else None
    except ValueError:
        return _fail(f"--mode must be one of {', '.join(MODES)}; --policy STRICT or LENIENT")
    try:
        registry, folder = _load(args)
    except CatalogError as exc:
        return _fail(str(exc))
    if mode or policy:
        registry = registry.with_settings(args.subject, mode, policy)
        subject = registry.subject(args.subject)
        write_settings(folder, args.subject, subject.mode, subject.policy)
    shown_mode, shown_policy = registry.settings(args.subject)
    print(f"{args.subject}: {shown_mode.value}, {shown_policy.value}")
    return 0
