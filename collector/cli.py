"""The ``choreoscope`` console script: parses the command line and routes to a subcommand.

Each subcommand lives in the package that owns its work and exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` (a function of the parsed arguments returning the exit
code). Modules are imported by name so that ``collector`` never imports ``dashboard``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from catalog.exceptions import CatalogError
from collector.exceptions import CollectorError, InputError

__all__ = ["main"]

COMMAND_MODULES = (
    "collector.commands.demo",
    "collector.commands.simulate",
    "collector.commands.collect",
    "collector.commands.flows",
    "collector.commands.deadletters",
    "collector.commands.schemas",
    "collector.commands.catalog",
    "collector.commands.dashboard",
    "collector.commands.otlp",
    "collector.commands.timeline",
    "collector.commands.messages",
    "collector.commands.config",
    "collector.commands.registry",
    "collector.commands.store",
    "collector.commands.rabbitmq",
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """A parser that takes the global options too, so ``choreoscope collect --config F`` works
    like ``choreoscope --config F collect``. Subcommand parsers are of the same class (argparse
    builds them with ``type(parent)``) and leave an option not given unset (``SUPPRESS``), so the
    value given before the subcommand stands; given on both sides, the later one wins."""

    def __init__(self, *args: Any, top: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        default = None if top else argparse.SUPPRESS
        self.add_argument("--config", metavar="FILE", default=default,
                          help="configuration file (default: ./choreoscope.toml when present)")
        self.add_argument("--log-level", default=default, help="DEBUG, INFO, WARNING or ERROR")

    def error(self, message: str) -> NoReturn:
        """A bad flag or argument: one line naming the command, exit code 2."""
        self.exit(2, f"{self.prog}: {' '.join(message.split())} (see {self.prog} --help)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("choreoscope")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="choreoscope",
        description="Observability and event catalog for choreographed systems.",
        top=True,
    )
    parser.add_argument("--version", action="version", version=f"choreoscope {_version()}",
                        help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _one_line(exc: BaseException) -> str:
    """A message as one line: a parser's multi-line error (YAML shows the spot) is joined."""
    return " ".join(str(exc).split())


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM stops like Ctrl-C, so every command's cleanup (child processes, flush) runs."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (args.log_level or "INFO").upper()
    if level not in LOG_LEVELS:
        print(f"choreoscope: --log-level: {args.log_level!r} is not one of "
              f"{', '.join(LOG_LEVELS)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except (InputError, CatalogError) as exc:  # the user's to fix: a file, a value, a store URL
        print(f"choreoscope: {_one_line(exc)}", file=sys.stderr)
        return 2
    except CollectorError as exc:
        print(f"choreoscope: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`choreoscope flows stuck | head`): not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:  # a path given on the command line (or in the file) that fails
        if exc.filename is None:
            raise
        print(f"choreoscope: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
