"""The catalog's own pages (Event type, Service, Domain) and the Catalog's search, as AppTests
over the simulated demo store."""

from __future__ import annotations

import base64
import re
from typing import Any

from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, SimulatedStore


def _open(path: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(path)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [h.value for h in at.header] + [w.value for w in at.warning])


def _svg(at: AppTest) -> str:
    """The small map: an image of the SVG the Event map's drawing gives."""
    url = at.get("image")[0].proto.imgs[0].url
    prefix = "data:image/svg+xml;base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url.removeprefix(prefix)).decode()


def _frame(at: AppTest, column: str) -> Any:
    """The first table with ``column``."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_event_page_shows_owner_links_fields_diff_validation_samples_and_flows(
        simulated_env: SimulatedStore) -> None:
    at = _open("views/event.py", type="OrderPlaced")
    assert [h.value for h in at.header] == ["OrderPlaced"]
    text = _text(at)
    assert "**Owner** team\\-checkout" in text
    assert "[orders](domain?name=orders)" in text
    assert "[order\\-service](service?name=order-service)" in text
    assert "[payment\\-service](service?name=payment-service)" in text
    assert "[orders](messages?topic=orders&type=OrderPlaced)" in text
    assert "(search?event_type=OrderPlaced)" in text
    assert [m.label for m in at.metric][:3] == ["Rate", "Events", "Producers"]
    assert int(at.metric[1].value.replace(",", "")) > 0
    assert [t.label for t in at.tabs] == ["v2", "v1"]  # the newest first
    frames = [d.value for d in at.dataframe]
    fields = frames[0]  # the v2 tab's table
    row = fields[fields["field"] == "/channel"].iloc[0]
    assert row["since"] == "v2"
    assert row["type"] == "string"
    assert not row["required"]
    assert "enum web, mobile, store" in row["constraints"]
    assert "v2 after v1 is **compatible**" in text
    validation = next(f for f in frames if "failing events" in f.columns)
    assert "order-service" in set(validation["producer"])
    assert validation["failing events"].sum() > 0  # the bad-schema fault
    samples = [c.value for c in at.code if c.language == "json"]
    assert samples
    assert samples[0].startswith("{\n  ")
    flows = next(f for f in frames if "its place" in f.columns)
    assert {p.split(";")[0] for p in flows["its place"]} == {"starts it"}


def test_event_page_of_an_undocumented_type_says_to_propose_a_schema(
        simulated_env: SimulatedStore) -> None:
    at = _open("views/event.py", type="OrderFraudScored")
    assert any("undocumented" in w.value for w in at.warning)
    assert "choreoscope schemas propose OrderFraudScored" in [c.value for c in at.code]
    assert "No schema registered." in [c.value for c in at.caption]
    inferred = _frame(at, "field")
    assert "/order_id" in set(inferred["field"])  # read off its stored payloads


def test_event_page_without_a_type_offers_a_chooser_and_an_unknown_one_says_so(
        simulated_env: SimulatedStore) -> None:
    at = _open("views/event.py")
    assert "OrderPlaced" in at.selectbox(key="event_choose").options
    at = _open("views/event.py", type="NoSuchType")
    assert any("NoSuchType" in w.value for w in at.warning)


def test_service_page_shows_produced_consumed_violations_dead_letters_and_neighbourhood(
        simulated_env: SimulatedStore) -> None:
    at = _open("views/service.py", name="order-service")
    assert [h.value for h in at.header] == ["order\\-service"]
    titles = [s.value for s in at.subheader]
    assert any(t.startswith("Produces (") for t in titles)
    assert any(t.startswith("Consumes (") for t in titles)
    text = _text(at)
    assert "[OrderPlaced](event?type=OrderPlaced)" in text
    violations = _frame(at, "failing events")
    assert "OrderPlaced" in set(violations["event type"])
    assert "Services one event away" in text
    assert ">order&#45;service</text>" in _svg(at), "the neighbourhood map is drawn"


def test_domain_page_shows_types_services_flows_and_its_map(
        simulated_env: SimulatedStore) -> None:
    at = _open("views/domain.py", name="orders")
    assert [h.value for h in at.header] == ["orders"]
    text = _text(at)
    assert "[OrderPlaced](event?type=OrderPlaced)" in text
    assert "[order\\-service](service?name=order-service)" in text
    assert "**Flows** order" in text
    svg = _svg(at)
    assert ">OrderPlaced</text>" in svg
    assert ">PaymentProcessed</text>" not in svg


def test_catalog_search_by_field_links_each_type_to_its_page(
        simulated_env: SimulatedStore) -> None:
    at = _open("views/catalog.py")
    at.text_input(key="catalog_search").input("field:customer_id").run()
    assert not at.exception
    found = re.sub(r"\\(.)", r"\1", "\n".join(m.value for m in at.markdown))  # unescaped
    assert "[OrderPlaced](event?type=OrderPlaced): field /customer_id (v1, v2)" in found
    at.text_input(key="catalog_search").input("producer:order-service").run()
    table = at.dataframe[0].value
    assert set(table["event type"]) >= {"OrderPlaced"}
    assert all("order-service" in p for p in table["producers"])


def test_catalog_lists_undocumented_events_with_what_to_do(
        simulated_env: SimulatedStore) -> None:
    at = _open("views/catalog.py")
    undocumented = _frame(at, "what to do")
    assert set(undocumented["what to do"]) >= {
        "choreoscope schemas propose OrderFraudScored"}
