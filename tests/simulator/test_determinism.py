"""Unpaced, the same seed gives byte-identical records, truth and expectations."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli import main
from collector.simulator import Fault, Simulation, encode_json_line
from collector.simulator.truth import encode_rows

from .conftest import SCHEMAS, definitions

ALL_FAULTS = dict.fromkeys(Fault, 0.2)


def _bytes(seed: int) -> tuple[bytes, bytes, bytes]:
    sim = Simulation(definitions(), flows=300, seed=seed, fault_rates=ALL_FAULTS)
    out = b"".join(encode_json_line(r) for r in sim.records())
    return (out, encode_rows([r.to_json() for r in sim.truth()]),
            encode_rows(sim.expectations()))


def test_same_seed_gives_identical_bytes() -> None:
    first, second = _bytes(11), _bytes(11)
    assert first == second
    assert all(first)


def test_another_seed_gives_other_flows() -> None:
    assert _bytes(11)[0] != _bytes(12)[0]


def test_command_line_runs_are_byte_identical(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(SCHEMAS))

    def run(name: str) -> tuple[bytes, bytes, bytes]:
        paths = [tmp_path / f"{name}.{ext}" for ext in ("out", "truth", "expect")]
        code = main(["simulate", "--flows", "200", "--seed", "5", "--fault-rate", "lost=0.1",
                     "--fault-rate", "duplicate=0.1", "--fault-rate", "undecodable=0.05",
                     "--out", str(paths[0]), "--truth", str(paths[1]),
                     "--expectations", str(paths[2])])
        assert code == 0
        return tuple(p.read_bytes() for p in paths)  # type: ignore[return-value]

    first, second = run("a"), run("b")
    assert first == second
    faults = {Fault.LOST: 0.1, Fault.DUPLICATE: 0.1, Fault.UNDECODABLE: 0.05}
    sim = Simulation(definitions(), flows=200, seed=5, fault_rates=faults)
    assert b"".join(encode_json_line(r) for r in sim.records()) == first[0]
    assert encode_rows([r.to_json() for r in sim.truth()]) == first[1]
    assert first[0].count(b"\n") > 1000
    assert first[1].count(b"\n") == 200
