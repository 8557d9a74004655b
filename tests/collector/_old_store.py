"""A SQLite store file as an older release left it: the migrations before a version applied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from collector.store.sqlite import _statements, migrations


def store_before(path: Path, version: int) -> sqlite3.Connection:
    """Create ``path`` with every migration before ``version`` applied and recorded; answers
    the open connection (the caller adds the rows the test needs, then closes it)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT "
               "NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
    for number, name, sql in migrations():
        if number >= version:
            break
        for statement in _statements(sql):
            db.execute(statement)
        db.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                   (number, name))
    db.commit()
    return db
