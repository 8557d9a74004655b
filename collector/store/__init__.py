"""The store: one small interface, with SQLite and PostgreSQL backends."""

from collector.store.base import Batch, Position, Store, open_store

__all__ = ["Batch", "Position", "Store", "open_store"]
