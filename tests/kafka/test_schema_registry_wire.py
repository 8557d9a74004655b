"""Issue 17: confluent-kafka's JSONSerializer, registered with `registry serve`, produces records
in the Confluent wire format to the test broker; the collector resolves each record's schema id
to its subject and version and validates against exactly that version.

The subject runs in FORWARD mode so that v2 may require a field v1 did not: a v1 record without
it is valid under v1 (its id) and would be invalid under the latest version, so a collector that
ignored the id would report a violation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from catalog.files import load_registry
from collector.kafka.producer import publish
from collector.store.base import open_store
from collector.validate import build_validator, ids_by_number
from tests.kafka._support import Rec, collect_until, make_collector
from tests.registry.conftest import Server, running_server

pytestmark = pytest.mark.kafka

V1 = {"title": "OrderPlaced", "type": "object",
      "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
V2 = {**V1, "properties": {**V1["properties"], "amount": {"type": "number"}},
      "required": ["order_id", "amount"]}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path) as srv:
        yield srv


def _headers(i: int) -> tuple[tuple[str, bytes], ...]:
    return (("ce_specversion", b"1.0"), ("ce_id", f"w-{i}".encode()),
            ("ce_type", b"OrderPlaced"), ("ce_source", b"/orders"),
            ("ce_correlationid", f"c-{i}".encode()))


def test_wire_format_records_are_validated_against_the_version_of_their_id(
        kafka: Any, topic: str, server: Server) -> None:
    client = SchemaRegistryClient({"url": server.url})
    client.set_compatibility("OrderPlaced", "FORWARD")
    conf = {"subject.name.strategy": record_subject_name_strategy}
    first = JSONSerializer(json.dumps(V1), client, conf=conf)
    second = JSONSerializer(json.dumps(V2), client, conf=conf)
    ctx = SerializationContext(topic, MessageField.VALUE)
    records = [Rec(topic, first({"order_id": f"o-{i}"}, ctx), None, _headers(i))
               for i in range(10)]
    records += [Rec(topic, second({"order_id": f"o-{i}", "amount": 1.5}, ctx), None,
                    _headers(i)) for i in range(10, 20)]
    v2 = client.get_latest_version("OrderPlaced")
    assert v2.version == 2
    # a record that claims v2's id but lacks v2's required field: the one violation expected
    bad = b"\x00" + v2.schema_id.to_bytes(4, "big") + json.dumps({"order_id": "x"}).encode()
    records.append(Rec(topic, bad, None, _headers(99)))
    publish(records, kafka.bootstrap)

    registry = load_registry(server.events)
    ids = ids_by_number(server.events, registry)
    store = open_store(f"sqlite:///{server.root / 'store.db'}")
    try:
        run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}",
                             validate=build_validator(registry, ids))
        collect_until(run, len(records))
        violations = store.query("SELECT id, schema_version, keyword FROM violations")
        schemas = store.query("SELECT DISTINCT dataschema FROM events ORDER BY dataschema")
    finally:
        store.close()
    assert [(v["id"], v["schema_version"], v["keyword"]) for v in violations] == [
        ("w-99", 2, "required")]
    v1_id = client.get_version("OrderPlaced", 1).schema_id
    assert {r["dataschema"] for r in schemas} == {f"confluent:{v1_id}",
                                                  f"confluent:{v2.schema_id}"}
