"""Finding a flow by what a user has: a correlation id, an order id, a prefix, a near miss.

The demo domain ships its business keys (schemas/business_keys.json), so a store the simulator
filled with no configuration at all is searchable by order id and customer id; ``flows show``
and ``timeline`` resolve ids in the order of `collector.flows.lookup`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from collector.cli import main
from collector.flows.lookup import find_flow, nearest_ids, rank_by_similarity
from collector.flows.tracker import FlowTracker
from collector.store.base import Batch, open_store

from .conftest import ROOT, ev


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store filled by ``choreoscope simulate --store`` with no configuration file."""
    folder = tmp_path_factory.mktemp("lookup")
    url = f"sqlite:///{folder / 'sim.db'}"
    subprocess.run([str(Path(sys.executable).parent / "choreoscope"), "simulate", "--store", url,
                    "--flows", "40", "--seed", "3"], check=True, cwd=folder, capture_output=True,
                   timeout=300, env={**os.environ,
                                     "CHOREOSCOPE_SCHEMAS_DIR": str(ROOT / "schemas")})
    return url


def rows(url: str, sql: str) -> list[tuple[str, ...]]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute(sql).fetchall()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(ROOT / "schemas"))
    monkeypatch.chdir(tmp_path)


def test_the_simulator_indexes_the_demo_business_keys_with_no_configuration(simulated):
    names = {n for (n,) in rows(simulated, "SELECT DISTINCT name FROM business_keys")}
    assert names == {"order_id", "customer_id"}
    placed = rows(simulated, "SELECT COUNT(*) FROM events WHERE type = 'OrderPlaced'")[0][0]
    keyed = rows(simulated, "SELECT COUNT(DISTINCT correlation_id) FROM business_keys "
                            "WHERE name = 'order_id'")[0][0]
    assert placed > 0
    assert keyed >= placed


def test_flows_show_finds_a_flow_by_its_order_id(simulated, in_repo, capsys):
    cid, order_id = rows(simulated, "SELECT correlation_id, value FROM business_keys "
                                    "WHERE name = 'order_id' ORDER BY value LIMIT 1")[0]
    code, out, err = run(capsys, "flows", "show", order_id, "--json", "--store", simulated)
    assert code == 0, err
    assert json.loads(out)["correlation_id"] == cid
    assert f"business key order_id of flow {cid}" in err


def test_timeline_finds_a_flow_by_its_order_id(simulated, in_repo, capsys):
    cid, order_id = rows(simulated, "SELECT correlation_id, value FROM business_keys "
                                    "WHERE name = 'order_id' ORDER BY value DESC LIMIT 1")[0]
    code, out, _ = run(capsys, "timeline", order_id, "--store", simulated)
    assert code == 0
    assert out.startswith(f"{cid}: ")


def test_flows_show_opens_a_unique_correlation_prefix(simulated, in_repo, capsys):
    ids = sorted(c for (c,) in rows(simulated, "SELECT correlation_id FROM flows"))
    cid = ids[len(ids) // 2]
    prefix = cid[:8]
    assert sum(1 for c in ids if c.startswith(prefix)) == 1
    code, out, _ = run(capsys, "flows", "show", prefix, "--json", "--store", simulated)
    assert code == 0
    assert json.loads(out)["correlation_id"] == cid


def test_flows_show_opens_a_unique_instance_prefix(simulated, in_repo, capsys):
    instance, cid = rows(simulated, "SELECT instance_id, correlation_id FROM flows "
                                    "ORDER BY instance_id LIMIT 1")[0]
    code, out, _ = run(capsys, "flows", "show", instance[:10], "--json", "--store", simulated)
    assert code == 0
    assert json.loads(out)["instance_id"] == instance
    assert json.loads(out)["correlation_id"] == cid


@pytest.fixture
def twins(tmp_path: Path, definitions) -> str:
    """Two flows whose correlation ids share their first 8 characters, a customer with both."""
    url = f"sqlite:///{tmp_path / 'twins.db'}"
    events = [ev("OrderPlaced", 0, "abcdefgh-0001"), ev("OrderPlaced", 1, "abcdefgh-0002"),
              ev("OrderPlaced", 2, "zyxwvuts-0003")]
    events = [e.__class__(**{**{f: getattr(e, f) for f in e.__dataclass_fields__},
                             "business_keys": (("customer_id", "CUS-000001"),)})
              for e in events[:2]] + events[2:]
    update = FlowTracker(definitions).on_events(events)
    store = open_store(url)
    store.write(Batch(events=events, flows=update.flows, assignments=update.assignments))
    store.close()
    return url


def test_an_ambiguous_prefix_lists_its_candidates(twins, in_repo, capsys):
    code, _, err = run(capsys, "flows", "show", "abcdefgh", "--store", twins)
    assert code == 1
    assert "'abcdefgh' names 2 flows" in err
    assert "abcdefgh-0001" in err
    assert "abcdefgh-0002" in err


def test_a_business_key_of_several_flows_lists_them(twins):
    store = open_store(twins, read_only=True)
    try:
        found = find_flow(store, "CUS-000001")
    finally:
        store.close()
    assert not found.found
    assert [c["correlation_id"] for c in found.candidates] == ["abcdefgh-0001", "abcdefgh-0002"]
    assert {c["matched"] for c in found.candidates} == {"business key customer_id"}


def test_a_prefix_shorter_than_six_characters_opens_nothing(twins):
    store = open_store(twins, read_only=True)
    try:
        found = find_flow(store, "zyxwv")
    finally:
        store.close()
    assert not found.found
    assert found.nearest[0] == "zyxwvuts-0003"


def test_an_unknown_id_prints_the_nearest_and_exits_1(twins, in_repo, capsys):
    code, _, err = run(capsys, "flows", "show", "zyxwvutz-0003", "--store", twins)
    assert code == 1
    assert "nearest: zyxwvuts-0003" in err


def test_nearest_matches_are_ranked_by_similarity_not_sort_order(tmp_path: Path, definitions):
    """A one-character typo: twenty ids sort between the typed text and the right one."""
    url = f"sqlite:///{tmp_path / 'near.db'}"
    right = "ord-abd123"
    ids = [f"ord-abc2{i:02d}" for i in range(20)] + [right, "ord-zzz999"]
    events = [ev("OrderPlaced", i, c) for i, c in enumerate(ids)]
    update = FlowTracker(definitions).on_events(events)
    store = open_store(url)
    try:
        store.write(Batch(events=events, flows=update.flows))
        assert nearest_ids(store, "ord-abc123")[0] == right
    finally:
        store.close()


def test_rank_by_similarity_puts_fewer_edits_first():
    assert rank_by_similarity("ORD-1fcac39973", ["ORD-1fcac39000", "ORD-1fcac39974",
                                                 "ORD-0fcac39973"]) == [
        "ORD-1fcac39974", "ORD-0fcac39973", "ORD-1fcac39000"]


def test_user_configured_business_keys_extend_the_shipped_ones(tmp_path: Path):
    from collector.business_keys import load_business_keys, merge_business_keys

    shipped = load_business_keys(ROOT / "schemas")
    merged = merge_business_keys(shipped, {"*": {"order_id": "/data/orderId"},
                                           "OrderPlaced": {"channel": "/data/channel"}})
    assert merged["*"] == {"order_id": "/data/orderId", "customer_id": "/data/customer_id"}
    assert merged["OrderPlaced"] == {"channel": "/data/channel"}


def test_a_bad_business_keys_file_is_one_line_naming_it(tmp_path: Path, monkeypatch, capsys):
    shutil.copytree(ROOT / "schemas" / "flows", tmp_path / "flows")
    (tmp_path / "business_keys.json").write_text(
        '{"business_keys": {"*": {"order_id": "nonsense:x"}}}', encoding="utf-8")
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code = main(["simulate", "--flows", "1", "--store", f"sqlite:///{tmp_path / 's.db'}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "business_keys.json: business_keys.*.order_id" in err
    assert len(err.strip().splitlines()) == 1


def test_notifications_in_simulated_flows_make_no_deviation_nor_variant(simulated, in_repo,
                                                                        capsys):
    """Issue 16: on the demo most order flows were flagged "unexpected-event
    CustomerNotified" and the notifications split the order variants."""
    notified = rows(simulated, "SELECT COUNT(DISTINCT correlation_id) FROM events "
                               "WHERE type = 'CustomerNotified'")[0][0]
    assert notified > 0
    code, out, _ = run(capsys, "flows", "variants", "--json", "--limit", "100",
                       "--store", simulated)
    order = json.loads(out)["order"]
    assert code == 0
    assert not [d for d in order["deviations"] if d["event_type"] == "CustomerNotified"]
    assert all("CustomerNotified" not in v["path"] for v in order["variants"])
    assert order["variant_count"] <= 8
