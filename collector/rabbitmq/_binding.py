"""``[rabbitmq] bindings`` entries, parsed (pure, no pika): ``EXCHANGE:ROUTING_KEY`` with, for
headers exchanges, binding arguments as a query string after ``?``:
``events?x-match=any&type=OrderPlaced&region=eu`` (the routing key, ignored by headers
exchanges, may be left out). Argument values are strings: a headers exchange matches them
against string headers only."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import parse_qsl

__all__ = ["Binding", "parse_binding"]

X_MATCH = ("all", "any", "all-with-x", "any-with-x")


class Binding(NamedTuple):
    exchange: str
    routing_key: str
    arguments: dict[str, str] | None


def parse_binding(binding: str) -> Binding:
    """One entry; `ValueError` naming what is wrong."""
    head, sep, query = binding.partition("?")
    exchange, _, key = head.partition(":")
    if not exchange:
        raise ValueError(f"EXCHANGE:ROUTING_KEY entries, not {binding!r}")
    arguments: dict[str, str] | None = None
    if sep:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        except ValueError as exc:
            raise ValueError(f"{binding!r}: binding arguments are NAME=VALUE&NAME=VALUE after "
                             f"'?' ({exc})") from exc
        arguments = dict(pairs)
        if arguments.get("x-match", "all") not in X_MATCH:
            raise ValueError(f"{binding!r}: x-match is one of {', '.join(X_MATCH)}, not "
                             f"{arguments['x-match']!r}")
    return Binding(exchange, key or "#", arguments)
