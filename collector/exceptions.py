"""The collector's exceptions: one root, each carrying the data that explains it."""

from __future__ import annotations

__all__ = ["CollectorError", "ConfigError", "StoreError", "TapError"]


class CollectorError(Exception):
    """Root of every error the collector raises on purpose."""


class ConfigError(CollectorError):
    """A configuration value is invalid: names the key, the value and what was expected."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        super().__init__(f"invalid configuration {key}={value!r}: expected {expected}")
        self.key = key
        self.value = value
        self.expected = expected


class StoreError(CollectorError):
    """The store could not be opened, migrated, read or written."""


class TapError(CollectorError):
    """A broker tap cannot connect or read (the root of each broker edge's errors)."""
