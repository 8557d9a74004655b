"""Event map, Catalog and Schema compatibility: the pages on a simulated store (AppTest), and the
query functions behind them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from catalog.changes import Mode
from catalog.eventmap import EventMap, build_event_map
from catalog.mapdrawing import build_drawing
from catalog.metadata import Declaration, DeclaredRole, SchemaInfo
from catalog.traffic import LATENCY_BUCKETS_MS, EdgeKind, EdgeTraffic, Window
from collector.model import Event, Location
from collector.store import Batch, open_store
from dashboard import catalog_queries as q
from tests.dashboard.conftest import APP, SCHEMAS, SimulatedStore

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
UNKNOWN_TYPES = {"CustomerSegmentAssigned", "OrderFraudScored"}
"""Types the simulator's unknown-type fault emits: no schema."""


def _page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, int]:
    return {m.label: int(m.value) for m in at.metric}


def _schema_domains() -> dict[str, str]:
    domains = {}
    for folder in (p for p in (SCHEMAS / "events").iterdir() if p.is_dir()):
        latest = max(folder.glob("v*.json"), key=lambda p: int(p.stem[1:]))
        domains[folder.name] = json.loads(latest.read_text())["x-domain"]
    return domains


def _store_rows(store: SimulatedStore, sql: str, params: tuple[object, ...] = ()
                ) -> list[dict[str, object]]:
    s = open_store(store.url, read_only=True)
    try:
        return s.query(sql, params)
    finally:
        s.close()


# -- the pure functions ---------------------------------------------------------------------

def _small_map() -> EventMap:
    latency = [0] * len(LATENCY_BUCKETS_MS)
    latency[LATENCY_BUCKETS_MS.index(50)] = 100
    traffic = [
        EdgeTraffic(EdgeKind.PRODUCE, "order-svc", "OrderPlaced", "orders", 120, T0,
                    T0 + timedelta(minutes=59), violations=3),
        EdgeTraffic(EdgeKind.CONSUME, "pay-svc", "OrderPlaced", "orders", 100, T0,
                    T0 + timedelta(minutes=59), latency=tuple(latency)),
        EdgeTraffic(EdgeKind.PRODUCE, "pay-svc", "PaymentDone", "payments", 60, T0,
                    T0 + timedelta(minutes=59)),
    ]
    schemas = [SchemaInfo("OrderPlaced", 1, {}, domain="orders", owner="team-a"),
               SchemaInfo("PaymentDone", 1, {}, domain="payments")]
    declared = [Declaration("ship-svc", DeclaredRole.CONSUMER, "PaymentDone", "payments")]
    return build_event_map(traffic, window=Window(T0, T0 + timedelta(hours=1)),
                           schemas=schemas, declarations=declared)


def test_the_drawing_colours_violations_stalls_and_declared_edges() -> None:
    event_map = _small_map()
    drawing = build_drawing(event_map, stalls={"PaymentDone": 4})
    lines = {n: next(line for line in drawing.dot.splitlines()
                     if line.strip().startswith(f"{i} [")) for n, i in drawing.node_ids.items()}
    assert "state-violations" in lines["event:OrderPlaced"]
    assert "state-violations" in lines["service:order-svc"]
    assert "state-stalled" in lines["event:PaymentDone"]
    assert "state-ok" in lines["topic:orders"]
    edges = {e: next(line for line in drawing.dot.splitlines() if f"id={i} " in line)
             for e, i in drawing.edge_ids.items()}
    assert 'label="1.67/min · p95 50 ms"' in edges["event:OrderPlaced", "service:pay-svc"]
    produce = edges["service:order-svc", "event:OrderPlaced"]
    assert 'label="2/min · 2.5% invalid"' in produce
    assert "violations" in produce
    assert "style=dashed" in edges["event:PaymentDone", "service:ship-svc"]


def test_view_of_filters_by_domain_and_node_kind_and_neighbourhood() -> None:
    event_map = _small_map()
    orders = q.view_of(event_map, domain="orders")
    assert orders.nodes("event") == ["OrderPlaced"]
    only_events = q.view_of(event_map, kinds=["event"])
    assert only_events.nodes("service") == []
    assert only_events.nodes("topic") == []
    assert only_events.graph.number_of_edges() == 0
    around = q.view_of(event_map, around="service:ship-svc", hops=1)
    assert set(around.graph) == {"service:ship-svc", "event:PaymentDone"}
    assert q.view_of(event_map, around="service:gone") is event_map


def test_compare_versions_gives_each_change_and_the_verdict_per_mode() -> None:
    registry = q.registry_of(SCHEMAS)
    diff = q.compare_versions(registry, "OrderPlaced", 1, 2)
    rows = {(r["direction"], r["change"]): r for r in diff.change_rows}
    added = rows["backward", "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"]
    assert added["path"] == "#/properties/channel"
    assert added["compatible"]
    removed = rows["forward", "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"]
    assert not removed["compatible"]
    assert removed["breaks"] == "FORWARD, FULL"
    assert diff.verdicts[Mode.BACKWARD]
    assert diff.verdicts[Mode.BACKWARD_TRANSITIVE]
    assert not diff.verdicts[Mode.FORWARD]
    assert not diff.verdicts[Mode.FULL_TRANSITIVE]
    back = q.compare_versions(registry, "OrderPlaced", 2, 1)
    assert not back.verdicts[Mode.BACKWARD]
    assert back.verdicts[Mode.FORWARD]


def test_validation_by_producer_counts_the_violations_table(
        simulated_store: SimulatedStore) -> None:
    expected = _store_rows(simulated_store, "SELECT producer, schema_version, "
                           "COUNT(DISTINCT id) AS n FROM violations WHERE event_type = "
                           "'OrderPlaced' GROUP BY 1, 2")
    assert expected, "the simulator injected no OrderPlaced violation"
    store = open_store(simulated_store.url, read_only=True)
    try:
        rows = q.validation_by_producer(store, "OrderPlaced")
        failures = q.recent_failures(store, "OrderPlaced", limit=5)
        none = q.recent_failures(store, "OrderPlaced", producer="nobody")
    finally:
        store.close()
    failing = {(r["producer"], r["schema version"]): r["failing events"] for r in rows
               if r["failing events"]}
    assert failing == {(r["producer"], r["schema_version"]): r["n"] for r in expected}
    assert all(r["events seen"] > 0 for r in rows)
    assert 0 < len(failures) <= 5
    assert all(f["field"].startswith("/") and f["message"] for f in failures)
    assert [f["time"] for f in failures] == sorted((f["time"] for f in failures), reverse=True)
    assert none == []


def test_store_reads_stalls_lag_and_windows(simulated_store: SimulatedStore) -> None:
    stuck = _store_rows(simulated_store, "SELECT COUNT(*) AS n FROM flows WHERE status = 'stuck'")
    store = open_store(simulated_store.url, read_only=True)
    try:
        stalls = q.stalls_by_event_type(store)
        lag = q.rollup_lag(store)
        everything = q.map_window(store, None)
        hour = q.map_window(store, timedelta(hours=1))
    finally:
        store.close()
    assert sum(stalls.values()) == stuck[0]["n"] > 0
    assert lag == 0
    assert everything is not None
    assert hour is not None
    assert hour.end == everything.end
    assert hour.end - hour.start == timedelta(hours=1)


# -- the pages ------------------------------------------------------------------------------

def _event_types(store: SimulatedStore) -> set[str]:
    seen = {str(r["type"]) for r in _store_rows(store, "SELECT DISTINCT type FROM events")}
    return seen | set(_schema_domains())


def test_event_map_shows_every_node_of_the_simulated_topology(
        simulated_env: SimulatedStore) -> None:
    at = _page("views/eventmap.py")
    metrics = _metrics(at)
    assert metrics["Event types"] == len(_event_types(simulated_env))
    services = {str(r["source"]) for r in _store_rows(simulated_env,
                                                       "SELECT DISTINCT source FROM events")}
    assert metrics["Services"] >= len(services)
    assert metrics["Topics"] > 0
    assert metrics["Edges"] > 0
    drawn = at.get("bidi_component")
    assert len(drawn) == 1
    svg = json.loads(drawn[0].proto.json)["svg"]
    for name in _event_types(simulated_env):
        assert f">{name}</text>" in svg, f"{name} is not drawn"
    assert "event: OrderPlaced" in at.selectbox(key="map_node").options


def test_event_map_filters_change_what_is_shown(simulated_env: SimulatedStore) -> None:
    at = _page("views/eventmap.py")
    everything = _metrics(at)
    at.selectbox(key="map_domain").select("orders").run()
    orders = {t for t, d in _schema_domains().items() if d == "orders"}
    assert _metrics(at)["Event types"] == len(orders) < everything["Event types"]
    at.selectbox(key="map_domain").select("").run()
    at.multiselect(key="map_kinds").set_value(["event"]).run()
    only_events = _metrics(at)
    assert only_events["Services"] == only_events["Topics"] == only_events["Edges"] == 0
    assert only_events["Event types"] == everything["Event types"]
    at.multiselect(key="map_kinds").set_value(["service", "event", "topic"]).run()
    at.selectbox(key="map_window").select("last 15 minutes").run()
    assert not at.exception
    assert _metrics(at)["Edges"] < everything["Edges"]


def test_event_map_keeps_the_selected_node_across_refreshes_and_filters(
        simulated_env: SimulatedStore) -> None:
    at = _page("views/eventmap.py")
    at.selectbox(key="map_node").select("event:OrderPlaced").run()
    assert [h.value for h in at.subheader] == ["OrderPlaced"]
    assert any("team\\-checkout" in m.value for m in at.markdown)
    at.run()  # what the fragment's timer does
    assert at.selectbox(key="map_node").value == "event:OrderPlaced"
    at.selectbox(key="map_domain").select("payments").run()
    assert at.selectbox(key="map_node").value == "event:OrderPlaced"
    assert [h.value for h in at.subheader] == ["OrderPlaced"]


def test_event_map_shows_a_service_when_chosen(simulated_env: SimulatedStore) -> None:
    at = _page("views/eventmap.py")
    at.selectbox(key="map_node").select("service:order-service").run()
    text = " ".join(m.value for m in at.markdown)
    assert [h.value for h in at.subheader] == ["order\\-service"]
    assert "[Catalog page](service?name=order-service)" in text
    assert "OrderPlaced" in text


def test_catalog_lists_entries_undocumented_and_orphans(simulated_env: SimulatedStore) -> None:
    at = _page("views/catalog.py")
    table = at.dataframe[0].value
    assert set(table["event type"]) == _event_types(simulated_env)
    placed = table[table["event type"] == "OrderPlaced"].iloc[0]
    assert placed["owner"] == "team-checkout"
    assert placed["versions"] == "v1, v2"
    assert "order-service" in placed["producers"]
    headers = [s.value for s in at.subheader]
    undocumented = next(h for h in headers if h.startswith("Undocumented events"))
    assert undocumented == f"Undocumented events ({len(UNKNOWN_TYPES)})"
    lists = {h: df.value for h, df in zip(headers, at.dataframe[1:], strict=False)}
    assert set(lists[undocumented]["event type"]) == UNKNOWN_TYPES
    orphans = next(h for h in headers if h.startswith("Orphan events"))
    assert set(lists[orphans]["finding"]) <= {"orphan-produced", "orphan-consumed"}
    assert len(lists[orphans]) > 0


def test_catalog_filters_and_links_to_entry_pages(simulated_env: SimulatedStore) -> None:
    at = _page("views/catalog.py")
    at.text_input(key="catalog_search").input("name:Order").run()
    names = set(at.dataframe[0].value["event type"])
    assert names
    assert all("order" in n.lower() for n in names)
    at.text_input(key="catalog_search").input("").run()
    at.selectbox(key="catalog_only").select("undocumented").run()
    assert set(at.dataframe[0].value["event type"]) == UNKNOWN_TYPES
    at.selectbox(key="catalog_only").select("all").run()
    links = " ".join(m.value for m in at.markdown)
    assert "[PaymentProcessed](event?type=PaymentProcessed)" in links


def test_schemas_page_compares_versions_with_verdicts(simulated_env: SimulatedStore) -> None:
    at = _page("views/schemas.py")
    # opens on the subject with the most versions, where there is something to compare
    assert at.selectbox(key="schemas_subject").value == "OrderPlaced"
    at.selectbox(key="schemas_subject").select("AccountOpened").run()
    assert "nothing to compare" in " ".join(c.value for c in at.caption)
    at.selectbox(key="schemas_subject").select("OrderPlaced").run()
    assert not at.exception
    versions, verdicts, changes = (df.value for df in at.dataframe[:3])
    assert list(versions["version"]) == ["v1", "v2"]
    verdict = dict(zip(verdicts["mode"], verdicts["verdict"], strict=True))
    assert verdict["BACKWARD"] == "compatible"
    assert verdict["FORWARD"] == "breaking"
    assert "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" in set(changes["change"])
    at.selectbox(key="schemas_old_OrderPlaced").select(2).run()
    at.selectbox(key="schemas_new_OrderPlaced").select(1).run()
    verdicts = at.dataframe[1].value
    verdict = dict(zip(verdicts["mode"], verdicts["verdict"], strict=True))
    assert verdict["BACKWARD"] == "breaking"
    assert verdict["FORWARD"] == "compatible"


def test_schemas_page_shows_live_validation_per_producer(simulated_env: SimulatedStore) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["subject"] = "PaymentProcessed"
    at.run()
    at.switch_page("views/schemas.py").run()
    assert at.selectbox(key="schemas_subject").value == "PaymentProcessed"
    per_producer, failures = at.dataframe[1].value, at.dataframe[2].value
    assert set(per_producer["Producer"]) == {"payment-service"}
    assert int(per_producer["Failing events"].max()) > 0
    assert set(failures["Field"]) <= {"/amount", "/payment_id", "/order_id", "/"}
    assert "/amount" in set(failures["Field"])


@pytest.mark.parametrize("page", ["views/eventmap.py", "views/catalog.py", "views/schemas.py"])
def test_missing_store_gets_instructions(page: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_STORE", f"sqlite:///{tmp_path / 'none.db'}")
    at = _page(page)
    assert "start the collector" in " ".join(m.value for m in at.markdown).lower()
    assert at.warning
    assert "No data yet" in at.warning[0].value


def test_event_map_neighbourhood_of_the_selected_node(simulated_env: SimulatedStore) -> None:
    at = _page("views/eventmap.py")
    everything = _metrics(at)
    at.selectbox(key="map_node").select("event:OrderPlaced").run()
    at.selectbox(key="map_hops").select("1 hop").run()
    around = _metrics(at)
    assert around["Event types"] == 1
    producers = _store_rows(simulated_env, "SELECT DISTINCT source FROM events "
                            "WHERE type = 'OrderPlaced'")
    assert around["Services"] >= len(producers)
    assert around["Services"] < everything["Services"]
    assert around["Topics"] == 1
    at.selectbox(key="map_hops").select("2 hops").run()
    assert _metrics(at)["Event types"] > 1


@pytest.fixture
def unrolled_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store with events whose rollups nobody refreshed (a collector that keeps none)."""
    url = f"sqlite:///{tmp_path / 'unrolled.db'}"
    store = open_store(url)
    store.write(Batch(events=[Event(
        id="e1", type="OrderPlaced", source="order-service", correlation_id="order-1",
        occurred_at=T0, data={"order_id": "ORD-1"}, location=Location("simulator", "orders", 0, 1),
        received_at=T0)]))
    store.close()
    monkeypatch.setenv("CHOREOSCOPE_STORE", url)
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(SCHEMAS))
    return url


def test_without_rollups_the_map_and_catalog_show_the_declared_types(unrolled_env: str) -> None:
    at = _page("views/eventmap.py")
    assert at.info[0].value == q.NO_TRAFFIC
    metrics = _metrics(at)
    assert metrics["Event types"] == len(_schema_domains())
    assert metrics["Services"] == 0
    assert "1 newer event not on the map yet" in " ".join(c.value for c in at.caption)
    at = _page("views/catalog.py")
    assert at.info[0].value == q.NO_TRAFFIC
    table = at.dataframe[0].value
    assert set(table["event type"]) == set(_schema_domains())
    assert set(table["producers"]) == {""}


def test_events_seen_are_counted_per_schema_version_from_the_dataschema(
        simulated_store: SimulatedStore) -> None:
    """Issue 16: OrderPlaced v1 and v2 each showed the producer's total (451 both times)."""
    from catalog.validation import parse_dataschema

    counted = _store_rows(simulated_store, "SELECT source, dataschema, COUNT(*) AS n FROM "
                          "events WHERE type = 'OrderPlaced' GROUP BY 1, 2")
    expected: dict[tuple[str, int | None], int] = {}
    for r in counted:
        version = parse_dataschema(r["dataschema"])[1] or 2  # none named: the latest, v2
        expected[(r["source"], version)] = expected.get((r["source"], version), 0) + r["n"]
    assert len({v for _, v in expected}) == 2, "the simulator sends OrderPlaced v1 and v2"
    store = open_store(simulated_store.url, read_only=True)
    try:
        rows = q.validation_by_producer(store, "OrderPlaced", latest_version=2)
    finally:
        store.close()
    seen = {(r["producer"], r["schema version"]): r["events seen"] for r in rows}
    assert {k: v for k, v in seen.items() if v} == expected
    assert len(set(expected.values())) == len(expected)  # not one total repeated
