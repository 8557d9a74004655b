"""``choreoscope store migrate --from URL --to URL``: move a store to another backend.

For example from the embedded SQLite file to PostgreSQL, when several collectors are to share
one store. Stop the collector first; the target database must exist and be empty.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "store", help="manage the store (move it to another backend)")
    actions = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    mig = actions.add_parser(
        "migrate", help="copy every table of a store into a new, empty one (e.g. SQLite to "
        "PostgreSQL); stop the collector first")
    mig.add_argument("--from", dest="source", required=True, metavar="URL",
                     help="the store to copy, e.g. sqlite:///choreoscope.db")
    mig.add_argument("--to", dest="target", required=True, metavar="URL",
                     help="the new store, e.g. postgresql://user@host:5432/choreoscope "
                     "(an existing, empty database)")
    mig.set_defaults(handler=migrate)


def migrate(args: argparse.Namespace) -> int:
    from collector.exceptions import StoreError
    from collector.store.base import open_store, shown_url
    from collector.store.copy import copy_store

    if args.source == args.target:
        print("choreoscope store migrate: --from and --to are the same store: give a new, "
              "empty one as --to", file=sys.stderr)
        return 2
    try:
        source = open_store(args.source, read_only=True)
    except StoreError as exc:
        print(f"choreoscope store migrate: --from: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            target = open_store(args.target)
        except StoreError as exc:
            print(f"choreoscope store migrate: --to: {exc}", file=sys.stderr)
            return 2
        try:
            print(f"copying {shown_url(args.source)} to {shown_url(args.target)}", flush=True)
            copied = copy_store(source, target, on_table=lambda table, n: print(
                f"  {table}: {n:,} rows", flush=True))
        except StoreError as exc:
            print(f"choreoscope store migrate: {exc}", file=sys.stderr)
            return 2
        finally:
            target.close()
    finally:
        source.close()
    print(f"done: {sum(n for _, n in copied):,} rows in {len(copied)} tables; point the "
          f"collector and the dashboard at {shown_url(args.target)}")
    return 0
