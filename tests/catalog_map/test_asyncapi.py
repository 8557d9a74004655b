"""AsyncAPI 3.0: the export validates against the official JSON Schema; import reads contracts.

The schema is the one the AsyncAPI initiative publishes in ``@asyncapi/specs`` (installed by the
test session, see conftest), checked with jsonschema's draft-07 validator, which resolves the
bundled definitions by their ``$id`` (no network).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from catalog.asyncapi import AsyncApiOptions, export_asyncapi
from catalog.asyncapi_import import AsyncApiError, import_asyncapi
from catalog.eventmap import EventMap, build_event_map
from catalog.metadata import Declaration, DeclaredRole
from catalog.traffic import GroupAssignment
from collector.catalog_source import load_schema_infos
from tests.catalog_map.conftest import ROOT
from tests.catalog_map.test_eventmap import WINDOW, consume, produce

SCHEMAS = tuple(load_schema_infos(ROOT / "schemas"))


def demo_map() -> EventMap:
    traffic = [
        produce("order-service", "OrderPlaced", "orders", 50, violations=1),
        consume("payment-service", "OrderPlaced", "orders", {5: 50}),
        consume("inventory-service", "OrderPlaced", "orders", {6: 50}),
        produce("payment-service", "PaymentProcessed", "payments", 45),
        consume("inventory-service", "PaymentProcessed", "payments", {4: 45}),
        produce("order-service", "MysteryHappened", None, 2),  # undocumented, on no topic
    ]
    return build_event_map(traffic, window=WINDOW, schemas=SCHEMAS,
                           groups=[GroupAssignment("notification-service", "payments")])


def errors_of(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in validator.iter_errors(doc)]


def test_the_demo_schemas_are_there() -> None:
    assert {"OrderPlaced", "PaymentProcessed"} <= {s.event_type for s in SCHEMAS}


def test_system_document_is_valid_asyncapi(asyncapi_schema: dict[str, Any]) -> None:
    doc = export_asyncapi(demo_map(), SCHEMAS,
                          options=AsyncApiOptions(bootstrap_servers="127.0.0.1:9092"))
    assert errors_of(asyncapi_schema, doc) == []
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["channels"]) == {"orders", "payments", "MysteryHappened"}
    assert doc["channels"]["MysteryHappened"]["address"] is None
    assert doc["channels"]["orders"]["bindings"]["kafka"]["topic"] == "orders"
    ops = {(o["x-service"], o["action"], o["messages"][0]["$ref"].rsplit("/", 1)[-1])
           for o in doc["operations"].values()}
    assert ops == {
        ("order-service", "send", "OrderPlaced"), ("order-service", "send", "MysteryHappened"),
        ("payment-service", "receive", "OrderPlaced"),
        ("inventory-service", "receive", "OrderPlaced"),
        ("payment-service", "send", "PaymentProcessed"),
        ("inventory-service", "receive", "PaymentProcessed"),
        ("notification-service", "receive", "PaymentProcessed"),
    }
    message = doc["components"]["messages"]["OrderPlaced"]
    assert message["correlationId"]["location"] == "$message.payload#/correlationid"
    payload = message["payload"]
    assert payload["schemaFormat"] == "application/schema+json;version=2020-12"
    latest = max((s for s in SCHEMAS if s.event_type == "OrderPlaced"), key=lambda s: s.version)
    assert payload["schema"]["properties"]["data"]["properties"] == latest.document["properties"]
    assert message["x-schema-version"] == latest.version
    group_op = doc["operations"]["notification-service.receive.PaymentProcessed.payments"]
    assert group_op["bindings"]["kafka"]["groupId"]["enum"] == ["notification-service"]


def test_per_service_document_is_valid_and_only_that_service(
        asyncapi_schema: dict[str, Any]) -> None:
    doc = export_asyncapi(demo_map(), SCHEMAS, service="inventory-service")
    assert errors_of(asyncapi_schema, doc) == []
    assert doc["info"]["title"] == "inventory-service"
    assert {o["x-service"] for o in doc["operations"].values()} == {"inventory-service"}
    assert {o["action"] for o in doc["operations"].values()} == {"receive"}
    assert set(doc["channels"]) == {"orders", "payments"}
    assert set(doc["components"]["messages"]) == {"OrderPlaced", "PaymentProcessed"}


@pytest.mark.parametrize(("path", "value"), [
    (("operations", "order-service.send.OrderPlaced.orders", "action"), "publish"),
    (("channels", "orders", "bindings", "kafka", "partitions"), -1),
    (("components", "messages", "OrderPlaced", "correlationId", "location"), "payload.id"),
    (("asyncapi",), "2.6.0"),
])
def test_the_schema_rejects_a_broken_document(asyncapi_schema: dict[str, Any],
                                              path: tuple[str, ...], value: Any) -> None:
    """The validation has teeth: each single breakage of a valid export is caught."""
    doc = copy.deepcopy(export_asyncapi(demo_map(), SCHEMAS))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert errors_of(asyncapi_schema, doc) != []


def test_import_of_the_export_gives_back_every_role() -> None:
    m = demo_map()
    decls = import_asyncapi(export_asyncapi(m, SCHEMAS), "catalog.json")
    got = {(d.service, d.role, d.event_type, d.topic) for d in decls}
    expected = {(svc, DeclaredRole.PRODUCER, ev, t) for ev in m.nodes("event")
                for svc in m.producers(ev) for t in (m.topics(ev) or [None])}
    expected |= {(svc, DeclaredRole.CONSUMER, ev, t) for ev in m.nodes("event")
                 for svc in m.consumers(ev) for t in (m.topics(ev) or [None])}
    assert got == expected
    order = next(d for d in decls if d.event_type == "OrderPlaced")
    assert order.payload is not None
    assert order.payload["properties"]["order_id"]
    assert {d.origin for d in decls} == {"catalog.json"}


def test_import_of_a_hand_written_service_document() -> None:
    """One application's document: the service is info.title; names come from components."""
    doc = {
        "asyncapi": "3.0.1",
        "info": {"title": "shipping-service", "version": "2.0.0"},
        "channels": {
            "paid": {"address": "payments", "messages": {
                "p": {"$ref": "#/components/messages/PaymentProcessed"}}},
            "ship": {"address": "shipping", "messages": {
                "s": {"$ref": "#/components/messages/ShippingScheduled"}}},
        },
        "operations": {
            "onPaid": {"action": "receive", "channel": {"$ref": "#/channels/paid"}},
            "schedule": {"action": "send", "channel": {"$ref": "#/channels/ship"},
                         "messages": [{"$ref": "#/channels/ship/messages/s"}]},
        },
        "components": {"messages": {
            "PaymentProcessed": {"payload": {"type": "object"}},
            "ShippingScheduled": {"name": "ShippingScheduled",
                                  "payload": {"type": "object", "required": ["order_id"]}},
        }},
    }
    decls = import_asyncapi(doc, "shipping.json")
    assert decls == (
        Declaration("shipping-service", DeclaredRole.CONSUMER, "PaymentProcessed", "payments",
                    "shipping.json", {"type": "object"}),
        Declaration("shipping-service", DeclaredRole.PRODUCER, "ShippingScheduled", "shipping",
                    "shipping.json", {"type": "object", "required": ["order_id"]}),
    )


@pytest.mark.parametrize(("doc", "problem"), [
    ({"asyncapi": "1.2.0", "info": {"title": "x"}}, "expected an AsyncAPI 2.x or 3.x document"),
    ([], "expected an AsyncAPI 2.x or 3.x document"),
    ({"asyncapi": "3.0.0", "info": {"title": "x"}, "operations": {
        "o": {"action": "publish", "channel": {}}}}, "send or receive"),
    ({"asyncapi": "3.0.0", "info": {"title": "x"}, "operations": {
        "o": {"action": "send", "channel": {"$ref": "#/channels/nope"}}}}, "points nowhere"),
    ({"asyncapi": "3.0.0", "info": {"title": "x"}, "operations": {
        "o": {"action": "send", "channel": {"$ref": "other.yaml#/c"}}}}, "only local"),
])
def test_import_refuses_what_it_cannot_read(doc: Any, problem: str) -> None:
    with pytest.raises(AsyncApiError, match=problem) as info:
        import_asyncapi(doc, "bad.json")
    assert str(info.value).startswith("bad.json: ")


def test_schema_infos_read_the_metadata_of_the_demo_schemas() -> None:
    order = [s for s in SCHEMAS if s.event_type == "OrderPlaced"]
    assert sorted(s.version for s in order) == sorted(
        int(p.stem[1:]) for p in (ROOT / "schemas/events/OrderPlaced").glob("v*.json"))
    assert all(s.owner and s.description for s in order)
    assert isinstance(ROOT, Path)
