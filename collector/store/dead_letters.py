"""Dead letters as the store keeps them: header bytes kept exactly, raw bytes and total size
bounded, and what the bounds dropped or truncated counted.

Headers are stored as JSON ``[[name, value], ...]``: a value that is valid UTF-8 as a string
(readable in the store and the dashboard), any other as ``{"base64": "..."}``, so no byte is
lost or replaced (``\\xff\\xfe`` never becomes ``��``).

Pure; the SQLite statements that apply `DeadLetterBounds` are in `collector.store.sqlite`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from collector.exceptions import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

    from collector.model import DeadLetter
    from collector.settings import DeadLetterSettings, Settings

__all__ = ["DeadLetterAging", "DeadLetterBounds", "DeadLetterUsage", "bounds_of",
           "decode_headers", "encode_headers", "stored_row"]

ROW_OVERHEAD = 64
"""Bytes counted per dead letter beyond its variable columns (ids, location, times)."""


@dataclass(frozen=True, slots=True)
class DeadLetterBounds:
    """How much of the dead letters the store keeps (``[dead_letters]``; defaults on)."""

    max_age: timedelta = timedelta(days=7)
    max_bytes: int = 256 * 1024 * 1024
    max_raw_bytes: int = 64 * 1024
    keep_fraction: float = 0.9
    """Over budget, the oldest go until this share of ``max_bytes`` is left, so a flood pays
    for a trim once per tenth of the budget, not on every batch."""

    @classmethod
    def from_settings(cls, s: DeadLetterSettings) -> DeadLetterBounds:
        return cls(max_age=timedelta(days=s.max_age_days), max_bytes=s.max_bytes,
                   max_raw_bytes=s.max_raw_bytes)


def bounds_of(settings: Settings) -> DeadLetterBounds:
    """The ``[dead_letters]`` bounds of a configuration, for `open_store`."""
    return DeadLetterBounds.from_settings(settings.dead_letters)


@dataclass(frozen=True, slots=True)
class DeadLetterUsage:
    """The stored dead letters' size and what the bounds did since the store was created."""

    stored: int
    bytes: int
    dropped_budget: int
    dropped_age: int
    truncated: int

    @property
    def dropped(self) -> int:
        return self.dropped_budget + self.dropped_age


def encode_headers(headers: tuple[tuple[str, bytes], ...]) -> str:
    """Headers as the ``headers`` column keeps them, every byte exactly."""
    out: list[list[Any]] = []
    for name, value in headers:
        try:
            out.append([name, value.decode("utf-8")])
        except UnicodeDecodeError:
            out.append([name, {"base64": base64.b64encode(value).decode("ascii")}])
    return orjson.dumps(out).decode()


def decode_headers(text: str) -> tuple[tuple[str, bytes], ...]:
    """The headers `encode_headers` wrote (older rows hold strings only)."""
    try:
        items = orjson.loads(text)
        out = []
        for name, value in items:
            if isinstance(value, dict):
                out.append((str(name), base64.b64decode(value["base64"], validate=True)))
            else:
                out.append((str(name), str(value).encode("utf-8")))
        return tuple(out)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise StoreError(f"a dead letter's stored headers are not readable: {exc}") from exc


def stored_row(d: DeadLetter, received_at: str,
               max_raw_bytes: int) -> tuple[object, ...]:
    """The ``dead_letters`` row of ``d``: raw bytes cut to ``max_raw_bytes`` (their full size
    kept in ``raw_size``), and the row's ``size`` that the budget counts."""
    raw, raw_size, truncated = d.raw, None, 0
    if raw is not None:
        raw_size = len(raw)
        if raw_size > max_raw_bytes:
            raw, truncated = raw[:max_raw_bytes], 1
    headers = encode_headers(d.headers)
    loc = d.location
    size = (ROW_OVERHEAD + len(d.detail) + len(d.reason.value) + len(headers)
            + (len(raw) if raw is not None else 0) + (len(d.key) if d.key is not None else 0)
            + len(d.raw_withheld or ""))
    return (d.reason.value, d.detail, loc.source, loc.topic, loc.partition, loc.offset,
            received_at, raw, d.key, headers, raw_size, truncated, d.raw_withheld, size)


STORED_COLUMNS = ('reason, detail, loc_source, topic, partition, "offset", received_at, raw, '
                  "key, headers, raw_size, raw_truncated, raw_withheld, size")
"""The columns of `stored_row`, in order."""


class DeadLetterAging:
    """A housekeeping chore: dead letters past their age bound go even while none arrive
    (writes apply the bound only when they bring new ones). ``trim`` is the store's
    ``trim_dead_letters``; it runs at most once per ``every``."""

    def __init__(self, trim: Callable[[datetime], int], *,
                 every: timedelta = timedelta(minutes=1)) -> None:
        self._trim = trim
        self._every = every
        self._next: datetime | None = None

    def on_tick(self, now: datetime) -> int:
        if self._next is not None and now < self._next:
            return 0
        self._next = now + self._every
        return self._trim(now)
