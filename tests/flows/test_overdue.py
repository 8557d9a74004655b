"""A stuck flow's amount over its deadline or SLA grows with time, measured to the detection
clock the store last reached (persisted, migration 080) for a stored history, to now live.

Issue 16: a flow stuck for over 3 minutes against a 40 s SLA said "SLA breached, by 0.2 s",
`flows show` printed "(-365.4 s left)", and a simulated store reported flows stuck for 28.8
million seconds against the wall clock.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.cli import main
from collector.flows.query import measured_at, over_at
from collector.flows.tracker import FlowTracker
from collector.model import FlowStatus
from collector.pipeline import CLOCK_EVERY, Pipeline
from collector.store._time import from_text
from collector.store.base import open_store

from .conftest import ROOT, at, ev


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A simulated store with lost events (stuck flows), settled at the simulator's end."""
    folder = tmp_path_factory.mktemp("overdue")
    url = f"sqlite:///{folder / 'sim.db'}"
    subprocess.run([str(Path(sys.executable).parent / "choreoscope"), "simulate", "--store", url,
                    "--flows", "80", "--seed", "5", "--fault-rate", "lost=0.25",
                    "--fault-rate", "slow=0.2"], check=True, cwd=folder, capture_output=True,
                   timeout=300, env={**os.environ,
                                     "CHOREOSCOPE_SCHEMAS_DIR": str(ROOT / "schemas")})
    return url


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute(sql).fetchall()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(ROOT / "schemas"))
    monkeypatch.chdir(tmp_path)


def clock_of(url: str) -> datetime:
    return from_text(str(rows(url, "SELECT at FROM detection_clock")[0][0]))


def test_the_store_keeps_the_detection_clock_it_reached(history):
    latest = from_text(str(rows(history, "SELECT MAX(occurred_at) FROM events")[0][0]))
    clock = clock_of(history)
    assert latest <= clock < latest + timedelta(hours=1)  # the simulator's settle time


def test_stuck_ages_of_a_stored_history_are_measured_to_its_clock(history, capsys):
    code, out = run(capsys, "flows", "stuck", "--json", "--store", history)
    stuck = json.loads(out)
    assert code == 0
    assert stuck
    clock = clock_of(history)
    for r in stuck:
        assert r["stuck_for_s"] == pytest.approx(
            (clock - from_text(r["stuck_since"])).total_seconds(), abs=0.01)
        assert 0 <= r["stuck_for_s"] < 86_400  # within the simulated day, not millions


def test_flows_show_says_overdue_by_never_a_negative_time_left(history, capsys):
    cid, stored_over = rows(history, "SELECT correlation_id, sla_over_s FROM flows WHERE "
                                     "status = 'stuck' ORDER BY stuck_since LIMIT 1")[0]
    code, out = run(capsys, "flows", "show", str(cid), "--store", history)
    assert code == 0
    assert "overdue by " in out
    assert not re.search(r"\(-[0-9.]+ s left\)", out)
    code, out = run(capsys, "flows", "show", str(cid), "--json", "--store", history)
    shown = json.loads(out)
    assert shown["time_left_s"] == 0
    assert shown["overdue_s"] > 0
    since = from_text(shown["stuck_since"])
    assert shown["sla_over_s"] >= (clock_of(history) - since).total_seconds() - 0.01
    assert shown["sla_over_s"] >= float(str(stored_over)) - 0.01


def test_a_later_settle_grows_the_amount_over(history, capsys, tmp_path):
    copy = tmp_path / "later.db"
    copy.write_bytes(Path(history.removeprefix("sqlite:///")).read_bytes())
    url = f"sqlite:///{copy}"
    cid = str(rows(url, "SELECT correlation_id FROM flows WHERE status = 'stuck' LIMIT 1")[0][0])
    before = json.loads(run(capsys, "flows", "show", cid, "--json", "--store", url)[1])
    later = clock_of(url) + timedelta(minutes=5)
    run(capsys, "flows", "settle", "--at", later.isoformat(), "--store", url)
    assert clock_of(url) == later
    after = json.loads(run(capsys, "flows", "show", cid, "--json", "--store", url)[1])
    assert after["sla_over_s"] == pytest.approx(before["sla_over_s"] + 300, abs=0.01)


def test_breaches_are_sorted_by_the_amount_over_and_agree_with_the_dashboard(history, capsys):
    from collector.flows.definition import load_definitions
    from dashboard.queries import sla_breaches

    code, out = run(capsys, "flows", "breaches", "--json", "--store", history)
    listed = json.loads(out)
    assert code == 0
    overs = [r["over_s"] for r in listed]
    assert overs == sorted(overs, reverse=True)
    stuck = [r for r in listed if r["status"] == "stuck"]
    assert stuck
    store = open_store(history, read_only=True)
    try:
        when, replayed = measured_at(store, datetime.now(UTC))
        shown = sla_breaches(store, at=when,
                             definitions=load_definitions([ROOT / "schemas" / "flows"]))
    finally:
        store.close()
    assert replayed
    by_id = {r["correlation_id"]: r["over_s"] for r in shown}
    assert all(by_id[r["correlation_id"]] == pytest.approx(r["over_s"]) for r in listed)
    code, text = run(capsys, "flows", "breaches", "--store", history)
    assert "over by " in text


def test_over_at_grows_for_an_open_flow_and_stays_for_an_ended_one(definitions):
    order = next(d for d in definitions if d.flow_type == "order")
    tracker = FlowTracker(definitions)
    first = tracker.on_events([ev("OrderPlaced", 0, "open"), ev("OrderPlaced", 0, "done"),
                               ev("PaymentFailed", 60, "done")])  # 50 s past a 10 s deadline
    done = next(f for f in first.flows if f.correlation_id == "done")
    snaps = {f.correlation_id: f for f in tracker.on_tick(at(12)).flows}
    stuck = snaps["open"]
    assert stuck.status is FlowStatus.STUCK
    assert over_at(stuck, order, at(12)) == pytest.approx(2.0)  # stuck since 10 s
    assert over_at(stuck, order, at(200)) == pytest.approx(190.0)
    assert over_at(done, order, at(1000)) == pytest.approx(50.0)  # its late step, for good


def test_a_quiet_live_tick_still_stores_the_clock_now_and_then(tmp_path, definitions):
    store = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    pipeline = Pipeline(store, lambda obs: obs, tracker=FlowTracker(definitions))  # type: ignore[arg-type,return-value]
    try:
        pipeline.advance(at(0))
        assert clock_of(store.url) == at(0)
        assert pipeline.prepare_tick(at(1)) is None  # nothing changed, clock stored recently
        pipeline.advance(at(0) + CLOCK_EVERY)
        assert clock_of(store.url) == at(0) + CLOCK_EVERY
    finally:
        store.close()
