"""Paced mode: records are released when the injected wall clock reaches their time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import orjson
import pytest

from collector.simulator import DEMO_FAULT_RATES, Pacing, Simulation, SimulatorError

from .conftest import SCHEMAS, definitions

START = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


class FakeClock:
    """Wall time that moves only when the simulator sleeps."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def read(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_event_time_is_wall_time_at_release() -> None:
    clock = FakeClock()
    sim = Simulation(definitions(), flows=120, seed=2,
                     pacing=Pacing(rate=25.0, now=clock.read, sleep=clock.sleep))
    released = []
    for record in sim.records():
        assert record.at == clock.now  # released exactly when due
        doc = orjson.loads(record.value)
        assert datetime.fromisoformat(doc["time"]) == clock.now
        released.append(clock.now)
    assert released[0] >= START
    assert released == sorted(released)
    assert clock.sleeps
    span = (released[-1] - released[0]).total_seconds()
    assert 25.0 * 0.6 < len(released) / span < 25.0 * 1.4


def test_paced_without_a_number_of_flows_runs_until_stopped() -> None:
    clock = FakeClock()
    sim = Simulation(definitions(), flows=None, seed=2,
                     pacing=Pacing(rate=100.0, now=clock.read, sleep=clock.sleep))
    assert len(list(islice(sim.records(), 2000))) == 2000
    assert sim.stats.flows > 250
    with pytest.raises(SimulatorError):
        sim.truth()


def test_unpaced_needs_a_number_of_flows() -> None:
    with pytest.raises(SimulatorError):
        Simulation(definitions(), flows=None)


def test_unpaced_runs_from_the_epoch_over_a_business_day() -> None:
    sim = Simulation(definitions(), flows=500, seed=4)
    times = [r.at for r in sim.records()]
    assert times[0] >= datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert timedelta(hours=9) < times[-1] - times[0] < timedelta(hours=10, minutes=5)
    assert sim.settle_time == times[-1] + max(d.longest_wait for d in definitions())


def test_a_stopped_paced_run_still_stores_what_it_delivered(tmp_path: Path) -> None:
    from collector.commands.collect import build_pipeline
    from collector.commands.simulate import run_simulation
    from collector.settings import load_settings
    from collector.store.base import open_store

    clock = FakeClock()

    def sleep(seconds: float) -> None:
        if len(clock.sleeps) == 300:
            raise KeyboardInterrupt
        clock.sleep(seconds)

    url = f"sqlite:///{tmp_path / 'stopped.db'}"
    store = open_store(url)
    pipeline = build_pipeline(load_settings(None, store=url, schemas_dir=str(SCHEMAS)), store)
    sim = Simulation(definitions(), flows=None, seed=3, fault_rates=DEMO_FAULT_RATES,
                     pacing=Pacing(rate=50.0, now=clock.read, sleep=sleep))
    with pytest.raises(KeyboardInterrupt):
        run_simulation(sim, store=pipeline, wall=clock.read)
    try:
        events = store.query("SELECT count(*) AS n FROM events")[0]["n"]
        dead = store.query("SELECT count(*) AS n FROM dead_letters")[0]["n"]
        assert events + dead + sim.stats.faults["duplicate"] >= sim.stats.records > 250
        assert events == sim.stats.events
    finally:
        store.close()
