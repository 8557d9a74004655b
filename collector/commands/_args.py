"""Argument types shared by the subcommands: a number out of range is bad input (exit 2, one
line naming the flag), not a query that silently means something else (SQLite reads
``LIMIT -1`` as no limit at all)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["at_least", "seconds"]


def at_least(minimum: int) -> Callable[[str], int]:
    """An integer flag of at least ``minimum`` (``type=at_least(1)``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is less than {minimum}")
        return value

    parse.__name__ = f"integer of at least {minimum}"
    return parse


def seconds(text: str) -> float:
    """A duration flag in seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text} is not 0 or more seconds")
    return value
