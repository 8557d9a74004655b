"""Flow search, stuck workflows, SLA breaches and collector health, rendered with Streamlit's
AppTest on a store the simulator populated (the real CLI with faults, settled, business keys
indexed), plus collector health samples written through the store as the Kafka runner writes
them. The simulator's ground truth says which flows are stuck or breached."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from collector.flows.definition import FlowDefinition, load_definitions
from collector.humanize import format_duration
from collector.store import Batch, open_store
from dashboard.flow_queries import compare_path
from dashboard.queries import distinct, replay_command

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
FLOWS = 300
FAULTS = ("lost=0.06", "slow=0.06", "bad-schema=0.06", "undecodable=0.03", "no-correlation=0.03")
CONFIG = """
[envelope.business_keys.OrderPlaced]
order_id = "/data/order_id"
[envelope.business_keys.CustomerRegistered]
customer_id = "/data/customer_id"
"""
LAG_AT = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
PAGES = ("views/overview.py", "views/search.py", "views/stuck.py", "views/sla.py",
         "views/health.py")


@dataclass(frozen=True, slots=True)
class FlowStore:
    url: str
    path: Path
    truth: list[dict[str, Any]]

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as db:
            return db.execute(sql, params).fetchall()


def _health_samples() -> list[tuple[str, dict[str, str], float, datetime]]:
    """Two minutes of samples every 10 s, as `collector.kafka.health.Health.sample` makes them;
    the lag of orders[p] ends at 10 * (p + 1)."""
    samples: list[tuple[str, dict[str, str], float, datetime]] = []
    for i in range(12):
        at = LAG_AT - timedelta(seconds=10 * (11 - i))
        samples += [("records_per_second", {}, 100.0 + i, at),
                    ("dead_letters_per_second", {}, 0.5, at),
                    ("store_write_seconds", {}, 0.004, at), ("kafka_up", {}, 1.0, at)]
        samples += [("consumer_lag", {"partition": str(p), "topic": "orders"},
                     float(10 * (p + 1) + 11 - i), at) for p in range(3)]
    return samples


@pytest.fixture(scope="module")
def flow_store(tmp_path_factory: pytest.TempPathFactory) -> FlowStore:
    folder = tmp_path_factory.mktemp("flows")
    path, config, truth = folder / "sim.db", folder / "keys.toml", folder / "truth.jsonl"
    config.write_text(CONFIG, encoding="utf-8")
    url = f"sqlite:///{path}"
    command = [str(Path(sys.executable).parent / "choreoscope"), "--config", str(config),
               "simulate", "--store", url, "--flows", str(FLOWS), "--seed", "4",
               "--truth", str(truth)]
    for fault in FAULTS:
        command += ["--fault-rate", fault]
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True, timeout=300)
    store = open_store(url)
    try:
        store.write(Batch(metrics=_health_samples()))
    finally:
        store.close()
    rows = [json.loads(line) for line in truth.read_text(encoding="utf-8").splitlines()]
    return FlowStore(url, path, rows)


@pytest.fixture
def env(flow_store: FlowStore, monkeypatch: pytest.MonkeyPatch) -> FlowStore:
    monkeypatch.setenv("CHOREOSCOPE_STORE", flow_store.url)
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(ROOT / "schemas"))
    return flow_store


def page(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    at.switch_page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


COLUMN_OF: dict[str, str | tuple[str, ...]] = {
    # the columns that only this table has together (AppTest gives display tables no key)
    "stuck_table": "Expected next", "stuck_counts": "Oldest stuck since (UTC)",
    "timeline_entries": "idle before", "path": "verdict", "violations": "keyword",
    "sla_summary": "Worst minute's p99", "sla_breaches": "Breached (UTC)",
    "lag_table": ("Lag (records)", "Partition"),  # the collectors table has "Partitions"
    "dead_letter_counts": "Latest (UTC)",
    "dead_letter_list": "Detail",
}


def frame(at: AppTest, name: str) -> Any:
    wanted = COLUMN_OF[name]
    columns = (wanted,) if isinstance(wanted, str) else wanted
    found = [d.value for d in at.dataframe if all(c in d.value.columns for c in columns)]
    assert len(found) == 1, f"{len(found)} tables with the columns {columns!r}"
    return found[0]


def table(at: AppTest, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = frame(at, name).to_dict("records")
    return rows


def charts(at: AppTest) -> list[Any]:
    return [e for e in at.main if getattr(e, "type", None) == "vega_lite_chart"]


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


def truth_of(fs: FlowStore, outcome: str, flow_type: str | None = None) -> list[dict[str, Any]]:
    return [r for r in fs.truth if r["outcome"] == outcome
            and (flow_type is None or r["flow_type"] == flow_type)]


# -- every page --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_on_the_simulated_store(env: FlowStore, name: str) -> None:
    at = page(name)
    assert at.title, name


@pytest.mark.parametrize("name", PAGES)
def test_a_missing_store_gets_instructions_on_every_page(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_STORE", f"sqlite:///{tmp_path / 'none.db'}")
    at = page(name)
    assert "start the collector" in at.warning[0].value.lower()
    assert "choreoscope demo" in texts(at.markdown)


@pytest.mark.parametrize(("name", "toggle", "table_name"), [
    ("views/stuck.py", "stuck_live", "stuck_table"), ("views/health.py", "health_live",
                                                      "lag_table")])
def test_a_live_page_keeps_its_content_when_refreshing(env: FlowStore, name: str, toggle: str,
                                                       table_name: str) -> None:
    at = page(name)
    before = table(at, table_name)
    at.toggle(key=toggle).set_value(True).run()
    assert not at.exception
    assert at.toggle(key=toggle).value is True
    assert table(at, table_name) == before


# -- stuck workflows ---------------------------------------------------------------------------


def test_stuck_list_holds_the_truths_stuck_flows_oldest_first(env: FlowStore) -> None:
    at = page("views/stuck.py")
    rows = table(at, "stuck_table")
    expected = {r["correlation_id"] for r in truth_of(env, "stuck")}
    assert expected
    assert {r["Correlation id"] for r in rows} == expected
    since = [r["Stuck since (UTC)"] for r in rows]
    assert since == sorted(since)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in since)
    assert all(re.search(r"\d (ms|s|min|h|d)$", r["Stuck for"]) for r in rows)
    assert {m.label: m.value for m in at.metric}["Stuck flows"] == str(len(expected))


def test_stuck_rows_link_to_the_flow_search(env: FlowStore) -> None:
    rows = table(page("views/stuck.py"), "stuck_table")
    assert all(r["Flow"] == f"search?id={r['Correlation id']}" for r in rows)


def test_stuck_filters_by_flow_type_and_step(env: FlowStore) -> None:
    at = page("views/stuck.py")
    everything = table(at, "stuck_table")
    at.selectbox(key="stuck_flow_type").select("onboarding").run()
    onboarding = table(at, "stuck_table")
    assert {r["Correlation id"] for r in onboarding} == {
        r["correlation_id"] for r in truth_of(env, "stuck", "onboarding")}
    assert 0 < len(onboarding) < len(everything)
    assert {r["Flow type"] for r in onboarding} == {"onboarding"}

    step = onboarding[0]["Waiting after"]
    at.selectbox(key="stuck_step").select(step).run()
    by_step = table(at, "stuck_table")
    assert by_step
    assert {r["Waiting after"] for r in by_step} == {step}
    assert len(by_step) == sum(1 for r in onboarding if r["Waiting after"] == step)


def test_stuck_counts_over_time_are_drawn(env: FlowStore) -> None:
    at = page("views/stuck.py")
    counts = table(at, "stuck_counts")
    assert sum(c["Stuck flows"] for c in counts) == len(truth_of(env, "stuck"))
    assert len(charts(at)) == 2  # got stuck per bucket; stuck over time: one y-axis each


# -- flow search -------------------------------------------------------------------------------


def search(at: AppTest, text: str) -> AppTest:
    at.text_input(key="correlation_id").input(text).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_searching_a_completed_flow_shows_status_timeline_and_path(env: FlowStore) -> None:
    flow = truth_of(env, "completed", "order")[0]
    at = search(page("views/search.py"), flow["correlation_id"])
    assert any(s.value == "order · completed" for s in at.subheader)
    assert charts(at), "the Gantt chart"
    entries = table(at, "timeline_entries")
    events = [e for e in entries if e["kind"] == "event"]
    assert len(events) == len(flow["events"])
    assert {e["kind"] for e in entries} == {"event", "span"}
    path = frame(at, "path")
    assert list(path["verdict"]) == ["ok"] * len(path)
    assert path["actual"].iloc[0] == "OrderPlaced"
    assert path["actual"].iloc[-1] == "OrderCompleted"


def test_searching_a_stuck_flow_says_where_and_for_how_long(env: FlowStore) -> None:
    flow = truth_of(env, "stuck")[0]
    step = env.rows("SELECT stuck_step FROM flows WHERE correlation_id = ?",
                    (flow["correlation_id"],))[0][0]
    at = search(page("views/search.py"), flow["correlation_id"])
    assert any(s.value.endswith("· stuck") for s in at.subheader)
    warning = at.warning[0].value
    assert f"Stuck after **{step}**" in warning
    assert " h " in warning or " min" in warning  # how long, measured at the store's end
    path = frame(at, "path")
    waiting = path[path["verdict"] == "stuck here"]
    assert len(waiting) == 1
    assert (waiting["actual"] == "").all()  # empty cells stay empty


def test_an_unknown_id_gets_no_such_flow_and_the_nearest_matches(env: FlowStore) -> None:
    real = env.truth[0]["correlation_id"]
    wrong = real[:-4] + "zzzz"
    at = search(page("views/search.py"), wrong)
    assert at.error[0].value == f"No such flow: `{wrong}`"
    nearest = texts(at.markdown)
    assert "Nearest matches" in nearest
    links = re.findall(r"\(search\?id=([^)]+)\)", nearest)
    assert links[0] == real  # one character edited away: the nearest first


def test_a_business_key_finds_its_flow(env: FlowStore) -> None:
    cid, order_id = env.rows("SELECT correlation_id, value FROM business_keys "
                             "WHERE name = 'order_id' ORDER BY value LIMIT 1")[0]
    at = search(page("views/search.py"), order_id)
    assert at.header[0].value == f"Flow `{cid}`"
    assert r"business key order\_id" in texts(at.caption)  # escaped: names are data


def test_a_unique_prefix_in_the_id_query_parameter_opens_its_flow(env: FlowStore) -> None:
    ids = sorted(r["correlation_id"] for r in env.truth)
    cid = ids[len(ids) // 2]
    prefix = cid[:8]
    assert [c for c in ids if c.startswith(prefix)] == [cid]
    at = page("views/search.py", id=prefix)
    assert not at.error
    assert at.header[0].value == f"Flow `{cid}`"
    assert "correlation id prefix" in texts(at.caption)


def test_the_id_query_parameter_opens_the_flow(env: FlowStore) -> None:
    flow = truth_of(env, "stuck")[0]
    at = page("views/search.py", id=flow["correlation_id"])
    assert at.text_input(key="correlation_id").value == flow["correlation_id"]
    assert at.header[0].value == f"Flow `{flow['correlation_id']}`"


def test_violations_show_the_failing_field(env: FlowStore) -> None:
    cid, pointer = env.rows(
        "SELECT e.correlation_id, v.pointer FROM violations v JOIN events e "
        "ON e.source = v.source AND e.id = v.id WHERE e.instance_id IS NOT NULL LIMIT 1")[0]
    at = search(page("views/search.py"), cid)
    shown = frame(at, "violations")
    assert pointer in list(shown["field"])


# -- SLA breaches ------------------------------------------------------------------------------


def test_sla_page_shows_percentiles_budget_and_the_breaches(env: FlowStore) -> None:
    at = page("views/sla.py")
    summary = table(at, "sla_summary")
    whole = {r["Flow type"]: r for r in summary if r["Step"] == "whole flow"}
    assert set(whole) == {"order", "onboarding"}
    assert all(re.search(r"\d (ms|s|min|h)$", r["p95"]) for r in whole.values())
    order = max((d for d in load_definitions([ROOT / "schemas" / "flows"])
                 if d.flow_type == "order"), key=lambda d: d.version)
    assert whole["order"]["Deadline / SLA"] == format_duration(order.sla.total_seconds())
    assert {r["Deadline / SLA"] for r in summary} - {""}  # each step's deadline beside it
    assert "Burn rate" in summary[0]
    assert len(charts(at)) == 3  # percentiles with the SLA mark, burn rate, budget spent
    breached = {r["correlation_id"] for r in env.truth if r["sla_breached"]}
    rows = table(at, "sla_breaches")
    assert {r["Correlation id"] for r in rows} == breached
    by_over = [r[0] for r in env.rows(
        "SELECT o.correlation_id FROM outbox o JOIN flows f ON f.instance_id = o.instance_id "
        "WHERE o.kind = 'SlaBreached' ORDER BY f.sla_over_s DESC, o.correlation_id")]
    assert [r["Correlation id"] for r in rows] == by_over
    assert all(r["Over by"] and r["Over by"] != "0 s" for r in rows)


def test_sla_filters_change_what_is_shown(env: FlowStore) -> None:
    at = page("views/sla.py")
    at.selectbox(key="sla_flow_type").select("onboarding").run()
    assert {r["Flow type"] for r in table(at, "sla_summary")} == {"onboarding"}
    rows = table(at, "sla_breaches")
    assert {r["Correlation id"] for r in rows} == {
        r["correlation_id"] for r in env.truth
        if r["sla_breached"] and r["flow_type"] == "onboarding"}
    step = rows[0]["Waiting after"]
    at.selectbox(key="sla_breach_step").select(step).run()
    assert {r["Waiting after"] for r in table(at, "sla_breaches")} == {step}

    at.number_input(key="sla_objective").set_value(99.9).run()
    strict = {r["Step"]: r["Burn rate"] for r in table(at, "sla_summary")}
    at.number_input(key="sla_objective").set_value(90.0).run()
    lax = {r["Step"]: r["Burn rate"] for r in table(at, "sla_summary")}
    assert any(strict[s] > lax[s] for s in strict)


# -- collector health --------------------------------------------------------------------------


def test_health_shows_the_latest_lag_per_partition(env: FlowStore) -> None:
    at = page("views/health.py")
    lag = table(at, "lag_table")
    assert [(r["Topic"], r["Partition"], r["Lag (records)"]) for r in lag] == [
        ("orders", 2, 30), ("orders", 1, 20), ("orders", 0, 10)]
    assert {m.label: m.value for m in at.metric}["Total lag"] == "60"
    assert len(charts(at)) >= 4  # lag, records/s, dead letters/s, dead letters by reason


def test_dead_letters_by_reason_browse_and_the_replay_command(env: FlowStore) -> None:
    at = page("views/health.py")
    counts = {r["Reason"]: r["Dead letters"] for r in table(at, "dead_letter_counts")}
    assert counts == dict(env.rows("SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason"))
    assert "no-correlation" in counts

    at.selectbox(key="dl_reason").select("no-correlation").run()
    listed = table(at, "dead_letter_list")
    assert len(listed) == counts["no-correlation"]
    assert {r["Reason"] for r in listed} == {"no-correlation"}
    assert all(r["Topic"] and r["Offset"] != "" for r in listed)
    commands = [c.value for c in at.code]
    assert (f"choreoscope deadletters replay --store {env.url} --reason no-correlation"
            in commands)

    one = listed[-1]["Id"]
    at.selectbox(key="dl_id").select(one).run()
    assert f"**#{one}** · `no-correlation`" in texts(at.markdown)
    assert f"choreoscope deadletters replay --store {env.url} --id {one}" in [
        c.value for c in at.code]


# -- the pure parts ----------------------------------------------------------------------------


def _order_definition() -> FlowDefinition:
    return next(d for d in load_definitions([ROOT / "schemas" / "flows"])
                if d.flow_type == "order")


def _steps(*kinds: str, late: str | None = None) -> list[dict[str, Any]]:
    return [{"type": k, "at": f"t{i}", "step": True, "late": k == late}
            for i, k in enumerate(kinds)]


@pytest.mark.parametrize(("kinds", "status", "expected"), [
    (("OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShippingScheduled",
      "OrderCompleted"), "completed", ["ok"] * 5),
    (("OrderPlaced",), "stuck", ["ok", "stuck here", "pending", "pending", "pending"]),
    (("OrderPlaced", "PaymentProcessed"), "running", ["ok", "ok", "waiting", "pending",
                                                      "pending"]),
    (("OrderPlaced", "PaymentFailed"), "failed", ["ok", "ok"]),
    (("OrderPlaced", "InventoryReserved"), "running",
     ["ok", "not allowed here", "waiting", "pending"]),
    (("PaymentProcessed",), "running", ["not allowed here", "waiting", "pending", "pending"]),
])
def test_compare_path_gives_a_verdict_per_step(kinds: tuple[str, ...], status: str,
                                               expected: list[str]) -> None:
    order = _order_definition()
    rows = compare_path(order, _steps(*kinds), status)
    assert [r["verdict"] for r in rows] == expected
    assert [r["actual"] for r in rows[:len(kinds)]] == list(kinds)


def test_compare_path_marks_a_late_step_and_expects_the_success_path() -> None:
    order = _order_definition()
    rows = compare_path(order, _steps("OrderPlaced", "PaymentProcessed",
                                      late="PaymentProcessed"), "stuck")
    assert [(r["expected"], r["verdict"]) for r in rows] == [
        ("OrderPlaced", "ok"), ("PaymentFailed | PaymentProcessed", "late"),
        ("InventoryOutOfStock | InventoryReserved", "stuck here"),
        ("ShippingScheduled", "pending"), ("OrderCompleted", "pending")]
    assert [r["deadline_s"] for r in rows[2:]] == [10.0, 15.0, 10.0]


def test_replay_command_quotes_what_it_is_given() -> None:
    assert replay_command("sqlite:///a b.db", reason="no-correlation", topic="orders") == (
        "choreoscope deadletters replay --store 'sqlite:///a b.db' --reason no-correlation "
        "--topic orders")
    assert replay_command("sqlite:///x.db", dl_id=7) == (
        "choreoscope deadletters replay --store sqlite:///x.db --id 7")


def test_distinct_refuses_a_column_without_its_index(flow_store: FlowStore) -> None:
    store = open_store(flow_store.url, read_only=True)
    try:
        assert distinct(store, "flows", "flow_type") == ["onboarding", "order"]
        assert distinct(store, "business_keys", "name") == ["customer_id", "order_id"]
        with pytest.raises(ValueError, match=r"no skip scan for events\.type"):
            distinct(store, "events", "type")
    finally:
        store.close()


# -- browsing flows (issue 16: a search form and a result list, as Jaeger's) ---------------------


def results(at: AppTest) -> list[dict[str, Any]]:
    found = [d.value for d in at.dataframe if "duration" in d.value.columns
             and "events" in d.value.columns]
    assert len(found) == 1
    rows: list[dict[str, Any]] = found[0].to_dict("records")
    return rows


def test_the_search_page_lists_flows_newest_first_with_a_duration_scatter(env: FlowStore) -> None:
    at = page("views/search.py")
    at.selectbox(key="search_limit").select(200).run()
    rows = results(at)
    assert len(rows) == 200
    started = [r["started (UTC)"] for r in rows]
    assert started == sorted(started, reverse=True)
    assert all(r["open"] == f"search?id={r['correlation id']}" for r in rows)
    assert charts(at), "the duration scatter"
    assert all(not str(r["duration"]).startswith("-") for r in rows)


def test_the_status_and_breach_filters_select_the_truths_flows(env: FlowStore) -> None:
    at = page("views/search.py")
    at.selectbox(key="search_limit").select(200).run()
    at.multiselect(key="search_status").select("stuck").run()
    stuck = results(at)
    assert {r["correlation id"] for r in stuck} == {
        r["correlation_id"] for r in truth_of(env, "stuck")}
    at.multiselect(key="search_status").unselect("stuck").run()
    at.checkbox(key="search_breached").check().run()
    breached = results(at)
    assert {r["correlation id"] for r in breached} == {
        r["correlation_id"] for r in env.truth if r["sla_breached"]}
    assert all(r["SLA"].startswith("over by ") for r in breached)


def test_sorting_by_duration_puts_the_longest_first(env: FlowStore) -> None:
    at = page("views/search.py")
    at.radio(key="search_sort").set_value("duration").run()
    rows = results(at)
    cids = [r["correlation id"] for r in rows]
    durations = dict(env.rows(
        "SELECT correlation_id, (julianday(COALESCE(ended_at, '2100-01-01')) - "
        "julianday(started_at)) FROM flows"))
    measured = [durations[c] for c in cids]
    assert measured == sorted(measured, reverse=True)


def test_event_type_and_service_query_parameters_filter_the_flows(env: FlowStore) -> None:
    at = page("views/search.py", event_type="RefundIssued")
    assert at.text_input(key="search_event_type").value == "RefundIssued"
    refunded = {r["correlation id"] for r in results(at)}
    expected = {c for (c,) in env.rows("SELECT DISTINCT correlation_id FROM events "
                                       "WHERE type = 'RefundIssued'")}
    assert refunded
    assert refunded <= expected
    at = page("views/search.py", service="kyc-service")
    assert {r["flow type"] for r in results(at)} == {"onboarding"}


def test_the_violations_filter_keeps_flows_with_a_violated_event(env: FlowStore) -> None:
    at = page("views/search.py")
    at.checkbox(key="search_violations").check().run()
    rows = results(at)
    violated = {c for (c,) in env.rows(
        "SELECT DISTINCT e.correlation_id FROM violations v JOIN events e "
        "ON e.source = v.source AND e.id = v.id")}
    assert rows
    assert {r["correlation id"] for r in rows} <= violated


# -- the waterfall -----------------------------------------------------------------------------


def test_every_waterfall_entry_is_visible_and_the_marks_are_labelled(env: FlowStore) -> None:
    from collector.store import open_store
    from dashboard import flow_queries as fq

    flow = truth_of(env, "stuck", "order")[0]
    store = open_store(env.url, read_only=True)
    definitions = load_definitions([ROOT / "schemas" / "flows"])
    try:
        now = datetime.now(UTC)
        details = fq.flow_details(store, flow["correlation_id"], definitions, now=now)
        w = fq.waterfall(store, flow["correlation_id"], details, definitions)
    finally:
        store.close()
    spans = [r for r in w.rows if r["kind"] == "span"]
    assert spans
    least = w.axis_s * fq.MIN_WIDTH_SHARE
    assert all(r["to_s"] - r["from_s"] >= least - 1e-9 for r in spans)
    assert {m["kind"] for m in w.marks} == {"SLA", "deadline"}
    assert any(m["text"].startswith("SLA 45 s") for m in w.marks)
    assert any(m["text"].startswith("deadline: ") for m in w.marks)
    steps = [e for e in details[0].flow["events"] if e["step"]]
    assert len(w.gaps) == len(steps) - 1
    assert all(g["text"] for g in w.gaps)


def test_choosing_a_waterfall_entry_opens_its_details(env: FlowStore) -> None:
    cid, event_type, pointer = env.rows(
        "SELECT e.correlation_id, e.type, v.pointer FROM violations v JOIN events e "
        "ON e.source = v.source AND e.id = v.id WHERE e.instance_id IS NOT NULL LIMIT 1")[0]
    at = search(page("views/search.py"), cid)
    chooser = at.selectbox(key="flow-entry")
    lane = next(o for o in chooser.options if o.endswith(f" {event_type}"))
    chooser.select(lane).run()
    assert not at.exception
    shown = texts(at.markdown)
    assert f"#### {event_type} · " in shown
    assert f"Catalog: [{event_type}](event?type={event_type}) · [" in shown  # its pages
    assert "**Payload** (redacted as stored)" in shown
    assert at.json, "the payload"
    fields = [t.value for t in at.table]
    assert any(pointer in list(f["field"]) for f in fields if "rule" in f.columns)


def test_an_entry_chosen_in_one_flow_does_not_break_the_next(env: FlowStore) -> None:
    first, second = (r["correlation_id"] for r in truth_of(env, "completed", "order")[:2])
    at = search(page("views/search.py"), first)
    chooser = at.selectbox(key="flow-entry")
    chooser.select(chooser.options[-1]).run()
    at = search(at, second)
    assert at.header[0].value == f"Flow `{second}`"
