"""What the catalog source needs of a store: SQL reads, and for the rollups SQL writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast

from collector.exceptions import CollectorError

__all__ = ["CatalogSourceError", "ReadStore", "RollupStore", "rollup_store"]


class CatalogSourceError(CollectorError):
    """The catalog's inputs cannot be read (a schema file, the store)."""


class ReadStore(Protocol):
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...


class RollupStore(ReadStore, Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...


def rollup_store(store: object) -> RollupStore:
    """The store, as one that can run the rollup statements (a writable SQL backend)."""
    if not (callable(getattr(store, "execute", None)) and callable(getattr(store, "query", None))):
        raise CatalogSourceError(f"store {getattr(store, 'url', store)!r} cannot keep the "
                                 "catalog's rollups (no SQL execute)")
    return cast("RollupStore", store)
