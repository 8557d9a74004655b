"""Collector health is live for the simulator's in-process collector (make demo, simulate
--store): the same samples as `collect` writes, lag shown as not applicable."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from collector.store import open_store
from tests.dashboard.conftest import APP, SimulatedStore


def test_the_simulator_writes_the_collectors_health_samples(
        simulated_env: SimulatedStore) -> None:
    store = open_store(simulated_env.url, read_only=True)
    try:
        names = {r["name"] for r in store.query("SELECT DISTINCT name FROM metrics")}
        rate = store.query("SELECT MAX(value) AS v FROM metrics "
                           "WHERE name = 'records_per_second'")[0]["v"]
        members = store.query("SELECT * FROM collectors")
    finally:
        store.close()
    assert {"records_per_second", "dead_letters_per_second", "store_write_seconds",
            "validation_seconds"} <= names
    assert "kafka_up" not in names  # no broker: nothing to say up or down
    assert rate > 0
    # the in-process collector is a member of the Collector health page's table too
    assert [(m["group_id"], m["roles"]) for m in members] == [("simulator", '["simulator"]')]
    # it finished: its last row says it stopped (not a silent collector an hour later)
    assert members[0]["stopped_at"] is not None
    assert members[0]["records"] > 0


def test_the_health_page_shows_them_and_calls_lag_not_applicable(
        simulated_env: SimulatedStore) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/health.py").run()
    assert not at.exception
    captions = " ".join(str(c.value) for c in at.caption)
    assert "No " not in captions.replace("No dead letters", ""), captions
    assert "Not applicable: the simulator feeds the collector in process" in captions
    (table,) = [d.value.to_dict("records") for d in at.table
                if "Collector" in d.value.columns]
    assert [r["Status"][:len("stopped at ")] for r in table] == ["stopped at "]
    assert not at.error
    charts = [e for e in at.main if getattr(e, "type", None) == "vega_lite_chart"]
    assert len(charts) >= 4  # records/s, dead letters/s, store write, validation
