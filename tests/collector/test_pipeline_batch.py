"""The pipeline hands the tracker a whole batch (`on_events`); what reaches the store is what one
`on_event` per event gave: the same flows, event assignments, alerts and rollups, on simulated
traffic with every fault on (duplicates, reordering, lost and late events, reused ids)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from collector.envelope import Decoder, build_rules
from collector.flows.definition import FlowDefinition, load_definitions
from collector.flows.tracker import FlowTracker, FlowUpdate
from collector.model import Event
from collector.pipeline import Pipeline
from collector.settings import load_settings
from collector.simulator import Fault, Simulation, to_observation
from collector.store.base import Batch, Position, open_store

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "events": "SELECT source, id, instance_id, correlation_id, occurred_at FROM events",
    "flows": "SELECT * FROM flows",
    "outbox": "SELECT alert_id, kind, instance_id, step, at, details FROM outbox",
    "flow_rollups": "SELECT * FROM flow_rollups",
}


class OneByOne:
    """A tracker fed one event at a time, whatever the pipeline hands it (the reference)."""

    def __init__(self, tracker: FlowTracker) -> None:
        self.tracker = tracker

    def on_event(self, event: Event) -> FlowUpdate:
        return self.tracker.on_event(event)

    def on_events(self, events: Iterable[Event]) -> FlowUpdate:
        merged = FlowUpdate()
        for event in events:
            update = self.tracker.on_event(event)
            merged.assignments += update.assignments
            merged.flows += update.flows
            merged.alerts += update.alerts
            merged.rollups += update.rollups
        return merged

    def on_tick(self, now: datetime) -> FlowUpdate:
        return self.tracker.on_tick(now)

    def next_deadline(self) -> datetime | None:
        return self.tracker.next_deadline()


@pytest.fixture(scope="module")
def definitions() -> tuple[FlowDefinition, ...]:
    return tuple(load_definitions([ROOT / "schemas" / "flows"]))


def _run(tmp: Path, name: str, definitions: tuple[FlowDefinition, ...], *, one_by_one: bool,
         batch: int) -> dict[str, list[tuple[Any, ...]]]:
    url = f"sqlite:///{tmp / name}"
    store = open_store(url)
    real = FlowTracker(definitions)
    tracker: Any = OneByOne(real) if one_by_one else real
    pipeline = Pipeline(store, Decoder(build_rules(load_settings(store=url))), tracker=tracker)
    sim = Simulation(definitions, flows=1500, seed=7, fault_rates=dict.fromkeys(Fault, 0.06))
    chunk = []
    watermark: datetime | None = None
    for seq, record in enumerate(sim.records()):
        chunk.append(to_observation(record, seq))
        if len(chunk) == batch:
            done = pipeline.process(chunk, [Position("sim", "all", 0, seq + 1)])
            for event in done.events:  # tick as a collector reading a backlog does
                watermark = max(watermark or event.occurred_at, event.occurred_at)
            if watermark is not None:
                pipeline.advance(watermark)
            chunk = []
    pipeline.process(chunk)
    pipeline.advance(sim.settle_time)
    store.write(Batch(flow_rollups=real.flush_rollups().rollups))
    rows = {t: sorted(tuple(r.values()) for r in store.query(sql)) for t, sql in TABLES.items()}
    store.close()
    return rows


def test_a_batch_stores_what_one_event_at_a_time_stores(tmp_path, definitions):
    reference = _run(tmp_path, "one.db", definitions, one_by_one=True, batch=400)
    batched = _run(tmp_path, "batch.db", definitions, one_by_one=False, batch=400)
    kinds = {row[1] for row in reference["outbox"]}
    # the run exercises what batching could change: stuck flows that recover, SLA breaches
    assert {"FlowStuck", "FlowRecovered", "SlaBreached"} <= kinds, kinds
    assert sum(1 for row in reference["events"] if row[2] is not None) > 5000
    for table in TABLES:
        assert batched[table] == reference[table], table
