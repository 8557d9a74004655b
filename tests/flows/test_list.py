"""``choreoscope flows list``: every flow's status in one call, filtered, as JSON or a table.

Issue 16: the command line had no way to list the flows, so scoring 3,000 flows took 3,000
calls of ``flows show``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from collector.cli import main

from .conftest import ROOT


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("list")
    url = f"sqlite:///{folder / 'sim.db'}"
    subprocess.run([str(Path(sys.executable).parent / "choreoscope"), "simulate", "--store", url,
                    "--flows", "120", "--seed", "8", "--fault-rate", "lost=0.1",
                    "--fault-rate", "slow=0.1", "--fault-rate", "bad-schema=0.1"],
                   check=True, cwd=folder, capture_output=True, timeout=300,
                   env={**os.environ, "CHOREOSCOPE_SCHEMAS_DIR": str(ROOT / "schemas")})
    return url


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(ROOT / "schemas"))
    monkeypatch.chdir(tmp_path)


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute(sql).fetchall()


def listed(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> list[dict[str, object]]:
    code = main(["flows", "list", "--json", "--store", url, *argv])
    out = capsys.readouterr().out
    assert code == 0
    found: list[dict[str, object]] = json.loads(out)
    return found


def test_one_call_gives_every_flows_status(store, capsys):
    every = listed(capsys, store, "--limit", "1000")
    assert {(r["correlation_id"], r["status"]) for r in every} == {
        (str(c), str(s)) for c, s in rows(store, "SELECT correlation_id, status FROM flows")}
    started = [str(r["started_at"]) for r in every]
    assert started == sorted(started, reverse=True)


def test_filters_by_type_status_breach_and_duration(store, capsys):
    stuck = listed(capsys, store, "--status", "stuck", "--flow-type", "order", "--limit", "1000")
    assert {r["correlation_id"] for r in stuck} == {str(c) for (c,) in rows(
        store, "SELECT correlation_id FROM flows WHERE status = 'stuck' AND flow_type = 'order'")}
    breached = listed(capsys, store, "--breached", "--limit", "1000")
    assert breached
    assert all(r["sla_breached"] and float(str(r["over_s"])) > 0 for r in breached)
    quick = listed(capsys, store, "--max-duration", "20s", "--status", "completed",
                   "--limit", "1000")
    assert quick
    assert all(float(str(r["duration_s"])) <= 20 for r in quick)
    slow = listed(capsys, store, "--min-duration", "1min", "--limit", "1000")
    assert all(float(str(r["duration_s"])) >= 60 for r in slow)


def test_the_longest_first_a_page_at_a_time(store, capsys):
    page = listed(capsys, store, "--sort", "duration", "--limit", "5")
    assert len(page) == 5
    durations = [float(str(r["duration_s"])) for r in page]
    assert durations == sorted(durations, reverse=True)


def test_event_type_service_and_violations_filters(store, capsys):
    refunds = listed(capsys, store, "--event-type", "RefundIssued", "--limit", "1000")
    assert {r["correlation_id"] for r in refunds} == {str(c) for (c,) in rows(
        store, "SELECT DISTINCT f.correlation_id FROM flows f JOIN events e ON "
               "e.correlation_id = f.correlation_id WHERE e.type = 'RefundIssued'")}
    kyc = listed(capsys, store, "--service", "kyc-service", "--limit", "1000")
    assert kyc
    assert {r["flow_type"] for r in kyc} == {"onboarding"}
    violated = listed(capsys, store, "--violations", "--limit", "1000")
    assert violated
    assert {r["correlation_id"] for r in violated} <= {str(c) for (c,) in rows(
        store, "SELECT e.correlation_id FROM violations v JOIN events e ON "
               "e.source = v.source AND e.id = v.id")}


def test_the_table_has_a_header_and_humanised_durations(store, capsys):
    assert main(["flows", "list", "--store", store, "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["CORRELATION ID", "FLOW TYPE", "STATUS", "STARTED (UTC)",
                                    "DURATION", "EVENTS", "SLA"]
    assert len(lines) == 4


@pytest.mark.parametrize(("argv", "flag"), [
    (("--limit", "0"), "--limit"), (("--min-duration", "soon"), "--min-duration"),
    (("--since", "yesterday"), "--since")])
def test_bad_input_is_one_line_and_exit_2(store, capsys, argv, flag):
    try:
        code = main(["flows", "list", "--store", store, *argv])
    except SystemExit as exc:  # refused by the parser: its usage line, then the error line
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert flag in err.splitlines()[-1]
    assert "Traceback" not in err
