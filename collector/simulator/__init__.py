"""The built-in simulator: a choreographed e-commerce and onboarding system, with faults and
the ground truth of what it did.

`Simulation` yields `SimRecord`s in delivery order; afterwards `Simulation.truth` and
`Simulation.expectations` say what the collector should find, and `Simulation.settle_time`
when. `TOPOLOGY` is the simulated system's producers and consumers. ``choreoscope simulate``
(`collector.commands.simulate`) is the command-line edge.
"""

from __future__ import annotations

from collector.simulator.engine import BUSINESS_DAY, EPOCH, Pacing, SimStats, Simulation
from collector.simulator.exceptions import SimulatorError
from collector.simulator.faults import DEMO_FAULT_RATES, Fault, parse_fault_rates
from collector.simulator.record import (
    SimRecord,
    decode_json_line,
    encode_json_line,
    to_observation,
)
from collector.simulator.topology import TOPOLOGY, Route, Topology
from collector.simulator.truth import TruthRow

__all__ = [
    "BUSINESS_DAY",
    "DEMO_FAULT_RATES",
    "EPOCH",
    "TOPOLOGY",
    "Fault",
    "Pacing",
    "Route",
    "SimRecord",
    "SimStats",
    "Simulation",
    "SimulatorError",
    "Topology",
    "TruthRow",
    "decode_json_line",
    "encode_json_line",
    "parse_fault_rates",
    "to_observation",
]
