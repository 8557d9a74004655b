"""The ``choreoscope schemas`` contract users gate pipelines on: output shape and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from catalog.drafts import DRAFT_07
from collector.cli import main
from collector.model import Event, Location
from collector.store import Batch, open_store

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
OLD = {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]}
WIDER = {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}
NARROWER = {"type": "object", "properties": {"amount": {"type": "integer", "maximum": 100}},
            "required": ["amount"]}


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CHOREOSCOPE_"):
            monkeypatch.delenv(name)
    return tmp_path


def _file(folder: Path, name: str, value: Any) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value) if not isinstance(value, str) else value)
    return str(path)


def test_check_json_shape_and_exit_0_when_compatible(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["schemas", "check", _file(cwd, "old.json", OLD), _file(cwd, "new.json", WIDER),
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out == {"compatible": True, "mode": "BACKWARD", "policy": "STRICT", "changes": [
        {"type": "TYPE_EXTENDED", "path": "#/properties/amount/type", "compatible": True}]}


def test_check_exit_1_when_not_compatible_in_the_mode(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, wider = _file(cwd, "old.json", OLD), _file(cwd, "new.json", WIDER)
    assert main(["schemas", "check", old, wider, "--mode", "FULL", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["compatible"], out["mode"]) == (False, "FULL")
    assert {"type": "TYPE_NARROWED", "path": "#/properties/amount/type",
            "compatible": False} in out["changes"]
    assert main(["schemas", "check", old, _file(cwd, "n.json", NARROWER)]) == 1
    assert "MAXIMUM_ADDED" in capsys.readouterr().out


def test_check_policy_flag_changes_the_verdict(cwd: Path) -> None:
    added = {**OLD, "properties": {**OLD["properties"], "note": {"type": "string"}}}
    old, new = _file(cwd, "old.json", OLD), _file(cwd, "new.json", added)
    assert main(["schemas", "check", old, new]) == 1
    assert main(["schemas", "check", old, new, "--policy", "lenient"]) == 0


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "cannot read"),
        ("{not json", "not valid JSON"),
        ({"type": "strin"}, "'type'"),
        ({"$schema": "http://json-schema.org/draft-04/schema#"}, "'$schema'"),
    ],
)
def test_check_exit_2_on_bad_input(
    cwd: Path, capsys: pytest.CaptureFixture[str], content: Any, expect: str
) -> None:
    new = str(cwd / "missing.json") if content is None else _file(cwd, "new.json", content)
    assert main(["schemas", "check", _file(cwd, "old.json", OLD), new]) == 2
    err = capsys.readouterr().err
    assert expect in err
    assert new in err


def test_check_exit_2_on_unknown_mode_and_wrong_arity(cwd: Path) -> None:
    old = _file(cwd, "old.json", OLD)
    assert main(["schemas", "check", old, old, "--mode", "SIDEWAYS"]) == 2
    assert main(["schemas", "check", old]) == 2


def test_console_script_exit_codes(cwd: Path) -> None:
    exe = Path(sys.executable).parent / "choreoscope"
    old, wider = _file(cwd, "old.json", OLD), _file(cwd, "new.json", WIDER)
    runs = [subprocess.run([str(exe), "schemas", "check", *args], capture_output=True,
                           text=True, cwd=cwd, check=False)
            for args in ([old, wider, "--json"], [wider, old], [old, str(cwd / "nope.json")])]
    assert [r.returncode for r in runs] == [0, 1, 2]
    assert json.loads(runs[0].stdout)["compatible"] is True


def test_register_accepts_writes_and_refuses(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = cwd / "schemas" / "events"
    _file(events, "OrderPlaced/v1.json", OLD)
    assert main(["schemas", "register", "OrderPlaced", _file(cwd, "wider.json", WIDER)]) == 0
    # the stored version carries the draft it was read as ([registry] default_draft)
    assert json.loads((events / "OrderPlaced" / "v2.json").read_text()) == {
        "$schema": DRAFT_07, **WIDER}
    assert "registered OrderPlaced version 2" in capsys.readouterr().err

    assert main(["schemas", "register", "OrderPlaced", _file(cwd, "n.json", NARROWER)]) == 1
    captured = capsys.readouterr()
    assert "MAXIMUM_ADDED" in captured.out
    assert "refused" in captured.err
    assert not (events / "OrderPlaced" / "v3.json").exists()

    assert main(["schemas", "register", "OrderPlaced", _file(cwd, "b.json", {"type": 5})]) == 2
    assert main(["schemas", "register", "NewType", _file(cwd, "t.json", OLD)]) == 0
    assert (events / "NewType" / "v1.json").is_file()


def test_report_lists_every_subject(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = cwd / "schemas" / "events"
    _file(events, "OrderPlaced/v1.json", OLD)
    _file(events, "OrderPlaced/v2.json", NARROWER)
    _file(events, "PaymentTaken/v1.json", {"type": "object"})
    assert main(["schemas", "report", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(s["subject"], s["versions"]) for s in out] == [("OrderPlaced", [1, 2]),
                                                          ("PaymentTaken", [1])]
    check = out[0]["checks"][0]
    assert (check["version"], check["compatible"]) == (2, False)
    assert main(["schemas", "report"]) == 0
    text = capsys.readouterr().out
    assert "OrderPlaced [BACKWARD, STRICT]: v1, v2" in text
    assert "MAXIMUM_ADDED" in text


def _events(url: str) -> None:
    def ev(i: int, source: str, data: Any) -> Event:
        return Event(id=f"e{i}", type="OrderPlaced", source=source,
                     occurred_at=T0 + timedelta(seconds=i), correlation_id=f"c{i}", data=data,
                     location=Location("kafka", "orders", 0, i), received_at=T0)

    store = open_store(url)
    try:
        store.write(Batch(events=[
            ev(1, "shop", {"amount": 5}), ev(2, "shop", {"amount": 500}),
            ev(3, "legacy", {"amount": "7"}), ev(4, "legacy", {"amount": 700}),
            ev(5, "shop", {"amount": 50}),
        ]))
    finally:
        store.close()


def test_check_against_traffic_reports_rejections_per_producer(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{cwd / 'store.db'}"
    _events(url)
    new = _file(cwd, "new.json", NARROWER)
    code = main(["schemas", "check", "--against-traffic", "OrderPlaced", new, "--store", url,
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (out["subject"], out["checked"], out["rejected"]) == ("OrderPlaced", 5, 3)
    legacy, shop = out["producers"]
    assert (legacy["producer"], legacy["checked"], legacy["rejected"]) == ("legacy", 2, 2)
    assert (shop["producer"], shop["checked"], shop["rejected"]) == ("shop", 3, 1)
    assert {(p["path"], p["keyword"]) for p in legacy["paths"]} == {
        ("/amount", "type"), ("/amount", "maximum")}
    assert shop["examples"][0]["event_id"] == "e2"
    assert shop["examples"][0]["findings"][0]["pointer"] == "/amount"

    assert main(["schemas", "check", "--against-traffic", "OrderPlaced",
                 _file(cwd, "ok.json", {"type": "object"}), "--store", url]) == 0
    assert "0 of 5 stored payloads would be rejected" in capsys.readouterr().out
    assert main(["schemas", "check", "--against-traffic", "OrderPlaced", new, "--store", url,
                 "--since", "yesterday"]) == 2


def test_propose_infers_a_registrable_schema_from_stored_payloads(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{cwd / 'store.db'}"
    _events(url)
    assert main(["schemas", "propose", "OrderPlaced", "--store", url]) == 0
    proposal = json.loads(capsys.readouterr().out)
    assert (proposal["title"], proposal["x-samples"]) == ("OrderPlaced", 5)
    assert proposal["properties"]["amount"]["type"] == ["integer", "string"]
    path = _file(cwd, "proposal.json", proposal)
    assert main(["schemas", "register", "OrderPlaced", path]) == 0
    assert main(["schemas", "propose", "Unseen", "--store", url]) == 2


def test_drift_reports_per_producer(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{cwd / 'store.db'}"
    _events(url)
    _file(cwd / "schemas" / "events", "OrderPlaced/v1.json", {
        "type": "object", "properties": {"amount": {"type": "integer"}}})
    assert main(["schemas", "drift", "--store", url, "--json"]) == 0
    out = {e["producer"]: e for e in json.loads(capsys.readouterr().out)}
    assert out["shop"]["drift"] == []
    assert out["legacy"]["drift"] == [{"kind": "type", "path": "/amount", "declared": "integer",
                                       "seen": "string", "count": 1}]
    assert main(["schemas", "drift", "--store", url]) == 0
    assert "declared integer, seen string" in capsys.readouterr().out


def test_register_the_same_schema_again_adds_nothing(cwd: Path) -> None:
    events = cwd / "schemas" / "events"
    _file(events, "OrderPlaced/v1.json", OLD)
    assert main(["schemas", "register", "OrderPlaced", _file(cwd, "same.json", OLD)]) == 0
    assert sorted(p.name for p in (events / "OrderPlaced").iterdir()) == ["v1.json"]


def test_config_sets_a_subjects_mode_that_register_then_applies(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = cwd / "schemas" / "events"
    _file(events, "OrderPlaced/v1.json", OLD)
    assert main(["schemas", "config", "OrderPlaced", "--mode", "full"]) == 0
    assert "OrderPlaced: FULL, STRICT" in capsys.readouterr().out
    assert main(["schemas", "register", "OrderPlaced", _file(cwd, "w.json", WIDER)]) == 1
    assert main(["schemas", "config", "OrderPlaced", "--mode", "none"]) == 0
    assert main(["schemas", "register", "OrderPlaced", _file(cwd, "w.json", WIDER)]) == 0
    assert main(["schemas", "config", "OrderPlaced", "--policy", "sloppy"]) == 2


def test_propose_without_a_type_covers_every_undocumented_type(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{cwd / 'store.db'}"
    _events(url)
    store = open_store(url)
    try:
        store.write(Batch(events=[Event(
            id="x1", type="CouponApplied", source="shop", occurred_at=T0, correlation_id="c9",
            data={"code": "SAVE10"}, location=Location("kafka", "orders", 0, 99),
            received_at=T0)]))
    finally:
        store.close()
    _file(cwd / "schemas" / "events", "OrderPlaced/v1.json", OLD)
    assert main(["schemas", "propose", "--store", url]) == 0
    proposals = json.loads(capsys.readouterr().out)
    assert list(proposals) == ["CouponApplied"]
    assert proposals["CouponApplied"]["properties"] == {"code": {"type": "string"}}


@pytest.mark.parametrize("depth", [400, 5000])
def test_check_exit_2_on_a_schema_nested_too_deeply(
    cwd: Path, capsys: pytest.CaptureFixture[str], depth: int
) -> None:
    text = '{"type": "string"}'
    for _ in range(depth):
        text = '{"type": "object", "properties": {"a": ' + text + "}}"
    path = _file(cwd, "deep.json", text)
    assert main(["schemas", "check", path, path]) == 2
    err = capsys.readouterr().err
    assert "too deeply" in err or "too complex" in err


def test_check_exit_2_when_too_complex(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def union(depth: int, leaf: str) -> Any:
        return {"type": leaf} if depth == 0 else {
            "anyOf": [union(depth - 1, leaf if i else "string") for i in range(6)]}

    old, new = _file(cwd, "o.json", union(5, "integer")), _file(cwd, "n.json", union(5, "null"))
    assert main(["schemas", "check", old, new]) == 2
    assert "too complex" in capsys.readouterr().err


def test_against_traffic_exit_2_without_a_store(cwd: Path, capsys: pytest.CaptureFixture[str]
                                                 ) -> None:
    new = _file(cwd, "new.json", NARROWER)
    url = f"sqlite:///{cwd / 'missing' / 'store.db'}"
    assert main(["schemas", "check", "--against-traffic", "OrderPlaced", new, "--store",
                 url]) == 2
    assert "does not exist" in capsys.readouterr().err
