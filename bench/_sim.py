"""What several benches share: the simulator's records on one topic, and scripts/kafka.py
(the single-node broker) loaded as a module."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def simulated_records(n: int, topic: str) -> list[Any]:
    """The first ``n`` records of a seeded fault-free simulation, all on ``topic``."""
    from collector.flows.definition import load_definitions
    from collector.simulator import Simulation

    sim = Simulation(load_definitions([ROOT / "schemas" / "flows"]), flows=n // 6 + 100,
                     seed=42, fault_rates={})
    out = []
    for r in sim.records():
        out.append(replace(r, topic=topic))
        if len(out) == n:
            break
    return out


def kafka_script() -> ModuleType:
    """scripts/kafka.py, which starts and stops the broker."""
    spec = importlib.util.spec_from_file_location("choreoscope_kafka_script",
                                                  ROOT / "scripts" / "kafka.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
