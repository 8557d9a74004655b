"""Subject-name strategies per topic (record, topic, topic_record), and records carrying a schema
id resolving by that id whatever the strategy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from catalog.registry import Registry
from catalog.validation import subject_name
from collector.model import Event, Location
from collector.validate import build_validator

T = datetime(2026, 1, 1, tzinfo=UTC)


def _needs(field: str) -> dict[str, Any]:
    return {"type": "object", "required": [field]}


def _registry() -> Registry:
    reg = Registry()
    for subject, field in (("OrderPlaced", "by_record"), ("orders-value", "by_topic"),
                           ("payments-OrderPlaced", "by_topic_record")):
        reg, _ = reg.with_version(subject, _needs(field))
    return reg


def _event(topic: str, dataschema: str | None = None) -> Event:
    return Event(id="e1", type="OrderPlaced", source="svc", occurred_at=T, correlation_id="c",
                 data={}, location=Location("kafka", topic, 0, 1), received_at=T,
                 dataschema=dataschema)


@pytest.mark.parametrize(("strategy", "topic", "expected"), [
    ("record", "orders", "OrderPlaced"),
    ("topic", "orders", "orders-value"),
    ("topic_record", "orders", "orders-OrderPlaced"),
    ("topic", None, "OrderPlaced"),
])
def test_subject_name(strategy: str, topic: str | None, expected: str) -> None:
    assert subject_name(strategy, topic, "OrderPlaced") == expected


def test_each_topic_is_validated_against_the_subject_its_strategy_names() -> None:
    validate = build_validator(_registry(), strategies={"orders": "topic",
                                                        "payments": "topic_record"})
    missing = {topic: [v.message for v in validate(_event(topic))]
               for topic in ("orders", "payments", "other")}
    assert "by_topic" in missing["orders"][0]
    assert "by_topic_record" in missing["payments"][0]
    assert "by_record" in missing["other"][0]  # the default: record name strategy


def test_a_topic_whose_strategy_names_an_unregistered_subject_is_not_validated() -> None:
    validate = build_validator(_registry(), strategies={"*": "topic"})
    assert list(validate(_event("shipments"))) == []


def test_a_schema_id_wins_over_the_strategy() -> None:
    ids = {7: [("payments-OrderPlaced", 1)]}
    validate = build_validator(_registry(), ids, strategies={"orders": "topic"})
    found = validate(_event("orders", "confluent:7"))
    assert [v.schema_version for v in found] == [1]
    assert "by_topic_record" in found[0].message


def test_the_compatibility_page_counts_wire_format_events_per_version_of_their_id(
        tmp_path: Any) -> None:
    """Events whose dataschema is a schema id count under the version registered with it."""
    from collector.catalog_source import refresh_rollups, rollup_store
    from collector.store import Batch, open_store
    from dashboard.catalog_queries import validation_by_producer

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        store.write(Batch(events=[
            Event(id=f"e{i}", type="OrderPlaced", source="shop", occurred_at=T,
                  correlation_id=f"c{i}", data={}, location=Location("kafka", "orders", 0, i),
                  received_at=T, dataschema=f"confluent:{7 if i < 3 else 8}")
            for i in range(5)]))
        refresh_rollups(rollup_store(store))  # the page counts from the rollups
        rows = validation_by_producer(store, "OrderPlaced", 2,
                                      {7: [("OrderPlaced", 1)], 8: [("OrderPlaced", 2)]})
    finally:
        store.close()
    assert {r["schema version"]: r["events seen"] for r in rows} == {1: 3, 2: 2}
