"""The event map's pure core: traffic and contracts in, a graph with metrics and views out."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import networkx as nx
import pytest

from catalog.eventmap import EventMap, UnknownNode, build_event_map
from catalog.mapexport import map_to_graphml, map_to_json
from catalog.metadata import Declaration, DeclaredRole, FlowInfo, schema_info
from catalog.traffic import (
    LATENCY_BUCKETS_MS,
    EdgeKind,
    EdgeTraffic,
    GroupAssignment,
    Window,
    percentile_ms,
)
from tests.catalog_map.conftest import HOUR, T0

WINDOW = Window(T0, T0 + HOUR)


def produce(service: str, event_type: str, topic: str | None, count: int, *,
            violations: int = 0, errors: int = 0, minute: int = 0) -> EdgeTraffic:
    at = T0 + timedelta(minutes=minute)
    return EdgeTraffic(EdgeKind.PRODUCE, service, event_type, topic, count, at,
                       at + timedelta(seconds=30), violations=violations, errors=errors)


def consume(service: str, event_type: str, topic: str | None, latency: dict[int, int], *,
            errors: int = 0) -> EdgeTraffic:
    hist = [0] * len(LATENCY_BUCKETS_MS)
    for bucket, n in latency.items():
        hist[bucket] = n
    return EdgeTraffic(EdgeKind.CONSUME, service, event_type, topic, sum(hist), T0,
                       T0 + timedelta(minutes=5), errors=errors, latency=tuple(hist))


SCHEMAS = (
    schema_info("OrderPlaced", 1, {"description": "An order was placed", "x-owner": "checkout",
                                   "x-domain": "orders", "x-topic": "orders"}),
    schema_info("OrderPlaced", 2, {"description": "An order was placed (v2)",
                                   "x-owner": "checkout", "x-domain": "orders",
                                   "x-topic": "orders"}),
    schema_info("PaymentProcessed", 1, {"description": "Paid", "x-owner": "payments",
                                        "x-domain": "payments", "x-topic": "payments"}),
    schema_info("CustomerRegistered", 1, {"x-domain": "customers", "x-topic": "customers"}),
)
FLOWS = (FlowInfo("order", frozenset({"OrderPlaced", "PaymentProcessed"})),
         FlowInfo("onboarding", frozenset({"CustomerRegistered"})))


def small_map() -> EventMap:
    traffic = [
        produce("order-service", "OrderPlaced", "orders", 100, violations=5, errors=2),
        produce("order-service", "OrderPlaced", "orders-eu", 20, minute=3),
        consume("payment-service", "OrderPlaced", "orders", {5: 90, 9: 10}, errors=9),
        produce("payment-service", "PaymentProcessed", "payments", 80),
        consume("order-service", "PaymentProcessed", "payments", {3: 80}),
        produce("audit", "AuditTrail", "payments", 4),
    ]
    return build_event_map(traffic, window=WINDOW, schemas=SCHEMAS, flows=FLOWS)


def test_nodes_and_roles_from_observed_traffic() -> None:
    m = small_map()
    assert m.nodes("service") == ["audit", "order-service", "payment-service"]
    assert m.nodes("event") == ["AuditTrail", "CustomerRegistered", "OrderPlaced",
                                "PaymentProcessed"]
    assert m.producers("OrderPlaced") == ["order-service"]
    assert m.consumers("OrderPlaced") == ["payment-service"]
    assert m.topics("OrderPlaced") == ["orders", "orders-eu"]
    assert m.event_types_on("payments") == ["AuditTrail", "PaymentProcessed"]
    assert m.produced_by("order-service") == ["OrderPlaced"]
    assert m.consumed_by("order-service") == ["PaymentProcessed"]


def test_edge_metrics_over_the_window() -> None:
    m = small_map()
    produced = m.graph.edges["service:order-service", "event:OrderPlaced"]
    assert produced["kind"] == EdgeKind.PRODUCE
    assert produced["count"] == 120
    assert produced["rate_per_min"] == pytest.approx(120 / 60)
    assert produced["violation_rate"] == pytest.approx(5 / 120)
    assert produced["error_rate"] == pytest.approx(2 / 120)
    assert produced["first_seen"] == T0
    assert produced["last_seen"] == T0 + timedelta(minutes=3, seconds=30)
    assert produced["topics"] == ["orders", "orders-eu"]
    consumed = m.graph.edges["event:OrderPlaced", "service:payment-service"]
    assert consumed["p95_ms"] == LATENCY_BUCKETS_MS[9]  # 10% of deliveries took up to 1 s
    assert consumed["error_rate"] == pytest.approx(9 / 100)
    carried = m.graph.edges["event:OrderPlaced", "topic:orders-eu"]
    assert carried["kind"] == EdgeKind.CARRIED_ON
    assert carried["count"] == 20


def test_percentile_of_a_histogram() -> None:
    hist = [0] * len(LATENCY_BUCKETS_MS)
    assert percentile_ms(hist, 0.95) is None
    hist[2], hist[6] = 94, 6
    assert percentile_ms(hist, 0.5) == 5
    assert percentile_ms(hist, 0.95) == 100
    hist[-1] = 1000  # beyond the last bound: reported as "more than" the bound below it
    assert percentile_ms(hist, 0.99) == LATENCY_BUCKETS_MS[-2]


def test_event_nodes_carry_schema_metadata_and_flows() -> None:
    node = small_map().graph.nodes["event:OrderPlaced"]
    assert node["documented"] is True
    assert node["versions"] == [1, 2]
    assert node["description"] == "An order was placed (v2)"  # the latest version's
    assert (node["owner"], node["domain"], node["flows"]) == ("checkout", "orders", ["order"])
    assert small_map().graph.nodes["event:AuditTrail"]["documented"] is False


def test_schema_topic_is_a_declared_carried_on_edge() -> None:
    m = small_map()
    edge = m.graph.edges["event:CustomerRegistered", "topic:customers"]
    assert (edge["declared"], edge["observed"]) == (True, False)
    observed = m.graph.edges["event:OrderPlaced", "topic:orders"]
    assert (observed["declared"], observed["observed"]) == (True, True)


def test_declarations_merge_with_observations() -> None:
    decls = [
        Declaration("order-service", DeclaredRole.PRODUCER, "OrderPlaced", "orders", "a.json"),
        Declaration("billing", DeclaredRole.CONSUMER, "OrderPlaced", "orders", "a.json"),
    ]
    m = build_event_map([produce("order-service", "OrderPlaced", "orders", 3)],
                        declarations=decls)
    assert m.producers("OrderPlaced", observed=True) == ["order-service"]
    assert m.consumers("OrderPlaced") == ["billing"]
    assert m.consumers("OrderPlaced", observed=True) == []
    edge = m.graph.edges["event:OrderPlaced", "service:billing"]
    assert (edge["declared"], edge["observed"], edge["declared_in"]) == (True, False, ["a.json"])
    both = m.graph.edges["service:order-service", "event:OrderPlaced"]
    assert (both["declared"], both["observed"], both["count"]) == (True, True, 3)


def test_consumer_group_consumes_every_type_seen_on_its_topic() -> None:
    traffic = [produce("a", "X", "t1", 1), produce("b", "Y", "t1", 1), produce("c", "Z", "t2", 1)]
    m = build_event_map(traffic, groups=[GroupAssignment("reader", "t1")])
    assert m.consumed_by("reader") == ["X", "Y"]
    edge = m.graph.edges["event:X", "service:reader"]
    assert edge["observed"]
    assert edge["evidence"] == ["consumer-group"]


def test_filters_by_domain_service_and_flow() -> None:
    m = small_map()
    orders = m.filtered(domain="orders")
    assert orders.nodes("event") == ["OrderPlaced"]
    assert orders.nodes("service") == ["order-service", "payment-service"]
    assert orders.nodes("topic") == ["orders", "orders-eu"]
    assert m.filtered(flow_type="onboarding").nodes("event") == ["CustomerRegistered"]
    assert m.filtered(service="audit").nodes("event") == ["AuditTrail"]
    assert m.filtered(domain="orders", service="audit").nodes("event") == []


def test_neighbourhood_counts_hops_in_either_direction() -> None:
    m = small_map()
    one = m.neighbourhood("event:PaymentProcessed", 1)
    assert set(one.graph) == {"event:PaymentProcessed", "service:payment-service",
                              "service:order-service", "topic:payments"}
    two = m.neighbourhood("event:PaymentProcessed", 2)
    assert "event:AuditTrail" in two.graph
    assert "event:OrderPlaced" in two.graph
    with pytest.raises(UnknownNode, match="service:nobody"):
        m.neighbourhood("service:nobody", 1)


def test_views_stay_small_on_a_large_map() -> None:
    """200 services and 1,000 event types: a service's view holds only what touches it."""
    traffic = []
    for t in range(1000):
        traffic.append(produce(f"svc-{t % 200:03d}", f"T{t:04d}", f"topic-{t % 50}", 10))
        traffic.append(consume(f"svc-{(t * 7 + 1) % 200:03d}", f"T{t:04d}", f"topic-{t % 50}",
                               {4: 10}))
    m = build_event_map(traffic, window=WINDOW)
    assert len(m.nodes("service")) == 200
    assert len(m.nodes("event")) == 1000
    view = m.filtered(service="svc-000")
    assert set(view.nodes("event")) == set(m.produced_by("svc-000")) | set(
        m.consumed_by("svc-000"))
    assert len(view.graph) < 40
    around = m.neighbourhood("service:svc-000", 1)
    assert len(around.nodes("event")) == len(view.nodes("event"))


def test_graphml_export_reads_back_with_its_attributes() -> None:
    m = small_map()
    back = nx.read_graphml(io.BytesIO(map_to_graphml(m).encode()))
    assert set(back.nodes) == set(m.graph.nodes)
    assert set(back.edges) == set(m.graph.edges)
    edge = back.edges["service:order-service", "event:OrderPlaced"]
    assert edge["count"] == 120
    assert edge["topics"] == "orders,orders-eu"
    assert edge["last_seen"] == (T0 + timedelta(minutes=3, seconds=30)).isoformat()
    assert back.nodes["event:OrderPlaced"]["owner"] == "checkout"


def test_json_export_is_node_link_with_the_window() -> None:
    data = json.loads(json.dumps(map_to_json(small_map())))
    assert data["graph"]["window"] == {"start": T0.isoformat(), "end": (T0 + HOUR).isoformat()}
    back = nx.node_link_graph(data, edges="edges")
    assert back.edges["event:OrderPlaced", "service:payment-service"]["p95_ms"] == 1000
    assert back.nodes["event:OrderPlaced"]["versions"] == [1, 2]
