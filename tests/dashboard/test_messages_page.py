"""The message browser page (AppTest) over the simulated store: a topic newest first, the
filters of the URL, a message opened with its payload, headers and links."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from collector.store import open_store
from tests.dashboard.conftest import APP, SimulatedStore


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page("views/messages.py").run()
    assert not at.exception, at.exception
    return at


def _listed(at: AppTest) -> list[dict[str, object]]:
    frame = next(d.value for d in at.dataframe if "Offset" in d.value.columns
                 and "Status" in d.value.columns)
    return frame.to_dict("records")  # type: ignore[no-any-return]


def test_a_topic_newest_first_with_readable_columns(simulated_env: SimulatedStore) -> None:
    at = _app(topic="orders")
    rows = _listed(at)
    assert rows
    times = [str(r["Time (UTC)"]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(len(t) == 19 for t in times)  # to the second, no microseconds
    assert {str(r["Topic"]) for r in rows} == {"orders"}
    events = [r for r in rows if r["Status"] != "dead letter"]
    assert all(str(r["Flow"]).startswith("search?id=") for r in events)
    assert not any(str(v) == "None" for r in rows for v in r.values())
    holds = next(d.value for d in at.dataframe if "First stored offset" in d.value.columns)
    assert len(holds) >= 1


def test_url_filters_by_key_and_a_message_opens_with_its_links(
        simulated_env: SimulatedStore) -> None:
    store = open_store(simulated_env.url, read_only=True)
    try:
        row = store.query("SELECT key, correlation_id FROM events WHERE topic = 'orders' AND "
                          "key IS NOT NULL ORDER BY occurred_at LIMIT 1")[0]
    finally:
        store.close()
    at = _app(topic="orders", key=row["key"])
    rows = _listed(at)
    assert rows
    assert {r["Key"] for r in rows} == {row["key"]}
    at.selectbox(key="msg_open").select(0).run()
    assert not at.exception
    buttons = {b.proto.label: b.proto.url for b in at.get("link_button")}
    flow = buttons["Open its flow"]
    assert flow.startswith("search?id=")
    assert any(j for j in at.json)  # the payload


def test_the_event_maps_links_filter_by_type_and_by_service(
        simulated_env: SimulatedStore) -> None:
    rows = _listed(_app(topic="orders", type="OrderPlaced"))
    assert {r["Event type / reason"] for r in rows} == {"OrderPlaced"}
    store = open_store(simulated_env.url, read_only=True)
    try:
        source = store.query("SELECT source FROM events LIMIT 1")[0]["source"]
    finally:
        store.close()
    rows = _listed(_app(source=source))
    assert {r["Producer"] for r in rows} == {source}


def test_a_bad_partition_says_what_to_type(simulated_env: SimulatedStore) -> None:
    at = _app(topic="orders", partition="first")
    # escaped Markdown (what was typed is data): it reads as the line below
    assert at.error[0].value.replace("\\", "") == (
        "partition 'first': expected a number such as 0")




def test_a_topic_chosen_then_a_key_typed_both_hold(simulated_env: SimulatedStore) -> None:
    """The chosen topic goes into the URL without resetting the filters typed after it."""
    store = open_store(simulated_env.url, read_only=True)
    try:
        key = store.query("SELECT key FROM events WHERE topic = 'orders' AND key IS NOT NULL "
                          "LIMIT 1")[0]["key"]
    finally:
        store.close()
    at = _app()
    at.selectbox(key="msg_topic").select("orders").run()
    assert at.query_params["topic"] in ("orders", ["orders"])
    at.text_input(key="msg_key").input(key).run()
    assert at.selectbox(key="msg_topic").value == "orders"
    rows = _listed(at)
    assert {r["Key"] for r in rows} == {key}
    assert {r["Topic"] for r in rows} == {"orders"}


def test_a_custom_time_range_bounds_the_list(simulated_env: SimulatedStore) -> None:
    store = open_store(simulated_env.url, read_only=True)
    try:
        times = [r["occurred_at"] for r in store.query(
            "SELECT occurred_at FROM events WHERE topic = 'orders' ORDER BY occurred_at "
            "LIMIT 3 OFFSET 20")]
    finally:
        store.close()
    at = _app(topic="orders")
    at.selectbox(key="msg_window").select("from .. to (UTC)").run()
    at.text_input(key="msg_from").input(times[0]).run()
    at.text_input(key="msg_to").input(times[2]).run()
    rows = _listed(at)
    assert 1 <= len(rows) <= 2  # from the first (inclusive) to the third (exclusive)
    assert all(times[0][:10] == str(r["Time (UTC)"])[:10] for r in rows)
    at.text_input(key="msg_to").input("tomorrow").run()
    assert at.error[0].value.replace("\\", "") == (
        "To (UTC) 'tomorrow': expected a time such as 2026-01-05 08:00:00")
