"""Against the simulator's ground truth, every fault on: stuck, breaches and outcomes exact."""

from __future__ import annotations

from datetime import timedelta
from itertools import islice

import pytest

from collector.envelope import Decoder, build_rules
from collector.flows.accuracy import score
from collector.flows.replay import replay
from collector.flows.tracker import FlowTracker
from collector.model import AlertKind, Event
from collector.settings import load_settings
from collector.simulator import Fault, Simulation, to_observation

FLOWS = 20_000
RATE = 0.05


def batches(sim: Simulation, size: int = 1000):
    decode = Decoder(build_rules(load_settings()))
    records = enumerate(sim.records())
    while chunk := list(islice(records, size)):
        decoded = (decode(to_observation(r, seq)) for seq, r in chunk)
        yield [e for e in decoded if isinstance(e, Event)]




@pytest.mark.slow
def test_every_verdict_matches_the_truth(definitions):
    sim = Simulation(definitions, flows=FLOWS, seed=20_000,
                     fault_rates=dict.fromkeys(Fault, RATE))
    tracker = FlowTracker(definitions)
    result = replay(tracker, batches(sim), lateness=timedelta(seconds=10))
    result.take(tracker.on_tick(sim.settle_time))
    truth = [r.to_json() for r in sim.truth()]
    faults = {f["name"] for row in truth for f in row["faults"]}
    assert faults == {f.value for f in Fault}  # every fault did hit some flow
    assert sum(r["outcome"] == "stuck" for r in truth) > 100
    assert sum(r["sla_breached"] and r["outcome"] != "stuck" for r in truth) > 100
    acc = score(truth, result.flows, result.assignments)
    assert acc.flows == FLOWS
    assert acc.missing == []
    assert acc.unexpected == []
    assert acc.wrong_outcome == []
    assert (acc.stuck.precision, acc.stuck.recall) == (1.0, 1.0)
    assert (acc.breach.precision, acc.breach.recall) == (1.0, 1.0)
    assert acc.misassigned == []
    # stuck at the right step: the lost event is what the flow still expects
    from collector.flows.tracker import instance_id
    for row in truth:
        lost = [f for f in row["faults"] if f["name"] == "lost"]
        if row["outcome"] == "stuck" and lost:
            flow = result.flows[instance_id(*row["instance"])]
            assert lost[0]["event_type"] in flow.expected_next, (row, flow)
            assert flow.stuck_step is not None
    stuck_alerts = {a.instance_id for a in result.alerts if a.kind is AlertKind.FLOW_STUCK}
    stuck_now = {i for i, f in result.flows.items() if f.status.value == "stuck"}
    assert stuck_now <= stuck_alerts
