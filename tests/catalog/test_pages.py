"""The catalog's pages as values: field tables, catalog search, attention notes, and the event,
service and domain pages built from an event map."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from catalog.entries import build_entries
from catalog.eventmap import EventMap, build_event_map
from catalog.fields import field_history, schema_fields
from catalog.metadata import Declaration, DeclaredRole, SamplePayload, SchemaInfo
from catalog.pages import (
    NO_DOMAIN,
    FlowPlace,
    attention_of,
    build_domain_page,
    build_event_page,
    build_service_page,
    domains_of,
    rate_of,
)
from catalog.search import parse_query, search_catalog
from catalog.traffic import EdgeKind, EdgeTraffic, Window

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
ORDER_V1: dict[str, Any] = {
    "type": "object",
    "required": ["order_id", "customer"],
    "properties": {
        "order_id": {"type": "string", "pattern": "^ORD-", "description": "The order."},
        "customer": {"$ref": "#/$defs/customer"},
        "items": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["sku"],
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}}},
        "paid_at": {"type": "string", "format": "date-time"},
    },
    "$defs": {"customer": {"type": "object", "required": ["customer_id"], "properties": {
        "customer_id": {"type": "string", "description": "Who ordered."}}}},
}
ORDER_V2 = {**ORDER_V1, "properties": {**ORDER_V1["properties"],
                                       "channel": {"enum": ["web", "store"]}}}


def test_schema_fields_give_pointer_type_required_format_constraints_description() -> None:
    fields = {f.pointer: f for f in schema_fields(ORDER_V1)}
    assert list(fields) == ["/order_id", "/customer", "/customer/customer_id", "/items",
                            "/items/*", "/items/*/sku", "/items/*/qty", "/paid_at"]
    assert fields["/order_id"].required
    assert fields["/order_id"].type == "string"
    assert fields["/order_id"].constraints == "pattern ^ORD-"
    assert fields["/order_id"].description == "The order."
    assert fields["/customer/customer_id"].required  # through the local $ref
    assert not fields["/items"].required
    assert fields["/items"].constraints == "minItems 1"
    assert fields["/items/*/sku"].required
    assert not fields["/items/*/qty"].required
    assert fields["/items/*/qty"].constraints == "minimum 1"
    assert fields["/paid_at"].format == "date-time"


def test_a_recursive_reference_stops_instead_of_looping() -> None:
    schema = {"$defs": {"node": {"type": "object", "properties": {
        "child": {"$ref": "#/$defs/node"}}}}, "$ref": "#/$defs/node"}
    pointers = [f.pointer for f in schema_fields(schema)]
    assert pointers[0] == "/child"
    assert len(pointers) <= 40


def test_field_history_says_in_which_version_a_field_appeared() -> None:
    history = field_history([(2, ORDER_V2), (1, ORDER_V1)])
    assert list(history) == [1, 2]
    v2 = {h.field.pointer: h for h in history[2]}
    assert v2["/channel"].since == 2
    assert v2["/channel"].versions == (2,)
    assert v2["/order_id"].since == 1
    assert v2["/order_id"].versions == (1, 2)
    assert v2["/channel"].field.type == "enum"


def _map() -> EventMap:
    window = Window(T0, T0 + timedelta(hours=1))
    traffic = [
        EdgeTraffic(EdgeKind.PRODUCE, "order-svc", "OrderPlaced", "orders", 120, T0,
                    T0 + timedelta(minutes=59), violations=3),
        EdgeTraffic(EdgeKind.CONSUME, "pay-svc", "OrderPlaced", "orders", 100, T0,
                    T0 + timedelta(minutes=59)),
        EdgeTraffic(EdgeKind.PRODUCE, "pay-svc", "PaymentDone", "payments", 60, T0,
                    T0 + timedelta(minutes=59)),
        EdgeTraffic(EdgeKind.PRODUCE, "order-svc", "OrderScored", "orders", 5, T0,
                    T0 + timedelta(minutes=30)),
    ]
    schemas = [SchemaInfo("OrderPlaced", 1, ORDER_V1, domain="orders", owner="team-checkout"),
               SchemaInfo("OrderPlaced", 2, ORDER_V2, domain="orders", owner="team-checkout"),
               SchemaInfo("PaymentDone", 1, {"type": "object", "properties": {
                   "payment_id": {"type": "string"}}}, domain="payments", owner="team-pay")]
    declared = [Declaration("ship-svc", DeclaredRole.CONSUMER, "PaymentDone", "payments")]
    return build_event_map(traffic, window=window, schemas=schemas, declarations=declared)


def _fields(event_map: EventMap) -> dict[str, Any]:
    docs: dict[str, list[tuple[int, Any]]] = {}
    for name, version, doc in (("OrderPlaced", 1, ORDER_V1), ("OrderPlaced", 2, ORDER_V2)):
        docs.setdefault(name, []).append((version, doc))
    return {name: field_history(v) for name, v in docs.items()}


def test_search_by_field_says_at_which_pointer_and_in_which_versions() -> None:
    event_map = _map()
    hits = search_catalog(build_entries(event_map), _fields(event_map), "field:customer_id")
    assert [h.event_type for h in hits] == ["OrderPlaced"]
    assert hits[0].describe() == "field /customer/customer_id (v1, v2)"
    channel = search_catalog(build_entries(event_map), _fields(event_map), "field:channel")
    assert channel[0].describe() == "field /channel (v2)"


@pytest.mark.parametrize(("query", "found"), [
    ("owner:team-pay", ["PaymentDone"]),
    ("producer:order-svc", ["OrderPlaced", "OrderScored"]),
    ("consumer:pay", ["OrderPlaced"]),
    ("consumer:ship-svc", ["PaymentDone"]),  # a declared consumer counts
    ("order", ["OrderPlaced", "OrderScored"]),
    ("order owner:checkout", ["OrderPlaced"]),  # every word must match
    ("", ["OrderPlaced", "OrderScored", "PaymentDone"]),
    ("nothing-like-it", []),
])
def test_search_by_name_owner_producer_and_consumer(query: str, found: list[str]) -> None:
    event_map = _map()
    hits = search_catalog(build_entries(event_map), _fields(event_map), query)
    assert [h.event_type for h in hits] == found


def test_a_colon_that_names_no_scope_is_part_of_the_word() -> None:
    assert parse_query("FIELD:a urn:x") == [("field", "a"), (None, "urn:x")]


def test_undocumented_events_say_to_propose_a_schema() -> None:
    notes = attention_of(_map(), "OrderScored")
    assert notes[0].command == "choreoscope schemas propose OrderScored"
    assert "undocumented" in notes[0].problem
    assert notes[1].problem == "orphan: produced by order-svc and never consumed"
    assert attention_of(_map(), "OrderPlaced") == []


def test_an_event_produced_and_never_consumed_is_an_orphan_once_consumption_is_seen() -> None:
    notes = attention_of(_map(), "PaymentDone")
    assert [n.problem for n in notes] == [
        "orphan: produced by pay-svc and never consumed"]


def test_event_page_holds_entry_rate_fields_per_version_flows_and_samples() -> None:
    places = {"OrderPlaced": [FlowPlace("order", "starts it")]}
    page = build_event_page(_map(), "OrderPlaced", _map_schemas(), places)
    assert page is not None
    assert page.entry.owner == "team-checkout"
    assert page.entry.domain == "orders"
    assert page.entry.producers == ("order-svc",)
    assert page.entry.consumers == ("pay-svc",)
    assert page.rate_per_min == pytest.approx(2.0)
    assert sorted(page.fields) == [1, 2]
    assert page.flows == (FlowPlace("order", "starts it"),)
    assert build_event_page(_map(), "NoSuchType", ()) is None


def _map_schemas() -> list[SchemaInfo]:
    return [SchemaInfo("OrderPlaced", 1, ORDER_V1), SchemaInfo("OrderPlaced", 2, ORDER_V2)]


def test_service_page_lists_what_it_produces_and_consumes_and_its_neighbours() -> None:
    page = build_service_page(_map(), "pay-svc")
    assert page is not None
    assert [e.event_type for e in page.produces] == ["PaymentDone"]
    assert [e.event_type for e in page.consumes] == ["OrderPlaced"]
    assert page.topics == ("orders", "payments")
    assert page.neighbours == ("order-svc", "ship-svc")
    assert [a.event_type for a in page.attention] == ["PaymentDone"]
    order = build_service_page(_map(), "order-svc")
    assert order is not None
    assert order.produces[0].violations == 3


def test_domain_page_has_its_types_services_and_own_map() -> None:
    event_map = _map()
    assert domains_of(event_map) == ["orders", "payments", NO_DOMAIN]
    page = build_domain_page(event_map, "orders")
    assert page is not None
    assert [e.event_type for e in page.entries] == ["OrderPlaced"]
    assert page.services == ("order-svc", "pay-svc")
    assert "event:PaymentDone" not in page.domain_map.graph
    none = build_domain_page(event_map, NO_DOMAIN)
    assert none is not None
    assert [e.event_type for e in none.entries] == ["OrderScored"]
    assert none.attention[0].command == "choreoscope schemas propose OrderScored"
    assert build_domain_page(event_map, "nowhere") is None


def test_demo_schemas_give_customer_id_fields() -> None:
    """The repository's own schemas: field search finds customer_id in many event types."""
    docs = [(p.parent.name, int(p.stem[1:]), json.loads(p.read_text()))
            for p in (ROOT / "schemas" / "events").glob("*/v*.json")]
    carrying = {name for name, _, doc in docs
                if any(f.name == "customer_id" for f in schema_fields(doc))}
    assert {"OrderPlaced", "CustomerRegistered"} <= carrying


def test_the_suggested_command_quotes_a_name_for_the_shell() -> None:
    event_map = build_event_map([EdgeTraffic(EdgeKind.PRODUCE, "svc", "x; rm -rf ~", None, 1,
                                             T0, T0)])
    (note,) = [n for n in attention_of(event_map, "x; rm -rf ~") if n.command]
    assert note.command == "choreoscope schemas propose 'x; rm -rf ~'"


def test_the_live_rate_comes_from_the_recent_window_and_is_zero_when_unseen_there() -> None:
    recent_window = Window(T0 + timedelta(minutes=45), T0 + timedelta(hours=1))
    recent = build_event_map([EdgeTraffic(
        EdgeKind.PRODUCE, "order-svc", "OrderPlaced", "orders", 30, T0 + timedelta(minutes=46),
        T0 + timedelta(minutes=59))], window=recent_window)
    page = build_event_page(_map(), "OrderPlaced", _map_schemas(), live=recent)
    assert page is not None
    assert page.rate_per_min == pytest.approx(2.0)  # 30 in 15 minutes
    quiet = build_event_page(_map(), "PaymentDone", (), live=recent)
    assert quiet is not None
    assert quiet.rate_per_min == 0.0
    assert rate_of(build_event_map([]), "OrderPlaced") is None  # no window: unknown


def test_an_undocumented_types_page_shows_the_fields_its_payloads_carry() -> None:
    samples = [SamplePayload("OrderScored", "order-svc", str(i), T0 + timedelta(seconds=i),
                             {"order_id": f"ORD-{i}", "score": i / 10,
                              **({"reason": "x"} if i % 2 else {})})
               for i in range(6)]
    page = build_event_page(_map(), "OrderScored", (), samples=samples, shown=2)
    assert page is not None
    assert len(page.samples) == 2  # shown
    assert page.inferred_from == 6  # read
    fields = {f.pointer: f for f in page.inferred}
    assert set(fields) == {"/order_id", "/score", "/reason"}
    assert fields["/order_id"].required
    assert not fields["/reason"].required
    assert fields["/score"].type == "number"
    documented = build_event_page(_map(), "OrderPlaced", _map_schemas(), samples=[])
    assert documented is not None
    assert documented.inferred == ()
