"""``choreoscope config docs|show``: the settings reference, and the settings in force.

- ``docs [--out FILE] [--check]``: the reference (``docs/CONFIGURATION.md``) generated from the
  settings models; ``--check`` exits 1 when FILE differs from it (run ``make config-docs``).
- ``show``: the settings this command line would run with, as TOML, after flags, environment
  and file, with relative paths resolved and secrets masked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "config", help="the settings reference (docs/CONFIGURATION.md) and the settings in force")
    sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    docs = sub.add_parser("docs", help="write the settings reference generated from the models")
    docs.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    docs.add_argument("--check", action="store_true",
                      help="exit 1 if FILE (--out) is not what would be written")
    docs.set_defaults(handler=_docs)
    show = sub.add_parser("show", help="the settings in force, as TOML, secrets masked")
    show.set_defaults(handler=_show)


def _fail(message: str) -> int:
    print(f"choreoscope: {message}", file=sys.stderr)
    return 2


def _docs(args: argparse.Namespace) -> int:
    from collector.config_docs import DOCS_COMMAND, missing, render_configuration
    from collector.settings import Settings

    gaps = missing(Settings)
    if gaps:
        return _fail(f"settings without documentation: {'; '.join(gaps)}")
    text = render_configuration(Settings)
    if args.check:
        if not args.out:
            return _fail("config docs --check needs --out FILE, the file to compare")
        try:
            current = Path(args.out).read_text(encoding="utf-8")
        except OSError as exc:
            return _fail(f"--out {args.out}: cannot read ({exc.strerror})")
        if current != text:
            print(f"choreoscope: {args.out} is out of date with collector/settings.py; run "
                  f"{DOCS_COMMAND}", file=sys.stderr)
            return 1
        return 0
    if not args.out:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"--out {args.out}: cannot write ({exc.strerror})")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from collector.config_docs import show_settings
    from collector.settings import load_settings

    sys.stdout.write(show_settings(load_settings(args.config)))
    return 0
