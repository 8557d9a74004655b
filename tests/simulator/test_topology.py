"""The known topology is what the simulated services really do."""

from __future__ import annotations

from collector.simulator import TOPOLOGY
from collector.simulator.domain import EVENT_TYPES, ORPHAN_TYPES, TOPICS, UNKNOWN_TYPES

from .conftest import SCHEMAS, definitions, simulate

SERVICES = {"order-service", "payment-service", "inventory-service", "shipping-service",
            "notification-service", "customer-service", "kyc-service", "account-service"}


def _everything() -> object:
    return simulate(1500, 9, lost=0.1, slow=0.1, duplicate=0.1, reorder=0.1, bad_schema=0.1,
                    unknown_type=0.2, orphan=0.2, undecodable=0.1, no_correlation=0.1)


def test_every_record_comes_from_its_routes_producer_on_its_topic() -> None:
    run = _everything()
    seen = set()
    for i, doc in run.docs():  # type: ignore[attr-defined]
        route = TOPOLOGY.route(doc["type"])
        assert doc["source"] == route.producer
        assert run.records[i].topic == route.topic  # type: ignore[attr-defined]
        seen.add(doc["type"])
    assert seen == {r.event_type for r in TOPOLOGY.routes}


def test_every_reaction_follows_a_subscription() -> None:
    """An event caused by another is produced by a service that consumes the cause's type."""
    run = _everything()
    docs = {doc["id"]: doc for _, doc in run.docs()}  # type: ignore[attr-defined]
    edges = set()
    for doc in docs.values():
        cause = docs.get(doc.get("causationid", ""))
        if cause is not None:
            assert doc["source"] in TOPOLOGY.route(cause["type"]).consumers
            edges.add((cause["source"], cause["type"], doc["source"]))
    reacting = {(p, t, c) for p, t, c in TOPOLOGY.edges()
                if TOPOLOGY.produced_by(c) and (t, c) not in _consume_only()}
    assert reacting <= edges


def _consume_only() -> set[tuple[str, str]]:
    """Subscriptions that update a service's state without publishing anything."""
    return {("PaymentFailed", "order-service"), ("RefundIssued", "order-service"),
            ("OrderCompleted", "payment-service"), ("OrderPlaced", "inventory-service"),
            ("AccountOpened", "customer-service"), ("KycRejected", "customer-service"),
            ("CustomerNotified", "customer-service")}


def test_services_topics_orphans_and_undocumented_types() -> None:
    assert set(TOPOLOGY.services) == SERVICES | {"fraud-service", "marketing-service"}
    assert set(TOPOLOGY.topics) == set(TOPICS) == {
        "orders", "payments", "inventory", "shipping", "notifications", "customers"}
    assert {r.event_type for r in TOPOLOGY.routes if r.orphan and r.documented} == set(
        ORPHAN_TYPES.values())
    assert {r.event_type for r in TOPOLOGY.routes if r.orphan} == set(
        ORPHAN_TYPES.values()) | set(UNKNOWN_TYPES.values())
    assert {r.event_type for r in TOPOLOGY.routes if not r.documented} == set(
        UNKNOWN_TYPES.values())
    for route in TOPOLOGY.routes:
        if route.fault == "unknown-type":
            assert route.consumers == ()
            assert not (SCHEMAS / "events" / route.event_type).exists()
        files = {p.stem for p in (SCHEMAS / "events" / route.event_type).glob("v*.json")}
        assert files == {f"v{v}" for v in route.versions}
    assert TOPOLOGY.route("CustomerNotified").consumers == ("customer-service",)
    assert TOPOLOGY.produced_by("notification-service") == ("CustomerNotified",)
    assert set(TOPOLOGY.consumed_by("payment-service")) == {
        "OrderPlaced", "InventoryOutOfStock", "OrderCompleted"}


def test_every_flow_step_has_a_documented_route_with_consumers_or_ends_the_flow() -> None:
    for d in definitions():
        for event_type in d.event_types:
            route = TOPOLOGY.route(event_type)
            assert route.documented
            assert route.producer == EVENT_TYPES[event_type].producer
            assert route.consumers, event_type  # every step is consumed (terminal ones too)
