"""``choreoscope flows ...`` against a real SQLite store written through the tracker."""

from __future__ import annotations

import json

import pytest

from collector.cli import main
from collector.flows.tracker import FlowTracker
from collector.store.base import Batch, open_store

from .conftest import ROOT, at, ev


@pytest.fixture
def store_url(tmp_path, monkeypatch, definitions):
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(ROOT / "schemas"))
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'flows.db'}"
    events = [
        ev("OrderPlaced", 0, "done"), ev("PaymentProcessed", 2, "done"),
        ev("InventoryReserved", 4, "done"), ev("ShippingScheduled", 30, "done"),  # 26 s: late
        ev("OrderCompleted", 31, "done"),
        ev("OrderPlaced", 0, "waits"), ev("PaymentProcessed", 3, "waits"),
        ev("CustomerNotified", 3.5, "waits"),
        ev("CustomerRegistered", 1, "fresh"),
    ]
    tracker = FlowTracker(definitions)
    update = tracker.on_events(events)
    store = open_store(url)
    store.write(Batch(events=events, flows=update.flows, assignments=update.assignments,
                      alerts=update.alerts))
    store.close()
    return url


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_settle_then_stuck_and_breaches(store_url, capsys):
    code, out = run(capsys, "flows", "stuck", "--json", "--store", store_url)
    assert (code, json.loads(out)) == (0, [])
    code, out = run(capsys, "flows", "settle", "--at", at(14).isoformat(), "--json",
                    "--store", store_url)
    assert code == 0
    assert json.loads(out)["stuck"] == 1
    code, out = run(capsys, "flows", "stuck", "--json", "--store", store_url)
    rows = json.loads(out)
    assert [(r["correlation_id"], r["flow_type"], r["step"]) for r in rows] == [
        ("waits", "order", "PaymentProcessed")]
    code, out = run(capsys, "flows", "stuck", "--json", "--at", at(20).isoformat(),
                    "--store", store_url)
    assert json.loads(out)[0]["stuck_for_s"] == 7.0  # stuck since 13 s
    assert rows[0]["expected_next"] == ["InventoryOutOfStock", "InventoryReserved"]
    run(capsys, "flows", "settle", "--at", at(1000).isoformat(), "--store", store_url)
    code, out = run(capsys, "flows", "breaches", "--json", "--store", store_url)
    got = {(r["correlation_id"], r["flow_type"], r["step"]) for r in json.loads(out)}
    assert got == {("done", "order", "InventoryReserved"),
                   ("waits", "order", "PaymentProcessed"),
                   ("fresh", "onboarding", "CustomerRegistered")}


def test_settle_twice_gives_no_new_alerts(store_url, capsys):
    run(capsys, "flows", "settle", "--at", at(1000).isoformat(), "--store", store_url)
    code, out = run(capsys, "flows", "settle", "--at", at(2000).isoformat(), "--json",
                    "--store", store_url)
    assert code == 0
    assert json.loads(out)["alerts"] == 0
    store = open_store(store_url, read_only=True)
    kinds = [r["kind"] for r in store.query("SELECT kind FROM outbox ORDER BY kind")]
    store.close()
    assert kinds == ["FlowStuck", "FlowStuck", "SlaBreached", "SlaBreached", "SlaBreached"]


def test_show_by_correlation_id(store_url, capsys):
    code, out = run(capsys, "flows", "show", "done", "--json", "--store", store_url)
    flow = json.loads(out)
    assert code == 0
    assert flow["status"] == "completed"
    assert flow["sla_breached"]
    late = [e for e in flow["events"] if e.get("late")]
    assert [(e["type"], e["duration_s"]) for e in late] == [("ShippingScheduled", 26.0)]
    code, out = run(capsys, "flows", "show", flow["instance_id"], "--store", store_url)
    assert code == 0
    assert "completed" in out
    assert "LATE" in out
    code, _ = run(capsys, "flows", "show", "nope", "--store", store_url)
    assert code == 1


def test_variants(store_url, capsys):
    code, out = run(capsys, "flows", "variants", "--json", "--store", store_url)
    report = json.loads(out)
    assert code == 0
    assert report["order"]["cases"] == 2
    assert report["onboarding"]["variants"] == [
        {"path": ["CustomerRegistered"], "count": 1, "share": 1.0, "deviations": []}]
    assert report["order"]["deviations"] == []  # CustomerNotified joins, it is no step
    assert all("CustomerNotified" not in v["path"] for v in report["order"]["variants"])


def test_settle_rejects_a_naive_time(store_url, capsys):
    assert main(["flows", "settle", "--at", "2026-01-01T00:00:00", "--store", store_url]) == 2
    assert "--at" in capsys.readouterr().err
