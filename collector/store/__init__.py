"""The store: one small interface, a SQLite backend now, PostgreSQL planned."""

from collector.store.base import Batch, Position, Store, open_store

__all__ = ["Batch", "Position", "Store", "open_store"]
