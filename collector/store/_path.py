"""Whether a store URL's path can be the SQLite store, checked before SQLite touches it.

SQLite's own answers name neither the path nor the problem ("disk I/O error" for a folder, "file
is not a database" at the first query), so each case is told apart here and raised as
`StoreUnusable`, which the CLI reports as one line with exit code 2.
"""

from __future__ import annotations

import os
from pathlib import Path

from collector.exceptions import StoreUnusable

__all__ = ["check_store_path", "check_store_schema"]

SQLITE_HEADER = b"SQLite format 3\x00"


def _writable_folder(path: Path) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnusable(path, f"cannot create its folder {folder} ({exc.strerror})") from None
    if not folder.is_dir():
        raise StoreUnusable(path, f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreUnusable(path, f"its folder {folder} is not writable (SQLite keeps its -wal "
                            "and -shm files beside the store)")


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreUnusable(path, f"cannot be read ({exc.strerror})") from None


def check_store_path(path: Path, *, read_only: bool) -> None:
    """Raise `StoreUnusable` unless ``path`` can be opened as the store, for reading only or
    for writing (created, with its folder, when missing)."""
    if path.is_dir():
        raise StoreUnusable(path, "is a folder, not a SQLite file; give a file path, e.g. "
                            f"sqlite:///{path / 'choreoscope.db'}")
    if path.exists() and not path.is_file():
        raise StoreUnusable(path, "is not a regular file")
    if read_only and not path.exists():
        raise StoreUnusable(path, "does not exist; start the collector first, or give the store "
                            "it writes to with --store")
    if path.exists():
        header = _header(path)
        if read_only and not header:
            raise StoreUnusable(path, "is an empty file, not a Choreoscope store yet")
        if header and header != SQLITE_HEADER:
            raise StoreUnusable(path, "is not a SQLite database file")
        if not read_only and not os.access(path, os.W_OK):
            raise StoreUnusable(path, "is read-only, and this command writes to the store "
                                "(check the file's permissions)")
    if not read_only:
        _writable_folder(path)


def check_store_schema(path: Path, tables: set[str]) -> None:
    """Raise `StoreUnusable` for a SQLite file that is not a Choreoscope store (opened
    read-only, it cannot be migrated into one)."""
    if "schema_migrations" not in tables:
        raise StoreUnusable(path, "is a SQLite database but not a Choreoscope store (no "
                            "schema_migrations table)")
