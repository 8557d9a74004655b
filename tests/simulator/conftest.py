"""Runs of the simulator shared by the tests, and helpers to read what it produced."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.flows.definition import FlowDefinition, load_definitions
from collector.simulator import Fault, SimRecord, Simulation

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"


@cache
def definitions() -> tuple[FlowDefinition, ...]:
    return load_definitions([SCHEMAS / "flows"])


@pytest.fixture(scope="session", name="definitions")
def _definitions() -> tuple[FlowDefinition, ...]:
    return definitions()


@dataclass(frozen=True)
class Run:
    """A finished simulation: its records in delivery order, truth and expectations."""

    records: tuple[SimRecord, ...]
    truth: dict[str, dict[str, Any]]
    """Truth rows (as written to --truth) by correlation id."""
    expectations: tuple[dict[str, Any], ...]
    sim: Simulation

    def docs(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(offset, decoded CloudEvent) of every record that is JSON."""
        for i, r in enumerate(self.records):
            try:
                yield i, orjson.loads(r.value)
            except orjson.JSONDecodeError:
                continue

    def by_identity(self) -> dict[tuple[str, str], list[tuple[int, dict[str, Any]]]]:
        found: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
        for i, doc in self.docs():
            found.setdefault((doc["source"], doc["id"]), []).append((i, doc))
        return found

    def with_fault(self, name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(row, fault entry) for each fault of that name."""
        return [(row, f) for row in self.truth.values() for f in row["faults"]
                if f["name"] == name]


@cache
def simulate(flows: int = 400, seed: int = 7, **rates: float) -> Run:
    """A finished run; ``bad_schema=0.3`` stands for the fault ``bad-schema``."""
    faults = {Fault(k.replace("_", "-")): v for k, v in rates.items()}
    sim = Simulation(definitions(), flows=flows, seed=seed, fault_rates=faults)
    records = tuple(sim.records())
    truth = {r.correlation_id: r.to_json() for r in sim.truth()}
    return Run(records, truth, tuple(sim.expectations()), sim)


def schema_path(event_type: str, version: int) -> Path:
    return SCHEMAS / "events" / event_type / f"v{version}.json"
