"""The Event map page over the simulated store (AppTest): domains collapse to one node and
expand again, undocumented types say what to do, the side panel links where it should."""

from __future__ import annotations

import json
from typing import Any

from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, SimulatedStore


def _map_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/eventmap.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _drawn(at: AppTest) -> dict[str, Any]:
    """What the map component was given (the SVG, what its ids mean, the highlight)."""
    component = at.get("bidi_component")
    assert len(component) == 1
    data: dict[str, Any] = json.loads(component[0].proto.json)
    return data


def test_a_collapsed_domain_is_one_node_until_expanded(simulated_env: SimulatedStore) -> None:
    at = _map_page()
    assert "event:OrderPlaced" in _drawn(at)["nodes"].values()
    at.multiselect(key="map_collapsed").set_value(["orders"]).run()
    drawn = set(_drawn(at)["nodes"].values())
    assert "domain:orders" in drawn
    assert not {"event:OrderPlaced", "event:OrderCompleted", "topic:orders"} & drawn
    assert "event:PaymentProcessed" in drawn
    at.selectbox(key="map_node").select("domain:orders").run()
    assert [h.value for h in at.subheader] == ["orders"]
    assert any("OrderPlaced" in m.value for m in at.markdown)
    at.button(key="map_expand").click().run()
    assert not at.exception
    assert at.multiselect(key="map_collapsed").value == []
    assert "event:OrderPlaced" in _drawn(at)["nodes"].values()


def test_selecting_highlights_the_neighbourhood_in_the_drawing(
        simulated_env: SimulatedStore) -> None:
    at = _map_page()
    assert _drawn(at)["selected"] == []
    at.selectbox(key="map_node").select("event:OrderPlaced").run()
    drawn = _drawn(at)
    ids = {n: i for i, n in drawn["nodes"].items()}
    assert drawn["selected"] == [ids["event:OrderPlaced"]]
    near = {drawn["nodes"][i] for i in drawn["near_nodes"]}
    assert {"event:OrderPlaced", "service:order-service", "topic:orders"} <= near
    assert "event:KycChecked" not in near
    assert drawn["near_edges"]


def test_an_undocumented_type_says_how_to_document_it(simulated_env: SimulatedStore) -> None:
    at = _map_page()
    at.selectbox(key="map_node").select("event:OrderFraudScored").run()
    warnings = " ".join(w.value for w in at.warning)
    assert "choreoscope schemas propose OrderFraudScored" in warnings
    links = " ".join(m.value for m in at.markdown)
    assert "(event?type=OrderFraudScored)" in links
    assert "(search?event_type=OrderFraudScored)" in links
    assert "(messages?topic=payments&type=OrderFraudScored)" in links


def _in_page_order(node: Any) -> list[str]:
    """The page's elements top to bottom: widget keys, else element types."""
    children = getattr(node, "children", None)
    if children is None:
        return [getattr(node, "key", None) or node.type]
    return [name for i in sorted(children) for name in _in_page_order(children[i])]


def _popover_labels(node: Any) -> list[str]:
    children = getattr(node, "children", None)
    if children is None:
        return []
    own = [node.proto.popover.label] if getattr(node, "type", None) == "popover" else []
    return own + [label for i in sorted(children) for label in _popover_labels(children[i])]


def test_the_filters_and_counts_stay_above_the_map_sent_before_them(
        simulated_env: SimulatedStore) -> None:
    """The map is sent first (it is what the page waits for) into its place below the filters
    (in a popover whose button says what is chosen) and the counts; a filter chosen still cuts
    the map it is drawn above."""
    at = _map_page()
    assert _popover_labels(at.main) == ["Filters"]
    order = _in_page_order(at.main)
    drawn_at = order.index("map_svg")  # the map component's key
    assert order.index("map_window") < drawn_at
    assert order.index("map_labels") < drawn_at
    assert order.index("metric") < drawn_at
    assert drawn_at < order.index("map_node")
    at.multiselect(key="map_kinds").set_value(["event"]).run()
    assert not at.exception
    assert {n.partition(":")[0] for n in _drawn(at)["nodes"].values()} == {"event"}
    assert _popover_labels(at.main) == ["Filters · event types"]  # says what is chosen
