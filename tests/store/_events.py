"""Events for the store tests (both backends' and the SQLite store's own)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.model import Event, Location

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def event(i: int, *, corr: str = "c1", type_: str = "OrderPlaced", data: Any = None) -> Event:
    """Event ``e{i}`` of ``corr``, at T0 + i s on orders/0 at offset i, with a business key, a
    record key and a header."""
    return Event(
        id=f"e{i}", type=type_, source="order-service", occurred_at=T0 + timedelta(seconds=i),
        correlation_id=corr, data={"order_id": corr, "amount": i} if data is None else data,
        location=Location("kafka", "orders", 0, i), received_at=T0,
        business_keys=(("order_id", corr),), key=f"k{i}", headers=(("h", "v"),),
    )


def stored(e: Event) -> Event:
    """An event as read back (business keys live in their own table)."""
    return dataclasses.replace(e, business_keys=())


def count(store: Any, table: str) -> int:
    """Rows in ``table`` of an open store."""
    return int(store.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])
