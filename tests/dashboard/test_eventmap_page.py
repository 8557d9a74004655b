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
