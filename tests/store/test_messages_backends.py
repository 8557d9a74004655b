"""The message browser's queries on both backends (SQLite and PostgreSQL): keys, headers,
offset ranges, text, dead letters and what each partition holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collector.messages import MessageFilter, find_messages, message, partition_spans
from collector.model import DeadLetter, DeadLetterReason, Event, Location
from collector.store import Batch, open_store

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _event(i: int, key: str) -> Event:
    return Event(id=f"e{i}", type="OrderPlaced", source="order-service",
                 occurred_at=T0 + timedelta(seconds=i), correlation_id=f"c{i % 3}",
                 data={"note": f"gift {i}"}, location=Location("kafka", "orders", 0, 10 + i),
                 received_at=T0, key=key, headers=(("x-tenant", f"t{i % 2}"),),
                 dataschema="https://x/schemas/OrderPlaced/v1")


def test_the_message_browser_reads_both_backends(store_url: str) -> None:
    store = open_store(store_url)
    try:
        store.write(Batch(
            events=[_event(i, "c0" if i % 3 == 0 else f"k{i}") for i in range(9)],
            dead_letters=[DeadLetter(DeadLetterReason.NOT_JSON, "not JSON",
                                     Location("kafka", "orders", 0, 30), T0 + timedelta(hours=1),
                                     b"garbage", b"k1", (("x-tenant", b"t1"),))]))
        by_key = find_messages(store, MessageFilter(topic="orders", key="c0"))
        by_other_key = find_messages(store, MessageFilter(topic="orders", key="k1"))
        by_header = find_messages(store, MessageFilter(topic="orders", header=("x-tenant", "t1")))
        by_offsets = find_messages(store, MessageFilter(topic="orders", partition=0,
                                                        offset_from=12, offset_to=13))
        by_text = find_messages(store, MessageFilter(topic="orders", text="GIFT 7"))
        opened = message(store, source="order-service", event_id="e4")
        spans = partition_spans(store, "orders")
    finally:
        store.close()
    assert [m.event_id for m in by_key] == ["e6", "e3", "e0"]
    assert [(m.status, m.event_id) for m in by_other_key] == [
        ("dead letter", None), ("event", "e1")]
    assert [m.event_id for m in by_header] == [None, "e7", "e5", "e3", "e1"]
    assert [m.offset for m in by_offsets] == [13, 12]
    assert [m.event_id for m in by_text] == ["e7"]
    assert opened is not None
    assert opened.payload == {"note": "gift 4"}
    assert [(s.first_offset, s.last_offset, s.events, s.dead_letters) for s in spans] == [
        (10, 30, 9, 1)]
    assert spans[0].gaps == ((19, 29),)
