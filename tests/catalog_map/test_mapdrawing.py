"""The event map's drawing: DOT from a map, domains collapsed, data strings never markup."""

from __future__ import annotations

import html
import re

import pytest

from catalog._graphviz import render_svg
from catalog.eventmap import EventMap, build_event_map
from catalog.mapdrawing import (
    LABELLED_EDGES,
    build_drawing,
    collapse_domains,
    domain_node,
    neighbourhood,
)
from catalog.metadata import schema_info
from tests.catalog_map.test_eventmap import WINDOW, consume, produce, small_map


def _svg_texts(svg: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_every_node_is_drawn_once_and_a_producing_consumer_twice() -> None:
    event_map = small_map()
    drawing = build_drawing(event_map, group_by_domain=False)  # no domain box's name
    svg = render_svg(drawing.dot)
    texts = _svg_texts(svg)
    for _, data in event_map.graph.nodes(data=True):
        drawn = texts.count(data["name"])
        node = f"{data['kind']}:{data['name']}"
        g = event_map.graph
        both = data["kind"] == "service" and g.in_degree(node) and g.out_degree(node)
        assert drawn == (2 if both else 1), (data["name"], drawn)
    for svg_id in drawing.node_ids.values():
        assert f'id="{svg_id}"' in svg
    for svg_id in drawing.edge_ids.values():
        assert f'id="{svg_id}"' in svg


def test_rates_on_edges_up_to_the_limit_then_in_tooltips_only() -> None:
    event_map = small_map()
    labelled = render_svg(build_drawing(event_map).dot)
    assert any("/min" in t or "/h" in t for t in _svg_texts(labelled))
    quiet = build_drawing(event_map, edge_labels=False)
    svg = render_svg(quiet.dot)
    assert not any("/min" in t or "/h" in t for t in _svg_texts(svg))
    assert "/min" in svg or "/h" in svg  # still in the tooltips
    assert not quiet.edge_labels
    assert build_drawing(event_map).edge_labels == (event_map.graph.number_of_edges()
                                                    <= LABELLED_EDGES)


@pytest.mark.parametrize("name", [
    "<img src=x onerror=alert(1)>", "\\N\\G\\l", "a\"b", "[Re-login](http://127.0.0.1:18999/x)",
    "<b>bold</b>", "&lt;x&gt; &amp; &#45;",
])
def test_names_from_data_are_drawn_exactly_as_stored(name: str) -> None:
    traffic = [produce(name, "OrderPlaced", "orders", 10), consume("ship", name, "orders", {2: 3})]
    event_map = build_event_map(traffic, window=WINDOW)
    svg = render_svg(build_drawing(event_map).dot)
    assert name in _svg_texts(svg)
    assert "<img" not in svg
    assert "<b>" not in svg


def test_collapsing_a_domain_folds_its_types_topics_and_own_services() -> None:
    schemas = [schema_info("OrderPlaced", 1, {"x-domain": "orders", "x-topic": "orders"}),
               schema_info("OrderPaid", 1, {"x-domain": "orders", "x-topic": "orders"}),
               schema_info("Shipped", 1, {"x-domain": "shipping", "x-topic": "shipping"})]
    traffic = [produce("order-svc", "OrderPlaced", "orders", 60),
               produce("order-svc", "OrderPaid", "orders", 30),
               consume("ship-svc", "OrderPaid", "orders", {2: 30}),
               produce("ship-svc", "Shipped", "shipping", 30)]
    event_map = build_event_map(traffic, window=WINDOW, schemas=schemas)
    folded = collapse_domains(event_map, ["orders"])
    orders = domain_node("orders")
    assert set(folded.graph) == {orders, "service:ship-svc", "event:Shipped", "topic:shipping"}
    assert set(folded.graph.nodes[orders]["members"]) == {
        "service:order-svc", "event:OrderPlaced", "event:OrderPaid", "topic:orders"}
    assert folded.graph.edges[orders, "service:ship-svc"]["count"] == 30
    assert collapse_domains(event_map, []) is event_map
    svg = render_svg(build_drawing(folded).dot)
    assert "orders" in _svg_texts(svg)


def test_neighbourhood_is_the_node_its_neighbours_and_their_edges() -> None:
    event_map: EventMap = small_map()
    nodes, edges = neighbourhood(event_map, "event:OrderPlaced")
    assert "event:OrderPlaced" in nodes
    assert "service:order-service" in nodes
    assert ("service:order-service", "event:OrderPlaced") in edges
    assert all("event:OrderPlaced" in e for e in edges)
    assert neighbourhood(event_map, "event:Nope") == (set(), set())
