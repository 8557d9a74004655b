"""Datetimes as the store keeps them: UTC text in one fixed, sortable format."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["from_text", "to_text"]

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_text(at: datetime) -> str:
    """A timezone-aware datetime as fixed-width UTC text; naive datetimes are refused."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: the store keeps timezone-aware times only")
    return at.astimezone(UTC).strftime(_FORMAT)


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)
