"""``choreoscope simulate``: its options, its --out format, and feeding the in-process collector."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest

from collector.cli import main
from collector.simulator import decode_json_line
from collector.store.base import open_store

from .conftest import SCHEMAS, simulate


@pytest.fixture(autouse=True)
def _schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(SCHEMAS))


@pytest.mark.parametrize(("args", "named"), [
    (["--fault-rate", "lots=0.1"], "lots=0.1"),
    (["--fault-rate", "lost=1.5"], "lost=1.5"),
    (["--fault-rate", "lost"], "'lost'"),
    (["--fault-rate", "slow=fast"], "slow=fast"),
    (["--flows", "-3"], "--flows=-3"),
    (["--rate", "0"], "--rate=0"),
])
def test_a_bad_value_exits_2_with_one_line_naming_it(
        args: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert named in err


def test_out_lines_carry_every_record_and_decode_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "records.jsonl"
    assert main(["simulate", "--flows", "400", "--seed", "7", "--fault-rate",
                 "undecodable=0.3", "--out", str(out)]) == 0
    lines = out.read_bytes().splitlines()
    api = simulate(400, 7, undecodable=0.3)
    assert [decode_json_line(line) for line in lines] == list(api.records)
    encoded = [json.loads(line) for line in lines]
    assert set(encoded[0]) == {"topic", "key", "value", "headers", "at"}
    binary = [e for e in encoded if e.get("value_encoding") == "base64"]
    assert binary
    assert all(base64.b64decode(e["value"])[:1] == b"\xff" for e in binary)
    assert all(isinstance(e["value"], str) for e in encoded)
    assert encoded[0]["headers"][0][0] == "traceparent"
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    assert "simulated 400 flows" in captured.out
    assert "faults injected: undecodable=" in captured.out
    assert "elapsed" in captured.out


def test_truth_needs_a_number_of_flows_when_paced(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--rate", "10", "--truth", "t.jsonl"]) == 2
    assert "--flows" in capsys.readouterr().err


def test_store_gets_each_event_once_dead_letters_and_settled_flows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    truth_file, expect_file = tmp_path / "truth.jsonl", tmp_path / "expect.jsonl"
    assert main(["simulate", "--flows", "300", "--seed", "13", "--store", url,
                 "--truth", str(truth_file), "--expectations", str(expect_file),
                 "--fault-rate", "duplicate=0.3", "--fault-rate", "lost=0.2",
                 "--fault-rate", "undecodable=0.1", "--fault-rate", "no-correlation=0.1"]) == 0
    truth = [json.loads(line) for line in truth_file.read_text().splitlines()]
    expected = [json.loads(line) for line in expect_file.read_text().splitlines()]
    store = open_store(url, read_only=True)
    try:
        stored = {(r["source"], r["id"]) for r in store.query("SELECT source, id FROM events")}
        assert stored == {tuple(e) for row in truth for e in row["events"]}
        dead = store.query('SELECT reason, topic, "offset" FROM dead_letters')
        assert sorted((d["reason"], d["topic"], d["offset"]) for d in dead) == sorted(
            (e["reason"], e["topic"], e["offset"]) for e in expected if e["kind"] == "dead-letter")
        status = Counter(r["status"] for r in store.query("SELECT status FROM flows"))
        assert status["stuck"] == sum(row["outcome"] == "stuck" for row in truth) > 0
        assert sum(status.values()) == len(truth)
    finally:
        store.close()


@pytest.mark.slow
def test_paced_run_stores_events_at_wall_time(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    url = f"sqlite:///{tmp_path / 'paced.db'}"
    started = datetime.now(UTC)
    assert main(["simulate", "--flows", "3", "--seed", "2", "--rate", "50", "--store", url]) == 0
    ended = datetime.now(UTC)
    store = open_store(url, read_only=True)
    try:
        rows = store.query("SELECT occurred_at FROM events")
        assert len(rows) >= 9
        times = [datetime.fromisoformat(r["occurred_at"]) for r in rows]
        assert started - timedelta(seconds=1) < min(times) <= max(times) < ended
        assert store.query("SELECT count(*) AS n FROM spans")[0]["n"] > len(rows)
    finally:
        store.close()


def test_progress_bar_counts_flows_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    from collector.commands.simulate import run_simulation
    from collector.simulator import Simulation

    from .conftest import definitions

    run_simulation(Simulation(definitions(), flows=2500, seed=1), progress=True)
    err = capsys.readouterr().err
    assert "2500/2500" in err
    assert "flow" in err
