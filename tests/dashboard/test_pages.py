"""Dashboard pages rendered with Streamlit's AppTest against a populated store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from collector.model import Event, EventIdentity, FlowSnapshot, FlowStatus, Location
from collector.store import Batch, open_store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _event(i: int, type_: str, corr: str) -> Event:
    return Event(id=f"{corr}-{i}", type=type_, source="svc", correlation_id=corr,
                 occurred_at=T0 + timedelta(seconds=i), data={"n": i},
                 location=Location("simulator", "orders", 0, i), received_at=T0)


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    store = open_store(url)
    events = [_event(2, "PaymentProcessed", "order-4711"), _event(1, "OrderPlaced", "order-4711"),
              _event(3, "OrderPlaced", "order-4712")]
    flows = [
        FlowSnapshot("i1", "order-4711", "order", 1, FlowStatus.RUNNING, T0, T0, "OrderPlaced", 2),
        FlowSnapshot("i2", "order-4712", "order", 1, FlowStatus.STUCK, T0, T0, "OrderPlaced", 1),
    ]
    store.write(Batch(events=events, flows=flows,
                      assignments=[(EventIdentity("svc", e.id), "i1") for e in events[:2]]))
    store.close()
    monkeypatch.setenv("CHOREOSCOPE_STORE", url)
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(Path(APP).parents[1] / "schemas"))
    return url


def test_overview_counts_events_and_flows(store_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Events": "3", "Flows": "2", "Stuck flows": "1", "Dead letters": "0"}
    links = {link.label for link in at.get("page_link")}
    assert links == {"Find a flow", "Stuck workflows", "SLA breaches", "Collector health",
                     "Browse messages"}


def test_search_lists_the_flow_events_in_time_order(store_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("views/search.py").run()
    at.text_input(key="correlation_id").input("order-4711").run()
    assert not at.exception
    entries = next(d.value for d in at.dataframe if "idle before" in d.value.columns)
    assert list(entries["what"]) == ["OrderPlaced", "PaymentProcessed"]
    assert at.subheader[0].value == "order · running"


def test_search_for_an_unknown_id_says_so(store_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("views/search.py").run()
    at.text_input(key="correlation_id").input("order-4799").run()
    assert "No such flow" in at.error[0].value
    assert any("order-4711" in str(m.value) for m in at.markdown)


def test_search_lists_the_flows_of_an_ambiguous_prefix(store_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("views/search.py").run()
    at.text_input(key="correlation_id").input("order-47").run()
    assert not at.error
    assert "2 flows match `order-47`" in at.info[0].value
    listed = next(d.value for d in at.dataframe if "open" in d.value.columns)
    assert list(listed["correlation id"]) == ["order-4711", "order-4712"]


def test_missing_store_gets_instructions_not_a_trace(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_STORE", f"sqlite:///{tmp_path / 'none.db'}")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "start the collector" in at.warning[0].value.lower()
