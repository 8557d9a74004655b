"""The generated simulator domain (60 event types, 25 services, 15 topics by default): seeded,
and run for real by ``choreoscope simulate --domain generated`` into a store whose event map
has exactly that topology."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from collector.catalog_source import read_traffic, traffic_window
from collector.cli import main
from collector.simulator import decode_json_line
from collector.simulator.generated import GeneratedSimulation, generate_domain
from collector.store.base import open_store


def test_the_default_domain_has_the_bench_size_and_every_type_is_consumed() -> None:
    domain = generate_domain(seed=3)
    topology = domain.topology
    assert len(topology.routes) == 60
    assert len(topology.services) == 25
    assert len(topology.topics) == 15
    assert all(r.consumers for r in topology.routes)
    assert sorted(t for chain in domain.chains for t in chain) == sorted(
        r.event_type for r in topology.routes)
    for chain in domain.chains:  # each step is produced by a consumer of the one before
        for before, after in pairwise(chain):
            assert topology.route(after).producer in topology.route(before).consumers


def test_the_same_seed_gives_the_same_domain_and_records() -> None:
    assert generate_domain(seed=5) == generate_domain(seed=5)
    assert generate_domain(seed=5) != generate_domain(seed=6)
    runs = [list(GeneratedSimulation(generate_domain(seed=5), flows=30, seed=1).records())
            for _ in range(2)]
    assert runs[0] == runs[1]
    assert [r.at for r in runs[0]] == sorted(r.at for r in runs[0])


def test_simulate_runs_the_generated_domain_into_a_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    schemas = tmp_path / "schemas"
    assert main(["simulate", "--domain", "generated", "--seed", "3",
                 "--write-schemas", str(schemas)]) == 0
    assert len(list((schemas / "events").glob("*/v1.json"))) == 60
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(schemas))
    url = f"sqlite:///{tmp_path / 'gen.db'}"
    out = tmp_path / "records.jsonl"
    assert main(["simulate", "--domain", "generated", "--seed", "3", "--flows", "600",
                 "--store", url, "--out", str(out)]) == 0
    assert "simulated 600 flows" in capsys.readouterr().out
    store = open_store(url, read_only=True)
    try:
        window = traffic_window(store)
        assert window is not None
        traffic = list(read_traffic(store, window))
        violations = store.query("SELECT COUNT(*) AS n FROM violations")[0]["n"]
    finally:
        store.close()
    topology = generate_domain(seed=3).topology
    produced = {(t.service, t.event_type) for t in traffic if t.kind == "produce"}
    consumed = {(t.service, t.event_type) for t in traffic if t.kind == "consume"}
    assert produced == {(r.producer, r.event_type) for r in topology.routes}
    assert consumed == {(c, r.event_type) for r in topology.routes for c in r.consumers}
    assert {t.topic for t in traffic if t.kind == "produce"} == set(topology.topics)
    assert violations == 0  # every record matches the schemas written for it
    first = decode_json_line(out.read_bytes().splitlines()[0])
    assert json.loads(first.value)["type"] in {r.event_type for r in topology.routes}


@pytest.mark.parametrize(("args", "named"), [
    (["--rate", "5"], "--rate"),
    (["--truth", "t.jsonl"], "--truth"),
    (["--fault-rate", "lost=0.1"], "--fault-rate"),
    (["--topics", "99"], "--topics"),
])
def test_options_the_generated_domain_lacks_exit_2_with_one_line(
        args: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--domain", "generated", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert named in err
