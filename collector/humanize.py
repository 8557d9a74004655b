"""Durations, times and amounts as people read them: one place for every page and command.

``format_duration(196) == "3 min 16 s"``; ``format_time(at) == "2026-12-05 21:31:37 UTC"`` (to
the second, in one stated zone: UTC unless a zone is given). Missing values format as ``""`` so a
table's empty cell stays empty. Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

__all__ = [
    "TIME_ZONE_NOTE",
    "format_bytes",
    "format_count",
    "format_duration",
    "format_overdue",
    "format_time",
    "parse_time",
]

TIME_ZONE_NOTE = "Times are UTC, to the second."
"""The sentence a page or command prints once to state the zone of the times it shows."""

_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def format_duration(seconds: float | None, *, empty: str = "") -> str:
    """Two units at most, rounded: ``3 d 4 h``, ``2 h 13 min``, ``3 min 16 s``, ``12 s``,
    ``2.4 s``, ``15 ms``, ``0.3 ms``. Negative amounts count as 0; ``None`` is ``empty``."""
    if seconds is None:
        return empty
    s = max(0.0, float(seconds))
    if s == 0:
        return "0 s"
    if s < 1:
        ms = s * 1000
        return f"{ms:.1f} ms" if round(ms, 1) < 10 else f"{min(round(ms), 999)} ms"
    if s < 10:
        return f"{s:.1f} s"
    whole = round(s)
    parts: list[str] = []
    for unit, size in _UNITS:
        if whole >= size or parts:
            n, whole = divmod(whole, size)
            parts.append(f"{n} {unit}")
    return " ".join(parts[:2]).removesuffix(" 0 s").removesuffix(" 0 min").removesuffix(" 0 h")


def format_overdue(seconds_left: float | None, *, empty: str = "") -> str:
    """Time left before a deadline, never negative: ``12 s left`` or ``overdue by 6 min 5 s``."""
    if seconds_left is None:
        return empty
    if seconds_left < 0:
        return f"overdue by {format_duration(-seconds_left)}"
    return f"{format_duration(seconds_left)} left"


def parse_time(value: datetime | str) -> datetime:
    """A datetime, or the store's / ISO 8601 text of one (``Z`` accepted; naive means UTC)."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def format_time(value: datetime | str | None, *, zone: tzinfo = UTC, empty: str = "",
                with_zone: bool = True) -> str:
    """``2026-12-05 21:31:37 UTC``: to the second, in ``zone`` (named at the end unless
    ``with_zone`` is false, for a table whose heading states it). ``None`` is ``empty``."""
    if value is None or value == "":
        return empty
    at = parse_time(value).astimezone(zone)
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} {at.tzname() or ''}".rstrip() if with_zone else text


def format_count(n: float | None, *, empty: str = "") -> str:
    """``1,234,567``; ``2.5`` keeps one decimal; ``None`` is ``empty``."""
    if n is None:
        return empty
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"


def format_bytes(n: int | None, *, empty: str = "") -> str:
    """``812 B``, ``4.2 KiB``, ``18.0 MiB``, ``1.1 GiB``."""
    if n is None:
        return empty
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
