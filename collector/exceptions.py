"""The collector's exceptions: one root, each carrying the data that explains it."""

from __future__ import annotations

__all__ = ["CollectorError", "ConfigError", "InputError", "StoreError", "StoreUnusable",
           "TapError"]


class CollectorError(Exception):
    """Root of every error the collector raises on purpose."""


class InputError(CollectorError):
    """Bad input the user can fix (a file, a flag, a configuration value, a store URL): the CLI
    prints the message as one line and exits 2."""


class ConfigError(InputError):
    """A configuration value is invalid: names the key, the value and what was expected."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        super().__init__(f"invalid configuration {key}={value!r}: expected {expected}")
        self.key = key
        self.value = value
        self.expected = expected


class StoreError(CollectorError):
    """The store could not be opened, migrated, read or written."""


class StoreUnusable(StoreError, InputError):
    """The store URL points to something that cannot be the store: a folder, a file that is
    not a SQLite database, a file or folder that cannot be written, nothing at all."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"store {path}: {problem}")
        self.path = path
        self.problem = problem


class TapError(CollectorError):
    """A broker tap cannot connect or read (the root of each broker edge's errors)."""
